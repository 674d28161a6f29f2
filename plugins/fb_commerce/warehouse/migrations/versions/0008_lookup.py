"""Customer-service lookups: an index on fb_returns(return_status, created_at), by which the returns awaiting
customer service are listed oldest first (cs.lookup.awaiting_returns) without reading every return.

Revision ID: 0008_lookup
Revises: 0007_reconcile
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_lookup"
down_revision: str | None = "0007_reconcile"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index fb_returns by status, then creation time."""
    op.create_index("ix_fb_returns_return_status_created_at", "fb_returns", ["return_status", "created_at"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_fb_returns_return_status_created_at", table_name="fb_returns")
