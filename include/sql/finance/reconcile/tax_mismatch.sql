-- Tax on the order is not the tax on its transactions, per order and currency.
-- The order's side: the tax of its captured payments (fb_payments.tax_amount, the shipped units' tax) minus the
-- tax of its refunds (fb_refunds.tax). The transactions' side: the tax Meta details on its SALE transactions
-- (fb_transactions.tax_amount, the sum of its fb_transaction_tax_details lines over every jurisdiction) minus that
-- on its REFUND transactions. Signs are normalised (Meta sends refund tax negative).
-- An order is compared only once nothing of it is in flight: every captured payment has its SALE stored and there
-- are as many REFUND transactions as refunds (sale_missing and refund_missing report the rest). An order with no
-- stored payment is not compared.
-- Checked: orders whose last transaction before the window's end is dated inside the window.
WITH checked AS (
    SELECT t.order_id, max(t.transaction_date) AS last_at
    FROM fb_transactions AS t
    WHERE t.transaction_date < :window_end
      AND t.order_id IN (
          SELECT w.order_id FROM fb_transactions AS w
          WHERE w.transaction_date >= :window_start AND w.transaction_date < :window_end
      )
    GROUP BY t.order_id
    HAVING max(t.transaction_date) >= :window_start
),
transaction_tax AS (
    SELECT
        t.order_id,
        t.currency,
        sum(CASE WHEN t.transaction_type = 'REFUND' THEN -1 ELSE 1 END * round(abs(coalesce(t.tax_amount, 0)) * 100))
            AS tax_cents,
        sum(CASE WHEN t.transaction_type = 'SALE' THEN 1 ELSE 0 END) AS sales,
        sum(CASE WHEN t.transaction_type = 'REFUND' THEN 1 ELSE 0 END) AS refunds
    FROM fb_transactions AS t
    WHERE t.order_id IN (SELECT c.order_id FROM checked AS c)
    GROUP BY t.order_id, t.currency
),
payment_tax AS (
    SELECT
        p.order_id,
        p.currency,
        sum(round(coalesce(p.tax_amount, 0) * 100)) AS tax_cents,
        count(*) AS payments,
        sum(
            CASE WHEN EXISTS (
                SELECT 1 FROM fb_transactions AS t
                WHERE t.transaction_id = p.transaction_id AND t.transaction_type = 'SALE'
            ) THEN 1 ELSE 0 END
        ) AS paid
    FROM fb_payments AS p
    WHERE p.captured_amount IS NOT NULL AND p.order_id IN (SELECT c.order_id FROM checked AS c)
    GROUP BY p.order_id, p.currency
),
refund_tax AS (
    SELECT r.order_id, r.currency, sum(round(abs(coalesce(r.tax, 0)) * 100)) AS tax_cents, count(*) AS refunds
    FROM fb_refunds AS r
    WHERE r.order_id IN (SELECT c.order_id FROM checked AS c)
    GROUP BY r.order_id, r.currency
)
SELECT
    c.last_at AS event_at,
    c.order_id AS order_id,
    NULL AS shipment_id,
    NULL AS refund_id,
    NULL AS transaction_id,
    NULL AS payout_reference_id,
    NULL AS jurisdiction,
    pt.currency AS currency,
    pt.tax_cents - coalesce(rf.tax_cents, 0) AS expected_cents,
    coalesce(tt.tax_cents, 0) AS actual_cents,
    'Tax on the order is not the tax on its transactions' AS message
FROM checked AS c
JOIN payment_tax AS pt ON pt.order_id = c.order_id
LEFT JOIN refund_tax AS rf ON rf.order_id = c.order_id AND rf.currency = pt.currency
LEFT JOIN transaction_tax AS tt ON tt.order_id = c.order_id AND tt.currency = pt.currency
WHERE pt.paid = pt.payments
  AND coalesce(tt.refunds, 0) = coalesce(rf.refunds, 0)
  AND abs(coalesce(tt.tax_cents, 0) - (pt.tax_cents - coalesce(rf.tax_cents, 0))) > :tolerance_cents
