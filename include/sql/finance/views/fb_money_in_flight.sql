-- Money in flight: sold or refunded, not yet paid out (no payout_reference_id). Its age is as_of - since, worked
-- out by the reader from its own clock (no date arithmetic here, so the SQL is the same on every database).
SELECT
    t.transaction_id,
    t.transaction_type,
    t.transaction_date AS since,
    t.order_id,
    t.currency,
    t.gross,
    t.fees,
    t.tax_withheld,
    t.net
FROM fb_transaction_amounts t
WHERE t.payout_reference_id IS NULL
