"""What each stored order still allows: units left to ship or cancel, units and amounts left to refund,
shipping left to refund, the shipments it has and the tracking numbers in use.

Built from the warehouse (fb_orders, fb_order_items, fb_shipments, fb_refunds as fb_orders_sync last read
them) and then moved forward by every request that Meta applied since, or that goes before in this run, so
that a second partial shipment queued before the next orders sync is checked against what is really left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fb_commerce.orders.values import amount as money_amount
from fb_commerce.orders.values import edge

ZERO = Decimal("0.00")
#: rows per IN (...) list: far below SQLite's and PostgreSQL's bound-parameter limits
IN_CHUNK = 500


@dataclass(slots=True)
class ItemRemaining:
    """One order line: its units by status and what was refunded of it."""

    item_id: str
    retailer_id: str | None
    quantity: int
    open: int
    shipped: int
    cancelled: int
    price_per_unit: Decimal | None = None
    refunded_quantity: int = 0
    refunded_amount: Decimal = ZERO

    @property
    def refundable_quantity(self) -> int:
        return max(self.shipped - self.refunded_quantity, 0)

    @property
    def refundable_amount(self) -> Decimal | None:
        """Charged (shipped units at their price) and not refunded; None when the price is unknown."""
        if self.price_per_unit is None:
            return None
        return max(self.price_per_unit * self.shipped - self.refunded_amount, ZERO)

    def describe(self) -> str:
        return f"retailer_id {self.retailer_id}" if self.retailer_id else f"item_id {self.item_id}"


@dataclass(frozen=True)
class ShipmentRef:
    """Who uses a tracking number: a shipment Meta has, or a request of ours."""

    order_id: str
    label: str
    shipment_id: str | None = None
    external_shipment_id: str | None = None

    def same_shipment(self, order_id: str, shipment_id: str | None, external_shipment_id: str | None) -> bool:
        if order_id != self.order_id:
            return False
        return bool(
            (shipment_id and shipment_id == self.shipment_id)
            or (external_shipment_id and external_shipment_id == self.external_shipment_id)
        )


@dataclass
class Effect:
    """What a request does to its order once Meta applies it, in item ids (resolved by validation)."""

    shipped: dict[str, int] = field(default_factory=dict)
    cancelled: dict[str, int] = field(default_factory=dict)
    refunded_quantity: dict[str, int] = field(default_factory=dict)
    refunded_amount: dict[str, Decimal] = field(default_factory=dict)
    shipping_refund: Decimal = ZERO
    #: the shipment it creates or changes, and its tracking number
    tracking_number: str | None = None
    shipment: ShipmentRef | None = None


@dataclass(slots=True)
class OrderRemaining:
    """An order as fb_order_updates checks requests against it."""

    order_id: str
    state: str
    acknowledged: bool
    currency: str | None
    shipping_charged: Decimal | None
    synced_at: dt.datetime | None
    items: dict[str, ItemRemaining] = field(default_factory=dict)
    shipping_refunded: Decimal = ZERO
    shipment_ids: set[str] = field(default_factory=set)
    external_shipment_ids: set[str] = field(default_factory=set)
    #: tracking numbers of its shipments as fb_orders_sync stored them (not moved by requests)
    stored_tracking_numbers: set[str] = field(default_factory=set)

    def items_by_retailer_id(self, retailer_id: str) -> list[ItemRemaining]:
        return [item for item in self.items.values() if item.retailer_id == retailer_id]

    @property
    def open_units(self) -> int:
        return sum(item.open for item in self.items.values())

    @property
    def shipped_units(self) -> int:
        return sum(item.shipped for item in self.items.values())

    def reflects(self, at: dt.datetime | None) -> bool:
        """Whether the stored order was read from Meta after ``at``, so it shows what happened then."""
        return self.synced_at is not None and at is not None and self.synced_at > at

    def apply(self, effect: Effect) -> None:
        for item_id, quantity in effect.shipped.items():
            item = self.items[item_id]
            item.open, item.shipped = max(item.open - quantity, 0), item.shipped + quantity
        for item_id, quantity in effect.cancelled.items():
            item = self.items[item_id]
            item.open, item.cancelled = max(item.open - quantity, 0), item.cancelled + quantity
        for item_id, quantity in effect.refunded_quantity.items():
            item = self.items[item_id]
            item.refunded_quantity += quantity
            if item.price_per_unit is not None:
                item.refunded_amount += item.price_per_unit * quantity
        for item_id, value in effect.refunded_amount.items():
            self.items[item_id].refunded_amount += value
        self.shipping_refunded += effect.shipping_refund
        if effect.shipment is not None:
            if effect.shipment.shipment_id:
                self.shipment_ids.add(effect.shipment.shipment_id)
            if effect.shipment.external_shipment_id:
                self.external_shipment_ids.add(effect.shipment.external_shipment_id)
        if self.items and self.open_units == 0 and self.state in ("CREATED", "IN_PROGRESS"):
            self.state = "COMPLETED"  # what Meta does once nothing is left open


@dataclass(slots=True)
class Remaining:
    """The orders a run touches, and every tracking number in use with its shipment."""

    orders: dict[str, OrderRemaining] = field(default_factory=dict)
    tracking_numbers: dict[str, ShipmentRef] = field(default_factory=dict)

    def apply(self, order_id: str, effect: Effect) -> None:
        order = self.orders.get(order_id)
        if order is not None:
            order.apply(effect)
        if effect.tracking_number and effect.shipment is not None:
            self.tracking_numbers[effect.tracking_number] = effect.shipment


def chunks(values: Iterable[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    """Values in lists of at most ``size`` (for IN lists)."""
    batch: list[Any] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _rows_where_in(conn: Connection, table: sa.Table, column: str, values: Iterable[Any]) -> Iterator[Any]:
    for batch in chunks(sorted(set(values))):
        yield from conn.execute(sa.select(table).where(table.c[column].in_(batch))).mappings()


def _int(value: Any) -> int:
    if type(value) is int:  # what the warehouse holds: no conversion (an order view reads a few per line)
        return value
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _item(row: Any) -> ItemRemaining:
    quantity = _int(row["quantity"])
    shipped, cancelled = _int(row["quantity_fulfilled"]), _int(row["quantity_cancelled"])
    # The item status may be missing (older rows): then whatever is neither shipped nor cancelled is open.
    open_units = row["quantity_in_progress"]
    open_units = max(quantity - shipped - cancelled, 0) if open_units is None else _int(open_units)
    # positional: item_id, retailer_id, quantity, open, shipped, cancelled, price_per_unit
    return ItemRemaining(
        str(row["item_id"]), row["retailer_id"], quantity, open_units, shipped, cancelled, row["price_per_unit"]
    )


def _order(row: Any) -> OrderRemaining:
    """The order of a row of fb_orders (or one shaped like it, which may lack ``acknowledged_at``)."""
    return OrderRemaining(
        order_id=str(row["order_id"]),
        state=row["state"],
        acknowledged=row.get("acknowledged_at") is not None,
        currency=row["currency"],
        shipping_charged=row["shipping"],
        synced_at=row["synced_at"],
    )


def _shipment_ref(row: Any, order_id: str) -> ShipmentRef:
    return ShipmentRef(
        order_id=order_id,
        label=f"shipment {row['shipment_id']} of order {order_id}",
        shipment_id=str(row["shipment_id"]),
        external_shipment_id=row["external_shipment_id"],
    )


def _add_refund(order: OrderRemaining, row: Any) -> None:
    order.shipping_refunded += row["shipping"] or ZERO
    for line in edge(row, "items"):
        item = order.items.get(str(line.get("id") or ""))
        if item is None:
            continue
        item.refunded_quantity += _int(line.get("quantity"))
        item.refunded_amount += money_amount(line.get("refund_subtotal")) or ZERO


def _add_shipment(remaining: Remaining, order: OrderRemaining, row: Any) -> None:
    """A shipment of ``order`` (the row need not hold its order id)."""
    order.shipment_ids.add(str(row["shipment_id"]))
    if row["external_shipment_id"]:
        order.external_shipment_ids.add(row["external_shipment_id"])
    if row["tracking_number"]:
        remaining.tracking_numbers[row["tracking_number"]] = _shipment_ref(row, order.order_id)
        order.stored_tracking_numbers.add(row["tracking_number"])


def load_remaining(conn: Connection, order_ids: Sequence[str], tracking_numbers: Iterable[str] = ()) -> Remaining:
    """The stored state of ``order_ids`` and the shipments using ``tracking_numbers`` (of any order)."""
    from fb_commerce.warehouse import schema

    remaining = Remaining()
    for row in _rows_where_in(conn, schema.fb_orders, "order_id", order_ids):
        remaining.orders[str(row["order_id"])] = _order(row)
    for row in _rows_where_in(conn, schema.fb_order_items, "order_id", remaining.orders):
        item = _item(row)
        remaining.orders[str(row["order_id"])].items[item.item_id] = item
    for row in _rows_where_in(conn, schema.fb_shipments, "order_id", remaining.orders):
        _add_shipment(remaining, remaining.orders[str(row["order_id"])], row)
    for row in _rows_where_in(conn, schema.fb_shipments, "tracking_number", tracking_numbers):
        remaining.tracking_numbers.setdefault(row["tracking_number"], _shipment_ref(row, str(row["order_id"])))
    for row in _rows_where_in(conn, schema.fb_refunds, "order_id", remaining.orders):
        _add_refund(remaining.orders[str(row["order_id"])], row)
    return remaining


def remaining_of_rows(
    order: Any,
    items: Iterable[Any],
    shipments: Iterable[Any] = (),
    refunds: Iterable[Any] = (),
) -> Remaining:
    """What one order allows, from rows shaped like the warehouse's (e.g. Meta's live answer mapped by
    :mod:`fb_commerce.orders.mapping`) instead of the stored ones; the rows of its shipments and refunds need
    not hold its order id. ``order`` is a mapping, read as it is (not copied)."""
    remaining = Remaining()
    built = _order(order)
    remaining.orders[built.order_id] = built
    for row in items:
        item = _item(row)
        built.items[item.item_id] = item
    for row in shipments:
        _add_shipment(remaining, built, row)
    for row in refunds:
        _add_refund(built, row)
    return remaining
