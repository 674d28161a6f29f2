"""Storing one page of orders: orders, items and new references in one transaction.

A page is committed whole or not at all, so an order is never stored without its items or without its reference.
Each table takes one statement per page (see :mod:`fb_commerce.warehouse.page_writer`).
Upserts by key mean a rerun, the watermark overlap or a page read twice update rows instead of adding them.
Meta's columns are overwritten with what Meta says now; ours (``merchant_order_reference``, ``acknowledged_at``,
the acknowledgement errors) are written once, when the order is first stored or first needs them, and never by
a later upsert.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fb_commerce.orders.mapping import item_rows, order_row
from fb_commerce.orders.reference import ReferenceGenerator, generate_references, set_references
from fb_commerce.orders.states import ACKNOWLEDGED_STATES, CREATED, FB_PROCESSING
from fb_commerce.warehouse.page_writer import Memos, insert_rows, prepare, write_rows
from fb_commerce.warehouse.schema import fb_order_items, fb_orders
from fb_commerce.warehouse.upsert import transaction

log = logging.getLogger(__name__)

#: our columns: set when an order is first stored, never overwritten by a later upsert of Meta's data
OURS = ("merchant_order_reference", "acknowledged_at")


@dataclass
class StoredPage:
    """What storing one or more pages did, in counts, and the newest ``last_updated`` stored."""

    orders: int = 0
    new: int = 0
    updated: int = 0
    items: int = 0
    #: references made by the generator, and references taken from Meta (orders acknowledged before we saw them)
    references: int = 0
    adopted: int = 0
    #: orders stored CREATED whose acknowledgement we find applied at Meta without having recorded its answer
    #: (a lost answer, a killed task)
    confirmed: int = 0
    newest: dt.datetime | None = None

    def add(self, other: StoredPage) -> None:
        """Add another page's counts to these."""
        for name in ("orders", "new", "updated", "items", "references", "adopted", "confirmed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.newest is not None and (self.newest is None or other.newest > self.newest):
            self.newest = other.newest


@dataclass(frozen=True)
class _Known:
    state: str
    updated_at: dt.datetime | None
    reference: str | None
    acknowledged_at: dt.datetime | None


def _known(connection: Connection, order_ids: Sequence[str]) -> dict[str, _Known]:
    query = sa.select(
        fb_orders.c.order_id,
        fb_orders.c.state,
        fb_orders.c.updated_at,
        fb_orders.c.merchant_order_reference,
        fb_orders.c.acknowledged_at,
    ).where(fb_orders.c.order_id.in_(order_ids))
    return {
        row.order_id: _Known(row.state, row.updated_at, row.merchant_order_reference, row.acknowledged_at)
        for row in connection.execute(query)
    }


def _mark_acknowledged(connection: Connection, order_ids: Sequence[str], at: dt.datetime) -> None:
    """``acknowledged_at`` for stored orders Meta now shows acknowledged that the warehouse did not know as such."""
    if not order_ids:
        return
    connection.execute(
        sa.update(fb_orders)
        .where(fb_orders.c.order_id.in_(order_ids), fb_orders.c.acknowledged_at.is_(None))
        .values(acknowledged_at=at, acknowledge_error_code=None, acknowledge_error_message=None)
    )


@dataclass(frozen=True)
class PageRows:
    """A page of Meta orders as fb_orders and fb_order_items rows, one per key, read at ``synced_at``."""

    synced_at: dt.datetime
    orders: dict[str, dict[str, Any]]
    items: list[dict[str, Any]]
    #: by table name, the rows' values bind-processed ahead for ``dialect`` (see ``page_writer.prepare``)
    memos: dict[str, Memos] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        orders: Sequence[dict[str, Any]],
        synced_at: dt.datetime,
        dialect: sa.Dialect | None = None,
        texts: Sequence[str] | None = None,
    ) -> PageRows:
        """Map a page's ``data`` (orders with ``items`` expanded inline), read at ``synced_at``.

        Pure, so the pull runs it next to the fetching, while the warehouse stores the previous page; with the
        warehouse's ``dialect``, the values' bind processing is done there too. Keyed, so an order listed twice in
        a page is written once (PostgreSQL refuses a row twice per statement). ``texts``: each order's JSON as
        Meta sent it (same order as ``orders``), stored as its ``raw`` instead of encoding the order again.
        """
        rows = {row["order_id"]: row for row in (order_row(order, synced_at) for order in orders)}
        items = list(
            {
                (item["order_id"], item["item_id"]): item for order in orders for item in item_rows(order, synced_at)
            }.values()
        )
        raw_texts = texts is not None and len(texts) == len(orders)
        memos: dict[str, Memos] = {fb_orders.name: {}, fb_order_items.name: {}}
        if dialect is not None:
            memos[fb_orders.name] = prepare(dialect, fb_orders, list(rows.values()), skip=("raw",) if raw_texts else ())
            memos[fb_order_items.name] = prepare(dialect, fb_order_items, items)
        if raw_texts:
            # The JSON text is what the column's bind processing makes of the order (its serialised form); the
            # page writer finds it by the order's identity (the rows hold the orders until they are written).
            memos[fb_orders.name]["raw"] = {id(order): text for order, text in zip(orders, texts or (), strict=True)}
        return cls(synced_at, rows, items, memos)


