-- A SALE whose processing fee is not the published schedule: :fee_rate_ppm (parts per million: 50000 = 5 %) of the
-- gross, rounded half away from zero to the cent, or a flat :flat_fee_cents when the gross is :flat_fee_max_cents or
-- less (never more than the gross). The fee is negative on a SALE (Meta's sign).
-- gross = net_payment_amount - processing_fee + the tax Meta withholds (see sale_amount_mismatch).
-- Checked: SALE transactions dated inside the run's window. REFUNDs are not checked (no fee is given back).
WITH sale AS (
    SELECT
        t.transaction_date,
        t.transaction_id,
        t.order_id,
        t.payout_reference_id,
        t.currency,
        round(t.processing_fee * 100) AS fee_cents,
        round(t.net_payment_amount * 100) - round(t.processing_fee * 100)
        + CASE
            WHEN coalesce(p.tax_remitted, o.tax_remitted) THEN round(abs(coalesce(t.tax_amount, 0)) * 100)
            ELSE 0
        END AS gross_cents
    FROM fb_transactions AS t
    LEFT JOIN fb_payments AS p ON p.transaction_id = t.transaction_id
    LEFT JOIN fb_orders AS o ON o.order_id = t.order_id
    WHERE t.transaction_type = 'SALE'
      AND t.transaction_date >= :window_start
      AND t.transaction_date < :window_end
),
priced AS (
    SELECT
        sale.*,
        -CASE
            WHEN gross_cents <= :flat_fee_max_cents
                THEN CASE WHEN gross_cents < :flat_fee_cents THEN gross_cents ELSE :flat_fee_cents END
            ELSE round(gross_cents * :fee_rate_ppm / 1000000.0)
        END AS schedule_cents
    FROM sale
)
SELECT
    transaction_date AS event_at,
    order_id AS order_id,
    NULL AS shipment_id,
    NULL AS refund_id,
    transaction_id AS transaction_id,
    payout_reference_id AS payout_reference_id,
    NULL AS jurisdiction,
    currency AS currency,
    schedule_cents AS expected_cents,
    fee_cents AS actual_cents,
    'Processing fee is off the published schedule' AS message
FROM priced
WHERE abs(fee_cents - schedule_cents) > :tolerance_cents
