"""The admin API under /_sandbox/ (the contract in the README, "The Graph API sandbox").

No token needed, never faulted.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse

from ..world import orders as ops
from ..world import plants
from ..world.catalog import error_report_csv
from ..world.errors import GraphError
from ..world.faults import FaultConfig
from ..world.model import ORDER_STATES
from ..world.sandbox import Sandbox
from ..world.seed import live_orders
from ..world.store import SeedParams
from .snapshot import SECTIONS, snapshot


def _bad(exc: Exception) -> HTTPException:
    return HTTPException(status_code=400, detail=str(exc))


def _refused(exc: GraphError) -> HTTPException:
    """Meta's own rules refused an admin action (e.g. cancelling shipped items): say which, with the code."""
    return HTTPException(
        status_code=400, detail={"message": exc.message, "code": exc.code, "error_subcode": exc.subcode}
    )


def _restocks(sb: Sandbox, order: Any, lines: list[tuple[str, int]]) -> dict[str, int]:
    """{retailer_id: units} a restocking cancellation put back into the catalog."""
    put_back: dict[str, int] = {}
    for item_id, quantity in lines:
        line = order.item(item_id)
        if line is not None and line.retailer_id in sb.products:
            put_back[line.retailer_id] = put_back.get(line.retailer_id, 0) + quantity
    return put_back


