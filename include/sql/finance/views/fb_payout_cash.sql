-- Each payout with the per-category totals of its transactions (fb_transaction_amounts), one row per payout and
-- currency. difference = amount - net: what the deposit misses (0 when the payout is explained by its lines).
SELECT
    p.payout_reference_id,
    p.transfer_id,
    p.status,
    p.payout_date,
    COALESCE(t.currency, p.currency) AS currency,
    p.amount,
    COALESCE(t.transactions, 0) AS transactions,
    COALESCE(t.sales, 0) AS sales,
    COALESCE(t.shipping, 0) AS shipping,
    COALESCE(t.tax, 0) AS tax,
    COALESCE(t.refunds, 0) AS refunds,
    COALESCE(t.fees, 0) AS fees,
    COALESCE(t.tax_withheld, 0) AS tax_withheld,
    COALESCE(t.net, 0) AS net,
    COALESCE(p.amount, 0) - COALESCE(t.net, 0) AS difference
FROM fb_payouts p
LEFT JOIN (
    SELECT
        payout_reference_id,
        currency,
        COUNT(*) AS transactions,
        SUM(sales) AS sales,
        SUM(shipping) AS shipping,
        SUM(tax) AS tax,
        SUM(refunds) AS refunds,
        SUM(fees) AS fees,
        SUM(tax_withheld) AS tax_withheld,
        SUM(net) AS net
    FROM fb_transaction_amounts
    WHERE payout_reference_id IS NOT NULL
    GROUP BY payout_reference_id, currency
) t ON t.payout_reference_id = p.payout_reference_id
