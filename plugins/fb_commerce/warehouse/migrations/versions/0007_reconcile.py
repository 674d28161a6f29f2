"""Reconciliation: an index on fb_payments.shipment_id, by which sale_missing finds a shipment's payment.

Revision ID: 0007_reconcile
Revises: 0006_cs
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_reconcile"
down_revision: str | None = "0006_cs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index fb_payments by shipment (SQLite would otherwise build a transient index on every run)."""
    op.create_index("ix_fb_payments_shipment_id", "fb_payments", ["shipment_id"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_fb_payments_shipment_id", table_name="fb_payments")
