"""Reading back what Meta did to orders itself: cancellations, refunds, shipments and returns.

Meta cancels items when the fulfilment deadline is missed and refunds on its own (docs/graph-api.md §1.6-1.7);
such orders are found with ``filters=has_cancellations`` and ``filters=has_refunds``. A third listing takes every
acknowledged order that changed, so fb_shipments always says what is shipped (fb_order_updates checks requests
against it). All three ask for the order edges inline (``fields=id,last_updated,shipments,...``), so an order costs
no call of its own; an edge longer than one inline page is read in full from ``/{order_id}/{edge}``.

The window is ``updated_after`` from the ``orders_read_back`` watermark minus the overlap (a lookback on the first
run), moved only after the rows are committed. Rows are upserted by Meta's id, one statement per table and page:
reading one twice changes nothing.

``updated_after`` follows an order's *status* changes (docs/graph-api.md §1.3), and a refund or a partial
cancellation of a COMPLETED order need not change its status. So once per ``sweep_every`` (default hourly) the two
filtered listings read a wide window (``sweep_window``, default 30 days, the return window) instead: what Meta did
to an older order is found within the hour even when its ``last_updated`` did not move.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection, Engine

from fb_commerce.graph.client import GraphClient
from fb_commerce.graph.fields import FieldSpec
from fb_commerce.graph.surface import ORDER_STATES, READ_BACK_EDGE_FIELDS
from fb_commerce.orders.mapping import READ_BACK_EDGES
from fb_commerce.orders.pull import DEFAULT_LOOKBACK, DEFAULT_OVERLAP, MAX_PAGE_SIZE, list_orders
from fb_commerce.orders.states import ACKNOWLEDGED_STATES, HAS_CANCELLATIONS, HAS_REFUNDS
from fb_commerce.orders.values import edge, timestamp
from fb_commerce.warehouse.page_writer import write_rows
from fb_commerce.warehouse.sync_state import (
    READ_BACK_SWEEP,
    READ_BACK_WATERMARK,
    advance_watermark,
    read_watermark,
    window_start,
)
from fb_commerce.warehouse.upsert import resolve_table

#: how far back and how often the filtered listings sweep regardless of the watermark (see the module docstring)
DEFAULT_SWEEP_WINDOW = dt.timedelta(days=30)
DEFAULT_SWEEP_EVERY = dt.timedelta(hours=1)

ALL_EDGES = tuple(READ_BACK_EDGES)
#: what changed orders are read for: what shipped, and what came back
CHANGED_ORDER_EDGES = ("shipments", "returns")
assert set(CHANGED_ORDER_EDGES) <= set(ALL_EDGES), "read-back edges renamed in orders.mapping"


@dataclass(frozen=True)
class Listing:
    """One commerce_orders listing of the read-back: which orders, and which of their edges."""

    name: str
    states: tuple[str, ...]
    filters: str | None
    edges: tuple[str, ...]


LISTINGS = (
    Listing("cancelled by Meta or the merchant", ORDER_STATES, HAS_CANCELLATIONS, ALL_EDGES),
    Listing("refunded by Meta or the merchant", ORDER_STATES, HAS_REFUNDS, ALL_EDGES),
    Listing("acknowledged and changed", ACKNOWLEDGED_STATES, None, CHANGED_ORDER_EDGES),
)


@dataclass
class ReadBackResult:
    """What a read-back did, in counts per listing and per table."""

    pages: int = 0
    orders: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    edge_calls: int = 0
    updated_after: dt.datetime | None = None
    watermark: dt.datetime | None = None
    swept_after: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "orders": dict(self.orders),
            "rows": dict(self.rows),
            "edge_calls": self.edge_calls,
            "swept_after": self.swept_after.isoformat() if self.swept_after else None,
            "updated_after": self.updated_after.isoformat() if self.updated_after else None,
            "watermark": self.watermark.isoformat() if self.watermark else None,
        }


def edge_objects(
    client: GraphClient, order: Mapping[str, Any], name: str, fields: FieldSpec | None
) -> tuple[list[dict[str, Any]], int]:
    """The objects of one edge of ``order``: inline, or in full from the edge when the inline page is not all."""
    inline = order.get(name)
    if isinstance(inline, dict) and (inline.get("paging") or {}).get("next"):
        return list(client.paginate(f"{order['id']}/{name}", fields=fields)), 1
    return edge(dict(order), name), 0


def _store(connection: Connection, rows: Mapping[str, list[dict[str, Any]]]) -> None:
    """A page's edge rows, one multi-row upsert per table (see :mod:`fb_commerce.warehouse.page_writer`), one
    transaction, committed here."""
    with connection.begin():
        for table, table_rows in rows.items():
            if table_rows:
                write_rows(connection, resolve_table(table), table_rows)


def read_back(
    client: GraphClient,
    engine: Engine,
    cms_id: str,
    *,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
    lookback: dt.timedelta = DEFAULT_LOOKBACK,
    page_size: int = MAX_PAGE_SIZE,
    edge_fields: Mapping[str, FieldSpec] | None = None,
    sweep_window: dt.timedelta = DEFAULT_SWEEP_WINDOW,
    sweep_every: dt.timedelta | None = DEFAULT_SWEEP_EVERY,
    now: dt.datetime | None = None,
) -> ReadBackResult:
    """Upsert the shipments, cancellations, refunds and returns of orders Meta changed; move the watermark.

    :param edge_fields: fields to ask per edge (default: ``surface.READ_BACK_EDGE_FIELDS``).
    :param sweep_window: how far back the filtered listings read when a sweep is due.
    :param sweep_every: how often a sweep is due; None never sweeps.
    """
    now = now or dt.datetime.now(dt.UTC)
    edge_fields = dict(edge_fields or READ_BACK_EDGE_FIELDS)
    result = ReadBackResult(rows={table: 0 for _, table in READ_BACK_EDGES.values()})
    result.updated_after = window_start(engine, READ_BACK_WATERMARK, now=now, overlap=overlap, lookback=lookback)
    last_sweep = read_watermark(engine, READ_BACK_SWEEP)
    if sweep_every is not None and (last_sweep is None or now - last_sweep >= sweep_every):
        result.swept_after = min(result.updated_after, now - sweep_window)
    # One connection for every page (each committed in its own transaction), not a pool checkout and ping each.
    with engine.connect() as connection:
        newest = _read_listings(client, connection, cms_id, result, result.updated_after, edge_fields, page_size)
    result.watermark = advance_watermark(engine, READ_BACK_WATERMARK, newest, now=now)
    if result.swept_after is not None:
        advance_watermark(engine, READ_BACK_SWEEP, now, now=now)
    return result


def _read_listings(
    client: GraphClient,
    connection: Connection,
    cms_id: str,
    result: ReadBackResult,
    updated_after: dt.datetime,
    edge_fields: Mapping[str, FieldSpec],
    page_size: int,
) -> dt.datetime | None:
    """Every listing's pages stored, each page in its own transaction; the newest ``last_updated`` seen."""
    newest: dt.datetime | None = None
    for listing in LISTINGS:
        fields: dict[str, FieldSpec | None] = {"id": None, "last_updated": None}
        fields.update({name: edge_fields.get(name) for name in listing.edges})
        since = result.swept_after if result.swept_after and listing.filters else updated_after
        seen = 0
        for page in list_orders(
            client,
            cms_id,
            fields=fields,
            states=listing.states,
            since=since,
            page_size=page_size,
            filters=listing.filters,
        ):
            result.pages += 1
            synced_at = dt.datetime.now(dt.UTC)
            rows: dict[str, list[dict[str, Any]]] = {}
            for order in page.get("data") or []:
                seen += 1
                updated = timestamp(order.get("last_updated"))
                if updated is not None and (newest is None or updated > newest):
                    newest = updated
                for name in listing.edges:
                    objects, calls = edge_objects(client, order, name, edge_fields.get(name))
                    result.edge_calls += calls
                    build, table = READ_BACK_EDGES[name]
                    rows.setdefault(table, []).extend(build(str(order["id"]), obj, synced_at) for obj in objects)
            _store(connection, rows)
            for table, table_rows in rows.items():
                result.rows[table] += len(table_rows)
        result.orders[listing.name] = seen
    return newest
