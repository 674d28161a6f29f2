"""Meta's order objects as warehouse rows (fb_orders, fb_order_items, fb_shipments, fb_cancellations, ...).

Pure functions: JSON in, dicts keyed by column name out. ``merchant_order_reference`` and the acknowledgement
columns are ours, never Meta's, so they are not set here: an upsert of these rows leaves them as they are.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fb_commerce.orders.values import UnreadableValue, amount, date, dig, edge, money, timestamp, whole_number


@contextmanager
def named(kind: str, node: dict[str, Any]) -> Iterator[None]:
    """Re-raises an :class:`UnreadableValue` raised inside with the object it was found in (``order <id>: ...``)."""
    try:
        yield
    except UnreadableValue as exc:
        raise UnreadableValue(f"{kind} {node.get('id')}: {exc}") from None


#: what separates words for the name search: anything but a letter or a digit
_NOT_A_WORD = re.compile(r"[\W_]+")


def search_text(text: str) -> str:
    """``text`` as the name search compares it: compatibility-decomposed, accents (combining marks) removed, case
    folded, words split on anything that is not a letter or digit and joined by one space.
    ``"  Zoë  O'Brien-Núñez"`` -> ``"zoe o brien nunez"``. (ASCII text, most names, skips the decomposition: the
    orders path maps every order through this.)"""
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(_NOT_A_WORD.sub(" ", text.casefold()).split())


def email_search(email: Any) -> str | None:
    """``buyer_email_search``: the address trimmed and in lower case (None when there is none)."""
    return (email.strip().lower() or None) if isinstance(email, str) else None


def name_search_columns(name: Any) -> tuple[str | None, str | None]:
    """``(buyer_name_search, buyer_name_search_last_first)`` of a buyer's name (None when it has no word)."""
    if not isinstance(name, str) or not name:
        return None, None
    words = search_text(name).split(" ")
    if not words[0]:
        return None, None
    return " ".join(words), " ".join(words[-1:] + words[:-1])


def order_row(order: dict[str, Any], synced_at: dt.datetime) -> dict[str, Any]:
    """One fb_orders row. ``synced_at`` is when we read it."""
    with named("order", order):
        return _order_row(order, synced_at)


def _order_row(order: dict[str, Any], synced_at: dt.datetime) -> dict[str, Any]:
    payment = order.get("estimated_payment_details") or {}
    subtotal, currency = money(dig(payment, "subtotal", "items"), "estimated_payment_details.subtotal.items")
    total, total_currency = money(payment.get("total_amount"), "estimated_payment_details.total_amount")
    buyer = order.get("buyer_details") or {}
    address = order.get("shipping_address") or {}
    promotions = edge(order, "promotion_details")
    name_search, name_search_last_first = name_search_columns(buyer.get("name"))
    return {
        "order_id": str(order["id"]),
        "state": dig(order, "order_status", "state") or order.get("state"),
        "channel": order.get("channel"),
        "created_at": timestamp(order.get("created")),
        "updated_at": timestamp(order.get("last_updated")),
        "merchant_order_id": order.get("merchant_order_id"),
        "buyer_name": buyer.get("name"),
        "buyer_email": buyer.get("email"),
        "buyer_email_search": email_search(buyer.get("email")),
        "buyer_name_search": name_search,
        "buyer_name_search_last_first": name_search_last_first,
        "marketing_opt_in": buyer.get("email_remarketing_option"),
        "ship_by_date": date(order.get("ship_by_date")),
        "ship_to_name": address.get("name"),
        "ship_to_street1": address.get("street1"),
        "ship_to_street2": address.get("street2"),
        "ship_to_city": address.get("city"),
        "ship_to_state": address.get("state"),
        "ship_to_postal_code": address.get("postal_code"),
        "ship_to_country": address.get("country"),
        "currency": currency or total_currency,
        "subtotal": subtotal,
        "shipping": amount(dig(payment, "subtotal", "shipping"), "estimated_payment_details.subtotal.shipping"),
        "tax": amount(payment.get("tax"), "estimated_payment_details.tax"),
        "total": total,
        "tax_remitted": payment.get("tax_remitted"),
        "is_test_order": order.get("is_test_order"),
        "promotion_details": promotions or None,
        "synced_at": synced_at,
        "raw": order,
    }


def item_rows(order: dict[str, Any], synced_at: dt.datetime) -> list[dict[str, Any]]:
    """fb_order_items rows of an order whose ``items`` edge was read inline (each item as Meta returned it
    stays in the order's ``raw``, stored once)."""
    with named("order", order):
        return [_item_row(order, n, item, synced_at) for n, item in enumerate(edge(order, "items"))]


