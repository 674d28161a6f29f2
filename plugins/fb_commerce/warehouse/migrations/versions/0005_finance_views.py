"""Finance views: what finance reads (cash per payout, payout lines to the item, money in flight, balance, tax, fees).

Each view is created from a snapshot of ``include/sql/finance/views/<name>.sql`` taken when this revision was
written: a migration is history, so editing a view file later must not change what this revision builds. To change a
view, edit its file and add a revision that drops and creates it again from the new text (copy
:data:`VIEWS` of the new revision); ``tests/unit/test_finance_views.py`` checks that every view file equals its
newest snapshot. The SQL is the same on SQLite and PostgreSQL (no time-zone math, no JSON functions).

Revision ID: 0005_finance_views
Revises: 0004_finance
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_finance_views"
down_revision: str | None = "0004_finance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: name -> SELECT, in creation order (a view comes after the views it reads)
VIEWS: dict[str, str] = {
    "fb_transaction_amounts": """\
-- One row per transaction, its money split into the categories of the cash report (signs: what the line adds to
-- the payout). Identity: sales + shipping + tax + refunds + fees + tax_withheld = net.
--   gross        = net_payment_amount - processing_fee + tax withheld by Meta (signed like gross: + SALE, - REFUND)
--   tax          = the transaction's tax lines (+ on a SALE, - on a REFUND), whoever remits it
--   tax_withheld = minus the tax Meta keeps to remit (fb_payments.tax_remitted, else fb_orders.tax_remitted)
--   shipping     = the shipment's shipping share (fb_payments.shipping_amount), SALE only
--   sales        = gross - shipping - tax on a SALE (the items); refunds = gross - tax on a REFUND
--   fees         = processing_fee as Meta sends it (- on a SALE, + on a REFUND)
SELECT
    a.transaction_id,
    a.transaction_type,
    a.transaction_date,
    a.order_id,
    a.payout_reference_id,
    a.currency,
    CASE WHEN a.remitted = 1 THEN 'meta' ELSE 'merchant' END AS tax_remitted_by,
    a.net - a.fee + a.withheld AS gross,
    CASE WHEN a.is_refund = 1 THEN 0 ELSE a.net - a.fee + a.withheld - a.shipping - a.tax END AS sales,
    CASE WHEN a.is_refund = 1 THEN 0 ELSE a.shipping END AS shipping,
    a.tax AS tax,
    CASE WHEN a.is_refund = 1 THEN a.net - a.fee + a.withheld - a.tax ELSE 0 END AS refunds,
    a.fee AS fees,
    -a.withheld AS tax_withheld,
    a.net AS net
FROM (
    SELECT
        b.*,
        CASE WHEN b.remitted = 1 THEN b.tax ELSE 0 END AS withheld
    FROM (
        SELECT
            t.transaction_id,
            t.transaction_type,
            t.transaction_date,
            t.order_id,
            t.payout_reference_id,
            t.currency,
            CASE WHEN t.transaction_type = 'REFUND' THEN 1 ELSE 0 END AS is_refund,
            COALESCE(t.net_payment_amount, 0) AS net,
            COALESCE(t.processing_fee, 0) AS fee,
            CASE WHEN t.transaction_type = 'REFUND' THEN -1 ELSE 1 END * ABS(COALESCE(t.tax_amount, 0)) AS tax,
            COALESCE(p.shipping_amount, 0) AS shipping,
            COALESCE(p.remitted, CASE WHEN o.tax_remitted THEN 1 ELSE 0 END, 0) AS remitted
        FROM fb_transactions t
        LEFT JOIN (
            SELECT
                transaction_id,
                SUM(shipping_amount) AS shipping_amount,
                MAX(CASE WHEN tax_remitted THEN 1 WHEN tax_remitted IS NULL THEN NULL ELSE 0 END) AS remitted
            FROM fb_payments
            WHERE transaction_id IS NOT NULL
            GROUP BY transaction_id
        ) p ON p.transaction_id = t.transaction_id
        LEFT JOIN fb_orders o ON o.order_id = t.order_id
    ) b
) a
""",
    "fb_daily_orders": """\
-- One row per order with its figures; a day's orders are those whose created_at falls in the day (the report
-- passes the business day's UTC bounds: no time-zone math here).
SELECT
    o.order_id,
    o.created_at,
    o.state,
    o.channel,
    o.merchant_order_reference,
    o.buyer_name,
    o.currency,
    COALESCE(i.items, 0) AS items,
    COALESCE(i.quantity, 0) AS quantity,
    o.subtotal,
    o.shipping,
    o.tax,
    o.total,
    CASE WHEN o.tax_remitted THEN 'meta' ELSE 'merchant' END AS tax_remitted_by,
    COALESCE(s.shipments, 0) AS shipments,
    COALESCE(r.refunded, 0) AS refunded
