-- Tax on the order is not the tax on its transactions, per order and currency.
-- The order's side: the tax of its captured payments (fb_payments.tax_amount, the shipped units' tax) minus the
-- tax of its refunds (fb_refunds.tax). The transactions' side: the tax Meta details on its SALE transactions
-- (fb_transactions.tax_amount, the sum of its fb_transaction_tax_details lines over every jurisdiction) minus that
-- on its REFUND transactions. Signs are normalised (Meta sends refund tax negative).
-- An order is compared only once nothing of it is in flight: as many SALE transactions as captured payments and as
-- many REFUND transactions as refunds (sale_missing and refund_missing report the rest). An order with no
-- stored payment is not compared.
-- Checked: orders whose last transaction before the window's end is dated inside the window.
-- Each side is one aggregate over its whole table (hash joins by order): no per-order lookups.
WITH transaction_tax AS (
    SELECT
        t.order_id,
        t.currency,
        max(CASE WHEN t.transaction_date < :window_end THEN t.transaction_date END) AS last_at,
        sum(CASE WHEN t.transaction_type = 'REFUND' THEN -1 ELSE 1 END * round(abs(coalesce(t.tax_amount, 0)) * 100))
            AS tax_cents,
        sum(CASE WHEN t.transaction_type = 'SALE' THEN 1 ELSE 0 END) AS sales,
        sum(CASE WHEN t.transaction_type = 'REFUND' THEN 1 ELSE 0 END) AS refunds
    FROM fb_transactions AS t
    GROUP BY t.order_id, t.currency
),
payment_tax AS (
    SELECT
        p.order_id,
        p.currency,
        sum(round(coalesce(p.tax_amount, 0) * 100)) AS tax_cents,
        count(*) AS payments
    FROM fb_payments AS p
    WHERE p.captured_amount IS NOT NULL
    GROUP BY p.order_id, p.currency
),
refund_tax AS (
    SELECT r.order_id, r.currency, sum(round(abs(coalesce(r.tax, 0)) * 100)) AS tax_cents, count(*) AS refunds
    FROM fb_refunds AS r
    GROUP BY r.order_id, r.currency
),
compared AS (
    -- every condition in one expression over the joined sides, evaluated after the joins: a filter on one side
    -- alone would make PostgreSQL expect a few rows and nest loops over all of them
    SELECT
        tt.last_at,
        tt.order_id,
        tt.currency,
        pt.tax_cents - coalesce(rf.tax_cents, 0) AS expected_cents,
        tt.tax_cents AS actual_cents,
        CASE
            WHEN tt.last_at >= :window_start
                AND tt.last_at < :window_end
                AND tt.sales = pt.payments
                AND tt.refunds = coalesce(rf.refunds, 0)
                AND abs(tt.tax_cents - (pt.tax_cents - coalesce(rf.tax_cents, 0))) > :tolerance_cents
                THEN 1
            ELSE 0
        END AS is_issue
    FROM transaction_tax AS tt
    JOIN payment_tax AS pt ON pt.order_id = tt.order_id AND pt.currency = tt.currency
    LEFT JOIN refund_tax AS rf ON rf.order_id = tt.order_id AND rf.currency = tt.currency
)
SELECT
    last_at AS event_at,
    order_id AS order_id,
    NULL AS shipment_id,
    NULL AS refund_id,
    NULL AS transaction_id,
    NULL AS payout_reference_id,
    NULL AS jurisdiction,
    currency AS currency,
    expected_cents AS expected_cents,
    actual_cents AS actual_cents,
    'Tax on the order is not the tax on its transactions' AS message
FROM compared
WHERE is_issue = 1
