-- A refund (fb_refunds) with no REFUND transaction after :refund_due_before (as_of minus N business days); a
-- younger one is money in flight, not an issue.
-- Meta's REFUND transaction does not name its refund, so they are paired per order: the order's refunds in the
-- order they were first stored (then by refund_id) with its REFUND transactions by transaction_date (then by
-- transaction_id); the refunds beyond the order's REFUND transactions have none.
-- Checked: refunds first stored inside the run's window (the pairing reads every refund: whole-table hash joins,
-- which PostgreSQL plans well, rather than per-order lookups).
WITH refund AS (
    SELECT
        r.refund_id,
        r.order_id,
        r.currency,
        r.first_seen_at AS refunded_at,
        round(abs(r.total) * 100) AS total_cents,
        ROW_NUMBER() OVER (PARTITION BY r.order_id ORDER BY r.first_seen_at, r.refund_id) AS position
    FROM fb_refunds AS r
),
refund_transactions AS (
    SELECT t.order_id, count(*) AS refunds
    FROM fb_transactions AS t
    WHERE t.transaction_type = 'REFUND'
    GROUP BY t.order_id
)
SELECT
    r.refunded_at AS event_at,
    r.order_id AS order_id,
    NULL AS shipment_id,
    r.refund_id AS refund_id,
    NULL AS transaction_id,
    NULL AS payout_reference_id,
    NULL AS jurisdiction,
    r.currency AS currency,
    -r.total_cents AS expected_cents,
    0 AS actual_cents,
    'Refund with no REFUND transaction after the in-flight days' AS message
FROM refund AS r
LEFT JOIN refund_transactions AS rt ON rt.order_id = r.order_id
WHERE r.refunded_at >= :window_start
  AND r.refunded_at < :window_end
  AND r.refunded_at < :refund_due_before
  AND r.position > coalesce(rt.refunds, 0)
