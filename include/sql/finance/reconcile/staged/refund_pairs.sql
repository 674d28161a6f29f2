-- Refunds (fb_refunds) paired with REFUND transactions, staged once per run as the temporary table
-- tmp_fb_staged_refund_pairs, which refund_missing, refund_amount_mismatch and tax_mismatch read.
-- Meta's REFUND transaction does not name its refund, so they are paired per order: the order's refunds in the
-- order they were first stored (then by refund_id) with its REFUND transactions by transaction_date (then by
-- transaction_id). One row per pair; a REFUND transaction beyond the order's refunds has the refund columns NULL, a
-- refund beyond its REFUND transactions the transaction columns NULL. Every refund and REFUND is read (positions
-- count from the order's first): whole-table hash joins rather than per-order lookups.
WITH refund_transaction AS (
    SELECT
        t.transaction_id,
        t.transaction_date,
        t.order_id,
        t.payout_reference_id,
        t.currency,
        t.net_payment_amount,
        t.processing_fee,
        t.tax_amount,
        ROW_NUMBER() OVER (PARTITION BY t.order_id ORDER BY t.transaction_date, t.transaction_id) AS position
    FROM fb_transactions AS t
    WHERE t.transaction_type = 'REFUND'
),
refund AS (
    SELECT
        r.refund_id,
        r.order_id,
        r.currency,
        r.first_seen_at,
        r.total,
        r.tax,
        ROW_NUMBER() OVER (PARTITION BY r.order_id ORDER BY r.first_seen_at, r.refund_id) AS position
    FROM fb_refunds AS r
)
SELECT
    rt.order_id AS order_id,
    rt.position AS position,
    rt.transaction_id AS transaction_id,
    rt.transaction_date AS transaction_date,
    rt.payout_reference_id AS payout_reference_id,
    rt.currency AS transaction_currency,
    rt.net_payment_amount AS net_payment_amount,
    rt.processing_fee AS processing_fee,
    rt.tax_amount AS tax_amount,
    r.refund_id AS refund_id,
    r.currency AS refund_currency,
    r.first_seen_at AS refunded_at,
    r.total AS refund_total,
    r.tax AS refund_tax
FROM refund_transaction AS rt
LEFT JOIN refund AS r ON r.order_id = rt.order_id AND r.position = rt.position
UNION ALL
SELECT
    r.order_id,
    r.position,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    r.refund_id,
    r.currency,
    r.first_seen_at,
    r.total,
    r.tax
FROM refund AS r
WHERE NOT EXISTS (SELECT 1 FROM refund_transaction AS rt WHERE rt.order_id = r.order_id AND rt.position = r.position)
