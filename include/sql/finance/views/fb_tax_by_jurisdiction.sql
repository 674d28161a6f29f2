-- Tax per transaction, jurisdiction, category and imposition, with who remits it: 'meta' (marketplace
-- facilitator: fb_payments.tax_remitted, else fb_orders.tax_remitted) or 'merchant'. Signed like the gross:
-- + on a SALE, - on a REFUND; four decimals as Meta details it.
SELECT
    t.transaction_id,
    t.transaction_type,
    t.transaction_date,
    t.payout_reference_id,
    d.currency,
    d.jurisdiction,
    d.tax_category,
    d.imposition,
    MAX(d.item_tax_rate) AS tax_rate,
    t.tax_remitted_by,
    CASE WHEN t.transaction_type = 'REFUND' THEN -1 ELSE 1 END * SUM(ABS(d.item_tax_amount)) AS tax_amount
FROM fb_transaction_tax_details d
JOIN fb_transaction_amounts t ON t.transaction_id = d.transaction_id
GROUP BY
    t.transaction_id, t.transaction_type, t.transaction_date, t.payout_reference_id, d.currency, d.jurisdiction,
    d.tax_category, d.imposition, t.tax_remitted_by
