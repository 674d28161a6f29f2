-- Every line of every payout down to the order item: payout -> transaction -> order -> item, one row per item of
-- the transaction's order (one row with empty item columns when the order or its items are not stored). The
-- transaction's amounts stand on its first row (item_number 1) only, so the columns add up to fb_payout_cash.
SELECT
    t.payout_reference_id,
    p.status AS payout_status,
    p.payout_date,
    t.transaction_id,
    t.transaction_type,
    t.transaction_date,
    t.order_id,
    o.merchant_order_reference,
    t.currency,
    ROW_NUMBER() OVER (PARTITION BY t.transaction_id ORDER BY i.item_id) AS item_number,
    i.item_id,
    i.retailer_id,
    i.product_name,
    i.quantity,
    i.price_per_unit,
    i.quantity * i.price_per_unit AS item_amount,
    i.tax AS item_tax,
    t.tax_remitted_by,
    CASE WHEN ROW_NUMBER() OVER (PARTITION BY t.transaction_id ORDER BY i.item_id) = 1 THEN t.gross END AS gross,
    CASE WHEN ROW_NUMBER() OVER (PARTITION BY t.transaction_id ORDER BY i.item_id) = 1 THEN t.sales END AS sales,
    CASE WHEN ROW_NUMBER() OVER (PARTITION BY t.transaction_id ORDER BY i.item_id) = 1 THEN t.shipping END AS shipping,
    CASE WHEN ROW_NUMBER() OVER (PARTITION BY t.transaction_id ORDER BY i.item_id) = 1 THEN t.tax END AS tax,
    CASE WHEN ROW_NUMBER() OVER (PARTITION BY t.transaction_id ORDER BY i.item_id) = 1 THEN t.refunds END AS refunds,
    CASE WHEN ROW_NUMBER() OVER (PARTITION BY t.transaction_id ORDER BY i.item_id) = 1 THEN t.fees END AS fees,
    CASE
        WHEN ROW_NUMBER() OVER (PARTITION BY t.transaction_id ORDER BY i.item_id) = 1 THEN t.tax_withheld
    END AS tax_withheld,
    CASE WHEN ROW_NUMBER() OVER (PARTITION BY t.transaction_id ORDER BY i.item_id) = 1 THEN t.net END AS net
FROM fb_transaction_amounts t
LEFT JOIN fb_payouts p ON p.payout_reference_id = t.payout_reference_id
LEFT JOIN fb_orders o ON o.order_id = t.order_id
LEFT JOIN fb_order_items i ON i.order_id = t.order_id
WHERE t.payout_reference_id IS NOT NULL
