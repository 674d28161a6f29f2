"""The admin API: deterministic seeding, reset, state and stats contents, live orders, bad input."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import requests

from fb_commerce import defaults
from fb_commerce.sandbox.client import SandboxAdminError, SandboxGraph
from fb_commerce.sandbox.http.snapshot import SECTIONS

CMS = defaults.SANDBOX_CMS_ID


def _without_clock(state: dict) -> dict:
    state = dict(state)
    state.pop("clock", None)
    return state


def test_same_seed_and_anchor_give_identical_state(sandbox) -> None:
    anchor = 1_780_000_000
    sandbox.admin.seed(seed=11, orders=120, products=40, days=10, anchor=anchor)
    first = _without_clock(sandbox.admin.state())
    sandbox.admin.seed(seed=12, orders=120, products=40, days=10, anchor=anchor)
    other = _without_clock(sandbox.admin.state())
    sandbox.admin.seed(seed=11, orders=120, products=40, days=10, anchor=anchor)
    again = _without_clock(sandbox.admin.state())
    assert first == again
    assert first["orders"] != other["orders"]


def test_same_seed_at_another_moment_differs_only_in_time(sandbox) -> None:
    def shape(state: dict) -> list:
        return [
            (
                o["id"],
                o["state"],
                o["channel"],
                o["merchant_order_reference"],
                [(i["retailer_id"], i["quantity"], i["price_per_unit"]["amount"]) for i in o["items"]["data"]],
            )
            for o in state["orders"]
        ]

    sandbox.admin.seed(seed=5, orders=60)  # anchored at now
    first = shape(sandbox.admin.state(include="orders"))
    sandbox.admin.seed(seed=5, orders=60, anchor=time.time() + 2)  # another moment
    assert shape(sandbox.admin.state(include="orders")) == first


def test_ten_thousand_orders_seed_and_look_real(sandbox) -> None:
    sandbox.admin.seed(orders=10_000, products=300, days=30)
    graph = SandboxGraph(sandbox.url)
    pages = graph.pages(
        f"{CMS}/commerce_orders",
        state="FB_PROCESSING,CREATED,IN_PROGRESS,COMPLETED",
        limit=100,
        fields="id,order_status,channel,buyer_details,items{quantity},promotion_details",
    )
    orders = [o for p in pages for o in p["data"]]
    assert len(orders) == 10_000 and len(pages) == 100
    states = Counter(o["order_status"]["state"] for o in orders)
    assert set(states) == {"FB_PROCESSING", "CREATED", "IN_PROGRESS", "COMPLETED"}
    assert 2.7 <= sum(len(o["items"]["data"]) for o in orders) / len(orders) <= 3.3
    assert {len(o["items"]["data"]) for o in orders} == {1, 2, 3, 4, 5}
    assert Counter(o["channel"] for o in orders).keys() == {"facebook", "instagram"}
    assert sum(1 for o in orders if "promotion_details" in o and o["promotion_details"]["data"]) > 500
    sandbox.admin.reset()
    assert sandbox.admin.health()["orders"] == defaults.SANDBOX_ORDERS


def test_reset_restores_everything(sandbox) -> None:
    graph = SandboxGraph(sandbox.url)
    sandbox.admin.seed(seed=3, orders=5)
    sandbox.admin.faults(error_rate=0.5)
    sandbox.admin.config(upload_delay_seconds=9)
    sandbox.admin.clock(3600)
    graph.get("me")
    sandbox.admin.reset()
    assert requests.get(f"{sandbox.url}/_sandbox/faults", timeout=10).json()["error_rate"] == 0
    assert sandbox.admin.config()["upload_delay_seconds"] == 1.0
    assert requests.get(f"{sandbox.url}/_sandbox/clock", timeout=10).json()["offset_seconds"] == 0
    stats = sandbox.admin.stats()
    assert stats["total_requests"] == 0 and stats["graph_requests"] == 0
    state = sandbox.admin.state(include="orders")
    assert state["seed"] == {
        "seed": defaults.SANDBOX_SEED,
        "orders": defaults.SANDBOX_ORDERS,
        "products": defaults.SANDBOX_PRODUCTS,
        "days": defaults.SANDBOX_DAYS,
    }


def test_state_has_the_whole_truth(sandbox) -> None:
    state = sandbox.admin.state()
    assert (set(SECTIONS) - {"account"}) | {"order_management_apps", "pending_payout_transactions"} <= set(state)
    order = next(o for o in state["orders"] if o["state"] == "COMPLETED" and o["shipments"]["data"])
    for key in (
        "state",
        "merchant_order_reference",
        "acknowledged_count",
        "items",
        "shipments",
        "cancellations",
        "refunds",
        "returns",
        "buyer_details",
        "estimated_payment_details",
    ):
        assert key in order
    assert order["acknowledged_count"] == 1
    processing = next(o for o in state["orders"] if o["state"] == "FB_PROCESSING")
    assert processing["buyer_details"]["email"]  # hidden from the API, not from the truth
    assert {"transaction_ids", "payout_reference_id", "amount"} <= set(state["payouts"][0])
    assert len(state["products"]) == defaults.SANDBOX_PRODUCTS
    with pytest.raises(SandboxAdminError):
        sandbox.admin.state(include="everything")


def test_stats_count_requests_per_endpoint(sandbox) -> None:
    graph = SandboxGraph(sandbox.url)
    graph.get("me")
    graph.get(f"{CMS}/commerce_orders")
    graph.get(f"{CMS}/commerce_orders")
    graph.get("12345")
    stats = sandbox.admin.stats()
    assert stats["requests"] == {"GET /me": 1, "GET /{cms_id}/commerce_orders": 2, "GET /{unknown}": 1}
    assert stats["failed"] == 1 and stats["statuses"] == {"200": 3, "400": 1}


def test_admin_rejects_bad_input(sandbox) -> None:
    with pytest.raises(SandboxAdminError):
        sandbox.admin.faults(error_rate=2)
    with pytest.raises(SandboxAdminError):
        sandbox.admin.faults(nonsense=1)
    with pytest.raises(SandboxAdminError):
        sandbox.admin.config(no_such_knob=1)
    with pytest.raises(SandboxAdminError):
        sandbox.admin.clock(-5)
    with pytest.raises(SandboxAdminError):
        sandbox.admin.create_orders(1, state="SHIPPED")
    assert sandbox.admin.health()["ok"] is True


def _live_order(sandbox, state: str) -> dict:
    [order_id] = sandbox.admin.create_orders(1, state=state)
    return next(o for o in sandbox.admin.state(include="orders")["orders"] if o["id"] == order_id)


def _quantities(sandbox) -> dict[str, int]:
    return {
        p["retailer_id"]: p["quantity_to_sell_on_facebook"] for p in sandbox.admin.state(include="products")["products"]
    }


def test_admin_cancels_a_live_order_as_meta_with_a_restock(sandbox) -> None:
    order = _live_order(sandbox, "IN_PROGRESS")
    before = _quantities(sandbox)
    first = order["items"]["data"][0]
    answer = sandbox.admin.cancel_order(
        order["id"], items=[{"item_id": first["id"], "quantity": 1}], restock=True, reason="CUSTOMER_REQUESTED"
    )
    assert answer["restocked"] == {first["retailer_id"]: 1}
    after = _quantities(sandbox)
    assert after[first["retailer_id"]] == before[first["retailer_id"]] + 1  # Meta raised the stock by itself
    assert {k: v for k, v in after.items() if k != first["retailer_id"]} == {
        k: v for k, v in before.items() if k != first["retailer_id"]
    }
    cancelled = next(o for o in sandbox.admin.state(include="orders")["orders"] if o["id"] == order["id"])
    [cancellation] = cancelled["cancellations"]["data"]
    assert cancellation["id"] == answer["id"] and cancellation["cancel_reason"]["reason_code"] == "CUSTOMER_REQUESTED"
    # Graph sees it like any cancellation: has_cancellations lists the order
    listed = (
        SandboxGraph(sandbox.url)
        .get(f"{defaults.SANDBOX_CMS_ID}/commerce_orders", state="IN_PROGRESS,COMPLETED", filters="has_cancellations")
        .json()["data"]
    )
    assert order["id"] in {o["id"] for o in listed}

    rest = sandbox.admin.cancel_order(order["id"])  # the rest, no restock: quantities stay
    assert rest["restocked"] == {} and rest["state"] == "COMPLETED" and _quantities(sandbox) == after
    with pytest.raises(SandboxAdminError, match="already cancelled"):
        sandbox.admin.cancel_order(order["id"])
    with pytest.raises(SandboxAdminError, match="404"):
        sandbox.admin.cancel_order("no-such-order")


def test_admin_refunds_a_shipped_order_as_meta(sandbox) -> None:
    order = _live_order(sandbox, "COMPLETED")
    answer = sandbox.admin.refund_order(order["id"], reason_text="Refunded by buyer support")
    refunded = next(o for o in sandbox.admin.state(include="orders")["orders"] if o["id"] == order["id"])
    [refund] = refunded["refunds"]["data"]
    assert refund["id"] == answer["id"] and float(answer["total"]) > 0
    with pytest.raises(SandboxAdminError, match="already"):
        sandbox.admin.refund_order(order["id"])
