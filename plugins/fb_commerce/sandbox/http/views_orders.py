"""How orders and their edges render (field names as Meta's SDK and docs/graph-api.md §1 spell them)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..world.clock import day, iso
from ..world.model import FB_PROCESSING, LineItem, Order, Refund, Shipment
from ..world.money import ZERO, money
from .fields import Schema, attr


def _m(amount: Decimal) -> dict[str, str]:
    return money(amount, "USD")


def _shipping_option(name: str, price: Decimal, min_days: int, max_days: int) -> dict[str, Any]:
    return {
        "name": name,
        "price": _m(price),
        "calculated_tax": _m(ZERO),
        "estimated_shipping_time": {"min_days": min_days, "max_days": max_days},
    }


def _item_option(line: LineItem, ctx: Any) -> dict[str, Any]:
    opt = line.option
    return _shipping_option(opt["name"], line.shipping, opt["min_days"], opt["max_days"])


ITEM = Schema(
    "CommerceOrderItem",
    {
        "id": attr("id"),
        "retailer_id": attr("retailer_id"),
        "product_id": attr("product_id"),
        "product_name": attr("product_name"),
        "quantity": attr("quantity"),
        "price_per_unit": lambda i, c: _m(i.price_per_unit),
        "tax_details": lambda i, c: {"estimated_tax": _m(i.tax), "captured_tax": {"total_tax": _m(i.captured_tax)}},
        "status": lambda i, c: {"in_progress": i.open_quantity, "fulfilled": i.shipped, "cancelled": i.cancelled},
        "selected_shipping_option": _item_option,
        "customization": lambda i, c: None,
    },
    defaults=("id", "retailer_id", "product_id", "quantity", "price_per_unit"),
)


def _line_ref(line: LineItem | None, quantity: int) -> dict[str, Any]:
    if line is None:
        return {"quantity": quantity}
    return {"id": line.id, "retailer_id": line.retailer_id, "product_id": line.product_id, "quantity": quantity}


def _order_of(obj: Any, ctx: Any) -> Order:
    """The order a shipment/cancellation/refund/return belongs to; ``ctx`` is the Sandbox."""
    return ctx.orders[obj.order_id]


def _shipment_items(s: Shipment, ctx: Any) -> dict[str, Any]:
    order = _order_of(s, ctx)
    return {
        "data": [{**_line_ref(order.item(sl.item_id), sl.quantity), "tax": {"final_tax": _m(sl.tax)}} for sl in s.lines]
    }


SHIPMENT = Schema(
    "CommerceOrderShipment",
    {
        "id": attr("id"),
        "external_shipment_id": attr("external_shipment_id"),
        "items": _shipment_items,
        "tracking_info": attr("tracking_info"),
        "fulfillment": attr("fulfillment"),
        "shipment_date": lambda s, c: iso(s.created),  # sandbox extra (not documented)
    },
    defaults=("id", "external_shipment_id", "items", "tracking_info"),
)

CANCELLATION = Schema(
    "CommerceOrderCancellation",
    {
        "id": attr("id"),
        "items": lambda x, c: {"data": [_line_ref(_order_of(x, c).item(i), q) for i, q in x.lines]},
        "cancel_reason": lambda x, c: {
            "reason_code": x.reason_code,
            **({"reason_description": x.reason_description} if x.reason_description else {}),
        },
        "restock_items": attr("restock_items"),
        "initiated_by": attr("initiated_by"),  # sandbox extra: MERCHANT or FACEBOOK
        "created_time": lambda x, c: iso(x.created),  # sandbox extra
    },
    defaults=("id", "items", "cancel_reason"),
)


def _refund_items(r: Refund, ctx: Any) -> dict[str, Any]:
    order = _order_of(r, ctx)
    out = []
    for rl in r.lines:
        ref = _line_ref(order.item(rl.item_id), rl.quantity)
        out.append({**ref, "refund_subtotal": _m(rl.subtotal), "refund_tax": _m(rl.tax)})
    return {"data": out}


REFUND = Schema(
    "CommerceOrderRefund",
    {
        "id": attr("id"),
        "items": _refund_items,
        "refund_reason": lambda r, c: {
            "reason_code": r.reason_code,
            **({"reason_text": r.reason_text} if r.reason_text else {}),
        },
        "refund_amount": lambda r, c: {
            "subtotal": _m(r.subtotal),
            "shipping": _m(r.shipping),
            "tax": _m(r.tax),
            "deductions": _m(r.deductions),
            "total": _m(r.total),
            "amount": str(r.total),
            "currency": "USD",
        },
        "return_id": attr("return_id"),
        "initiated_by": attr("initiated_by"),  # sandbox extra
        "created_time": lambda r, c: iso(r.created),  # sandbox extra
    },
    defaults=("id", "items", "refund_reason", "refund_amount"),
)

RETURN = Schema(
    "CommerceReturn",
    {
        "id": attr("id"),
        "return_status": attr("status"),
        "return_message": attr("message"),
        "merchant_return_id": attr("merchant_return_id"),
        "item_return_quantities": lambda r, c: [{"key": i, "value": q} for i, q, _ in r.lines],
        "item_return_reasons": lambda r, c: [{"key": i, "value": why} for i, _, why in r.lines],
        "items": lambda r, c: {"data": [_line_ref(_order_of(r, c).item(i), q) for i, q, _ in r.lines]},
        "order": lambda r, c: {"id": r.order_id},
        "return_buyer_images": lambda r, c: [],
        "created_time": lambda r, c: iso(r.created),
    },
    defaults=("id", "return_status", "merchant_return_id", "item_return_quantities"),
)


def _payment(s: Shipment, ctx: Any) -> dict[str, Any]:
    """One payment per shipment (docs/graph-api.md §3): what that shipment captured."""
    order = _order_of(s, ctx)
    total = s.items_amount + s.shipping_amount + s.tax_amount
    return {
        "id": f"{s.id}:payment",
        "subtotal": {"items": _m(s.items_amount), "shipping": _m(s.shipping_amount)},
        "tax": _m(s.tax_amount),
        "tax_remitted": order.tax_remitted,
        "total_amount": _m(total),
        "shipments": {"data": [{"id": s.id, "external_shipment_id": s.external_shipment_id}]},
        "transaction_details": {
            "transaction_id": s.transaction_id,
            "processor": "PAYPAL",
            "captured_amount": _m(total),
            "capture_time": iso(s.created),
        },
    }


PAYMENT = Schema(
    "CommerceOrderPayment",
    {
        k: (lambda name: lambda s, c: _payment(s, c)[name])(k)
        for k in ("id", "subtotal", "tax", "tax_remitted", "total_amount", "shipments", "transaction_details")
    },
    defaults=("id", "subtotal", "tax", "tax_remitted", "total_amount", "shipments", "transaction_details"),
)

PROMOTION = Schema(
    "CommerceOrderPromotion",
    {
        k: (lambda name: lambda p, c: p.get(name))(k)
        for k in (
            "applied_after_tax",
            "applied_amount",
            "campaign_name",
            "promotion_id",
            "target_granularity",
            "sponsor",
            "coupon_code",
            "retailer_id",
        )
    },
    defaults=("applied_amount", "campaign_name", "promotion_id", "sponsor", "target_granularity"),
)


def _pii(getter: Any) -> Any:
    """Buyer PII is hidden while the order is FB_PROCESSING (docs/graph-api.md §1.2)."""
    return lambda o, c: None if o.state == FB_PROCESSING else getter(o, c)


def _estimated(o: Order, ctx: Any) -> dict[str, Any]:
    promo = sum((Decimal(p["applied_amount"]["amount"]) for p in o.promotions if p["sponsor"] == "facebook"), ZERO)
    return {
        "subtotal": {"items": _m(o.items_subtotal), "shipping": _m(o.shipping_total)},
        "tax": _m(o.estimated_tax),
        "total_amount": _m(o.total),
        "tax_remitted": o.tax_remitted,
        "facebook_paid_amount": _m(promo),
        "buyer_paid_amount": _m(o.total - promo),
    }


ORDER = Schema(
    "CommerceOrder",
    {
        "id": attr("id"),
        "order_status": lambda o, c: {"state": o.state},
        "created": lambda o, c: iso(o.created),
        "last_updated": lambda o, c: iso(o.last_updated),
        "channel": attr("channel"),
        "merchant_order_id": attr("merchant_order_reference"),
        "ship_by_date": lambda o, c: day(o.ship_by),
        "is_test_order": attr("is_test_order"),
        "is_group_buy": lambda o, c: False,
        "contains_bopis_items": lambda o, c: False,
        "pre_order_details": lambda o, c: None,
        "buyer_details": _pii(lambda o, c: dict(o.buyer)),
        "shipping_address": _pii(lambda o, c: dict(o.shipping_address)),
        "selected_shipping_option": lambda o, c: _shipping_option(
            o.shipping_option["name"], o.shipping_total, o.shipping_option["min_days"], o.shipping_option["max_days"]
        ),
        "estimated_payment_details": _estimated,
        "items": attr("items"),
        "shipments": attr("shipments"),
        "cancellations": attr("cancellations"),
        "refunds": attr("refunds"),
        "returns": attr("returns"),
        "payments": attr("shipments"),
        "promotion_details": attr("promotions"),
        "promotions": attr("promotions"),
    },
    defaults=("id", "order_status", "created", "last_updated"),
    edges={
        "items": (ITEM, True),
        "shipments": (SHIPMENT, True),
        "cancellations": (CANCELLATION, True),
        "refunds": (REFUND, True),
        "returns": (RETURN, True),
        "payments": (PAYMENT, True),
        "promotion_details": (PROMOTION, True),
        "promotions": (PROMOTION, True),
    },
)

# The edges of an order, as GET /{order_id}/<edge> lists them.
ORDER_EDGES: dict[str, tuple[Schema, Any]] = {
    "items": (ITEM, lambda o: o.items),
    "shipments": (SHIPMENT, lambda o: o.shipments),
    "cancellations": (CANCELLATION, lambda o: o.cancellations),
    "refunds": (REFUND, lambda o: o.refunds),
    "returns": (RETURN, lambda o: o.returns),
    "payments": (PAYMENT, lambda o: o.shipments),
    "promotion_details": (PROMOTION, lambda o: o.promotions),
    "promotions": (PROMOTION, lambda o: o.promotions),
}

__all__ = ["CANCELLATION", "ITEM", "ORDER", "ORDER_EDGES", "PAYMENT", "PROMOTION", "REFUND", "RETURN", "SHIPMENT"]
