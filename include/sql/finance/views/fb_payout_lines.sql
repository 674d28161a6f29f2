-- Every line of every payout down to the order item: payout -> transaction -> order -> item, one row per item of
-- the transaction's order (one row with empty item columns when the order or its items are not stored). The
-- transaction's amounts stand on its first row (item_number 1) only, so the columns add up to fb_payout_cash.
SELECT
    l.payout_reference_id,
    p.status AS payout_status,
    p.payout_date,
    l.transaction_id,
    l.transaction_type,
    l.transaction_date,
    l.order_id,
    o.merchant_order_reference,
    l.currency,
    l.item_number,
    l.item_id,
    l.retailer_id,
    l.product_name,
    l.quantity,
    l.price_per_unit,
    l.quantity * l.price_per_unit AS item_amount,
    l.item_tax,
    l.tax_remitted_by,
    CASE WHEN l.item_number = 1 THEN l.gross END AS gross,
    CASE WHEN l.item_number = 1 THEN l.sales END AS sales,
    CASE WHEN l.item_number = 1 THEN l.shipping END AS shipping,
    CASE WHEN l.item_number = 1 THEN l.tax END AS tax,
    CASE WHEN l.item_number = 1 THEN l.refunds END AS refunds,
    CASE WHEN l.item_number = 1 THEN l.fees END AS fees,
    CASE WHEN l.item_number = 1 THEN l.tax_withheld END AS tax_withheld,
    CASE WHEN l.item_number = 1 THEN l.net END AS net
FROM (
    SELECT
        t.*,
        ROW_NUMBER() OVER (PARTITION BY t.transaction_id ORDER BY i.item_id) AS item_number,
        i.item_id,
        i.retailer_id,
        i.product_name,
        i.quantity,
        i.price_per_unit,
        i.tax AS item_tax
    FROM fb_transaction_amounts t
    LEFT JOIN fb_order_items i ON i.order_id = t.order_id
    WHERE t.payout_reference_id IS NOT NULL
) l
LEFT JOIN fb_payouts p ON p.payout_reference_id = l.payout_reference_id
LEFT JOIN fb_orders o ON o.order_id = l.order_id
