"""Checks an outbox request against its stored order before anything is sent to Meta.

Each check that fails adds a problem naming the column (``items[1].quantity``, ``carrier``...) and saying what
is wrong and what would be right; the row is then marked failed with every problem in its message, and no
call is made. A request that passes also yields its :class:`~fb_commerce.orders.updates.remaining.Effect` (in item
ids), which moves what remains of the order forward so that the next request of the same order is checked against
what will be left.

Meta stays the authority: these checks catch what is certainly wrong, with a clearer message than Meta's
error code, and leave the rest to Meta's own rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from fb_commerce.graph import surface
from fb_commerce.orders.updates.remaining import ZERO, Effect, ItemRemaining, OrderRemaining, Remaining, ShipmentRef
from fb_commerce.orders.updates.requests import (
    CANCEL,
    COLUMNS,
    CONTROL,
    MAX_JSON_TEXT,
    REFUND,
    SHIP,
    SHIPMENT_REQUEST_TYPES,
    UPDATE_TRACKING,
    OutboxRequest,
)

CENT = Decimal("0.01")
EXTERNAL_SHIPMENT_ID = re.compile(r"^[A-Za-z0-9_]{1,100}$")
# A list of numbers in one column ("1Z1, 1Z2"): Meta takes one tracking number per shipment.
SEVERAL_NUMBERS = re.compile(r"[,;|\n\r\t]")
FULFILLMENT_ADDRESS_KEYS = (
    "street_1",
    "street_2",
    "city",
    "state",
    "country",
    "postal_code",
    "province_code",
)
FULFILLMENT_ADDRESS_REQUIRED = ("street_1", "city", "postal_code", "country")
#: what a cancellation without a reason code is sent with (older copies of the docs require a reason)
DEFAULT_CANCEL_REASON = "CANCEL_REASON_OTHER"
#: Meta's carrier codes are snake_case words (``fedex``, ``dhl_ecommerce_us``). The reference gives only samples of
#: the full list, so any well-formed code passes here and Meta has the last word; a code that cannot be one (spaces,
#: punctuation) is refused before the call.
CARRIER_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{1,63}$")


@dataclass
class Verdict:
    """The outcome of the checks: problems (empty when the request may be sent) and the request's effect."""

    problems: list[str] = field(default_factory=list)
    effect: Effect | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def rejection_message(request: OutboxRequest, problems: list[str]) -> str:
    """The message stored on a rejected row: which row, which order, every problem."""
    return f"Rejected before sending: {request.name} (order {request.order_id}): " + "; ".join(problems)


@dataclass
class Line:
    """One entry of ``items`` resolved to an order line."""

    where: str
    item: ItemRemaining
    entry: dict[str, Any]


# --- values -------------------------------------------------------------------------------------------------


def _quantity(value: Any, where: str, problems: list[str]) -> int | None:
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else None
    if text is None or not text.isdigit() or int(text) <= 0:
        problems.append(f"{where}: must be a positive whole number, not {value!r}")
        return None
    return int(text)


def _amount(value: Any, where: str, problems: list[str]) -> Decimal | None:
    """A positive amount with at most two decimals (strings, numbers and Decimals are accepted)."""
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, bool) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number <= 0:
        problems.append(f"{where}: must be a positive amount, not {value!r}")
        return None
    if number != number.quantize(CENT):
        problems.append(f"{where}: {value} has more than two decimals")
        return None
    return number.quantize(CENT)


def _resolve_items(
    request: OutboxRequest, order: OrderRemaining, measures: tuple[str, ...], problems: list[str]
) -> list[Line] | None:
    """``items`` as order lines: None when null (the whole order), else a Line per valid entry."""
    value = request.get("items")
    if value is None:
        return None
    shape = f"[{{retailer_id|item_id, {'|'.join(measures)}}}]"
    if not isinstance(value, list):
        problems.append(f"items: must be a list {shape}, or null for the whole order")
        return []
    lines: list[Line] = []
    id_types: set[str] = set()
    seen: dict[str, str] = {}
    for position, entry in enumerate(value):
        where = f"items[{position}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be an object like {shape[1:-1]}")
            continue
        unknown = sorted(set(entry) - {"retailer_id", "item_id", *measures})
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(unknown)}; expected {shape[1:-1]}")
        given = [name for name in ("retailer_id", "item_id") if entry.get(name) not in (None, "")]
        if len(given) != 1:
            problems.append(f"{where}: give retailer_id or item_id (exactly one of them)")
            continue
        id_type, ident = given[0], str(entry[given[0]])
        id_types.add(id_type)
        where = f"{where} ({id_type} {ident})"
        matches = (
            order.items_by_retailer_id(ident)
            if id_type == "retailer_id"
            else ([order.items[ident]] if ident in order.items else [])
        )
        if not matches:
            problems.append(f"{where}: order {order.order_id} has no item with {id_type} {ident}")
            continue
        if len(matches) > 1:
            problems.append(
                f"{where}: {len(matches)} lines of order {order.order_id} have this retailer_id; use item_id"
            )
            continue
        item = matches[0]
        if item.item_id in seen:
            problems.append(f"{where}: the same item as {seen[item.item_id]}; list each item once")
            continue
        seen[item.item_id] = where.split(" ")[0]
        lines.append(Line(where, item, entry))
    if len(id_types) > 1:
        problems.append("items: identify every item by retailer_id or every item by item_id, not a mix")
    return lines