def _item_row(order: dict[str, Any], n: int, item: dict[str, Any], synced_at: dt.datetime) -> dict[str, Any]:
    at = f"items[{n}]"
    price, currency = money(item.get("price_per_unit"), f"{at}.price_per_unit")
    raw_status = item.get("status")
    status = raw_status if isinstance(raw_status, dict) else {}
    option = item.get("selected_shipping_option") or {}
    return {
        "order_id": str(order["id"]),
        "item_id": str(item["id"]),
        "retailer_id": item.get("retailer_id"),
        "product_id": item.get("product_id"),
        "product_name": item.get("product_name"),
        "quantity": whole_number(item.get("quantity"), f"{at}.quantity"),
        "quantity_in_progress": status.get("in_progress"),
        "quantity_fulfilled": status.get("fulfilled"),
        "quantity_cancelled": status.get("cancelled"),
        "price_per_unit": price,
        "currency": currency,
        "tax": amount(dig(item, "tax_details", "estimated_tax"), f"{at}.tax_details.estimated_tax"),
        "captured_tax": amount(
            dig(item, "tax_details", "captured_tax", "total_tax"), f"{at}.tax_details.captured_tax.total_tax"
        ),
        "shipping_option_name": option.get("name"),
        "shipping_option_price": amount(option.get("price"), f"{at}.selected_shipping_option.price"),
        "shipping_option_tax": amount(option.get("calculated_tax"), f"{at}.selected_shipping_option.calculated_tax"),
        "synced_at": synced_at,
    }


def shipment_row(order_id: str, shipment: dict[str, Any], synced_at: dt.datetime) -> dict[str, Any]:
    tracking = shipment.get("tracking_info") or {}
    return {
        "shipment_id": str(shipment["id"]),
        "order_id": str(order_id),
        "external_shipment_id": shipment.get("external_shipment_id"),
        "carrier": tracking.get("carrier"),
        "tracking_number": tracking.get("tracking_number"),
        "shipping_method_name": tracking.get("shipping_method_name"),
        "items": edge(shipment, "items"),
        "synced_at": synced_at,
        "raw": shipment,
    }


def cancellation_row(order_id: str, cancellation: dict[str, Any], synced_at: dt.datetime) -> dict[str, Any]:
    reason = cancellation.get("cancel_reason") or {}
    return {
        "cancellation_id": str(cancellation["id"]),
        "order_id": str(order_id),
        "reason_code": reason.get("reason_code"),
        "reason_description": reason.get("reason_description"),
        "restock_items": cancellation.get("restock_items"),
        "items": edge(cancellation, "items") or None,
        "synced_at": synced_at,
        "raw": cancellation,
    }


def refund_row(order_id: str, refund: dict[str, Any], synced_at: dt.datetime) -> dict[str, Any]:
    totals = refund.get("refund_amount") or {}
    with named("refund", refund):
        subtotal, currency = money(totals.get("subtotal"), "refund_amount.subtotal")
        total, total_currency = money(totals.get("total") or totals.get("amount"), "refund_amount.total")
        shipping = amount(totals.get("shipping"), "refund_amount.shipping")
        tax = amount(totals.get("tax"), "refund_amount.tax")
    reason = refund.get("refund_reason") or {}
    return {
        "refund_id": str(refund["id"]),
        "order_id": str(order_id),
        "reason_code": reason.get("reason_code") or refund.get("reason_code"),
        "reason_text": reason.get("reason_text") or refund.get("reason_text"),
        "currency": currency or total_currency,
        "subtotal": subtotal,
        "shipping": shipping,
        "tax": tax,
        "total": total,
        "items": edge(refund, "items"),
        "synced_at": synced_at,
        "raw": refund,
    }


def return_row(order_id: str, item: dict[str, Any], synced_at: dt.datetime) -> dict[str, Any]:
    return {
        "return_id": str(item["id"]),
        "order_id": str(order_id),
        "merchant_return_id": item.get("merchant_return_id"),
        "return_status": item.get("return_status"),
        "return_message": item.get("return_message"),
        "created_at": timestamp(item.get("created_time") or item.get("created")),
        "items": edge(item, "items") or None,
        "item_return_quantities": item.get("item_return_quantities"),
        "item_return_reasons": item.get("item_return_reasons"),
        "synced_at": synced_at,
        "raw": item,
    }


#: the order edges read back into their tables, with the row builder and the table name
READ_BACK_EDGES = {
    "shipments": (shipment_row, "fb_shipments"),
    "cancellations": (cancellation_row, "fb_cancellations"),
    "refunds": (refund_row, "fb_refunds"),
    "returns": (return_row, "fb_returns"),
}
