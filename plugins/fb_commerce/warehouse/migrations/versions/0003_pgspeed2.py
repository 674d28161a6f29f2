"""fb_order_items.raw dropped: each item as Meta returned it is already in its order's raw (``items.data``).

The order listing reads items inline, so every item's JSON was stored twice, once in fb_orders.raw and once in
fb_order_items.raw: that duplicate was most of what the warehouse parsed per page after fb_orders.raw itself.
No reader used fb_order_items.raw; the item's typed columns stay, and its Meta object is
``fb_orders.raw -> 'items' -> 'data'`` (the element whose ``id`` is the item_id).

Revision ID: 0003_pgspeed2
Revises: 0002_colour
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_pgspeed2"
down_revision: str | None = "0002_colour"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

COMMENT = (
    "Order lines. Written by fb_orders_sync with their order; read by fb_order_updates (what is "
    "shippable, cancellable, refundable), finance and customer service."
)
NEW_COMMENT = f"{COMMENT[:-1]}. Each line as Meta returned it is in fb_orders.raw (items.data)."


def upgrade() -> None:
    """Drop fb_order_items.raw (a copy of part of fb_orders.raw)."""
    with op.batch_alter_table("fb_order_items") as batch_op:
        batch_op.drop_column("raw")
    if op.get_bind().dialect.name == "postgresql":  # SQLite keeps no comments
        op.create_table_comment("fb_order_items", NEW_COMMENT, existing_comment=COMMENT)


def downgrade() -> None:
    """Add fb_order_items.raw back, filled from each order's raw (its ``items.data`` element of the same id)."""
    with op.batch_alter_table("fb_order_items") as batch_op:
        batch_op.add_column(sa.Column("raw", JSON))
    if op.get_bind().dialect.name == "postgresql":
        op.create_table_comment("fb_order_items", COMMENT, existing_comment=NEW_COMMENT)
        op.execute(
            "UPDATE fb_order_items AS i SET raw = e.item FROM fb_orders AS o, "
            "jsonb_array_elements(CASE WHEN jsonb_typeof(o.raw -> 'items' -> 'data') = 'array' "
            "THEN o.raw -> 'items' -> 'data' ELSE '[]'::jsonb END) AS e(item) "
            "WHERE o.order_id = i.order_id AND e.item ->> 'id' = i.item_id"
        )
    else:
        op.execute(
            "UPDATE fb_order_items SET raw = (SELECT e.value FROM fb_orders AS o, "
            "json_each(o.raw, '$.items.data') AS e WHERE o.order_id = fb_order_items.order_id "
            "AND json_extract(e.value, '$.id') = fb_order_items.item_id LIMIT 1)"
        )
