-- A payout whose amount is not the sum of its transactions' net_payment_amount, per currency.
-- Checked: payouts started (payout_date; first stored when Meta gives no date yet) inside the run's window.
-- A transaction in another currency than its payout is reported on its own row (its currency in the key):
-- amounts of two currencies are never added.
SELECT
    coalesce(po.payout_date, po.first_seen_at) AS event_at,
    NULL AS order_id,
    NULL AS shipment_id,
    NULL AS refund_id,
    NULL AS transaction_id,
    po.payout_reference_id AS payout_reference_id,
    NULL AS jurisdiction,
    coalesce(t.currency, po.currency) AS currency,
    coalesce(sum(round(t.net_payment_amount * 100)), 0) AS expected_cents,
    CASE WHEN t.currency IS NULL OR t.currency = po.currency THEN round(po.amount * 100) ELSE 0 END AS actual_cents,
    CASE
        WHEN count(t.transaction_id) = 0 THEN 'Payout with no transaction in the warehouse that names it'
        WHEN t.currency = po.currency THEN 'Payout amount is not the sum of its transactions'' net amounts'
        ELSE 'Transactions of this payout are in another currency than the payout'
    END AS message
FROM fb_payouts AS po
LEFT JOIN fb_transactions AS t ON t.payout_reference_id = po.payout_reference_id
WHERE coalesce(po.payout_date, po.first_seen_at) >= :window_start
  AND coalesce(po.payout_date, po.first_seen_at) < :window_end
GROUP BY po.payout_reference_id, po.payout_date, po.first_seen_at, po.currency, po.amount, t.currency
HAVING abs(
    (CASE WHEN t.currency IS NULL OR t.currency = po.currency THEN round(po.amount * 100) ELSE 0 END)
    - coalesce(sum(round(t.net_payment_amount * 100)), 0)
) > :tolerance_cents
