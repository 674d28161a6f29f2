-- A refund (fb_refunds) with no REFUND transaction after :refund_due_before (as_of minus N business days); a
-- younger one is money in flight, not an issue.
-- Meta's REFUND transaction does not name its refund: the pairing per order is staged once per run
-- (staged/refund_pairs.sql); a refund beyond its order's REFUND transactions has none.
-- Checked: refunds first stored inside the run's window.
SELECT
    p.refunded_at AS event_at,
    p.order_id AS order_id,
    NULL AS shipment_id,
    p.refund_id AS refund_id,
    NULL AS transaction_id,
    NULL AS payout_reference_id,
    NULL AS jurisdiction,
    p.refund_currency AS currency,
    -round(abs(p.refund_total) * 100) AS expected_cents,
    0 AS actual_cents,
    'Refund with no REFUND transaction after the in-flight days' AS message
FROM tmp_fb_staged_refund_pairs AS p
WHERE p.transaction_id IS NULL
  AND p.refunded_at >= :window_start
  AND p.refunded_at < :window_end
  AND p.refunded_at < :refund_due_before
