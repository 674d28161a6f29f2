-- A transaction older than the payout window that no payout has paid (no payout_reference_id, or a payout that
-- is not in fb_payouts). Younger ones are money in flight, not an issue.
-- Checked: transactions dated inside the run's window and before :payout_due_before (as_of minus the window).
SELECT
    t.transaction_date AS event_at,
    t.order_id AS order_id,
    NULL AS shipment_id,
    NULL AS refund_id,
    t.transaction_id AS transaction_id,
    t.payout_reference_id AS payout_reference_id,
    NULL AS jurisdiction,
    t.currency AS currency,
    round(t.net_payment_amount * 100) AS expected_cents,
    0 AS actual_cents,
    CASE
        WHEN t.payout_reference_id IS NULL THEN 'Transaction not paid out within the payout window'
        ELSE 'Transaction names a payout that is not in the warehouse'
    END AS message
FROM fb_transactions AS t
WHERE t.transaction_date >= :window_start
  AND t.transaction_date < :window_end
  AND t.transaction_date < :payout_due_before
  AND (
      t.payout_reference_id IS NULL
      OR NOT EXISTS (SELECT 1 FROM fb_payouts AS po WHERE po.payout_reference_id = t.payout_reference_id)
  )
