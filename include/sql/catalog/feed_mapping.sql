-- Feed mapping: the merchant's products as Meta feed fields (one row per product, one column per field).
--
-- HOW TO EDIT
-- * Each output column is named after a Meta feed field with `AS <field>` (lower case). Required:
--     id, title, description, availability, condition, price, link, image_link, brand,
--     quantity_to_sell_on_facebook, and google_product_category or fb_product_category.
--   Optional fields (sale_price, sale_price_effective_date, item_group_id, gtin, mpn, size, color, gender, status,
--   additional_image_link, custom_label_0..4, ...) are checked when present; leave a column out if you have no data.
-- * Point FROM at your own table or view; the column names on the left of each AS are yours.
-- * Values are checked before the feed is written; products that fail a check are left out of the feed and listed
--   in fb_feed_rejects with the field and the reason (e.g. "price: not a price like '9.99 USD'"). The run fails
--   only when more than 5% of the products are rejected.
-- * Formats Meta expects: price and sale_price "9.99 USD" (period, a space, ISO 4217 code);
--   availability 'in stock' | 'out of stock'; condition 'new' | 'refurbished' | 'used'; status 'active' | 'archived';
--   link and image_link absolute http(s) URLs; sale_price_effective_date "start/end" in ISO-8601.
-- * Write SQL that runs on both SQLite and PostgreSQL if the warehouse may be either (this file does: CAST, CASE,
--   COALESCE, ROUND, SUBSTR, REPLACE, ||). Every column is read as text, so any type is fine.
--   On PostgreSQL only, to_char(price, 'FM999999999990.00') is a shorter way to format a price; on SQLite only,
--   printf('%.2f', price).
-- * A semicolon at the end is optional. Do not ORDER BY unless you need to: sorting a large catalog costs time, and
--   the feed's order does not matter to Meta (duplicate ids: the first row wins, the later ones are rejected).
--
-- This default reads the `merchant_products` table of the warehouse (seeded by `make demo`).

WITH products AS (
    SELECT
        mp.*,
        -- Prices as whole cents first, then formatted as "12.30 USD" below: portable and exact to the cent.
        CAST(ROUND(ABS(mp.price) * 100) AS BIGINT) AS price_cents,
        CAST(ROUND(ABS(mp.sale_price) * 100) AS BIGINT) AS sale_price_cents
    FROM merchant_products AS mp
)
SELECT
    sku                                                         AS id,
    name                                                        AS title,
    description                                                 AS description,
    CASE WHEN stock > 0 THEN 'in stock' ELSE 'out of stock' END AS availability,
    COALESCE(condition, 'new')                                  AS condition,
    -- A negative price keeps its sign, so the check rejects it instead of shipping its absolute value.
    CASE WHEN price < 0 THEN '-' ELSE '' END
        || CAST(price_cents / 100 AS VARCHAR(24)) || '.'
        || SUBSTR(CAST(100 + price_cents % 100 AS VARCHAR(3)), 2)
        || ' ' || currency                                      AS price,
    url                                                         AS link,
    image_url                                                   AS image_link,
    brand                                                       AS brand,
    CASE WHEN stock > 0 THEN stock ELSE 0 END                   AS quantity_to_sell_on_facebook,
    category                                                    AS google_product_category,
    CASE WHEN sale_price < 0 THEN '-' ELSE '' END
        || CAST(sale_price_cents / 100 AS VARCHAR(24)) || '.'
        || SUBSTR(CAST(100 + sale_price_cents % 100 AS VARCHAR(3)), 2)
        || ' ' || currency                                      AS sale_price,
    -- Stored as UTC; written "2026-01-31T00:00:00+00:00/2026-02-28T23:59:59+00:00". Both ends or none.
    CASE WHEN sale_price IS NOT NULL AND sale_price_start IS NOT NULL AND sale_price_end IS NOT NULL THEN
        REPLACE(SUBSTR(CAST(sale_price_start AS VARCHAR(40)), 1, 19), ' ', 'T') || '+00:00/'
        || REPLACE(SUBSTR(CAST(sale_price_end AS VARCHAR(40)), 1, 19), ' ', 'T') || '+00:00'
    END                                                         AS sale_price_effective_date,
    item_group_id                                               AS item_group_id,
    gtin                                                        AS gtin,
    size                                                        AS size,
    color                                                       AS color,
    -- Inactive products stay in the catalog, hidden, instead of being deleted by a replace feed.
    CASE WHEN is_active THEN 'active' ELSE 'archived' END       AS status
FROM products
