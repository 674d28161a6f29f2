-- A captured shipment with no SALE transaction after :sale_due_before (as_of minus N business days); a younger one
-- is money in flight, not an issue.
-- A shipment is captured when its payment (fb_payments) has a captured_amount; a shipment whose payment is not
-- stored yet counts as captured when it was first stored. A payment whose capture failed (captured_amount NULL)
-- is not a missing SALE.
-- Its SALE is the transaction its payment names. When no payment names one, the order's SALE transactions that
-- no payment names are paired with those shipments in shipping order: the shipments beyond their count have none.
-- Checked: shipments captured inside the run's window.
WITH unnamed AS (
    -- captured shipments whose payment names no transaction, or that have no payment stored
    SELECT
        s.shipment_id,
        s.order_id,
        coalesce(p.capture_time, s.first_seen_at) AS captured_at,
        coalesce(p.currency, o.currency) AS currency,
        round(p.total_amount * 100) AS total_cents
    FROM fb_shipments AS s
    LEFT JOIN fb_payments AS p ON p.shipment_id = s.shipment_id
    LEFT JOIN fb_orders AS o ON o.order_id = s.order_id
    WHERE p.payment_id IS NULL OR (p.transaction_id IS NULL AND p.captured_amount IS NOT NULL)
),
ranked AS (
    SELECT
        u.*,
        ROW_NUMBER() OVER (PARTITION BY u.order_id ORDER BY u.captured_at, u.shipment_id) AS position
    FROM unnamed AS u
),
unnamed_sales AS (
    -- SALE transactions of those orders that no payment names
    SELECT t.order_id, count(*) AS sales
    FROM fb_transactions AS t
    WHERE t.transaction_type = 'SALE'
      AND t.order_id IN (SELECT u.order_id FROM unnamed AS u)
      AND NOT EXISTS (SELECT 1 FROM fb_payments AS p WHERE p.transaction_id = t.transaction_id)
    GROUP BY t.order_id
)
SELECT
    coalesce(p.capture_time, p.first_seen_at) AS event_at,
    p.order_id AS order_id,
    p.shipment_id AS shipment_id,
    NULL AS refund_id,
    p.transaction_id AS transaction_id,
    NULL AS payout_reference_id,
    NULL AS jurisdiction,
    p.currency AS currency,
    round(p.total_amount * 100) AS expected_cents,
    0 AS actual_cents,
    'Shipment''s payment names a SALE transaction that is not in the warehouse' AS message
FROM fb_payments AS p
WHERE p.transaction_id IS NOT NULL
  AND p.captured_amount IS NOT NULL
  AND coalesce(p.capture_time, p.first_seen_at) >= :window_start
  AND coalesce(p.capture_time, p.first_seen_at) < :window_end
  AND coalesce(p.capture_time, p.first_seen_at) < :sale_due_before
  AND NOT EXISTS (
      SELECT 1 FROM fb_transactions AS t WHERE t.transaction_id = p.transaction_id AND t.transaction_type = 'SALE'
  )
UNION ALL
SELECT
    r.captured_at AS event_at,
    r.order_id AS order_id,
    r.shipment_id AS shipment_id,
    NULL AS refund_id,
    NULL AS transaction_id,
    NULL AS payout_reference_id,
    NULL AS jurisdiction,
    r.currency AS currency,
    r.total_cents AS expected_cents,
    0 AS actual_cents,
    'Shipment captured but no SALE transaction after the in-flight days' AS message
FROM ranked AS r
LEFT JOIN unnamed_sales AS us ON us.order_id = r.order_id
WHERE r.captured_at >= :window_start
  AND r.captured_at < :window_end
  AND r.captured_at < :sale_due_before
  AND r.position > coalesce(us.sales, 0)
