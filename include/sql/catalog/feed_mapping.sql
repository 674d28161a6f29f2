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
--   in fb_feed_rejects with the field, the reason and the value (e.g. "price: not a price like '9.99 USD'"). The
--   run fails only when more than 5% of the products are rejected. The rules: include/sql/catalog/README.md.
-- * Never make up a value: a value the SQL cannot convert exactly must reach the check as it is, so it is rejected
--   with its value, instead of being shipped as something else. On SQLite, arithmetic on text quietly reads its
--   numeric prefix ('9,99' * 100 is 900, '' is 0): this file does no arithmetic on prices; it only pads a plain
--   decimal number to two decimals, and passes anything else through unchanged.
-- * Formats Meta expects: price and sale_price "9.99 USD" (period, a space, ISO 4217 code; at most 2 decimals);
--   availability 'in stock' | 'out of stock'; condition 'new' | 'refurbished' | 'used'; status 'active' | 'archived';
--   link and image_link absolute http(s) URLs; sale_price_effective_date "start/end" in ISO-8601.
-- * A price of zero is rejected. If you do sell products for nothing, opt in with this line anywhere in the file:
--       -- fb-commerce-option: allow_zero_price
-- * Write SQL that runs on both SQLite and PostgreSQL if the warehouse may be either (this file does: CAST, CASE,
--   TRIM(x, chars), LIKE, SUBSTR, NULLIF, ||). Every column is read as text, so any type is fine.
-- * A semicolon at the end is optional. Do not ORDER BY unless you need to: sorting a large catalog costs time, and
--   the feed's order does not matter to Meta (duplicate ids: the first row wins, the later ones are rejected).
--
-- This default reads the `merchant_products` table of the warehouse (seeded by `make demo`).

WITH products AS (
    SELECT
        mp.*,
        -- Each number as the database writes it as text: '19.9' or '10' (SQLite), '19.90' (PostgreSQL), or the
        -- text that was stored instead of a number ('9,99', '1 000,00', 'n/a'). Blank is NULL: no value.
        NULLIF(TRIM(CAST(mp.price AS VARCHAR(64))), '')      AS price_text,
        NULLIF(TRIM(CAST(mp.sale_price AS VARCHAR(64))), '') AS sale_price_text,
        NULLIF(TRIM(CAST(mp.stock AS VARCHAR(64))), '')      AS stock_text,
        CAST(mp.is_active AS VARCHAR(64))                    AS is_active_text
    FROM merchant_products AS mp
),
amounts AS (
    SELECT
        products.*,
        -- A plain decimal number (only digits and one inner period) gets two decimals if it has fewer: 10 -> 10.00,
        -- 19.9 -> 19.90. Anything else goes on unchanged, so the check rejects it with its value: '9,99', '-5',
        -- '9.999999' (more decimals than a price has), '1.0e+15'.
        CASE
            WHEN TRIM(price_text, '0123456789.') <> '' OR price_text LIKE '%.%.%'
                 OR price_text LIKE '.%' OR price_text LIKE '%.' THEN price_text
            WHEN price_text NOT LIKE '%.%' THEN price_text || '.00'
            WHEN price_text LIKE '%._' THEN price_text || '0'
            ELSE price_text
        END AS price_amount,
        CASE
            WHEN TRIM(sale_price_text, '0123456789.') <> '' OR sale_price_text LIKE '%.%.%'
                 OR sale_price_text LIKE '.%' OR sale_price_text LIKE '%.' THEN sale_price_text
            WHEN sale_price_text NOT LIKE '%.%' THEN sale_price_text || '.00'
            WHEN sale_price_text LIKE '%._' THEN sale_price_text || '0'
            ELSE sale_price_text
        END AS sale_price_amount
    FROM products
)
SELECT
    sku                                                         AS id,
    name                                                        AS title,
    description                                                 AS description,
    -- In stock when the stock is a whole number above 0 (text comparisons only, so a text column works too).
    CASE WHEN TRIM(stock_text, '0123456789') = '' AND TRIM(stock_text, '0') <> '' THEN 'in stock'
         ELSE 'out of stock' END                                AS availability,
    -- No default: a product without a condition is rejected rather than sold as new.
    condition                                                   AS condition,
    -- No price, no product (NULL is "missing"); a missing currency leaves "19.90" alone, rejected as such.
    price_amount || ' ' || COALESCE(currency, '')               AS price,
    url                                                         AS link,
    image_url                                                   AS image_link,
    brand                                                       AS brand,
    -- A whole number as it is; a negative whole number (oversold) is nothing to sell; anything else ('2.5',
    -- '12 units') goes on unchanged and is rejected. No stock at all (NULL) is "missing", not 0.
    CASE
        WHEN TRIM(stock_text, '0123456789') = '' THEN stock_text
        WHEN stock_text LIKE '-%' AND SUBSTR(stock_text, 2) <> ''
             AND TRIM(SUBSTR(stock_text, 2), '0123456789') = '' THEN '0'
        ELSE stock_text
    END                                                         AS quantity_to_sell_on_facebook,
    category                                                    AS google_product_category,
    sale_price_amount || ' ' || COALESCE(currency, '')          AS sale_price,
    -- Stored as UTC; written "2026-01-31T00:00:00+00:00/2026-02-28T23:59:59+00:00". Both ends or none.
    CASE WHEN sale_price IS NOT NULL AND sale_price_start IS NOT NULL AND sale_price_end IS NOT NULL THEN
        REPLACE(SUBSTR(CAST(sale_price_start AS VARCHAR(40)), 1, 19), ' ', 'T') || '+00:00/'
        || REPLACE(SUBSTR(CAST(sale_price_end AS VARCHAR(40)), 1, 19), ' ', 'T') || '+00:00'
    END                                                         AS sale_price_effective_date,
    item_group_id                                               AS item_group_id,
    gtin                                                        AS gtin,
    size                                                        AS size,
    color                                                       AS color,
    -- Inactive products stay in the catalog, hidden, instead of being deleted by a replace feed. Booleans as
    -- SQLite (1/0) and PostgreSQL (true/false) write them; any other value goes on and is rejected.
    CASE is_active_text
        WHEN '1' THEN 'active' WHEN 'true' THEN 'active'
        WHEN '0' THEN 'archived' WHEN 'false' THEN 'archived'
        ELSE is_active_text
    END                                                         AS status
FROM amounts
