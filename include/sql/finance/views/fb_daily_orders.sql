-- One row per order with its figures; a day's orders are those whose created_at falls in the day (the report
-- passes the business day's UTC bounds: no time-zone math here).
SELECT
    o.order_id,
    o.created_at,
    o.state,
    o.channel,
    o.merchant_order_reference,
    o.buyer_name,
    o.currency,
    COALESCE(i.items, 0) AS items,
    COALESCE(i.quantity, 0) AS quantity,
    o.subtotal,
    o.shipping,
    o.tax,
    o.total,
    CASE WHEN o.tax_remitted THEN 'meta' ELSE 'merchant' END AS tax_remitted_by,
    COALESCE(s.shipments, 0) AS shipments,
    COALESCE(r.refunded, 0) AS refunded
FROM fb_orders o
LEFT JOIN (
    SELECT order_id, COUNT(*) AS items, SUM(quantity) AS quantity FROM fb_order_items GROUP BY order_id
) i ON i.order_id = o.order_id
LEFT JOIN (SELECT order_id, COUNT(*) AS shipments FROM fb_shipments GROUP BY order_id) s ON s.order_id = o.order_id
LEFT JOIN (SELECT order_id, SUM(ABS(total)) AS refunded FROM fb_refunds GROUP BY order_id) r ON r.order_id = o.order_id
