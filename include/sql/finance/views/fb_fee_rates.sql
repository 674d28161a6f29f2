-- Effective fee rate of each SALE (fees / gross) against Meta's published schedule: 5 % of the shipment, or a flat
-- 0.40 at or below 8.00 (docs/graph-api.md §3.1). expected_fee and fee are positive amounts; difference = fee -
-- expected_fee. The reconciliation rule has the configurable schedule; this view shows the published one.
SELECT
    t.transaction_id,
    t.transaction_date,
    t.payout_reference_id,
    t.order_id,
    t.currency,
    t.gross,
    -t.fees AS fee,
    CASE WHEN t.gross <> 0 THEN -t.fees / t.gross END AS effective_rate,
    CASE WHEN t.gross <= 8.00 THEN 0.40 ELSE ROUND(t.gross * 0.05, 2) END AS expected_fee,
    -t.fees - CASE WHEN t.gross <= 8.00 THEN 0.40 ELSE ROUND(t.gross * 0.05, 2) END AS difference
FROM fb_transaction_amounts t
WHERE t.transaction_type = 'SALE'