FROM fb_orders o
LEFT JOIN (
    SELECT order_id, COUNT(*) AS items, SUM(quantity) AS quantity FROM fb_order_items GROUP BY order_id
) i ON i.order_id = o.order_id
LEFT JOIN (SELECT order_id, COUNT(*) AS shipments FROM fb_shipments GROUP BY order_id) s ON s.order_id = o.order_id
LEFT JOIN (SELECT order_id, SUM(ABS(total)) AS refunded FROM fb_refunds GROUP BY order_id) r ON r.order_id = o.order_id
""",
    "fb_payout_cash": """\
-- Each payout with the per-category totals of its transactions (fb_transaction_amounts), one row per payout and
-- currency. difference = amount - net: what the deposit misses (0 when the payout is explained by its lines).
SELECT
    p.payout_reference_id,
    p.transfer_id,
    p.status,
    p.payout_date,
    COALESCE(t.currency, p.currency) AS currency,
    p.amount,
    COALESCE(t.transactions, 0) AS transactions,
    COALESCE(t.sales, 0) AS sales,
    COALESCE(t.shipping, 0) AS shipping,
    COALESCE(t.tax, 0) AS tax,
    COALESCE(t.refunds, 0) AS refunds,
    COALESCE(t.fees, 0) AS fees,
    COALESCE(t.tax_withheld, 0) AS tax_withheld,
    COALESCE(t.net, 0) AS net,
    COALESCE(p.amount, 0) - COALESCE(t.net, 0) AS difference
FROM fb_payouts p
LEFT JOIN (
    SELECT
        payout_reference_id,
        currency,
        COUNT(*) AS transactions,
        SUM(sales) AS sales,
        SUM(shipping) AS shipping,
        SUM(tax) AS tax,
        SUM(refunds) AS refunds,
        SUM(fees) AS fees,
        SUM(tax_withheld) AS tax_withheld,
        SUM(net) AS net
    FROM fb_transaction_amounts
    WHERE payout_reference_id IS NOT NULL
    GROUP BY payout_reference_id, currency
) t ON t.payout_reference_id = p.payout_reference_id
""",
    "fb_payout_lines": """\
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
""",
    "fb_money_in_flight": """\
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
""",
    "fb_balance_movements": """\
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
""",
    "fb_tax_by_jurisdiction": """\
-- Tax per transaction, jurisdiction, category and imposition, with who remits it: 'meta' (marketplace
-- facilitator: fb_payments.tax_remitted, else fb_orders.tax_remitted) or 'merchant'. Signed like the gross:
-- + on a SALE, - on a REFUND; four decimals as Meta details it.
SELECT
    t.transaction_id,
    t.transaction_type,
    t.transaction_date,
    t.payout_reference_id,
    d.currency,
    d.jurisdiction,
    d.tax_category,
    d.imposition,
    MAX(d.item_tax_rate) AS tax_rate,
    t.tax_remitted_by,
    CASE WHEN t.transaction_type = 'REFUND' THEN -1 ELSE 1 END * SUM(ABS(d.item_tax_amount)) AS tax_amount
FROM fb_transaction_tax_details d
JOIN fb_transaction_amounts t ON t.transaction_id = d.transaction_id
GROUP BY
    t.transaction_id, t.transaction_type, t.transaction_date, t.payout_reference_id, d.currency, d.jurisdiction,
    d.tax_category, d.imposition, t.tax_remitted_by
""",
    "fb_fee_rates": """\
-- Effective fee rate of each SALE (fees / gross) against Meta's published schedule: 5 % of the shipment, or a flat
-- 0.40 at or below 8.00 (docs/graph-api.md §3.1). expected_fee and fee are positive amounts; difference = fee -
-- expected_fee. The reconciliation rule has the configurable schedule; this view shows the published one.
SELECT
    t.transaction_id,
    t.transaction_date,
    t.payout_reference_id,
    t.order_id,
    t.currency,
    t.gross,
    -t.fees AS fee,
    CASE WHEN t.gross <> 0 THEN -t.fees / t.gross END AS effective_rate,
    CASE WHEN t.gross <= 8.00 THEN 0.40 ELSE ROUND(t.gross * 0.05, 2) END AS expected_fee,
    -t.fees - CASE WHEN t.gross <= 8.00 THEN 0.40 ELSE ROUND(t.gross * 0.05, 2) END AS difference
FROM fb_transaction_amounts t
WHERE t.transaction_type = 'SALE'
""",
}


def upgrade() -> None:
    """Create the views, each from its snapshot."""
    for name, select in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS\n{select}")


def downgrade() -> None:
    """Drop the views, readers first."""
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
