-- A REFUND transaction whose gross is not minus its refund's total (fb_refunds.refund_amount.total), or a REFUND
-- transaction with no refund stored for its order.
-- gross = net_payment_amount - processing_fee + the tax Meta withholds (the transaction's tax, negative on a
-- REFUND, when Meta remits it: fb_orders.tax_remitted).
-- Pairing per order as in refund_missing: refunds by first stored time (then refund_id), REFUND transactions by
-- transaction_date (then transaction_id).
-- Checked: REFUND transactions dated inside the run's window (the pairing reads every refund and REFUND: whole-table
-- hash joins rather than per-order lookups).
WITH refund_transaction AS (
    SELECT
        t.transaction_id,
        t.transaction_date,
        t.order_id,
        t.payout_reference_id,
        t.currency,
        round(t.net_payment_amount * 100) - round(t.processing_fee * 100)
        - CASE WHEN o.tax_remitted THEN round(abs(coalesce(t.tax_amount, 0)) * 100) ELSE 0 END AS gross_cents,
        ROW_NUMBER() OVER (PARTITION BY t.order_id ORDER BY t.transaction_date, t.transaction_id) AS position
    FROM fb_transactions AS t
    LEFT JOIN fb_orders AS o ON o.order_id = t.order_id
    WHERE t.transaction_type = 'REFUND'
),
refund AS (
    SELECT
        r.refund_id,
        r.order_id,
        r.currency,
        round(abs(r.total) * 100) AS total_cents,
        ROW_NUMBER() OVER (PARTITION BY r.order_id ORDER BY r.first_seen_at, r.refund_id) AS position
    FROM fb_refunds AS r
)
SELECT
    rt.transaction_date AS event_at,
    rt.order_id AS order_id,
    NULL AS shipment_id,
    r.refund_id AS refund_id,
    rt.transaction_id AS transaction_id,
    rt.payout_reference_id AS payout_reference_id,
    NULL AS jurisdiction,
    rt.currency AS currency,
    -coalesce(r.total_cents, 0) AS expected_cents,
    rt.gross_cents AS actual_cents,
    CASE
        WHEN r.refund_id IS NULL THEN 'REFUND transaction with no refund stored for its order'
        WHEN r.currency <> rt.currency THEN 'REFUND transaction is in another currency than its refund'
        ELSE 'REFUND amount is not the refund''s total'
    END AS message
FROM refund_transaction AS rt
LEFT JOIN refund AS r ON r.order_id = rt.order_id AND r.position = rt.position
WHERE rt.transaction_date >= :window_start
  AND rt.transaction_date < :window_end
  AND (
      r.refund_id IS NULL
      OR r.currency <> rt.currency
      OR abs(rt.gross_cents + coalesce(r.total_cents, 0)) > :tolerance_cents
  )
