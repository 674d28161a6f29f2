-- Inventory source: what each product's stock and price are now (one row per product).
--
-- fb_inventory_sync compares this with what Meta last accepted (the warehouse table fb_catalog_sync_state) and
-- sends only the differences through Meta's Catalog Batch API, every 15 minutes, between the daily feeds.
--
-- HOW TO EDIT
-- * Output exactly these columns, with these names:
--     id                            the product id (text; the same value as the feed mapping's id)
--     availability                  'in stock' | 'out of stock'
--     quantity_to_sell_on_facebook  a whole number >= 0
--     price                         a number rounded to cents (19.9, not '19.90 USD')
--     sale_price                    a number rounded to cents, or NULL when there is no sale
--     currency                      ISO 4217 code ('USD')
-- * Keep the values the same as feed_mapping.sql computes them: after a feed, the values Meta accepted are read
--   back from the feed file, and a product whose values differ here is sent again on every run.
-- * Round prices to cents here (ROUND(x, 2)): a price with more decimals would never equal the stored one.
-- * This query must run in the warehouse database, because the difference is computed there in one SQL
--   statement against fb_catalog_sync_state. If your products live elsewhere, replicate them into the
--   warehouse or expose them through a view (on PostgreSQL, postgres_fdw).
-- * Products that are here but not yet on Meta are left to the next feed (fb_catalog_feed creates products with
--   all their fields); products that are no longer here are deleted from the catalog.
-- * A semicolon at the end is optional. Write SQL that runs on both SQLite and PostgreSQL if the warehouse may
--   be either (this file does).
--
-- This default reads the `merchant_products` table of the warehouse (seeded by `make demo`).

SELECT
    sku                                                         AS id,
    CASE WHEN stock > 0 THEN 'in stock' ELSE 'out of stock' END AS availability,
    CASE WHEN stock > 0 THEN stock ELSE 0 END                   AS quantity_to_sell_on_facebook,
    ROUND(price, 2)                                             AS price,
    ROUND(sale_price, 2)                                        AS sale_price,
    currency                                                    AS currency
FROM merchant_products
