-- A payout Meta reports as FAILED: the money did not reach the bank.
-- Checked: payouts started (payout_date; first stored when Meta gives no date yet) inside the run's window.
SELECT
    coalesce(po.payout_date, po.first_seen_at) AS event_at,
    NULL AS order_id,
    NULL AS shipment_id,
    NULL AS refund_id,
    NULL AS transaction_id,
    po.payout_reference_id AS payout_reference_id,
    NULL AS jurisdiction,
    po.currency AS currency,
    round(po.amount * 100) AS expected_cents,
    0 AS actual_cents,
    'Payout failed: the amount did not reach the bank account' AS message
FROM fb_payouts AS po
WHERE po.status = 'FAILED'
  AND coalesce(po.payout_date, po.first_seen_at) >= :window_start
  AND coalesce(po.payout_date, po.first_seen_at) < :window_end