# --- tracking -----------------------------------------------------------------------------------------------


def _check_tracking(
    request: OutboxRequest, remaining: Remaining, shipment: ShipmentRef, problems: list[str]
) -> str | None:
    """Carrier and tracking number of a shipment or tracking update; returns the tracking number."""
    carrier = request.get("carrier")
    if carrier is None:
        problems.append(f"carrier: required, Meta's carrier code (e.g. {', '.join(surface.CARRIERS)})")
    elif not CARRIER_CODE.match(str(carrier).strip()):
        problems.append(
            f"carrier: {carrier!r} is not a carrier code (letters, digits and _ like "
            f"{', '.join(surface.CARRIERS[:4])}); see Meta's carrier codes page"
        )
    number = request.get("tracking_number")
    if number is None or not str(number).strip():
        problems.append("tracking_number: required (one tracking number per shipment)")
        return None
    number = str(number).strip()
    if SEVERAL_NUMBERS.search(number):
        problems.append(
            f"tracking_number: {number!r} looks like several numbers; one tracking number per shipment "
            "(queue one shipment request per parcel)"
        )
    owner = remaining.tracking_numbers.get(number)
    if owner is not None and not owner.same_shipment(
        request.order_id, shipment.shipment_id, shipment.external_shipment_id
    ):
        problems.append(f"tracking_number: {number} is already used by {owner.label}; each shipment needs its own")
    return number


def shipment_of(request: OutboxRequest) -> ShipmentRef:
    return ShipmentRef(
        order_id=request.order_id,
        label=f"{request.name} of order {request.order_id}",
        shipment_id=request.get("shipment_id"),
        external_shipment_id=request.get("external_shipment_id"),
    )


def _check_fulfillment(request: OutboxRequest, problems: list[str]) -> None:
    location, address = request.get("fulfillment_location_id"), request.get("fulfillment_address")
    if location is not None and address is not None:
        problems.append("fulfillment_location_id and fulfillment_address: give one of them, not both")
    if address is None:
        return
    if not isinstance(address, dict):
        problems.append(f"fulfillment_address: must be an object with {', '.join(FULFILLMENT_ADDRESS_KEYS)}")
        return
    unknown = sorted(set(address) - set(FULFILLMENT_ADDRESS_KEYS))
    if unknown:
        problems.append(f"fulfillment_address: unknown key(s) {', '.join(unknown)}")
    missing = [key for key in FULFILLMENT_ADDRESS_REQUIRED if not address.get(key)]
    if missing:
        problems.append(f"fulfillment_address: {', '.join(missing)} missing")
    for key in FULFILLMENT_ADDRESS_KEYS:
        value = address.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(f"fulfillment_address.{key}: must be text, not {value!r}")
        elif len(value) > MAX_JSON_TEXT or CONTROL.search(value):
            problems.append(
                f"fulfillment_address.{key}: one line of at most {MAX_JSON_TEXT} characters, without control characters"
            )


def _check_unused(request: OutboxRequest, names: tuple[str, ...], why: str, problems: list[str]) -> None:
    for name in names:
        if request.get(name) is not None:
            problems.append(f"{name}: not used {why}; leave it empty")


def _open_units(
    request: OutboxRequest, order: OrderRemaining, verb: str, left: str, problems: list[str]
) -> tuple[dict[str, int], bool]:
    """Units per item id a shipment or cancellation takes from the open ones: those listed (each at most
    what is open), or every open unit when ``items`` is null. Returns them and whether it is the whole
    order."""
    lines = _resolve_items(request, order, ("quantity",), problems)
    if lines is None:
        return {item.item_id: item.open for item in order.items.values() if item.open > 0}, True
    if not lines and not problems:
        problems.append(f"items: empty; list the items to {verb}, or leave items null to {verb} everything left")
    units: dict[str, int] = {}
    for line in lines:
        quantity = _quantity(line.entry.get("quantity"), f"{line.where}.quantity", problems)
        if quantity is None:
            continue
        if quantity > line.item.open:
            # Cancelling what already shipped is a refund.
            hint = " (the rest is shipped: refund it instead)" if verb == "cancel" and line.item.shipped else ""
            problems.append(f"{line.where}.quantity: {quantity} is more than the {line.item.open} {left}{hint}")
        units[line.item.item_id] = quantity
    return units, False