def admin_router(sb: Sandbox) -> APIRouter:
    """The admin endpoints bound to one sandbox."""
    api = APIRouter(prefix="/_sandbox")
    hosted = Path(tempfile.mkdtemp(prefix="fb-sandbox-files-"))

    @api.get("/health")
    def health() -> dict[str, Any]:
        with sb.lock:
            return {"ok": True, "orders": len(sb.orders), "products": len(sb.products), "seed": sb.params.seed}

    @api.post("/reset")
    def reset() -> dict[str, Any]:
        sb.reset()
        return {"ok": True, "orders": len(sb.orders), "products": len(sb.products)}

    @api.post("/seed")
    def seed(payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        current = sb.params
        try:
            params = SeedParams(
                seed=int(payload.get("seed", current.seed)),
                orders=int(payload.get("orders", current.orders)),
                products=int(payload.get("products", current.products)),
                days=int(payload.get("days", current.days)),
                anchor=float(payload["anchor"]) if payload.get("anchor") is not None else None,
            )
        except (TypeError, ValueError) as exc:
            raise _bad(exc) from exc
        if min(params.orders, params.products, params.days) < 0:
            raise _bad(ValueError("orders, products and days must be >= 0"))
        sb.load(params)
        return {"ok": True, "orders": len(sb.orders), "products": len(sb.products)}

    @api.get("/faults")
    def get_faults() -> dict[str, Any]:
        return sb.faults.to_dict()

    @api.post("/faults")
    def set_faults(payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        try:
            cfg = FaultConfig.from_payload(payload)
        except (TypeError, ValueError) as exc:
            raise _bad(exc) from exc
        with sb.lock:
            sb.faults = cfg
        return cfg.to_dict()

    @api.get("/config")
    def get_config() -> dict[str, Any]:
        return sb.config.to_dict()

    @api.post("/config")
    def set_config(payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        with sb.lock:
            try:
                sb.config.update(payload)
            except (TypeError, ValueError) as exc:
                raise _bad(exc) from exc
            sb.usage.budget = max(1, sb.config.app_calls_per_minute)
            return sb.config.to_dict()

    @api.get("/clock")
    def get_clock() -> dict[str, Any]:
        return {"now": sb.now(), "offset_seconds": sb.clock.offset}

    @api.post("/clock")
    def clock(payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        try:
            now = sb.advance(float(payload.get("advance_seconds", 0)))
        except (TypeError, ValueError) as exc:
            raise _bad(exc) from exc
        return {"now": now, "offset_seconds": sb.clock.offset}

    @api.get("/state")
    def state(request: Request, include: str | None = None) -> JSONResponse:
        wanted = {s.strip() for s in include.split(",") if s.strip()} if include else None
        if wanted and not wanted <= set(SECTIONS):
            raise _bad(ValueError(f"include must be among {', '.join(SECTIONS)}"))
        with sb.lock:
            sb.tick()
            return JSONResponse(snapshot(sb, str(request.base_url).rstrip("/"), wanted))

    @api.get("/stats")
    def stats() -> dict[str, Any]:
        with sb.lock:
            return sb.stats.to_dict() | {"idempotency_keys": len(sb.idempotency), "graph_requests": sb.seq}

    @api.post("/orders")
    def create_orders(payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        state = str(payload.get("state", "CREATED")).upper()
        if state not in ORDER_STATES:
            raise _bad(ValueError(f"state must be among {', '.join(ORDER_STATES)}"))
        try:
            count = int(payload.get("count", 1))
            minutes = payload.get("processing_minutes")
            minutes = float(minutes) if minutes is not None else None
        except (TypeError, ValueError) as exc:
            raise _bad(exc) from exc
        with sb.lock:
            sb.tick()
            return {"ids": live_orders(sb, count, state, minutes)}

    def as_meta(order_id: str, action: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        """Run a change Meta makes itself on a live order, under the lock; Meta's rule errors become a 400."""
        with sb.lock:
            sb.tick()
            order = sb.orders.get(order_id)
            if order is None:
                raise HTTPException(status_code=404, detail=f"no order {order_id}")
            try:
                return {"order_id": order.id, **action(order), "state": order.state}
            except GraphError as exc:
                raise _refused(exc) from exc

    @api.post("/orders/{order_id}/cancel")
    def cancel_order(order_id: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        """Meta cancels a live order itself (buyer support, a missed SLA): ``items`` as in Graph's cancellations
        (None: everything unshipped), ``restock`` puts the units back into the catalog's quantities."""
        reason = {"reason_code": str(payload.get("reason") or "CANCEL_REASON_OTHER")}
        if payload.get("description"):
            reason["reason_description"] = str(payload["description"])
        params = {
            "items": payload.get("items"),
            "cancel_reason": reason,
            "restock_items": payload.get("restock", False),
        }

        def cancel(order: Any) -> dict[str, Any]:
            cancellation = ops.cancel(sb, order, params, sb.now(), initiated_by="FACEBOOK")
            restocked = _restocks(sb, order, cancellation.lines) if cancellation.restock_items else {}
            return {"id": cancellation.id, "restocked": restocked}

        return as_meta(order_id, cancel)

    @api.post("/orders/{order_id}/refund")
    def refund_order(order_id: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        """Meta refunds a live order itself: ``items`` as in Graph's refunds (None: everything shipped and not
        refunded, plus shipping), ``reason`` (default FACEBOOK_INITIATED), ``reason_text``, ``shipping``."""
        params: dict[str, Any] = {
            "items": payload.get("items"),
            "reason_code": str(payload.get("reason") or "FACEBOOK_INITIATED"),
            "reason_text": payload.get("reason_text"),
        }
        if payload.get("shipping") is not None:
            params["shipping"] = {"shipping_refund": payload["shipping"]}

        def refund(order: Any) -> dict[str, Any]:
            result = ops.refund(sb, order, params, sb.now(), initiated_by="FACEBOOK")
            return {"id": result.id, "total": str(result.total)}

        return as_meta(order_id, refund)

    @api.post("/plants")
    def plant(payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        """Plant one finance discrepancy (``world/plants.py``): ``kind`` (payout_short, payout_failed,
        missing_sale, tax_mismatch, fee_off_rate, late_transaction), a target (``payout_reference_id`` for payout
        kinds, ``shipment_id`` or ``order_id`` for SALE kinds, or ``next: true``, or ``pick: true`` with optional
        ``since``/``before``) and ``amount`` / ``jurisdiction`` / ``days``. Answers the plant: its target, status
        (``applied`` or ``waiting`` for the next one) and ``changed`` (ids, expected, actual, difference)."""
        with sb.lock:
            sb.tick()
            try:
                return plants.as_dict(plants.plant(sb, payload))
            except plants.PlantRefused as exc:
                raise _bad(exc) from exc

    @api.get("/plants")
    def list_plants() -> list[dict[str, Any]]:
        """Every plant so far, in planting order, with what each changed once applied."""
        with sb.lock:
            sb.tick()
            return [plants.as_dict(p) for p in sb.plants]

    @api.get("/files/error_reports/{upload_id}.csv")
    def error_report(upload_id: str) -> PlainTextResponse:
        with sb.lock:
            upload = sb.uploads.get(upload_id)
            if upload is None or upload.end is None or upload.error_report_requested is None:
                raise HTTPException(status_code=404, detail="no such error report")
            return PlainTextResponse(error_report_csv(upload), media_type="text/csv")

    @api.put("/files/{name}")
    async def host_file(name: str, request: Request) -> dict[str, Any]:
        """Host a file (e.g. a feed for ``POST /{feed_id}/uploads`` with ``url``) at /_sandbox/files/<name>."""
        if "/" in name or name.startswith("."):
            raise _bad(ValueError("bad file name"))
        size = 0
        with open(hosted / name, "wb") as fh:
            async for chunk in request.stream():
                fh.write(chunk)
                size += len(chunk)
        return {"url": f"{str(request.base_url).rstrip('/')}/_sandbox/files/{name}", "size": size}

    @api.get("/files/{name}")
    def hosted_file(name: str) -> FileResponse:
        path = hosted / name
        if "/" in name or not path.is_file():
            raise HTTPException(status_code=404, detail="no such file")
        return FileResponse(path)

    return api
