-- A captured shipment with no SALE transaction after :sale_due_before (as_of minus N business days); a younger one
-- is money in flight, not an issue.
-- A shipment is captured when its payment (fb_payments) has a captured_amount; a shipment whose payment is not
-- stored yet counts as captured when it was first stored. A payment whose capture failed (captured_amount NULL)
-- is not a missing SALE.
-- Its SALE is the transaction its payment names. When no payment names one, the order's SALE transactions that
-- no payment names are paired with those shipments in shipping order: the shipments beyond their count have none.
-- Checked: shipments captured inside the run's window.
WITH shipment AS (
    SELECT
        s.shipment_id,
        s.order_id,
        p.transaction_id,
        coalesce(p.capture_time, s.first_seen_at) AS captured_at,
        coalesce(p.currency, o.currency) AS currency,
        round(p.total_amount * 100) AS total_cents
    FROM fb_shipments AS s
    LEFT JOIN fb_payments AS p ON p.shipment_id = s.shipment_id
    LEFT JOIN fb_orders AS o ON o.order_id = s.order_id
    WHERE p.payment_id IS NULL OR p.captured_amount IS NOT NULL
),
due AS (
    SELECT * FROM shipment
    WHERE captured_at >= :window_start AND captured_at < :window_end AND captured_at < :sale_due_before
),
unnamed AS (
    SELECT
        sh.shipment_id,
        ROW_NUMBER() OVER (PARTITION BY sh.order_id ORDER BY sh.captured_at, sh.shipment_id) AS position
    FROM shipment AS sh
    WHERE sh.transaction_id IS NULL AND sh.order_id IN (SELECT d.order_id FROM due AS d WHERE d.transaction_id IS NULL)
),
unnamed_sales AS (
    SELECT t.order_id, count(*) AS sales
    FROM fb_transactions AS t
    WHERE t.transaction_type = 'SALE'
      AND t.order_id IN (SELECT d.order_id FROM due AS d WHERE d.transaction_id IS NULL)
      AND NOT EXISTS (SELECT 1 FROM fb_payments AS p WHERE p.transaction_id = t.transaction_id)
    GROUP BY t.order_id
)
SELECT
    d.captured_at AS event_at,
    d.order_id AS order_id,
    d.shipment_id AS shipment_id,
    NULL AS refund_id,
    d.transaction_id AS transaction_id,
    NULL AS payout_reference_id,
    NULL AS jurisdiction,
    d.currency AS currency,
    d.total_cents AS expected_cents,
    0 AS actual_cents,
    CASE
        WHEN d.transaction_id IS NULL THEN 'Shipment captured but no SALE transaction after the in-flight days'
        ELSE 'Shipment''s payment names a SALE transaction that is not in the warehouse'
    END AS message
FROM due AS d
LEFT JOIN unnamed AS u ON u.shipment_id = d.shipment_id
LEFT JOIN unnamed_sales AS us ON us.order_id = d.order_id
WHERE (
    d.transaction_id IS NOT NULL
    AND NOT EXISTS (
        SELECT 1 FROM fb_transactions AS t
        WHERE t.transaction_id = d.transaction_id AND t.transaction_type = 'SALE'
    )
) OR (d.transaction_id IS NULL AND u.position > coalesce(us.sales, 0))
