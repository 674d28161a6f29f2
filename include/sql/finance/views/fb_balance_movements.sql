-- What Meta owes the merchant, as movements: + each transaction's net when it happens, - each completed payout
-- when it is paid. The balance at an instant is the sum of the movements before it, so a day's opening balance is
-- the sum before its start and its closing balance the sum before its end (bounds passed by the reader).
SELECT
    'transaction' AS movement,
    t.transaction_id AS reference,
    t.transaction_date AS moved_at,
    t.currency,
    t.net AS amount
FROM fb_transaction_amounts t
UNION ALL
SELECT
    'payout' AS movement,
    p.payout_reference_id AS reference,
    p.payout_date AS moved_at,
    p.currency,
    -p.amount AS amount
FROM fb_payouts p
WHERE p.status = 'COMPLETED' AND p.payout_date IS NOT NULL
