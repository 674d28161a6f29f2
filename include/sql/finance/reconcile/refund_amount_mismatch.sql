-- A REFUND transaction whose gross is not minus its refund's total (fb_refunds.refund_amount.total), or a REFUND
-- transaction with no refund stored for its order.
-- gross = net_payment_amount - processing_fee + the tax Meta withholds (the transaction's tax, negative on a
-- REFUND, when Meta remits it: fb_orders.tax_remitted).
-- Pairing per order as in refund_missing, staged once per run (staged/refund_pairs.sql).
-- Checked: REFUND transactions dated inside the run's window.
WITH refund_transaction AS (
    SELECT
        p.*,
        round(p.net_payment_amount * 100) - round(p.processing_fee * 100)
        - CASE WHEN o.tax_remitted THEN round(abs(coalesce(p.tax_amount, 0)) * 100) ELSE 0 END AS gross_cents,
        round(abs(p.refund_total) * 100) AS total_cents
    FROM tmp_fb_staged_refund_pairs AS p
    LEFT JOIN fb_orders AS o ON o.order_id = p.order_id
    WHERE p.transaction_id IS NOT NULL
      AND p.transaction_date >= :window_start
      AND p.transaction_date < :window_end
)
SELECT
    rt.transaction_date AS event_at,
    rt.order_id AS order_id,
    NULL AS shipment_id,
    rt.refund_id AS refund_id,
    rt.transaction_id AS transaction_id,
    rt.payout_reference_id AS payout_reference_id,
    NULL AS jurisdiction,
    rt.transaction_currency AS currency,
    -coalesce(rt.total_cents, 0) AS expected_cents,
    rt.gross_cents AS actual_cents,
    CASE
        WHEN rt.refund_id IS NULL THEN 'REFUND transaction with no refund stored for its order'
        WHEN rt.refund_currency <> rt.transaction_currency THEN 'REFUND transaction is in another currency than its refund'
        ELSE 'REFUND amount is not the refund''s total'
    END AS message
FROM refund_transaction AS rt
WHERE rt.refund_id IS NULL
   OR rt.refund_currency <> rt.transaction_currency
   OR abs(rt.gross_cents + coalesce(rt.total_cents, 0)) > :tolerance_cents
