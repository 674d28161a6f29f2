"""Graph payloads of outbox requests, and their idempotency keys.

The payload is built from the row alone (plus the order's currency for amounts), with the parameter names of
:mod:`fb_commerce.graph.surface`. The idempotency key is derived from the request's kind, its request_id and
the canonical payload, so every attempt at the same row (a client retry, a task retry, a rerun of the DAG, a
rerun after a task was killed) sends the same key and Meta applies it once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fb_commerce.graph import surface
from fb_commerce.graph.idempotency import idempotency_key
from fb_commerce.orders.updates.requests import CANCEL, REFUND, SHIP, UPDATE_TRACKING, OutboxRequest
from fb_commerce.orders.updates.validate import DEFAULT_CANCEL_REASON

_ALLOWED = {
    SHIP.name: surface.SHIPMENT_PARAMS,
    UPDATE_TRACKING.name: surface.UPDATE_SHIPMENT_PARAMS,
    CANCEL.name: surface.CANCELLATION_PARAMS,
    REFUND.name: surface.REFUND_PARAMS,
}


def _money(value: Any, currency: str | None) -> dict[str, str]:
    return {"amount": f"{Decimal(str(value)):.2f}", "currency": str(currency or "").upper()}


def _id_of(entry: dict[str, Any]) -> dict[str, str]:
    """The entry's own id (retailer_id or item_id, as the OMS wrote it)."""
    name = "retailer_id" if entry.get("retailer_id") not in (None, "") else "item_id"
    return {name: str(entry[name])}


def _units(items: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if items is None:
        return None  # omitted: Meta ships / cancels everything left
    return [{**_id_of(entry), "quantity": int(str(entry["quantity"]).strip())} for entry in items]


def _tracking_info(request: OutboxRequest) -> dict[str, str]:
    info = {
        "carrier": str(request.get("carrier")).strip().lower(),
        "tracking_number": str(request.get("tracking_number")).strip(),
    }
    if request.get("shipping_method"):
        info["shipping_method_name"] = str(request.get("shipping_method"))
    return info


def _ship(request: OutboxRequest, currency: str | None) -> dict[str, Any]:
    # merchant_order_reference is optional and only checked against Meta's copy: it is left out, because an
    # order acknowledged elsewhere carries another reference than ours and every shipment would fail.
    payload: dict[str, Any] = {
        "tracking_info": _tracking_info(request),
        "items": _units(request.get("items")),
    }
    if request.get("external_shipment_id"):
        payload["external_shipment_id"] = str(request.get("external_shipment_id"))
    if request.get("fulfillment_location_id"):
        payload["fulfillment"] = {"fulfillment_location_id": str(request.get("fulfillment_location_id"))}
    elif request.get("fulfillment_address"):
        payload["fulfillment"] = {"fulfillment_address": dict(request.get("fulfillment_address"))}
    return payload


def _update_tracking(request: OutboxRequest, currency: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"tracking_info": _tracking_info(request)}
    if request.get("shipment_id"):
        payload["shipment_id"] = str(request.get("shipment_id"))
    else:
        payload["external_shipment_id"] = str(request.get("external_shipment_id"))
    return payload


def _cancel(request: OutboxRequest, currency: str | None) -> dict[str, Any]:
    reason: dict[str, str] = {"reason_code": request.get("reason_code") or DEFAULT_CANCEL_REASON}
    if request.get("reason_description"):
        reason["reason_description"] = str(request.get("reason_description"))
    return {
        "cancel_reason": reason,
        "restock_items": bool(request.get("restock_items")),
        "items": _units(request.get("items")),
    }


def _refund_item(entry: dict[str, Any], currency: str | None) -> dict[str, Any]:
    if entry.get("quantity") is not None:
        return {**_id_of(entry), "item_refund_quantity": int(str(entry["quantity"]).strip())}
    return {**_id_of(entry), "item_refund_amount": _money(entry["amount"], currency)}


def _refund(request: OutboxRequest, currency: str | None) -> dict[str, Any]:
    currency = request.get("currency") or currency
    items = request.get("items")
    payload: dict[str, Any] = {
        "reason_code": request.get("reason_code"),
        "reason_text": request.get("reason_text"),
        "items": None if items is None else [_refund_item(entry, currency) for entry in items],
        "return_id": request.get("return_id"),
    }
    if request.get("shipping_refund") is not None:
        payload["shipping"] = {"shipping_refund": _money(request.get("shipping_refund"), currency)}
    if request.get("return_shipping_deduction") is not None:
        deduction = _money(request.get("return_shipping_deduction"), currency)
        payload["deductions"] = [{"deduction_type": surface.DEDUCTION_TYPES[0], "deduction_amount": deduction}]
    return payload


_BUILDERS = {
    SHIP.name: _ship,
    UPDATE_TRACKING.name: _update_tracking,
    CANCEL.name: _cancel,
    REFUND.name: _refund,
}


def build_payload(request: OutboxRequest, currency: str | None = None) -> dict[str, Any]:
    """The Graph parameters of a validated request, without the idempotency key; empty values left out.

    :param currency: the order's currency, for amounts when the row has none.
    """
    payload = {k: v for k, v in _BUILDERS[request.kind.name](request, currency).items() if v is not None}
    unknown = set(payload) - set(_ALLOWED[request.kind.name])
    if unknown:  # a programming error: the surface registry is what Meta accepts
        raise ValueError(f"{request.kind.name} payload has parameters Meta does not take: {sorted(unknown)}")
    return payload


def request_key(request: OutboxRequest, payload: dict[str, Any]) -> str:
    """The idempotency key of a request: the same row and payload always give the same key."""
    return idempotency_key(request.kind.name, request.order_id, {"request_id": request.request_id, "payload": payload})


def graph_path(request: OutboxRequest) -> str:
    """Where the request is posted: ``{order_id}/{edge}``."""
    return f"{request.order_id}/{request.kind.edge}"