# --- per kind -----------------------------------------------------------------------------------------------


def _check_ship(request: OutboxRequest, order: OrderRemaining, remaining: Remaining, problems: list[str]) -> Effect:
    if order.state == "FB_PROCESSING":
        problems.append(f"order {order.order_id} is FB_PROCESSING: Meta allows no action on it yet")
    elif order.state == "CREATED" and not order.acknowledged:
        problems.append(
            f"order {order.order_id} is CREATED and not acknowledged yet: only IN_PROGRESS orders can ship "
            "(fb_orders_sync acknowledges it; queue the shipment again once it is IN_PROGRESS)"
        )
    elif order.state not in ("CREATED", "IN_PROGRESS") or (order.items and order.open_units == 0):
        problems.append(f"order {order.order_id} has nothing left to ship (it is {order.state})")
    external_id = request.get("external_shipment_id")
    if external_id is not None:
        if not EXTERNAL_SHIPMENT_ID.match(str(external_id)):
            problems.append(
                f"external_shipment_id: {external_id!r} may only hold letters, digits and '_' (at most 100)"
            )
        elif str(external_id) in order.external_shipment_ids:
            problems.append(f"external_shipment_id: {external_id} is already a shipment of order {order.order_id}")
    _check_unused(request, ("shipment_id",), "by a shipment (only by update_tracking)", problems)
    _check_fulfillment(request, problems)
    shipment = shipment_of(request)
    number = _check_tracking(request, remaining, shipment, problems)
    shipped, _ = _open_units(request, order, "ship", "left to ship", problems)
    return Effect(shipped=shipped, tracking_number=number, shipment=shipment)


def _check_update_tracking(
    request: OutboxRequest, order: OrderRemaining, remaining: Remaining, problems: list[str]
) -> Effect:
    shipment = shipment_of(request)
    if not shipment.shipment_id and not shipment.external_shipment_id:
        problems.append("external_shipment_id or shipment_id: required, to name the shipment to update")
    elif not (
        shipment.shipment_id in order.shipment_ids or shipment.external_shipment_id in order.external_shipment_ids
    ):
        named = shipment.shipment_id or shipment.external_shipment_id
        problems.append(f"order {order.order_id} has no shipment {named} (neither stored nor sent by us)")
    _check_unused(
        request, ("items", "fulfillment_location_id", "fulfillment_address"), "by a tracking update", problems
    )
    number = _check_tracking(request, remaining, shipment, problems)
    return Effect(tracking_number=number, shipment=shipment)


def _check_cancel(request: OutboxRequest, order: OrderRemaining, remaining: Remaining, problems: list[str]) -> Effect:
    if order.state == "FB_PROCESSING":
        problems.append(f"order {order.order_id} is FB_PROCESSING: it can be cancelled once it leaves that state")
    reason = request.get("reason_code")
    if reason is not None and reason not in surface.CANCEL_REASON_CODES:
        problems.append(f"reason_code: {reason!r} is not one of {', '.join(surface.CANCEL_REASON_CODES)}")
    cancelled, whole = _open_units(request, order, "cancel", "unshipped and not cancelled", problems)
    if whole and order.shipped_units:
        problems.append(
            f"items: null cancels the whole order, but order {order.order_id} has shipped items; list the "
            "unshipped items to cancel, or refund"
        )
    elif whole and order.items and order.open_units == 0:
        problems.append(f"order {order.order_id} has nothing left to cancel")
    return Effect(cancelled=cancelled)


def _refund_currency(request: OutboxRequest, order: OrderRemaining, problems: list[str]) -> None:
    currency = request.get("currency")
    if currency is not None and order.currency and str(currency).upper() != order.currency.upper():
        problems.append(f"currency: {currency} differs from the order's currency {order.currency}")


