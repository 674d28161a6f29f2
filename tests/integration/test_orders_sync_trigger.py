"""NewOrdersTrigger: serialisable, cheap, and it fires on a new CREATED order at the sandbox."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from fb_commerce.environment import sandbox_connection
from fb_commerce.triggers.orders import NewOrdersTrigger


@pytest.fixture
def graph_connection(sandbox, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_FB_COMMERCE_DEFAULT", json.dumps(sandbox_connection(sandbox.url)))


def polls(sandbox) -> int:
    """How many times the sandbox has been asked for orders."""
    return sandbox.admin.stats()["requests"].get("GET /{cms_id}/commerce_orders", 0)


async def polled(sandbox, count: int, timeout: float = 10) -> None:
    """Wait (polling the sandbox's stats, with a deadline) until the trigger has asked for orders ``count`` times."""
    deadline = time.monotonic() + timeout
    while polls(sandbox) < count:
        assert time.monotonic() < deadline, f"the trigger polled {polls(sandbox)} times, not {count}"
        await asyncio.sleep(0.02)


def test_serialize_gives_the_classpath_and_kwargs():
    trigger = NewOrdersTrigger(fb_conn_id="shop_a", poll_interval=5, lookback_seconds=30, max_consecutive_failures=3)
    classpath, kwargs = trigger.serialize()
    assert classpath == "fb_commerce.triggers.orders.NewOrdersTrigger"
    assert kwargs == {"fb_conn_id": "shop_a", "poll_interval": 5, "lookback_seconds": 30, "max_consecutive_failures": 3}
    assert NewOrdersTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        NewOrdersTrigger(poll_interval=0)
    with pytest.raises(ValueError):
        NewOrdersTrigger(max_consecutive_failures=0)


async def test_a_new_created_order_fires_an_event(sandbox, graph_connection):
    trigger = NewOrdersTrigger(poll_interval=0.1, lookback_seconds=60)
    events = trigger.run()
    first = asyncio.ensure_future(events.asend(None))
    # The seeded shop's CREATED orders are older than the lookback: polls come back empty, nothing fires.
    await polled(sandbox, 3)
    assert not first.done()

    (order_id,) = sandbox.admin.create_orders(1)
    event = await asyncio.wait_for(first, timeout=10)
    assert event.payload["order_id"] == order_id
    assert event.payload["cms_id"] == sandbox_connection(sandbox.url)["extra"]["cms_id"]

    # It goes on from that order: the same order does not fire twice, the next one does.
    second = asyncio.ensure_future(events.asend(None))
    await polled(sandbox, polls(sandbox) + 3)
    assert not second.done()
    (next_id,) = sandbox.admin.create_orders(1)
    assert (await asyncio.wait_for(second, timeout=10)).payload["order_id"] == next_id
    await events.aclose()


async def test_an_order_leaving_fb_processing_fires(sandbox, graph_connection):
    (order_id,) = sandbox.admin.create_orders(1, state="FB_PROCESSING")
    trigger = NewOrdersTrigger(poll_interval=0.1, lookback_seconds=60)
    events = trigger.run()
    pending = asyncio.ensure_future(events.asend(None))
    await polled(sandbox, polls(sandbox) + 3)
    assert not pending.done(), "an order still FB_PROCESSING is not acted on"
    sandbox.admin.clock(advance_seconds=31 * 60)
    assert (await asyncio.wait_for(pending, timeout=10)).payload["order_id"] == order_id
    await events.aclose()


async def test_failing_polls_are_tolerated_then_raised(sandbox, monkeypatch):
    conn = sandbox_connection(sandbox.url)
    conn["extra"].update({"backoff_initial": 0.01, "backoff_max": 0.02})
    monkeypatch.setenv("AIRFLOW_CONN_FB_COMMERCE_DEFAULT", json.dumps(conn))
    sandbox.admin.faults(error_rate=1.0)
    trigger = NewOrdersTrigger(poll_interval=0.01, max_consecutive_failures=3)
    with pytest.raises(Exception, match=r"temporarily unavailable|unknown error"):
        await asyncio.wait_for(trigger.run().asend(None), timeout=30)
    assert sandbox.admin.stats()["requests"]["GET /{cms_id}/commerce_orders"] == 3 * 2, "3 polls of 2 attempts"
