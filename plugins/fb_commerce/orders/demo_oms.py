"""A demo OMS: queues shipments, a tracking update, a cancellation and a refund in the outbox.

It stands in for the merchant's order management system in ``make demo`` and in tests: after fb_orders_sync
stored (and acknowledged) the orders, it picks IN_PROGRESS orders in order-id order and queues

- a partial shipment (one unit of one line) of the first, then a tracking update of that shipment;
- a shipment of everything left for each of the next ones;
- a cancellation of one unshipped unit of the order after those;
- a refund of one unit of an item that already shipped, on an order without refunds.

The choice depends only on the warehouse, the request ids derive from the order ids, and rows are inserted
with ``ON CONFLICT DO NOTHING``: running it twice on the same warehouse queues nothing new.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fb_commerce.warehouse.schema import (
    fb_cancellation_requests,
    fb_order_items,
    fb_orders,
    fb_refund_requests,
    fb_refunds,
    fb_shipment_requests,
)
from fb_commerce.warehouse.upsert import insert_ignore

#: carriers as an OMS might write them (Meta's codes compare case-insensitively)
CARRIERS = ("UPS", "FedEx", "USPS", "DHL")


@dataclass
class DemoQueue:
    """The requests the demo OMS queued (ids per kind); already queued ones are listed too."""

    shipments: list[str] = field(default_factory=list)
    tracking_updates: list[str] = field(default_factory=list)
    cancellations: list[str] = field(default_factory=list)
    refunds: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(ids) for name, ids in vars(self).items()}


def order_ids(conn: Connection, state: str) -> list[str]:
    """The stored orders in ``state``, by order id."""
    query = sa.select(fb_orders.c.order_id).where(fb_orders.c.state == state).order_by(fb_orders.c.order_id)
    return list(conn.execute(query).scalars())


def _open_orders(conn: Connection) -> list[tuple[str, list[Any]]]:
    """IN_PROGRESS orders with units left to ship, and their open lines, by order id."""
    orders = order_ids(conn, "IN_PROGRESS")
    found = []
    for order_id in orders:
        lines = (
            conn.execute(
                sa.select(fb_order_items)
                .where(fb_order_items.c.order_id == order_id, fb_order_items.c.quantity_in_progress > 0)
                .order_by(fb_order_items.c.item_id)
            )
            .mappings()
            .all()
        )
        if lines:
            found.append((order_id, list(lines)))
    return found


def _shipped_item(conn: Connection, skip: Sequence[str]) -> Any:
    """A shipped line of an order with no refund yet (and not touched by this demo otherwise)."""
    refunded = sa.select(fb_refunds.c.order_id)
    query = (
        sa.select(fb_order_items)
        .join(fb_orders, fb_orders.c.order_id == fb_order_items.c.order_id)
        .where(
            fb_order_items.c.quantity_fulfilled > 0,
            fb_orders.c.state.in_(("IN_PROGRESS", "COMPLETED")),
            fb_order_items.c.order_id.not_in(refunded),
            fb_order_items.c.order_id.not_in(list(skip) or [""]),
        )
        .order_by(fb_order_items.c.order_id, fb_order_items.c.item_id)
        .limit(1)
    )
    return conn.execute(query).mappings().first()


def queue_demo_requests(engine: Engine, *, shipments: int = 4, now: dt.datetime | None = None) -> DemoQueue:
    """Queue the demo's requests (see the module docstring) and return their ids.

    :param shipments: how many orders get a shipment (the first a partial one plus a tracking update).
    :param now: created_at of the first row; each next row is a second later, so the queue order is explicit.
    """
    clock = iter(range(1_000))
    start = now or dt.datetime.now(dt.UTC)

    def at() -> dt.datetime:
        return start + dt.timedelta(seconds=next(clock))

    ships: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    with engine.connect() as conn:
        open_orders = _open_orders(conn)
        for number, (order_id, lines) in enumerate(open_orders[:shipments]):
            external_id = f"DEMO_{order_id}_1"
            row = {
                "request_id": f"demo-ship-{order_id}",
                "order_id": order_id,
                "request_type": "ship",
                "carrier": CARRIERS[number % len(CARRIERS)],
                "tracking_number": f"DEMO{order_id}A",
                "shipping_method": "Standard",
                "external_shipment_id": external_id,
                "created_at": at(),
            }
            if number == 0:
                row["items"] = [{"retailer_id": lines[0]["retailer_id"], "quantity": 1}]
                updates.append(
                    {
                        "request_id": f"demo-track-{order_id}",
                        "order_id": order_id,
                        "request_type": "update_tracking",
                        "carrier": "fedex",
                        "tracking_number": f"DEMO{order_id}B",
                        "external_shipment_id": external_id,
                        "created_at": at(),
                    }
                )
            ships.append(row)
        cancels: list[dict[str, Any]] = [
            {
                "request_id": f"demo-cancel-{order_id}",
                "order_id": order_id,
                "items": [{"item_id": lines[0]["item_id"], "quantity": 1}],
                "reason_code": "OUT_OF_STOCK",
                "reason_description": "Demo: the last unit was damaged in the warehouse",
                "restock_items": False,
                "created_at": at(),
            }
            for order_id, lines in open_orders[shipments : shipments + 1]
        ]
        touched = [order_id for order_id, _ in open_orders[: shipments + 1]]
        item = _shipped_item(conn, touched)
        refunds = (
            []
            if item is None
            else [
                {
                    "request_id": f"demo-refund-{item['order_id']}",
                    "order_id": item["order_id"],
                    "items": [{"retailer_id": item["retailer_id"], "quantity": 1}],
                    "currency": item["currency"],
                    "reason_code": "DAMAGED_GOODS",
                    "reason_text": "Demo: arrived damaged, sorry about that",
                    "created_at": at(),
                }
            ]
        )
    with engine.begin() as conn:
        insert_ignore(conn, fb_shipment_requests, ships + updates)
        insert_ignore(conn, fb_cancellation_requests, cancels)
        insert_ignore(conn, fb_refund_requests, refunds)
    return DemoQueue(
        shipments=[row["request_id"] for row in ships],
        tracking_updates=[row["request_id"] for row in updates],
        cancellations=[row["request_id"] for row in cancels],
        refunds=[row["request_id"] for row in refunds],
    )
