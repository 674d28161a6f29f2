"""Customer service: indexes for each order lookup, the buyer's name stored for search, fb_cs_actions as a log.

- ``fb_orders.buyer_name_search`` and ``buyer_name_search_last_first``: the buyer's name without accents, case
  folded (filled by fb_orders_sync's mapping, back-filled here), each with an index, so a name is found by the
  start of its first or its last word with an index range on SQLite and PostgreSQL alike;
- ``fb_orders.buyer_email_search``: the e-mail in lower case, indexed (it replaces ``ix_fb_orders_buyer_email``,
  which nothing else used), so an address is found whatever its case; ``ix_fb_orders_state_created_at``;
- ``fb_cs_actions`` was created by 0001 but never written: it is dropped and created again as an append-only
  log, one row per submission and step (refused, awaiting_approval, approved, declined, queued, sent, failed).

Revision ID: 0006_cs
Revises: 0005_finance_views
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_cs"
down_revision: str | None = "0005_finance_views"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
ID = sa.String(length=255)
CODE = sa.String(length=64)
WHEN = sa.DateTime(timezone=True)
#: rows of fb_orders back-filled per statement
BACKFILL_BATCH = 5_000

OLD_COMMENT = (
    "Audit trail of customer-service actions (append only). Written by the fb_cs_* DAGs and the CLI; read by "
    "customer service and auditors."
)
NEW_COMMENT = (
    "Audit trail of customer-service actions: one row per submission and step, never updated or deleted "
    "(0006_cs). Written by fb_commerce.cs.actions (the web page, the fb_cs_* DAGs, the CLI); read by "
    "customer service (the order's page) and auditors."
)


def _backfill_names() -> None:
    """Fill the search columns of the orders already stored, with the same function the orders mapping uses."""
    from fb_commerce.orders.mapping import email_search, name_search_columns

    bind = op.get_bind()
    orders = sa.table(
        "fb_orders",
        sa.column("order_id"),
        sa.column("buyer_name"),
        sa.column("buyer_email"),
        sa.column("buyer_email_search"),
        sa.column("buyer_name_search"),
        sa.column("buyer_name_search_last_first"),
    )
    last = ""
    while True:
        rows = bind.execute(
            sa.select(orders.c.order_id, orders.c.buyer_name, orders.c.buyer_email)
            .where(orders.c.order_id > last)
            .order_by(orders.c.order_id)
            .limit(BACKFILL_BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            sa.update(orders)
            .where(orders.c.order_id == sa.bindparam("oid"))
            .values(
                buyer_email_search=sa.bindparam("email"),
                buyer_name_search=sa.bindparam("search"),
                buyer_name_search_last_first=sa.bindparam("last_first"),
            ),
            [
                {
                    "oid": order_id,
                    "email": email_search(email),
                    **dict(zip(("search", "last_first"), name_search_columns(name), strict=True)),
                }
                for order_id, name, email in rows
            ],
        )
        last = rows[-1][0]


def _create_actions(new: bool) -> None:
    if new:
        op.create_table(
            "fb_cs_actions",
            sa.Column("action_id", ID, nullable=False, comment="One customer-service submission (a form sent once)."),
            sa.Column(
                "status",
                CODE,
                nullable=False,
                comment=(
                    "What happened to it, one row each: refused|awaiting_approval|approved|declined|queued|sent|failed."
                ),
            ),
            sa.Column("action_type", CODE, nullable=False, comment="refund|cancel|update_tracking"),
            sa.Column("order_id", ID),
            sa.Column(
                "requested_by",
                sa.Text(),
                comment="Who: the Airflow user (web, dag) or the OS user (cli); the approver.",
            ),
            sa.Column("source", CODE, comment="web|dag|cli"),
            sa.Column("run_id", ID, comment="The fb_cs_* DAG run, when it came from one."),
            sa.Column("parameters", JSON, comment="The form as submitted."),
            sa.Column("request_id", ID, comment="The outbox row it queued (fb_*_requests.request_id)."),
            sa.Column("error_code", sa.Integer(), comment="Meta's code when Meta refused it."),
            sa.Column(
                "error_message", sa.Text(), comment="Why it was refused (our checks) or failed (Meta's message)."
            ),
            sa.Column("result", JSON, comment="Details: the reasons, Meta's answer, the submission it repeats."),
            sa.Column("created_at", WHEN, server_default=sa.func.now(), nullable=False, comment="When this happened."),
            sa.PrimaryKeyConstraint("action_id", "status", name=op.f("pk_fb_cs_actions")),
            comment=NEW_COMMENT,
        )
        op.create_index("ix_fb_cs_actions_request_id", "fb_cs_actions", ["request_id"])
    else:
        op.create_table(
            "fb_cs_actions",
            sa.Column("action_id", ID, nullable=False),
            sa.Column("action_type", CODE, nullable=False, comment="cancel|refund|return|..."),
            sa.Column("order_id", ID),
            sa.Column("requested_by", sa.Text(), comment="The agent (Airflow user or CLI user)."),
            sa.Column("source", CODE, comment="dag|cli|web"),
            sa.Column("run_id", ID),
            sa.Column("parameters", JSON, comment="The form as submitted."),
            sa.Column("status", CODE, nullable=False, comment="rejected|queued|sent|failed"),
            sa.Column("request_id", ID, comment="Outbox row it queued, if any."),
            sa.Column("error_code", sa.Integer()),
            sa.Column("error_message", sa.Text()),
            sa.Column("result", JSON),
            sa.Column("created_at", WHEN, server_default=sa.func.now(), nullable=False),
            sa.Column("completed_at", WHEN),
            sa.PrimaryKeyConstraint("action_id", name=op.f("pk_fb_cs_actions")),
            comment=OLD_COMMENT,
        )
    op.create_index("ix_fb_cs_actions_created_at", "fb_cs_actions", ["created_at"])
    op.create_index("ix_fb_cs_actions_order_id", "fb_cs_actions", ["order_id"])


def upgrade() -> None:
    """Add the search columns and lookup indexes to fb_orders; recreate fb_cs_actions as a log."""
    with op.batch_alter_table("fb_orders") as batch_op:
        batch_op.add_column(
            sa.Column(
                "buyer_email_search", sa.String(length=320), comment="buyer_email in lower case, for search (0006_cs)."
            )
        )
        batch_op.add_column(
            sa.Column(
                "buyer_name_search",
                sa.Text(),
                comment=("buyer_name for search: accents removed, case folded, words joined by one space (0006_cs)."),
            )
        )
        batch_op.add_column(
            sa.Column(
                "buyer_name_search_last_first",
                sa.Text(),
                comment="buyer_name_search with its last word first, so a last name is found by its start too.",
            )
        )
        batch_op.drop_index("ix_fb_orders_buyer_email")
    _backfill_names()
    op.create_index("ix_fb_orders_buyer_email_search", "fb_orders", ["buyer_email_search"])
    op.create_index(
        "ix_fb_orders_buyer_name_search",
        "fb_orders",
        ["buyer_name_search"],
        postgresql_ops={"buyer_name_search": "text_pattern_ops"},
    )
    op.create_index(
        "ix_fb_orders_buyer_name_search_last_first",
        "fb_orders",
        ["buyer_name_search_last_first"],
        postgresql_ops={"buyer_name_search_last_first": "text_pattern_ops"},
    )
    op.create_index("ix_fb_orders_state_created_at", "fb_orders", ["state", "created_at"])
    op.drop_table("fb_cs_actions")
    _create_actions(new=True)


def downgrade() -> None:
    """Back to 0004: the old fb_cs_actions shape (its rows are lost), no search columns or lookup indexes."""
    op.drop_table("fb_cs_actions")
    _create_actions(new=False)
    op.drop_index("ix_fb_orders_state_created_at", table_name="fb_orders")
    op.drop_index("ix_fb_orders_buyer_name_search_last_first", table_name="fb_orders")
    op.drop_index("ix_fb_orders_buyer_name_search", table_name="fb_orders")
    op.drop_index("ix_fb_orders_buyer_email_search", table_name="fb_orders")
    with op.batch_alter_table("fb_orders") as batch_op:
        batch_op.drop_column("buyer_name_search_last_first")
        batch_op.drop_column("buyer_name_search")
        batch_op.drop_column("buyer_email_search")
        batch_op.create_index("ix_fb_orders_buyer_email", ["buyer_email"])
