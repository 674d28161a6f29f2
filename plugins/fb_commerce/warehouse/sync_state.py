"""``fb_sync_state``: the pipelines' own state, one row per name; every reader and writer of the table goes here.

A row holds a watermark, an ``extra`` JSON object, or both. The rows today:

- ``orders``, ``orders_read_back``, ``orders_read_back_sweep``, ``orders_pulled`` (fb_orders_sync, named below);
- ``inventory_restocks:<catalog id>``: the restock read-back of fb_inventory_sync
  (:mod:`fb_commerce.catalog.inventory_restocks`);
- ``catalog_feed:<catalog id>``: in ``extra``, the feed id fb_catalog_feed created
  (:mod:`fb_commerce.catalog.upload_store`);
- ``merchant_order_reference``: in ``extra``, the reference counter (:mod:`fb_commerce.orders.reference`).

Watermarks of the incremental pulls: a watermark is the newest Meta ``last_updated`` a pull has stored (Meta's clock,
not ours, so clock skew between the two cannot open a gap). The next pull asks for ``updated_after = watermark -
overlap``, the overlap catching orders Meta lists late; the first pull, with no watermark yet, looks back a
configurable number of days.

A watermark is written in its own transaction after the rows it covers are committed, and never moves backwards:
a pull that fails half way leaves it where it was, so the next run reads the same window again and the upserts
make the repeat harmless.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fb_commerce.warehouse.schema import fb_sync_state
from fb_commerce.warehouse.upsert import upsert

#: fb_sync_state rows of fb_orders_sync
ORDERS_WATERMARK = "orders"
READ_BACK_WATERMARK = "orders_read_back"
#: when the read-back last swept its wide window (a time of ours, not Meta's)
READ_BACK_SWEEP = "orders_read_back_sweep"
#: when an orders pull last succeeded (a time of ours): the freshness alert reads it. The watermark cannot tell,
#: since it only moves when Meta has changed orders
ORDERS_PULLED = "orders_pulled"


def _scalar(bind: Engine | Connection, query: sa.Select[Any]) -> Any:
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return connection.execute(query).scalar_one_or_none()
    return bind.execute(query).scalar_one_or_none()


def read_watermark(bind: Engine | Connection, name: str) -> dt.datetime | None:
    """The stored watermark of ``name``, or None before the first successful pull."""
    return _scalar(bind, sa.select(fb_sync_state.c.watermark).where(fb_sync_state.c.name == name))


def advance_watermark(engine: Engine, name: str, seen: dt.datetime | None, *, now: dt.datetime) -> dt.datetime | None:
    """Move ``name`` forward to ``seen`` (never backwards); return the watermark now stored.

    Call it only once the rows up to ``seen`` are committed.
    """
    with engine.begin() as connection:
        current = read_watermark(connection, name)
        if seen is None or (current is not None and seen <= current):
            return current
        upsert(connection, fb_sync_state, [{"name": name, "watermark": seen, "updated_at": now}])
        return seen


def updated_after(
    watermark: dt.datetime | None, *, now: dt.datetime, overlap: dt.timedelta, lookback: dt.timedelta
) -> dt.datetime:
    """Where the next pull starts: the watermark minus the overlap, or ``now - lookback`` on the first pull."""
    if watermark is None:
        return now - lookback
    return watermark - overlap


def window_start(
    bind: Engine | Connection, name: str, *, now: dt.datetime, overlap: dt.timedelta, lookback: dt.timedelta
) -> dt.datetime:
    """``updated_after`` of the next pull of ``name``, from its stored watermark."""
    return updated_after(read_watermark(bind, name), now=now, overlap=overlap, lookback=lookback)


def unix_seconds(moment: dt.datetime) -> int:
    """Graph's ``updated_after`` takes whole Unix seconds; rounding down only widens the window."""
    return int(moment.timestamp())


def read_extra(bind: Engine | Connection, name: str, *, lock: bool = False) -> Any:
    """The stored ``extra`` of ``name`` (None when there is no row); ``lock`` holds the row until the caller's
    transaction ends (``SELECT ... FOR UPDATE`` on PostgreSQL), for a read-modify-write."""
    query = sa.select(fb_sync_state.c.extra).where(fb_sync_state.c.name == name)
    if lock:
        query = query.with_for_update()
    return _scalar(bind, query)


def write_extra(
    bind: Engine | Connection, name: str, extra: Mapping[str, Any], *, now: dt.datetime | None = None
) -> None:
    """Store ``extra`` as the whole ``extra`` of ``name`` (and ``updated_at`` when ``now`` is given)."""
    row: dict[str, Any] = {"name": name, "extra": dict(extra)}
    if now is not None:
        row["updated_at"] = now
    upsert(bind, fb_sync_state, [row])
