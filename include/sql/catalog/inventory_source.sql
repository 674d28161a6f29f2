-- Inventory source: what each product's stock and price are now (one row per product).
--
-- fb_inventory_sync compares this with what Meta last accepted (the warehouse table fb_catalog_sync_state) and
-- sends only the differences through Meta's Catalog Batch API, every 15 minutes, between the daily feeds.
--
-- HOW TO EDIT
-- * Output exactly these columns, with these names:
--     id                            the product id (text; the same value as the feed mapping's id)
--     availability                  'in stock' | 'out of stock'
--     quantity_to_sell_on_facebook  a whole number >= 0 ('7')
--     price                         the amount as a plain decimal ('19.90', '10.00'), never rounded
--     sale_price                    the same, or NULL when there is no sale
--     currency                      ISO 4217 code ('USD')
--   Text or numbers both work: every value is read as text and checked by the same rules as the feed
--   (include/sql/catalog/README.md). A value that breaks one (a price with more decimals than its currency has,
--   '9,99', zero, '-5', a stock of '2.5' or '12 units', availability 'In Stock', currency 'usd') is refused
--   with its column and value: the product is not sent, it is stored as failed in fb_batch_request_items with
--   that message, and the rest of the batch goes on.
-- * Keep the values the same as feed_mapping.sql computes them (this file does it with the same expressions):
--   after a feed, the values Meta accepted are read back from the feed file, and a product whose values differ
--   here is sent again on every run.
-- * Never make up a value: a value the SQL cannot convert exactly must reach the check as it is. No ROUND(), no
--   arithmetic, no printf() on prices: they round (9.999999 becomes 10.00) and, on SQLite, read text as its
--   numeric prefix ('9,99' becomes 9).
-- * A price of zero is refused. If you do sell products for nothing, opt in with this line anywhere in the file
--   (the same option as the feed mapping's; put it in both):
--       -- fb-commerce-option: allow_zero_price
-- * This query must run in the warehouse database, because the difference is computed there in one SQL
--   statement against fb_catalog_sync_state. If your products live elsewhere, replicate them into the
--   warehouse or expose them through a view (on PostgreSQL, postgres_fdw).
-- * Products that are here but not yet on Meta are left to the next feed (fb_catalog_feed creates products with
--   all their fields); products that are no longer here are deleted from the catalog.
-- * A semicolon at the end is optional. Write SQL that runs on both SQLite and PostgreSQL if the warehouse may
--   be either (this file does: CAST, CASE, TRIM(x, chars), LIKE, SUBSTR, NULLIF, ||).
--
-- This default reads the `merchant_products` table of the warehouse (seeded by `make demo`).

SELECT
    sku                                                         AS id,
    -- In stock when the stock is a whole number above 0 (text comparisons only, so a text column works too).
    CASE WHEN TRIM(stock_text, '0123456789') = '' AND TRIM(stock_text, '0') <> '' THEN 'in stock'
         ELSE 'out of stock' END                                AS availability,
    -- A whole number as it is; a negative whole number (oversold) is nothing to sell; anything else ('2.5',
    -- '12 units') goes on unchanged and is refused. No stock at all (NULL) is "missing", not 0.
    CASE
        WHEN TRIM(stock_text, '0123456789') = '' THEN stock_text
        WHEN stock_text LIKE '-%' AND SUBSTR(stock_text, 2) <> ''
             AND TRIM(SUBSTR(stock_text, 2), '0123456789') = '' THEN '0'
        ELSE stock_text
    END                                                         AS quantity_to_sell_on_facebook,
    -- A plain decimal number (only digits and one inner period) gets two decimals if it has fewer: 10 -> 10.00,
    -- 19.9 -> 19.90. Anything else goes on unchanged, so the check refuses it with its value: '9,99', '-5',
    -- '9.999999' (more decimals than a price has), '1.0e+15'. Blank is NULL: no price (refused as missing).
    CASE
        WHEN TRIM(price_text, '0123456789.') <> '' OR price_text LIKE '%.%.%'
             OR price_text LIKE '.%' OR price_text LIKE '%.' THEN price_text
        WHEN price_text NOT LIKE '%.%' THEN price_text || '.00'
        WHEN price_text LIKE '%._' THEN price_text || '0'
        ELSE price_text
    END                                                         AS price,
    CASE
        WHEN TRIM(sale_price_text, '0123456789.') <> '' OR sale_price_text LIKE '%.%.%'
             OR sale_price_text LIKE '.%' OR sale_price_text LIKE '%.' THEN sale_price_text
        WHEN sale_price_text NOT LIKE '%.%' THEN sale_price_text || '.00'
        WHEN sale_price_text LIKE '%._' THEN sale_price_text || '0'
        ELSE sale_price_text
    END                                                         AS sale_price,
    currency                                                    AS currency
FROM (
    SELECT
        mp.sku,
        mp.currency,
        -- Each number as the database writes it as text: '19.9' or '10' (SQLite), '19.90' (PostgreSQL), or the
        -- text that was stored instead of a number ('9,99', '1 000,00', 'n/a'), exactly as feed_mapping.sql reads it.
        NULLIF(TRIM(CAST(mp.price AS VARCHAR(64))), '')      AS price_text,
        NULLIF(TRIM(CAST(mp.sale_price AS VARCHAR(64))), '') AS sale_price_text,
        NULLIF(TRIM(CAST(mp.stock AS VARCHAR(64))), '')      AS stock_text
    FROM merchant_products AS mp
) AS products
