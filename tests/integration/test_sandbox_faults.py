"""Faults, throttling and usage headers over HTTP: deterministic per seed, with the documented codes."""

from __future__ import annotations

import json
import time

import pytest
import requests

from fb_commerce import defaults
from fb_commerce.sandbox.client import SandboxGraph

CMS = defaults.SANDBOX_CMS_ID
BUSINESS = defaults.SANDBOX_BUSINESS_ID


@pytest.fixture
def graph(sandbox) -> SandboxGraph:
    return SandboxGraph(sandbox.url)


def outcomes(sandbox, graph: SandboxGraph, n: int) -> list[tuple[int, int | None]]:
    sandbox.admin.reset()
    sandbox.admin.faults(error_rate=0.2, throttle_rate=0.2, timeout_rate=0.05, timeout_ms=10)
    out = []
    for _ in range(n):
        response = graph.get(f"{CMS}/commerce_orders", limit=2)
        out.append((response.status_code, response.json().get("error", {}).get("code")))
    return out


def test_faults_are_deterministic_per_seed(sandbox, graph) -> None:
    first = outcomes(sandbox, graph, 60)
    second = outcomes(sandbox, graph, 60)
    assert first == second
    kinds = {code for _, code in first}
    assert {None, 80001} <= kinds and ({1, 2} & kinds)
    stats = sandbox.admin.stats()
    assert stats["faults"]["error"] + stats["faults"]["throttle"] + stats["timeouts"] == sum(
        1 for status, _ in second if status >= 400
    )
    sandbox.admin.seed(seed=7)
    sandbox.admin.faults(error_rate=0.2, throttle_rate=0.2, timeout_rate=0.05, timeout_ms=10)
    other = [graph.get(f"{CMS}/commerce_orders", limit=2).status_code for _ in range(60)]
    assert other != [status for status, _ in first]


def test_injected_errors_have_the_graph_shape(sandbox, graph) -> None:
    sandbox.admin.faults(error_rate=1.0)
    response = graph.get("me")
    error = response.json()["error"]
    assert response.status_code in (500, 503) and error["code"] in (1, 2) and error["is_transient"] is True
    assert error["fbtrace_id"] and response.headers["X-App-Usage"]
    assert requests.get(f"{sandbox.url}/_sandbox/health", timeout=10).status_code == 200  # admin is never faulted


def test_throttle_codes_and_regain_time(sandbox, graph) -> None:
    sandbox.admin.faults(throttle_rate=1.0, throttle_regain_minutes=7)
    orders = graph.get(f"{CMS}/commerce_orders")
    assert orders.status_code == 429 and orders.json()["error"]["code"] == 80001
    buc = json.loads(orders.headers["X-Business-Use-Case-Usage"])[BUSINESS][0]
    assert buc["estimated_time_to_regain_access"] == 7 and buc["call_count"] >= 100
    assert json.loads(orders.headers["X-App-Usage"])["call_count"] >= 100
    catalog = graph.get(f"{defaults.SANDBOX_CATALOG_ID}/products")
    assert catalog.json()["error"]["code"] == 80009
    sandbox.admin.faults(throttle_rate=1.0, throttle_code=4)
    app = graph.get("me")
    assert app.status_code == 400 and app.json()["error"]["code"] == 4
    assert sandbox.admin.stats()["throttled"] == 3


def test_paths_filter_limits_faults(sandbox, graph) -> None:
    sandbox.admin.faults(error_rate=1.0, paths=["/commerce_payouts"])
    assert graph.get("me").status_code == 200
    assert graph.get(f"{CMS}/commerce_payouts").status_code >= 500


def test_timeout_applies_the_write_then_loses_the_answer(sandbox, graph) -> None:
    order = next(o for o in sandbox.admin.state(include="orders")["orders"] if o["state"] == "CREATED")
    sandbox.admin.faults(timeout_rate=1.0, timeout_ms=800)
    payload = {"idempotency_key": "lost0001", "merchant_order_reference": "R1"}
    with pytest.raises(requests.Timeout):
        requests.post(
            graph.url(f"{order['id']}/acknowledge_order"), params=graph.credentials, data=payload, timeout=0.3
        )
    sandbox.admin.faults()

    def stored() -> dict:
        return next(o for o in sandbox.admin.state(include="orders")["orders"] if o["id"] == order["id"])

    deadline = time.monotonic() + 10  # the server applies the write while the client has given up
    while stored()["acknowledged_count"] == 0:
        assert time.monotonic() < deadline, "the timed-out write was never applied"
    state = stored()
    assert state["state"] == "IN_PROGRESS" and state["acknowledged_count"] == 1
    while (retry := graph.post(f"{order['id']}/acknowledge_order", data=payload)).json().get("error", {}).get(
        "error_subcode"
    ) == 2361050:  # the lost answer's handler still holds the order: Meta says retry, as the client would
        assert time.monotonic() < deadline, "the order stayed busy"
    assert retry.json() == {"id": order["id"], "state": "IN_PROGRESS"}  # replayed, not applied again
    stats = sandbox.admin.stats()
    assert stats["idempotent_replays"] == 1 and stats["timeouts"] == 1
    assert stats["writes"]["POST /{order_id}/acknowledge_order"] == {order["id"]: 1}


def test_conflict_faults_on_writes_only(sandbox, graph) -> None:
    sandbox.admin.faults(conflict_rate=1.0)
    assert graph.get(f"{CMS}/commerce_orders").status_code == 200
    order = next(o for o in sandbox.admin.state(include="orders")["orders"] if o["state"] == "CREATED")
    response = graph.post(f"{order['id']}/acknowledge_order", data={"idempotency_key": "conf0001"})
    error = response.json()["error"]
    assert error["error_subcode"] in (2361050, 2361081) and error["is_transient"] is True
    sandbox.admin.faults()
    # a transient failure is not stored against the key: the retry runs for real
    assert graph.post(f"{order['id']}/acknowledge_order", data={"idempotency_key": "conf0001"}).status_code == 200


def test_latency(sandbox, graph) -> None:
    sandbox.admin.faults(latency_ms=5000)  # far longer than the client waits: the call times out
    with pytest.raises(requests.Timeout):
        requests.get(graph.url("me"), params=graph.credentials, timeout=0.3)
    sandbox.admin.faults()
    assert graph.get("me").status_code == 200


def test_usage_headers_rise_under_a_burst_and_throttle_at_100(sandbox, graph) -> None:
    sandbox.admin.config(app_calls_per_minute=50)
    seen = []
    for _ in range(60):
        response = graph.get("me")
        if response.status_code != 200:
            break
        seen.append(json.loads(response.headers["X-App-Usage"])["call_count"])
        buc = json.loads(response.headers["X-Business-Use-Case-Usage"])
        assert set(buc[BUSINESS][0]) == {
            "type",
            "call_count",
            "total_cputime",
            "total_time",
            "estimated_time_to_regain_access",
        }
    assert seen[0] <= 4 and seen[-1] >= 90 and seen == sorted(seen)
    assert response.status_code == 400 and response.json()["error"]["code"] == 4
    assert json.loads(response.headers["X-App-Usage"])["call_count"] >= 100
    assert (
        json.loads(response.headers["X-Business-Use-Case-Usage"])[BUSINESS][0]["estimated_time_to_regain_access"] >= 1
    )
