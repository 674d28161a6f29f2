"""Finance: fb_payments (one payment per shipment) and fb_reconciliation_issues reshaped for reconciliation.

``fb_reconciliation_issues`` was created by 0001 but never written: it is dropped and created again, one row per
issue key that is upserted on every run (first and last seen, resolved when a later run finds it matched, never
deleted), instead of a day's issues being replaced.

Revision ID: 0004_finance
Revises: 0003_pgspeed2
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_finance"
down_revision: str | None = "0003_pgspeed2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
ID = sa.String(length=255)
MONEY = sa.Numeric(precision=18, scale=2)
WHEN = sa.DateTime(timezone=True)


def _now(name: str, comment: str) -> sa.Column:
    return sa.Column(name, WHEN, server_default=sa.func.now(), nullable=False, comment=comment)


def upgrade() -> None:
    """Create fb_payments; drop and create fb_reconciliation_issues in its new shape."""
    op.create_table(
        "fb_payments",
        sa.Column("payment_id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("shipment_id", ID, comment="The shipment this payment captured (one payment per shipment)."),
        sa.Column("external_shipment_id", ID),
        sa.Column("transaction_id", ID, comment="transaction_details.transaction_id: the SALE transaction."),
        sa.Column("currency", sa.String(length=3)),
        sa.Column("items_amount", MONEY, comment="subtotal.items: the shipped items' price."),
        sa.Column("shipping_amount", MONEY, comment="subtotal.shipping: the shipment's prorated share of shipping."),
        sa.Column("tax_amount", MONEY),
        sa.Column("total_amount", MONEY),
        sa.Column("tax_remitted", sa.Boolean(), comment="True when Meta remits this tax (marketplace facilitator)."),
        sa.Column(
            "captured_amount",
            MONEY,
            comment="transaction_details.captured_amount; NULL: capture failed (cannot be refunded).",
        ),
        sa.Column("capture_time", WHEN),
        _now("first_seen_at", "When this object was first stored."),
        _now("synced_at", "When this object was last read from Meta."),
        sa.Column("raw", JSON, comment="The object as Meta returned it."),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_fb_payments")),
        comment=(
            "Payments of an order (/{order}/payments), one per shipment. Written by fb_finance_nightly for the "
            "orders its transactions name (upsert); read by reconciliation (what a SALE should capture)."
        ),
    )
    op.create_index("ix_fb_payments_order_id", "fb_payments", ["order_id"])
    op.create_index("ix_fb_payments_transaction_id", "fb_payments", ["transaction_id"])

    op.drop_table("fb_reconciliation_issues")
    op.create_table(
        "fb_reconciliation_issues",
        sa.Column(
            "issue_key",
            ID,
            nullable=False,
            comment="Deterministic: the rule and the ids involved (same on every run).",
        ),
        sa.Column(
            "kind", sa.String(length=64), nullable=False, comment="The rule that found it: its file name in reconcile/."
        ),
        sa.Column(
            "business_date", sa.Date(), nullable=False, comment="The merchant's day the checked money belongs to."
        ),
        sa.Column("status", sa.String(length=16), nullable=False, comment="open|resolved"),
        sa.Column("order_id", ID),
        sa.Column("shipment_id", ID),
        sa.Column("refund_id", ID),
        sa.Column("transaction_id", ID),
        sa.Column("payout_reference_id", ID),
        sa.Column("jurisdiction", sa.Text(), comment="For tax rules: the jurisdiction compared."),
        sa.Column("currency", sa.String(length=3)),
        sa.Column("expected_amount", MONEY),
        sa.Column("actual_amount", MONEY),
        sa.Column("difference", MONEY, comment="actual - expected."),
        sa.Column("message", sa.Text(), nullable=False, comment="What is wrong, in finance's words."),
        sa.Column("details", JSON),
        sa.Column("first_seen_at", WHEN, nullable=False),
        sa.Column("last_seen_at", WHEN, nullable=False),
        sa.Column("resolved_at", WHEN, comment="When a later run found it matched; NULL while open."),
        sa.Column("first_run_id", ID, comment="Airflow run that first found it."),
        sa.Column("last_run_id", ID, comment="Airflow run that last found it (or resolved it)."),
        sa.PrimaryKeyConstraint("issue_key", name=op.f("pk_fb_reconciliation_issues")),
        comment=(
            "Discrepancies between orders, payments, transactions, payouts and tax, one row per issue key. Written "
            "by fb_finance_nightly (upserted; resolved, never deleted, when a later run finds it matched); read by "
            "finance and the reports."
        ),
    )
    op.create_index("ix_fb_reconciliation_issues_status_kind", "fb_reconciliation_issues", ["status", "kind"])
    op.create_index("ix_fb_reconciliation_issues_business_date", "fb_reconciliation_issues", ["business_date"])
    op.create_index("ix_fb_reconciliation_issues_order_id", "fb_reconciliation_issues", ["order_id"])


def downgrade() -> None:
    """Drop fb_payments; give fb_reconciliation_issues its 0001 shape back (its rows are lost: a rerun of
    reconciliation finds them again)."""
    op.drop_table("fb_payments")
    op.drop_table("fb_reconciliation_issues")
    op.create_table(
        "fb_reconciliation_issues",
        sa.Column("issue_key", ID, nullable=False, comment="Deterministic: check, date and the ids involved."),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("check_name", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), server_default=sa.text("'error'"), nullable=False),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'open'"), nullable=False, comment="open|resolved"
        ),
        sa.Column("order_id", ID),
        sa.Column("transaction_id", ID),
        sa.Column("payout_reference_id", ID),
        sa.Column("currency", sa.String(length=3)),
        sa.Column("expected_amount", MONEY),
        sa.Column("actual_amount", MONEY),
        sa.Column("difference", MONEY),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", JSON),
        sa.Column("run_id", ID, comment="Airflow run that found it."),
        sa.Column("detected_at", WHEN, server_default=sa.func.now(), nullable=False),
        sa.Column("resolved_at", WHEN),
        sa.PrimaryKeyConstraint("issue_key", name=op.f("pk_fb_reconciliation_issues")),
        comment=(
            "Discrepancies between orders, transactions, payouts and tax. Written by fb_finance_nightly "
            "(the day's issues are replaced on a rerun or backfill); read by finance."
        ),
    )
    op.create_index(
        "ix_fb_reconciliation_issues_business_date_check_name",
        "fb_reconciliation_issues",
        ["business_date", "check_name"],
    )
    op.create_index("ix_fb_reconciliation_issues_order_id", "fb_reconciliation_issues", ["order_id"])
