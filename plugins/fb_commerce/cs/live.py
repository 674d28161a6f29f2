"""One order as Meta has it now (one Graph call, edges inline), and where the warehouse differs from it.

The warehouse is as fresh as fb_orders_sync's last run; a buyer on the phone may be talking about a shipment or
a refund made minutes ago. :func:`read_live` reads the order with every field the sync stores and its
shipments, cancellations, refunds and returns, mapped into warehouse-shaped rows by the sync's own mapping;
:func:`differences` says in words what differs from the stored view; :func:`live_remaining` gives what the
order allows at Meta now, for the action checks (:mod:`fb_commerce.cs.actions`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fb_commerce.cs.lookup import OrderView, money_text
from fb_commerce.graph.client import GraphClient
from fb_commerce.graph.fields import FieldSpec
from fb_commerce.graph.surface import ORDER_FIELDS, READ_BACK_EDGE_FIELDS
from fb_commerce.orders.mapping import READ_BACK_EDGES, item_rows, order_row
from fb_commerce.orders.readback import edge_objects
from fb_commerce.orders.updates.remaining import Remaining, remaining_of_rows


@dataclass
class LiveOrder:
    """The order as Meta answered now, as warehouse rows (fb_orders, fb_order_items and the edge tables)."""

    order: dict[str, Any]
    items: list[dict[str, Any]]
    edges: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    read_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def read_live(client: GraphClient, order_id: str) -> LiveOrder:
    """``GET /{order_id}`` with the order's fields and its four edges inline (an edge longer than a page is read
    in full)."""
    fields: dict[str, FieldSpec | None] = {**ORDER_FIELDS, **READ_BACK_EDGE_FIELDS}
    node = client.get(order_id, fields=fields)
    read_at = dt.datetime.now(dt.UTC)
    edges: dict[str, list[dict[str, Any]]] = {}
    for name, (build, table) in READ_BACK_EDGES.items():
        objects, _calls = edge_objects(client, node, name, READ_BACK_EDGE_FIELDS.get(name))
        edges[table] = [build(order_id, obj, read_at) for obj in objects]
    return LiveOrder(order_row(node, read_at), item_rows(node, read_at), edges, read_at)


def live_remaining(live: LiveOrder) -> Remaining:
    """What the order allows at Meta now (its synced_at is the time of the read, so every request sent before
    counts as applied)."""
    return remaining_of_rows(
        live.order, live.items, live.edges.get("fb_shipments", ()), live.edges.get("fb_refunds", ())
    )


def _ids(rows: Iterable[dict[str, Any]], key: str) -> set[str]:
    return {str(row[key]) for row in rows}


def _amount(value: Decimal | None) -> str:
    return money_text(value) or "none"


def differences(view: OrderView, live: LiveOrder) -> list[str]:
    """What the warehouse shows differently from Meta now, one sentence each (empty: the same)."""
    found: list[str] = []
    stored_state = view.state
    if live.order.get("state") != stored_state:
        found.append(f"state: Meta says {live.order.get('state')}, the warehouse {stored_state}")
    stored_items = {item.item_id: item for item in view.items}
    for row in live.items:
        item = stored_items.get(str(row["item_id"]))
        label = row.get("retailer_id") or row["item_id"]
        if item is None:
            found.append(f"item {label}: at Meta, not in the warehouse")
            continue
        for name, units in (("quantity_fulfilled", item.shipped), ("quantity_cancelled", item.cancelled)):
            value = row.get(name)
            if value is not None and int(value) != units:
                what = "shipped" if name == "quantity_fulfilled" else "cancelled"
                found.append(f"item {label}: {value} {what} at Meta, {units} in the warehouse")
    stored_edges = {
        "fb_shipments": (view.shipments, "shipment_id", "shipment"),
        "fb_cancellations": (view.cancellations, "cancellation_id", "cancellation"),
        "fb_refunds": (view.refunds, "refund_id", "refund"),
        "fb_returns": (view.returns, "return_id", "return"),
    }
    for table, (stored_rows, key, label) in stored_edges.items():
        live_rows = live.edges.get(table, [])
        for missing in sorted(_ids(live_rows, key) - _ids(stored_rows, key)):
            row = next(r for r in live_rows if str(r[key]) == missing)
            detail = ""
            if table == "fb_refunds":
                detail = f" of {_amount(row.get('total'))} {row.get('currency') or ''}".rstrip()
            elif table == "fb_shipments":
                detail = f" ({row.get('carrier') or '?'} {row.get('tracking_number') or '?'})"
            found.append(
                f"{label} {missing}{detail}: at Meta, not yet in the warehouse (the next orders sync stores it)"
            )
        for gone in sorted(_ids(stored_rows, key) - _ids(live_rows, key)):
            found.append(f"{label} {gone}: in the warehouse, not at Meta")
        stored_by_id = {str(r[key]): r for r in stored_rows}
        for row in live_rows:
            stored = stored_by_id.get(str(row[key]))
            if stored is None:
                continue
            if table == "fb_shipments" and (
                stored.get("tracking_number") != row.get("tracking_number")
                or stored.get("carrier") != row.get("carrier")
            ):
                found.append(
                    f"shipment {row[key]}: tracking {row.get('carrier')} {row.get('tracking_number')} at Meta, "
                    f"{stored.get('carrier')} {stored.get('tracking_number')} in the warehouse"
                )
            if table == "fb_returns" and stored.get("return_status") != row.get("return_status"):
                found.append(
                    f"return {row[key]}: {row.get('return_status')} at Meta, "
                    f"{stored.get('return_status')} in the warehouse"
                )
    return found
