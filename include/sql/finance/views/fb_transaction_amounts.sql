-- One row per transaction, its money split into the categories of the cash report (signs: what the line adds to
-- the payout). Identity: sales + shipping + tax + refunds + fees + tax_withheld = net.
--   gross        = net_payment_amount - processing_fee + tax withheld by Meta (signed like gross: + SALE, - REFUND)
--   tax          = the transaction's tax lines (+ on a SALE, - on a REFUND), whoever remits it
--   tax_withheld = minus the tax Meta keeps to remit (fb_payments.tax_remitted, else fb_orders.tax_remitted)
--   shipping     = the shipment's shipping share (fb_payments.shipping_amount), SALE only
--   sales        = gross - shipping - tax on a SALE (the items); refunds = gross - tax on a REFUND
--   fees         = processing_fee as Meta sends it (- on a SALE, + on a REFUND)
SELECT
    a.transaction_id,
    a.transaction_type,
    a.transaction_date,
    a.order_id,
    a.payout_reference_id,
    a.currency,
    CASE WHEN a.remitted = 1 THEN 'meta' ELSE 'merchant' END AS tax_remitted_by,
    a.net - a.fee + a.withheld AS gross,
    CASE WHEN a.is_refund = 1 THEN 0 ELSE a.net - a.fee + a.withheld - a.shipping - a.tax END AS sales,
    CASE WHEN a.is_refund = 1 THEN 0 ELSE a.shipping END AS shipping,
    a.tax AS tax,
    CASE WHEN a.is_refund = 1 THEN a.net - a.fee + a.withheld - a.tax ELSE 0 END AS refunds,
    a.fee AS fees,
    -a.withheld AS tax_withheld,
    a.net AS net
FROM (
    SELECT
        b.*,
        CASE WHEN b.remitted = 1 THEN b.tax ELSE 0 END AS withheld
    FROM (
        SELECT
            t.transaction_id,
            t.transaction_type,
            t.transaction_date,
            t.order_id,
            t.payout_reference_id,
            t.currency,
            CASE WHEN t.transaction_type = 'REFUND' THEN 1 ELSE 0 END AS is_refund,
            COALESCE(t.net_payment_amount, 0) AS net,
            COALESCE(t.processing_fee, 0) AS fee,
            CASE WHEN t.transaction_type = 'REFUND' THEN -1 ELSE 1 END * ABS(COALESCE(t.tax_amount, 0)) AS tax,
            COALESCE(p.shipping_amount, 0) AS shipping,
            COALESCE(p.remitted, CASE WHEN o.tax_remitted THEN 1 ELSE 0 END, 0) AS remitted
        FROM fb_transactions t
        LEFT JOIN (
            SELECT
                transaction_id,
                SUM(shipping_amount) AS shipping_amount,
                MAX(CASE WHEN tax_remitted THEN 1 WHEN tax_remitted IS NULL THEN NULL ELSE 0 END) AS remitted
            FROM fb_payments
            WHERE transaction_id IS NOT NULL
            GROUP BY transaction_id
        ) p ON p.transaction_id = t.transaction_id
        LEFT JOIN fb_orders o ON o.order_id = t.order_id
    ) b
) a
