-- A transaction whose order is not in the warehouse (fb_orders): a sale or refund nobody can match to an order.
-- Checked: transactions dated inside the run's window. The nightly run waits for fb_orders_sync to have stored the
-- orders up to the end of the day, so a missing order is not in flight.
SELECT
    t.transaction_date AS event_at,
    t.order_id AS order_id,
    NULL AS shipment_id,
    NULL AS refund_id,
    t.transaction_id AS transaction_id,
    t.payout_reference_id AS payout_reference_id,
    NULL AS jurisdiction,
    t.currency AS currency,
    NULL AS expected_cents,
    round(t.net_payment_amount * 100) AS actual_cents,
    CASE
        WHEN t.order_id IS NULL THEN 'Transaction names no order'
        ELSE 'Transaction''s order is not in the warehouse'
    END AS message
FROM fb_transactions AS t
WHERE t.transaction_date >= :window_start
  AND t.transaction_date < :window_end
  AND NOT EXISTS (SELECT 1 FROM fb_orders AS o WHERE o.order_id = t.order_id)