def store_page(bind: Engine | Connection, page: PageRows, *, generator: ReferenceGenerator) -> StoredPage:
    """Upsert a page of Meta orders with their items, and give new orders their reference; one transaction.

    - References: an order gets one the first time it is stored outside FB_PROCESSING (it may never finalise):
      Meta's ``merchant_order_id`` when Meta has one, otherwise the generator's.
    - ``acknowledged_at``: set when Meta shows an order acknowledged that the warehouse did not know as such,
      whether first seen that way or acknowledged by us with the answer lost (a timeout, a killed task), so it
      is recorded instead of acknowledged again.

    :param bind: the warehouse, or a connection outside any transaction (a pull keeps one for all its pages);
        the page is committed before this returns.
    :param page: the page's rows (:meth:`PageRows.of`); its ``synced_at`` (when it was read) is also the
        ``acknowledged_at`` of discoveries.
    :param generator: makes references for orders that need one (see :mod:`fb_commerce.orders.reference`).
    """
    result = StoredPage()
    if not page.orders:
        return result
    rows, items, synced_at = page.orders, page.items, page.synced_at
    if isinstance(bind, Connection) and bind.in_transaction():
        raise ValueError("store_page commits the page itself: pass a connection outside a transaction")
    with transaction(bind) as connection:
        known = _known(connection, list(rows))
        needing = [
            row
            for oid, row in rows.items()
            if row["state"] != FB_PROCESSING and (oid not in known or known[oid].reference is None)
        ]
        adopted = {row["order_id"]: row["merchant_order_id"] for row in needing if row["merchant_order_id"]}
        ours = sorted(
            (row for row in needing if row["order_id"] not in adopted),
            key=lambda row: (row["created_at"] or synced_at, row["order_id"]),
        )
        references = {**adopted, **generate_references(connection, ours, generator)}
        acknowledged = [
            oid
            for oid, row in rows.items()
            if row["state"] in ACKNOWLEDGED_STATES and (oid not in known or known[oid].acknowledged_at is None)
        ]

        # New orders carry our columns in their insert, NULL included, so a page's new orders are one statement;
        # stored ones get them by update, only where unset.
        new = set(rows) - set(known)
        for oid in new:
            rows[oid]["merchant_order_reference"] = references.get(oid)
            rows[oid]["acknowledged_at"] = synced_at if rows[oid]["state"] in ACKNOWLEDGED_STATES else None
        # Orders just found absent, and so their items, are inserted (COPY on PostgreSQL); the rest upserted.
        orders_memos, items_memos = page.memos.get(fb_orders.name), page.memos.get(fb_order_items.name)
        insert_rows(connection, fb_orders, [row for oid, row in rows.items() if oid in new], memos=orders_memos)
        write_rows(
            connection, fb_orders, [row for oid, row in rows.items() if oid not in new], keep=OURS, memos=orders_memos
        )
        insert_rows(connection, fb_order_items, [item for item in items if item["order_id"] in new], memos=items_memos)
        write_rows(
            connection, fb_order_items, [item for item in items if item["order_id"] not in new], memos=items_memos
        )
        set_references(connection, {oid: ref for oid, ref in references.items() if oid in known})
        _mark_acknowledged(connection, [oid for oid in acknowledged if oid in known], synced_at)

    for oid, row in rows.items():
        mine, theirs = known.get(oid), row["merchant_order_id"]
        if mine is not None and mine.reference and theirs and theirs != mine.reference:
            log.warning(
                "Order %s: Meta shows merchant_order_id %s, the warehouse has reference %s (kept: references never "
                "change once set)",
                oid,
                theirs,
                mine.reference,
            )
    result.orders = len(rows)
    result.new = len(set(rows) - set(known))
    result.updated = sum(1 for oid, row in rows.items() if oid in known and known[oid].updated_at != row["updated_at"])
    result.items = len(items)
    result.references = len(references) - len(adopted)
    result.adopted = len(adopted)
    result.confirmed = sum(1 for oid in acknowledged if oid in known and known[oid].state == CREATED)
    stamps = [row["updated_at"] for row in rows.values() if row["updated_at"] is not None]
    result.newest = max(stamps) if stamps else None
    return result
