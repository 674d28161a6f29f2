"""Alert state: fb_alerts, one row per alert condition (notified once) and per day's digest.

Revision ID: 0002_colour
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_colour"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create fb_alerts."""
    op.create_table(
        "fb_alerts",
        sa.Column(
            "condition",
            sa.String(length=64),
            nullable=False,
            comment="stuck_created|ship_by_at_risk|return_unanswered|orders_sync_stale, or daily_digest.",
        ),
        sa.Column(
            "subject",
            sa.String(length=255),
            nullable=False,
            comment="What it is about: the order id, the return id, 'orders' (freshness), the UTC day (digest).",
        ),
        sa.Column("order_id", sa.String(length=255)),
        sa.Column("merchant_order_reference", sa.String(length=255)),
        sa.Column("detail", sa.Text(), comment="What was seen, as in the notification."),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "notified_at",
            sa.DateTime(timezone=True),
            comment="When it was sent (or only logged: no notifier); NULL: not yet.",
        ),
        sa.Column(
            "resolved_at", sa.DateTime(timezone=True), comment="When the condition was no longer seen; NULL: open."
        ),
        sa.PrimaryKeyConstraint("condition", "subject", name=op.f("pk_fb_alerts")),
        comment=(
            "One row per alert condition, so each is notified once, and one per day's digest. Written and read "
            "by the alert tasks of fb_orders_sync and fb_setup_check."
        ),
    )
    op.create_index("ix_fb_alerts_resolved_at", "fb_alerts", ["resolved_at"])


def downgrade() -> None:
    """Drop fb_alerts (its index goes with it)."""
    op.drop_table("fb_alerts")
