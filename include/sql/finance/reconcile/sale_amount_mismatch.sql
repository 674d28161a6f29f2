-- A SALE whose gross is not what its payment captured: the shipped items + the shipment's prorated shipping + tax
-- (fb_payments, one payment per shipment, from the stored order's /payments).
-- gross = net_payment_amount - processing_fee + the tax Meta withholds (the transaction's tax when Meta remits
-- it: fb_payments.tax_remitted, else fb_orders.tax_remitted).
-- Checked: SALE transactions dated inside the run's window whose payment is stored (a SALE with no payment
-- cannot be checked here; its shipment is checked by sale_missing).
SELECT
    t.transaction_date AS event_at,
    t.order_id AS order_id,
    p.shipment_id AS shipment_id,
    NULL AS refund_id,
    t.transaction_id AS transaction_id,
    t.payout_reference_id AS payout_reference_id,
    NULL AS jurisdiction,
    t.currency AS currency,
    round(p.items_amount * 100) + round(coalesce(p.shipping_amount, 0) * 100) + round(coalesce(p.tax_amount, 0) * 100)
        AS expected_cents,
    round(t.net_payment_amount * 100) - round(t.processing_fee * 100)
    + CASE WHEN coalesce(p.tax_remitted, o.tax_remitted) THEN round(abs(coalesce(t.tax_amount, 0)) * 100) ELSE 0 END
        AS actual_cents,
    CASE
        WHEN p.currency <> t.currency THEN 'SALE is in another currency than its payment'
        ELSE 'SALE amount is not the shipped items + shipping + tax its payment captured'
    END AS message
FROM fb_transactions AS t
JOIN fb_payments AS p ON p.transaction_id = t.transaction_id
LEFT JOIN fb_orders AS o ON o.order_id = t.order_id
WHERE t.transaction_type = 'SALE'
  AND t.transaction_date >= :window_start
  AND t.transaction_date < :window_end
  AND (
      p.currency <> t.currency
      OR abs(
          round(t.net_payment_amount * 100) - round(t.processing_fee * 100)
          + CASE WHEN coalesce(p.tax_remitted, o.tax_remitted) THEN round(abs(coalesce(t.tax_amount, 0)) * 100) ELSE 0 END
          - round(p.items_amount * 100) - round(coalesce(p.shipping_amount, 0) * 100) - round(coalesce(p.tax_amount, 0) * 100)
      ) > :tolerance_cents
  )
