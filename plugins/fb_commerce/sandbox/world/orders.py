"""The order state machine: acknowledge, ship, update tracking, cancel and refund, with Meta's rule errors.

Every function takes decoded parameters (lists and dicts, not JSON strings), changes the ``Store`` (the caller
holds its lock) and raises ``GraphError`` on a rule violation before changing anything.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import errors as E
from . import plants
from .model import (
    COMPLETED,
    CREATED,
    FB_PROCESSING,
    IN_PROGRESS,
    Cancellation,
    LineItem,
    Order,
    Refund,
    RefundLine,
    Shipment,
    ShipmentLine,
)
from .money import ZERO, cents, parse_amount, prorate
from .money_flow import record_refund, record_sale

if TYPE_CHECKING:
    from .store import Store

CANCEL_REASONS = ("CUSTOMER_REQUESTED", "OUT_OF_STOCK", "INVALID_ADDRESS", "SUSPICIOUS_ORDER", "CANCEL_REASON_OTHER")
REFUND_REASONS = (
    "BUYERS_REMORSE",
    "DAMAGED_GOODS",
    "NOT_AS_DESCRIBED",
    "QUALITY_ISSUE",
    "REFUND_REASON_OTHER",
    "WRONG_ITEM",
    "FACEBOOK_INITIATED",
    # SDK-only additions (docs/graph-api.md §1.7)
    "REFUND_COMPROMISED",
    "REFUND_FOR_RETURN",
    "REFUND_SFI_FAKE",
    "REFUND_SFI_REAL",
)
# Carrier codes: the examples in docs/graph-api.md §1.5 plus a few common ones; compared case-insensitively
# (samples use upper).
CARRIERS = frozenset(
    {
        "dhl",
        "dhl_ecommerce_us",
        "eagle",
        "fedex",
        "ontrac",
        "tnt",
        "ups",
        "usps",
        "amazon_logistics",
        "canada_post",
        "lasership",
        "purolator",
        "royal_mail",
        "australia_post",
        "other",
    }
)
MAX_ACK_BATCH = 100
_EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9_]{1,100}$")
_POSTAL_RE = re.compile(r"^\d{5}(-\d{4})?$")
_FB_PROCESSING_CANCEL_AFTER = 24 * 3600  # stuck longer than 24 h: cancellable (docs/graph-api.md §1.2)


# --- acknowledge ----------------------------------------------------------------------------------------------


def acknowledge(sb: Store, order: Order, reference: str | None, now: float) -> dict[str, Any]:
    """CREATED -> IN_PROGRESS, storing the merchant_order_reference."""
    if order.state == FB_PROCESSING:
        raise E.commerce(E.CANNOT_ACKNOWLEDGE, f"Cannot acknowledge order {order.id}: it is still FB_PROCESSING.")
    if order.state != CREATED:
        raise E.commerce(
            E.CANNOT_ACKNOWLEDGE,
            f"Cannot acknowledge order {order.id}: it is {order.state}, not CREATED (already acknowledged).",
        )
    if reference is not None:
        if not isinstance(reference, str) or not reference.strip() or len(reference) > 128:
            raise E.invalid_param(
                "merchant_order_reference must be a non-empty string of at most 128 characters",
                field_name="merchant_order_reference",
            )
        order.merchant_order_reference = reference
    order.acknowledged_count += 1
    order.acknowledged_at = now
    sb.set_state(order, IN_PROGRESS, now)
    return {"id": order.id, "state": IN_PROGRESS}


def acknowledge_batch(sb: Store, entries: Any, now: float) -> tuple[dict[str, Any], list[str]]:
    """``acknowledge_orders``: per-order results; a coded exception (nothing applied) if any is FB_PROCESSING.

    Returns the answer and the ids that were actually acknowledged.
    """
    if not isinstance(entries, list) or not entries:
        raise E.invalid_param("orders must be a non-empty list of {id, merchant_order_reference}", field_name="orders")
    if len(entries) > MAX_ACK_BATCH:
        raise E.invalid_param(f"At most {MAX_ACK_BATCH} orders can be acknowledged in one call", field_name="orders")
    parsed: list[tuple[str, str | None]] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str | int):
            raise E.invalid_param("each entry of orders needs an id", field_name="orders")
        parsed.append((str(entry["id"]), entry.get("merchant_order_reference")))
    processing = [oid for oid, _ in parsed if (o := sb.orders.get(oid)) is not None and o.state == FB_PROCESSING]
    if processing:
        raise E.commerce(
            E.CANNOT_ACKNOWLEDGE,
            "Cannot acknowledge orders that are still FB_PROCESSING: "
            + ", ".join(processing)
            + ". Retry without them, with a new idempotency_key.",
        )
    results: list[dict[str, Any]] = []
    applied: list[str] = []
    for oid, reference in parsed:
        order = sb.orders.get(oid)
        if order is None:
            results.append(
                {"id": oid, "error": {"error_code": E.INVALID_ORDER_ID, "error_message": "Invalid Order ID"}}
            )
            continue
        try:
            results.append(acknowledge(sb, order, reference, now))
            applied.append(oid)
        except E.GraphError as exc:
            results.append({"id": oid, "error": {"error_code": exc.subcode or exc.code, "error_message": exc.message}})
    return {"orders": results}, applied


# --- item selection -------------------------------------------------------------------------------------------


def _lines(order: Order, items: Any, unknown_code: int | None = None) -> list[tuple[LineItem, dict[str, Any]]]:
    """Resolve ``items[{retailer_id|item_id, ...}]``: one id type per call, every id known."""
    if not isinstance(items, list):
        raise E.invalid_param("items must be a list", field_name="items")
    by_retailer = [("retailer_id" in entry) for entry in items if isinstance(entry, dict)]
    if len(by_retailer) != len(items):
        raise E.invalid_param("each entry of items must be an object", field_name="items")
    if any("retailer_id" in e and "item_id" in e for e in items) or (by_retailer and len(set(by_retailer)) > 1):
        raise E.invalid_param("Identify items by retailer_id or by item_id, not both", field_name="items")
    resolved = []
    for entry in items:
        if "retailer_id" in entry:
            line = order.item_by_retailer_id(str(entry["retailer_id"]))
            label = f"retailer_id {entry['retailer_id']}"
        elif "item_id" in entry:
            line = order.item(str(entry["item_id"]))
            label = f"item_id {entry['item_id']}"
        else:
            raise E.invalid_param("each item needs retailer_id or item_id", field_name="items")
        if line is None:
            if unknown_code:
                raise E.commerce(unknown_code, f"Order {order.id} has no item with {label}")
            raise E.invalid_param(f"Order {order.id} has no item with {label}", field_name="items")
        resolved.append((line, entry))
    return resolved


def _quantity(entry: dict[str, Any], name: str) -> int:
    value: Any = entry.get(name)  # any JSON value: int() refuses what is not an integer
    try:
        qty = int(value)
    except (TypeError, ValueError):
        raise E.invalid_param(f"{name} must be an integer", field_name=name) from None
    if qty < 0 or str(qty) != str(value).strip():
        raise E.invalid_param(f"{name} must be a non-negative integer", field_name=name)
    return qty


def _merged(pairs: list[tuple[LineItem, int]]) -> list[tuple[LineItem, int]]:
    """Sum quantities of an item named twice, keep the order items were named in."""
    totals: dict[str, list[Any]] = {}
    for line, qty in pairs:
        totals.setdefault(line.id, [line, 0])[1] += qty
    return [(line, qty) for line, qty in totals.values()]


def _finish_if_done(sb: Store, order: Order, now: float) -> None:
    if all(line.open_quantity == 0 for line in order.items):
        sb.set_state(order, COMPLETED, now)
    else:
        sb.touch(order, now)


def _check_reference(order: Order, reference: Any) -> None:
    if (
        reference is not None
        and order.merchant_order_reference is not None
        and str(reference) != order.merchant_order_reference
    ):
        raise E.commerce(
            E.MERCHANT_REFERENCE_MISMATCH,
            f"merchant_order_reference {reference!r} does not match the order's reference",
        )


# --- shipments ------------------------------------------------------------------------------------------------


def _tracking(tracking: Any, shipment_id: str | None, sb: Store) -> dict[str, Any]:
    if not isinstance(tracking, dict) or not tracking.get("tracking_number") or not tracking.get("carrier"):
        raise E.invalid_param("tracking_info{carrier, tracking_number} is required", field_name="tracking_info")
    carrier = str(tracking["carrier"])
    if carrier.lower() not in CARRIERS:
        raise E.invalid_param(f"Unknown carrier code {carrier!r}", field_name="tracking_info")
    number = str(tracking["tracking_number"])
    owner = sb.tracking_numbers.get(number)
    if owner is not None and owner != shipment_id:
        raise E.commerce(
            E.DUPLICATE_TRACKING_NUMBER,
            f"Tracking number {number} is already used by another shipment; one number per shipment",
        )
    info = {"carrier": carrier, "tracking_number": number}
    if tracking.get("shipping_method_name"):
        info["shipping_method_name"] = str(tracking["shipping_method_name"])
    return info


def ship(sb: Store, order: Order, params: dict[str, Any], now: float) -> Shipment:
    """``POST /{order_id}/shipments``: capture payment for the shipped units and record a SALE."""
    if order.state in (FB_PROCESSING, CREATED):
        raise E.commerce(
            E.ORDER_NOT_ACTIONABLE, f"Order {order.id} is {order.state}: acknowledge it (IN_PROGRESS) before shipping"
        )
    if order.state == COMPLETED:
        if all(line.cancelled == line.quantity for line in order.items):
            raise E.commerce(E.CANCELLED_CANNOT_SHIP, f"Order {order.id} is cancelled and cannot be shipped")
        raise E.commerce(E.ALREADY_FULFILLED, f"Order {order.id} is already fulfilled or cancelled")
    _check_reference(order, params.get("merchant_order_reference"))
    tracking = _tracking(params.get("tracking_info"), None, sb)
    external_id = params.get("external_shipment_id")
    if external_id is not None:
        external_id = str(external_id)
        if not _EXTERNAL_ID_RE.match(external_id):
            raise E.invalid_param(
                "external_shipment_id may only contain letters, digits and '_'", field_name="external_shipment_id"
            )
        if any(s.external_shipment_id == external_id for s in order.shipments):
            raise E.invalid_param(
                f"external_shipment_id {external_id} already exists on this order", field_name="external_shipment_id"
            )
    fulfillment = params.get("fulfillment")
    if fulfillment is not None and (
        not isinstance(fulfillment, dict)
        or not (fulfillment.get("fulfillment_location_id") or isinstance(fulfillment.get("fulfillment_address"), dict))
    ):
        raise E.invalid_param(
            "fulfillment needs fulfillment_location_id or fulfillment_address{...}", field_name="fulfillment"
        )
    origin = params.get("shipment_origin_postal_code")
    if origin is not None and not _POSTAL_RE.match(str(origin)):
        raise E.commerce(E.BAD_ORIGIN_POSTAL_CODE, f"Invalid shipment origin postal code {origin!r}")

    items = params.get("items")
    if items is None:
        wanted = [(line, line.open_quantity) for line in order.items if line.open_quantity > 0]
    else:
        wanted = _merged([(line, _quantity(entry, "quantity")) for line, entry in _lines(order, items)])
        wanted = [(line, qty) for line, qty in wanted if qty > 0]
    if not wanted:
        raise E.commerce(E.SHIPMENT_HAS_NO_ITEMS, "The shipment has no items")
    for line, qty in wanted:
        if qty > line.open_quantity:
            if line.cancelled and line.open_quantity == 0 and line.shipped == 0:
                raise E.commerce(E.CANCELLED_CANNOT_SHIP, f"Item {line.retailer_id} is cancelled and cannot ship")
            raise E.commerce(
                E.ALREADY_FULFILLED,
                f"Only {line.open_quantity} of item {line.retailer_id} can still be shipped, not {qty}",
            )

    shipment = Shipment(sb.new_id("shipment"), order.id, external_id, [], tracking, fulfillment, now, ZERO)
    for line, qty in wanted:
        captured = prorate(line.tax, line.shipped + qty, line.quantity)  # cumulative: no rounding drift
        shipment.lines.append(ShipmentLine(line.id, qty, line.price_per_unit * qty, captured - line.captured_tax))
        line.captured_tax = captured
        line.shipped += qty
    shipped_value = sum((line.price_per_unit * line.shipped for line in order.items), ZERO)
    target = prorate(order.shipping_total, shipped_value, order.items_subtotal)
    shipment.shipping_amount = target - order.captured_shipping
    order.captured_shipping = target
    order.shipments.append(shipment)
    sb.tracking_numbers[tracking["tracking_number"]] = shipment.id
    sb.register(shipment.id, "shipment", shipment)
    record_sale(sb, order, shipment, now)
    plants.on_sale(sb, order, shipment)  # a discrepancy planted for "the next SALE" takes this one
    _finish_if_done(sb, order, now)
    return shipment


def update_shipment(sb: Store, order: Order, params: dict[str, Any], now: float) -> Shipment:
    """``POST /{order_id}/update_shipment``: new tracking for a shipment named by its id or external id."""
    wanted_id = params.get("shipment_id") or params.get("fulfillment_id")
    external_id = params.get("external_shipment_id")
    if not wanted_id and not external_id:
        raise E.invalid_param("shipment_id or external_shipment_id is required", field_name="shipment_id")
    shipment = next(
        (
            s
            for s in order.shipments
            if (wanted_id and s.id == str(wanted_id)) or (external_id and s.external_shipment_id == str(external_id))
        ),
        None,
    )
    if shipment is None:
        raise E.invalid_param(f"Order {order.id} has no such shipment", field_name="shipment_id")
    tracking = _tracking(params.get("tracking_info"), shipment.id, sb)
    sb.tracking_numbers.pop(shipment.tracking_info["tracking_number"], None)
    shipment.tracking_info = tracking
    sb.tracking_numbers[tracking["tracking_number"]] = shipment.id
    sb.touch(order, now)
    return shipment


# --- cancellations --------------------------------------------------------------------------------------------


def cancel(sb: Store, order: Order, params: dict[str, Any], now: float, initiated_by: str = "MERCHANT") -> Cancellation:
    """``POST /{order_id}/cancellations``: unshipped units only; the order completes when nothing is left open."""
    if order.state == FB_PROCESSING and now - order.created < _FB_PROCESSING_CANCEL_AFTER:
        raise E.commerce(
            E.ORDER_NOT_ACTIONABLE,
            f"Order {order.id} is FB_PROCESSING; it can be cancelled once it "
            "leaves FB_PROCESSING (or after 24 h stuck in it)",
        )
    reason = params.get("cancel_reason") or {}
    if not isinstance(reason, dict):
        raise E.invalid_param(
            "cancel_reason must be an object {reason_code, reason_description}", field_name="cancel_reason"
        )
    code = reason.get("reason_code")
    if code is not None and code not in CANCEL_REASONS:
        raise E.invalid_param(f"reason_code must be one of {', '.join(CANCEL_REASONS)}", field_name="cancel_reason")
    restock = as_bool(params.get("restock_items"), False)
    items = params.get("items")
    shipped_any = any(line.shipped for line in order.items)
    if all(line.cancelled == line.quantity for line in order.items):
        raise E.commerce(E.ORDER_ALREADY_CANCELLED, f"Order {order.id} is already cancelled")
    if items is None:
        if shipped_any:
            raise E.commerce(
                E.ALREADY_CAPTURED,
                f"Order {order.id} has shipped items (payment captured): cancel "
                "the remaining items by listing them, or refund",
            )
        wanted = [(line, line.open_quantity) for line in order.items if line.open_quantity > 0]
    else:
        wanted = _merged([(line, _quantity(entry, "quantity")) for line, entry in _lines(order, items)])
        wanted = [(line, qty) for line, qty in wanted if qty > 0]
        if not wanted:
            raise E.invalid_param("Nothing to cancel: every quantity is 0", field_name="items")
    for line, qty in wanted:
        if qty > line.open_quantity:
            if line.shipped:
                raise E.commerce(E.ALREADY_SHIPPED, f"Item {line.retailer_id} is already shipped: refund instead")
            raise E.commerce(E.ALREADY_CANCELLED, f"Item {line.retailer_id} is already cancelled")
    if not wanted:
        raise E.commerce(E.ALREADY_SHIPPED, f"Order {order.id} has nothing left to cancel")
    cancellation = Cancellation(
        sb.new_id("cancellation"),
        order.id,
        [(line.id, qty) for line, qty in wanted],
        code or "CANCEL_REASON_OTHER",
        reason.get("reason_description"),
        restock,
        now,
        initiated_by,
    )
    for line, qty in wanted:
        line.cancelled += qty
        product = sb.products.get(line.retailer_id)
        if restock and product is not None and product.quantity is not None:
            product.quantity += qty
    order.cancellations.append(cancellation)
    if order.state == FB_PROCESSING:
        order.processing_until = None
    _finish_if_done(sb, order, now)
    return cancellation


# --- refunds --------------------------------------------------------------------------------------------------


def _refund_amounts(line: LineItem, entry: dict[str, Any] | None) -> RefundLine:
    """What one line gives back: by quantity, by pre-tax amount, or everything left (entry None)."""
    if line.shipped == 0:
        if line.cancelled == line.quantity:
            raise E.commerce(E.CANCELLED_CANNOT_REFUND, f"Item {line.retailer_id} was cancelled, not charged")
        raise E.commerce(E.NOT_CHARGED, f"Item {line.retailer_id} has not shipped, so it was not charged")
    charged = line.price_per_unit * line.shipped
    left_amount = charged - line.refunded_amount
    left_tax = line.captured_tax - line.refunded_tax
    if entry is None:
        return RefundLine(line.id, line.shipped - line.refunded_qty, left_amount, left_tax)
    has_qty, has_amount = "item_refund_quantity" in entry, "item_refund_amount" in entry
    if has_qty == has_amount:
        raise E.invalid_param(
            "give each item item_refund_quantity or item_refund_amount (one of them)", field_name="items"
        )
    if left_amount <= 0:
        raise E.commerce(E.ALREADY_REFUNDED, f"Item {line.retailer_id} is already refunded")
    if has_qty:
        qty = _quantity(entry, "item_refund_quantity")
        if qty == 0:
            raise E.commerce(E.ZERO_REFUND, "A refund of 0 is not possible")
        if qty > line.shipped - line.refunded_qty:
            if line.refunded_qty >= line.shipped:
                raise E.commerce(E.ALREADY_REFUNDED, f"Item {line.retailer_id} is already refunded")
            raise E.commerce(
                E.REFUND_EXCEEDS_CHARGE,
                f"Refund of {qty} x {line.retailer_id} exceeds the "
                f"{line.shipped - line.refunded_qty} charged and not refunded",
            )
        qty_amount = min(line.price_per_unit * qty, left_amount)
        tax = min(prorate(line.tax, qty, line.quantity), left_tax)
        return RefundLine(line.id, qty, qty_amount, tax)
    amount = parse_amount(entry.get("item_refund_amount"))
    if amount is None or amount < 0:
        raise E.invalid_param("item_refund_amount must be an amount", field_name="items")
    if amount == 0:
        raise E.commerce(E.ZERO_REFUND, "A refund of 0 is not possible")
    if amount > left_amount:
        raise E.commerce(
            E.REFUND_EXCEEDS_CHARGE,
            f"Refund of {amount} on {line.retailer_id} exceeds the {left_amount} charged and not refunded",
        )
    return RefundLine(line.id, 0, amount, min(prorate(line.captured_tax, amount, charged), left_tax))


def refund(sb: Store, order: Order, params: dict[str, Any], now: float, initiated_by: str = "MERCHANT") -> Refund:
    """``POST /{order_id}/refunds``: shipped units only; records a REFUND transaction."""
    code = params.get("reason_code")
    if not code:
        raise E.invalid_param("The parameter reason_code is required", field_name="reason_code")
    if code not in REFUND_REASONS:
        raise E.invalid_param(f"reason_code must be one of {', '.join(REFUND_REASONS)}", field_name="reason_code")
    if not any(line.shipped for line in order.items):
        if all(line.cancelled == line.quantity for line in order.items):
            raise E.commerce(E.CANCELLED_CANNOT_REFUND, f"Order {order.id} is cancelled and cannot be refunded")
        raise E.commerce(E.NOT_CHARGED, f"Order {order.id} has no shipped items, so nothing was charged")
    items = params.get("items")
    if items is None:
        lines = [_refund_amounts(line, None) for line in order.items if line.shipped]
        lines = [r for r in lines if r.subtotal > 0 or r.tax > 0]
    else:
        pairs = _lines(order, items, unknown_code=E.BAD_REFUND_RETAILER_ID)
        if len({line.id for line, _ in pairs}) != len(pairs):
            raise E.invalid_param("name each item once per refund", field_name="items")
        lines = [_refund_amounts(line, entry) for line, entry in pairs]
    shipping_left = order.captured_shipping - order.refunded_shipping
    shipping_param = params.get("shipping")
    if shipping_param is not None:
        if not isinstance(shipping_param, dict) or "shipping_refund" not in shipping_param:
            raise E.invalid_param("shipping must be {shipping_refund{amount, currency}}", field_name="shipping")
        shipping = parse_amount(shipping_param["shipping_refund"])
        if shipping is None or shipping < 0:
            raise E.invalid_param("shipping_refund must be an amount", field_name="shipping")
        if shipping > shipping_left:
            raise E.commerce(
                E.SHIPPING_REFUND_EXCEEDS,
                f"Shipping refund {shipping} exceeds the {shipping_left} shipping charged and not refunded",
            )
    else:
        shipping = shipping_left if items is None else ZERO  # a full refund gives the shipping back too
    deductions = _deductions(params.get("deductions"))
    if items is None and not lines and shipping == 0:
        raise E.commerce(E.ALREADY_REFUNDED, f"Order {order.id} is already fully refunded")
    return_id = params.get("return_id")
    if return_id is not None and not any(r.id == str(return_id) for r in order.returns):
        raise E.invalid_param(f"Order {order.id} has no return {return_id}", field_name="return_id")
    result = Refund(
        sb.new_id("refund"),
        order.id,
        lines,
        code,
        params.get("reason_text"),
        shipping,
        ZERO,
        deductions,
        str(return_id) if return_id is not None else None,
        now,
        initiated_by,
    )
    if result.total <= 0:
        raise E.commerce(E.ZERO_REFUND, "The refund amounts to 0 or less after deductions")
    for refund_line in lines:
        line = order.item(refund_line.item_id)
        assert line is not None
        line.refunded_amount += refund_line.subtotal
        line.refunded_tax += refund_line.tax
        line.refunded_qty = min(line.shipped, line.refunded_qty + refund_line.quantity)
    order.refunded_shipping += shipping
    order.refunds.append(result)
    for ret in order.returns:
        if ret.id == result.return_id:
            ret.status = "REFUNDED"
    sb.register(result.id, "refund", result)
    record_refund(sb, order, result, now)
    sb.touch(order, now)
    return result


def _deductions(value: Any) -> Decimal:
    if value is None:
        return ZERO
    if not isinstance(value, list):
        raise E.invalid_param("deductions must be a list", field_name="deductions")
    total = ZERO
    for entry in value:
        if not isinstance(entry, dict) or entry.get("deduction_type") != "RETURN_SHIPPING":
            raise E.invalid_param("deduction_type must be RETURN_SHIPPING (the only type)", field_name="deductions")
        amount = parse_amount(entry.get("deduction_amount"))
        if amount is None or amount < 0:
            raise E.invalid_param("deduction_amount must be an amount", field_name="deductions")
        total += amount
    return cents(total)


def as_bool(value: Any, default: bool) -> bool:
    """Graph booleans arrive as true/false strings in forms and as JSON booleans in bodies."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise E.invalid_param(f"{value!r} is not a boolean")
