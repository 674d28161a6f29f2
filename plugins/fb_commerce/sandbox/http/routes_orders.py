"""Graph endpoints of the Order Management API (docs/graph-api.md §1): list, read, acknowledge, ship, cancel, refund."""

from __future__ import annotations

from typing import Any

from ..world import errors as E
from ..world import orders as ops
from ..world.model import CREATED, ORDER_STATES, Order, Return
from .graph import ORDERS_READ, ORDERS_WRITE, GraphRequest, route
from .views_orders import ORDER, ORDER_EDGES, RETURN

# The reference gives no maximum page size for commerce_orders: 100 is an unconfirmed, conservative cap.
ORDERS_PAGE_CAP = 100
_FILTERS = {
    "no_shipments": lambda o: not o.shipments,
    "has_fulfillments": lambda o: bool(o.shipments),
    "has_cancellations": lambda o: bool(o.cancellations),
    "no_cancellations": lambda o: not o.cancellations,
    "has_refunds": lambda o: bool(o.refunds),
    "no_refunds": lambda o: not o.refunds,
}


def _comma_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]


@route("page", "commerce_orders", permissions=ORDERS_READ)  # the SDK also lists orders on the Page
@route("cms", "commerce_orders", permissions=ORDERS_READ)
def list_orders(req: GraphRequest, cms: Any) -> dict[str, Any]:
    """``state`` is OR'd (default CREATED), ``filters`` AND'd, ``updated_after``/``updated_before`` Unix times."""
    states = [s.upper() for s in _comma_list(req.json_param("state", CREATED))]
    for s in states:
        if s not in ORDER_STATES:
            raise E.invalid_param(f"state must be among {', '.join(ORDER_STATES)}", field_name="state")
    names = [f.lower() for f in _comma_list(req.json_param("filters", ""))]
    for name in names:
        if name not in _FILTERS:
            raise E.invalid_param(f"filters must be among {', '.join(sorted(_FILTERS))}", field_name="filters")
    checks = [_FILTERS[n] for n in names]
    after, before = req.int_param("updated_after"), req.int_param("updated_before")
    by_key = req.sb.orders_by_key

    def accept(k: Any) -> Order | None:
        order = by_key[k]
        updated = int(order.last_updated)
        if (after is not None and updated <= after) or (before is not None and updated >= before):
            return None
        return order if all(check(order) for check in checks) else None

    sources = [req.sb.state_index[s] for s in dict.fromkeys(states)]
    # Only a filtered scan can come back short or empty (it stops after page_scan_budget keys, with next).
    budget = req.sb.config.page_scan_budget if (checks or after is not None or before is not None) else None
    return req.page(sources, accept, ORDER, cap=ORDERS_PAGE_CAP, budget=budget)


@route("order", None, permissions=ORDERS_READ)
def get_order(req: GraphRequest, order: Order) -> dict[str, Any]:
    return ORDER.render(order, req.fields(), req.view())


def _edge_reader(edge: str) -> Any:
    schema, pick = ORDER_EDGES[edge]

    def read(req: GraphRequest, order: Order) -> dict[str, Any]:
        return req.render_list(list(pick(order)), schema)

    read.__name__ = f"get_order_{edge}"
    return read


for _edge in ORDER_EDGES:
    route("order", _edge, permissions=ORDERS_READ)(_edge_reader(_edge))


@route("return", None, permissions=ORDERS_READ)
def get_return(req: GraphRequest, ret: Return) -> dict[str, Any]:
    return RETURN.render(ret, req.fields(), req.view())


@route("cms", "returns", permissions=ORDERS_READ)
def list_returns(req: GraphRequest, cms: Any) -> dict[str, Any]:
    start, end = req.int_param("start_time_created"), req.int_param("end_time_created")
    wanted = [
        r for r in req.sb.returns.values() if (start is None or r.created >= start) and (end is None or r.created < end)
    ]
    return req.render_list(sorted(wanted, key=lambda r: (-r.created, r.id)), RETURN)


# --- writes ---------------------------------------------------------------------------------------------------

_ORDER_WRITE = {"permissions": ORDERS_WRITE, "write": True, "idempotent": True}


@route("order", "acknowledge_order", "POST", **_ORDER_WRITE)
def acknowledge_order(req: GraphRequest, order: Order) -> dict[str, Any]:
    return ops.acknowledge(req.sb, order, req.param("merchant_order_reference"), req.now)


def _listed_ids(req: GraphRequest, cms: Any) -> list[str]:
    entries = req.json_param("orders", [])
    if not isinstance(entries, list):
        return []
    return [str(e["id"]) for e in entries if isinstance(e, dict) and "id" in e]


@route("cms", "acknowledge_orders", "POST", targets=_listed_ids, **_ORDER_WRITE)
def acknowledge_orders(req: GraphRequest, cms: Any) -> dict[str, Any]:
    body, applied = ops.acknowledge_batch(req.sb, req.json_param("orders"), req.now)
    req.applied = applied
    return body


def _write_params(req: GraphRequest, structured: tuple[str, ...], plain: tuple[str, ...]) -> dict[str, Any]:
    params = {name: req.json_param(name) for name in structured}
    params.update({name: req.param(name) for name in plain})
    return {k: v for k, v in params.items() if v is not None}


@route("order", "shipments", "POST", **_ORDER_WRITE)
def create_shipment(req: GraphRequest, order: Order) -> dict[str, Any]:
    params = _write_params(
        req,
        ("items", "tracking_info", "fulfillment", "shipping_tax_details"),
        ("external_shipment_id", "merchant_order_reference", "shipment_origin_postal_code"),
    )
    ops.ship(req.sb, order, params, req.now)
    return {"success": True}


@route("order", "update_shipment", "POST", **_ORDER_WRITE)
def update_shipment(req: GraphRequest, order: Order) -> dict[str, Any]:
    params = _write_params(req, ("tracking_info",), ("shipment_id", "fulfillment_id", "external_shipment_id"))
    ops.update_shipment(req.sb, order, params, req.now)
    return {"success": True}


@route("order", "cancellations", "POST", **_ORDER_WRITE)
def create_cancellation(req: GraphRequest, order: Order) -> dict[str, Any]:
    params = _write_params(req, ("items", "cancel_reason"), ("restock_items",))
    if "cancel_reason" not in params and req.param("reason_code"):  # older copies of the docs: flat reason_code
        params["cancel_reason"] = {
            "reason_code": req.param("reason_code"),
            "reason_description": req.param("reason_description"),
        }
    ops.cancel(req.sb, order, params, req.now)
    return {"success": True}


@route("order", "refunds", "POST", **_ORDER_WRITE)
def create_refund(req: GraphRequest, order: Order) -> dict[str, Any]:
    params = _write_params(req, ("items", "shipping", "deductions"), ("reason_code", "reason_text", "return_id"))
    ops.refund(req.sb, order, params, req.now)
    return {"success": True}
