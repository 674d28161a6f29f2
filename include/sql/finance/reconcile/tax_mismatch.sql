-- Tax on the order is not the tax on its transactions, per transaction (so that the issue names the shipment or
-- refund, and a sum over the order cannot hide two errors):
-- - a SALE's tax (fb_transactions.tax_amount: the sum of Meta's tax detail lines, fb_transaction_tax_details, over
--   every jurisdiction) against the tax its payment captured (fb_payments.tax_amount: the shipped units' tax from
--   the stored order);
-- - a REFUND's tax against its refund's tax (fb_refunds.tax), paired per order as in refund_missing.
-- Signs are normalised: expected and actual are signed like the gross (Meta sends refund tax negative).
-- In flight: a shipment without its SALE, or a refund without its REFUND, is not compared (sale_missing and
-- refund_missing report them once overdue); a SALE whose payment is not stored cannot be compared.
-- Checked: transactions dated inside the run's window.
WITH refund_transaction AS (
    SELECT
        t.transaction_id,
        t.transaction_date,
        t.order_id,
        t.payout_reference_id,
        t.currency,
        round(abs(coalesce(t.tax_amount, 0)) * 100) AS tax_cents,
        ROW_NUMBER() OVER (PARTITION BY t.order_id ORDER BY t.transaction_date, t.transaction_id) AS position
    FROM fb_transactions AS t
    WHERE t.transaction_type = 'REFUND'
),
refund AS (
    SELECT
        r.refund_id,
        r.order_id,
        r.currency,
        round(abs(coalesce(r.tax, 0)) * 100) AS tax_cents,
        ROW_NUMBER() OVER (PARTITION BY r.order_id ORDER BY r.first_seen_at, r.refund_id) AS position
    FROM fb_refunds AS r
)
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
    rt.transaction_date AS event_at,
    rt.order_id AS order_id,
    NULL AS shipment_id,
    r.refund_id AS refund_id,
    rt.transaction_id AS transaction_id,
    rt.payout_reference_id AS payout_reference_id,
    NULL AS jurisdiction,
    rt.currency AS currency,
    -r.tax_cents AS expected_cents,
    -rt.tax_cents AS actual_cents,
    'Tax on the REFUND is not the tax of its refund' AS message
FROM refund_transaction AS rt
JOIN refund AS r ON r.order_id = rt.order_id AND r.position = rt.position AND r.currency = rt.currency
WHERE rt.transaction_date >= :window_start
  AND rt.transaction_date < :window_end
  AND abs(rt.tax_cents - r.tax_cents) > :tolerance_cents
