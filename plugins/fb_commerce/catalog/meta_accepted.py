"""``fb_catalog_sync_state``: what Meta last accepted per product, written only from confirmed answers.

Two writers, both set absolute values (never increments), so applying the same answer twice changes nothing:

- a finished ``items_batch`` handle (:func:`apply_batch`): in SQL, from the ``fb_batch_request_items`` rows Meta
  accepted (``status = 'synced'``): UPDATEs upserted, DELETEs removed;
- a finished feed upload (:func:`replace_from_feed`): the values the feed file carried, except the products Meta
  rejected; a replace feed also removes the products it no longer names (Meta deleted them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fb_commerce.catalog.inventory_delta import DELETE
from fb_commerce.warehouse import schema
from fb_commerce.warehouse.types import UtcDateTime
from fb_commerce.warehouse.upsert import dialect_insert

STATE = schema.fb_catalog_sync_state
ITEMS = schema.fb_batch_request_items
SYNCED = "synced"
VALUE_COLUMNS = ("availability", "quantity", "price", "sale_price", "currency", "row_hash")
_IN_CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit


def feed_marker(upload_id: str) -> str:
    """The ``last_handle`` of state rows a feed upload set: ``feed:<upload id>``."""
    return f"feed:{upload_id}"


def apply_batch(connection: Connection, handle: str, now: dt.datetime) -> None:
    """Copy the accepted items of ``handle`` into the sync state (in the caller's transaction)."""
    columns = ("retailer_id", *VALUE_COLUMNS, "last_handle", "synced_at")
    accepted = sa.and_(ITEMS.c.handle == handle, ITEMS.c.status == SYNCED)
    rows = sa.select(
        ITEMS.c.retailer_id,
        *(ITEMS.c[name] for name in VALUE_COLUMNS),
        ITEMS.c.handle,
        sa.literal(now, UtcDateTime()),
    ).where(accepted, ITEMS.c.method != DELETE)
    insert = dialect_insert(connection, STATE).from_select(list(columns), rows)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=["retailer_id"], set_={name: insert.excluded[name] for name in columns[1:]}
        )
    )
    deleted = sa.select(ITEMS.c.retailer_id).where(accepted, ITEMS.c.method == DELETE)
    connection.execute(sa.delete(STATE).where(STATE.c.retailer_id.in_(deleted)))


def _chunks(values: list[str], size: int = _IN_CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def replace_from_feed(
    engine: Engine,
    rows: Iterable[Mapping[str, Any]],
    upload_id: str,
    rejected_ids: Iterable[str] = (),
    *,
    replace: bool = True,
    now: dt.datetime | None = None,
) -> int:
    """Set the state of every product a finished feed upload carried; return the rows written.

    ``rows`` are state rows (retailer_id and :data:`VALUE_COLUMNS`) read back from the feed file. Products in
    ``rejected_ids`` (Meta's fatal errors) keep their previous state: Meta kept its previous version of them. With
    ``replace`` (a replace feed, not update_only) products the file did not name are removed from the state, as
    Meta removed them from the catalog. All in one transaction, so a concurrent inventory sync never sees half.
    """
    from fb_commerce.warehouse.bulk import bulk_upsert

    now = now or dt.datetime.now(dt.UTC)
    marker = feed_marker(upload_id)
    rejected = sorted(set(rejected_ids))
    skip = set(rejected)

    def accepted() -> Iterator[dict[str, Any]]:
        for row in rows:
            if row["retailer_id"] not in skip:
                yield {**row, "last_handle": marker, "synced_at": now}

    with engine.begin() as connection:
        written = bulk_upsert(connection, STATE, accepted())
        if replace:
            # Rejected products are in the file too: mark them so the sweep below keeps their old state.
            for ids in _chunks(rejected):
                connection.execute(sa.update(STATE).where(STATE.c.retailer_id.in_(ids)).values(last_handle=marker))
            connection.execute(
                sa.delete(STATE).where(sa.or_(STATE.c.last_handle.is_(None), STATE.c.last_handle != marker))
            )
    return written
