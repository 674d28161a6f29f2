-- Tax on the order is not the tax on its transactions, per transaction (so that the issue names the shipment or
-- refund, and a sum over the order cannot hide two errors):
-- - a SALE's tax (fb_transactions.tax_amount: the sum of Meta's tax detail lines, fb_transaction_tax_details, over
--   every jurisdiction) against the tax its payment captured (fb_payments.tax_amount: the shipped units' tax from
--   the stored order);
-- - a REFUND's tax against its refund's tax (fb_refunds.tax), paired per order as in refund_missing (staged once
--   per run: staged/refund_pairs.sql).
-- Signs are normalised: expected and actual are signed like the gross (Meta sends refund tax negative).
-- In flight: a shipment without its SALE, or a refund without its REFUND, is not compared (sale_missing and
-- refund_missing report them once overdue); a SALE whose payment is not stored cannot be compared.
-- Checked: transactions dated inside the run's window.
SELECT
    t.transaction_date AS event_at,
    t.order_id AS order_id,
    p.shipment_id AS shipment_id,
    NULL AS refund_id,
    t.transaction_id AS transaction_id,
    t.payout_reference_id AS payout_reference_id,
    NULL AS jurisdiction,
    t.currency AS currency,
    round(coalesce(p.tax_amount, 0) * 100) AS expected_cents,
    round(abs(coalesce(t.tax_amount, 0)) * 100) AS actual_cents,
    'Tax on the SALE is not the tax its payment captured from the order' AS message
FROM fb_transactions AS t
JOIN fb_payments AS p ON p.transaction_id = t.transaction_id AND p.currency = t.currency
WHERE t.transaction_type = 'SALE'
  AND t.transaction_date >= :window_start
  AND t.transaction_date < :window_end
  AND abs(round(abs(coalesce(t.tax_amount, 0)) * 100) - round(coalesce(p.tax_amount, 0) * 100)) > :tolerance_cents
UNION ALL
SELECT
    p.transaction_date AS event_at,
    p.order_id AS order_id,
    NULL AS shipment_id,
    p.refund_id AS refund_id,
    p.transaction_id AS transaction_id,
    p.payout_reference_id AS payout_reference_id,
    NULL AS jurisdiction,
    p.transaction_currency AS currency,
    -round(abs(coalesce(p.refund_tax, 0)) * 100) AS expected_cents,
    -round(abs(coalesce(p.tax_amount, 0)) * 100) AS actual_cents,
    'Tax on the REFUND is not the tax of its refund' AS message
FROM tmp_fb_staged_refund_pairs AS p
WHERE p.transaction_id IS NOT NULL
  AND p.refund_id IS NOT NULL
  AND p.refund_currency = p.transaction_currency
  AND p.transaction_date >= :window_start
  AND p.transaction_date < :window_end
  AND abs(round(abs(coalesce(p.tax_amount, 0)) * 100) - round(abs(coalesce(p.refund_tax, 0)) * 100)) > :tolerance_cents