def _refund_line(line: Line, problems: list[str], effect: Effect) -> Decimal | None:
    """Check one refund entry and add it to ``effect``; returns the amount it gives back when known."""
    item, entry = line.item, line.entry
    if item.shipped == 0:
        problems.append(f"{line.where}: not shipped, so not charged: cancel it instead of refunding")
        return None
    has_quantity, has_amount = entry.get("quantity") is not None, entry.get("amount") is not None
    if has_quantity == has_amount:
        problems.append(f"{line.where}: give quantity or amount (exactly one of them)")
        return None
    if has_quantity:
        quantity = _quantity(entry["quantity"], f"{line.where}.quantity", problems)
        if quantity is None:
            return None
        if quantity > item.refundable_quantity:
            problems.append(
                f"{line.where}.quantity: {quantity} is more than the {item.refundable_quantity} shipped "
                "and not refunded"
            )
        effect.refunded_quantity[item.item_id] = quantity
        return item.price_per_unit * quantity if item.price_per_unit is not None else None
    value = _amount(entry["amount"], f"{line.where}.amount", problems)
    if value is None:
        return None
    left = item.refundable_amount
    if left is not None and value > left:
        problems.append(f"{line.where}.amount: {value} is more than the {left} charged and not refunded")
    effect.refunded_amount[item.item_id] = value
    return value


def _check_refund(request: OutboxRequest, order: OrderRemaining, remaining: Remaining, problems: list[str]) -> Effect:
    reason = request.get("reason_code")
    if reason is None:
        problems.append(f"reason_code: required, one of {', '.join(surface.REFUND_REASON_CODES)}")
    elif reason not in surface.REFUND_REASON_CODES:
        problems.append(f"reason_code: {reason!r} is not one of {', '.join(surface.REFUND_REASON_CODES)}")
    _refund_currency(request, order, problems)
    effect = Effect()
    lines = _resolve_items(request, order, ("quantity", "amount"), problems)
    value: Decimal | None = ZERO
    if lines is None:
        refundable = [item for item in order.items.values() if item.refundable_quantity or item.refundable_amount]
        if not order.shipped_units:
            problems.append(f"order {order.order_id} has no shipped items, so nothing was charged: cancel instead")
        elif not refundable:
            problems.append(f"order {order.order_id} is already refunded in full")
        for item in refundable:
            effect.refunded_quantity[item.item_id] = item.refundable_quantity
            left = item.refundable_amount
            value = None if value is None or left is None else value + left
    for line in lines or ():
        given = _refund_line(line, problems, effect)
        value = None if value is None or given is None else value + given
    shipping = request.get("shipping_refund")
    if shipping is not None:
        shipping = _amount(shipping, "shipping_refund", problems)
    if shipping is not None:
        charged = order.shipping_charged
        left = None if charged is None else max(charged - order.shipping_refunded, ZERO)
        if left is not None and shipping > left:
            problems.append(f"shipping_refund: {shipping} is more than the {left} shipping charged and not refunded")
        effect.shipping_refund = shipping
    elif lines is None and order.shipping_charged is not None:
        effect.shipping_refund = max(order.shipping_charged - order.shipping_refunded, ZERO)  # a full refund
    if lines == [] and shipping is None and not problems:
        problems.append("items: empty; list the items to refund, give a shipping_refund, or leave items null")
    deduction = request.get("return_shipping_deduction")
    if deduction is not None:
        deduction = _amount(deduction, "return_shipping_deduction", problems)
        total = None if value is None else value + effect.shipping_refund
        if deduction is not None and total is not None and deduction >= total:
            problems.append(f"return_shipping_deduction: {deduction} leaves nothing of the {total} refunded")
    return effect


_CHECKS: dict[str, Callable[[OutboxRequest, OrderRemaining, Remaining, list[str]], Effect]] = {
    SHIP.name: _check_ship,
    UPDATE_TRACKING.name: _check_update_tracking,
    CANCEL.name: _check_cancel,
    REFUND.name: _check_refund,
}


def validate(request: OutboxRequest, remaining: Remaining) -> Verdict:
    """Check ``request`` against what remains of its order now; ``remaining`` itself is not changed."""
    order_of = {rule.name: n for n, rule in enumerate(COLUMNS[request.kind.table])}
    problems = [
        f"{column}: {error}"
        for column, error in sorted(request.column_errors.items(), key=lambda item: order_of[item[0]])
    ]
    if request.kind.table == SHIP.table and request.get("request_type") not in SHIPMENT_REQUEST_TYPES:
        problems.append(
            f"request_type: {request.get('request_type')!r} is not one of {', '.join(SHIPMENT_REQUEST_TYPES)}"
        )
        return Verdict(problems)
    order = remaining.orders.get(request.order_id)
    if order is None:
        problems.append(
            f"order_id: order {request.order_id} is not in fb_orders (fb_orders_sync stores orders; check the id)"
        )
        return Verdict(problems)
    effect = _CHECKS[request.kind.name](request, order, remaining, problems)
    return Verdict(problems, effect)


def effect_of(request: OutboxRequest, remaining: Remaining) -> Effect | None:
    """What a request Meta accepted did to its order (its checks are not repeated: Meta's answer counts)."""
    verdict = validate(request, remaining)
    return verdict.effect
