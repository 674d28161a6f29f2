"""The order sync's domain functions against the real sandbox and a real warehouse (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from support import fast_client

from fb_commerce import defaults
from fb_commerce.graph.client import GraphClient
from fb_commerce.graph.errors import GraphTransientError
from fb_commerce.orders import store as store_module
from fb_commerce.orders.acknowledge import (
    CANNOT_ACKNOWLEDGE,
    Outcome,
    acknowledge_orders,
    orders_to_acknowledge,
    record_outcomes,
)
from fb_commerce.orders.pull import pull_orders
from fb_commerce.orders.readback import read_back
from fb_commerce.orders.values import edge
from fb_commerce.warehouse.schema import fb_order_items, fb_orders
from fb_commerce.warehouse.sync_state import ORDERS_WATERMARK, read_watermark

CMS = defaults.SANDBOX_CMS_ID


def numbered_reference(order: dict, number: int) -> str:
    """A custom generator (loading one by dotted path, from installed packages only, is tested in
    tests/unit/test_orders_reference.py)."""
    return f"WEB-{order['channel'][:2].upper()}-{number:05d}"


def client_for(sandbox, **settings) -> GraphClient:
    return fast_client(sandbox.url, **{"timeout": (2.0, 5.0), **settings})


@pytest.fixture
def engine(warehouse_engine: Engine) -> Engine:
    return warehouse_engine


@pytest.fixture
def client(sandbox) -> GraphClient:
    return client_for(sandbox)


def truth(sandbox) -> dict[str, dict]:
    return {o["id"]: o for o in sandbox.admin.state(include="orders")["orders"]}


def stored(engine: Engine) -> dict[str, sa.Row]:
    with engine.connect() as conn:
        return {row.order_id: row for row in conn.execute(sa.select(fb_orders))}


def count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_pull_is_incremental_and_never_doubles_a_row(sandbox, client, engine):
    first = pull_orders(client, engine, CMS, page_size=7)
    orders = truth(sandbox)
    assert first.pages >= len(orders) // 7 and first.orders == first.new == len(orders)
    assert count(engine, fb_orders) == len(orders)
    assert count(engine, fb_order_items) == sum(len(edge(o, "items")) for o in orders.values())
    watermark = read_watermark(engine, ORDERS_WATERMARK)
    assert watermark == max(row.updated_at for row in stored(engine).values())

    again = pull_orders(client, engine, CMS, page_size=7)  # only the overlap comes back, as updates
    assert again.new == 0 and 0 < again.orders < len(orders)
    assert again.updated_after == watermark - dt.timedelta(minutes=15)
    assert count(engine, fb_orders) == len(orders)

    new_ids = sandbox.admin.create_orders(3)
    third = pull_orders(client, engine, CMS)
    assert third.new == 3 and set(new_ids) <= set(stored(engine))
    assert count(engine, fb_orders) == len(orders) + 3


def test_watermark_moves_only_after_every_page_is_committed(sandbox, client, engine, monkeypatch):
    real = store_module.store_page
    calls = {"n": 0}

    def failing_third_page(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("warehouse went away")
        return real(*args, **kwargs)

    monkeypatch.setattr("fb_commerce.orders.pull.store_page", failing_third_page)
    with pytest.raises(RuntimeError):
        pull_orders(client, engine, CMS, page_size=5)
    assert count(engine, fb_orders) == 10, "the two committed pages stay"
    assert read_watermark(engine, ORDERS_WATERMARK) is None, "no watermark before the whole window is stored"

    monkeypatch.setattr("fb_commerce.orders.pull.store_page", real)
    pull_orders(client, engine, CMS, page_size=5)
    assert count(engine, fb_orders) == len(truth(sandbox))
    assert read_watermark(engine, ORDERS_WATERMARK) is not None


def test_references_are_given_once_and_meta_references_are_kept(sandbox, client, engine):
    generator = numbered_reference
    result = pull_orders(client, engine, CMS, generator=generator)
    orders, rows = truth(sandbox), stored(engine)
    assert result.adopted == sum(1 for o in orders.values() if o["merchant_order_reference"])
    assert (
        result.references
        == sum(1 for o in orders.values() if not o["merchant_order_reference"] and o["state"] != "FB_PROCESSING")
        > 0
    )
    for oid, order in orders.items():
        if order["state"] == "FB_PROCESSING":
            assert rows[oid].merchant_order_reference is None, "never handed to the OMS before it is final"
        elif order["merchant_order_reference"]:
            assert rows[oid].merchant_order_reference == order["merchant_order_reference"], "Meta's is kept"
        else:
            assert rows[oid].merchant_order_reference.startswith("WEB-"), oid
    ours = sorted(
        r.merchant_order_reference for r in rows.values() if (r.merchant_order_reference or "").startswith("WEB-")
    )
    assert len(ours) == len(set(ours)) > 0

    before = {oid: r.merchant_order_reference for oid, r in rows.items()}
    sandbox.admin.create_orders(2)
    pull_orders(client, engine, CMS, overlap=dt.timedelta(days=60))  # everything again, plus two new
    after = {oid: r.merchant_order_reference for oid, r in stored(engine).items()}
    assert all(after[oid] == ref for oid, ref in before.items()), "a reference never changes"
    numbers = sorted(int(ref[-5:]) for ref in after.values() if ref and ref.startswith("WEB-"))
    assert numbers == list(range(1, len(numbers) + 1)), "numbers from the counter, none skipped or repeated"


def test_acknowledges_in_batches_of_100_once_each(sandbox, client, engine):
    sandbox.admin.create_orders(230)
    pull_orders(client, engine, CMS)
    waiting = orders_to_acknowledge(engine)
    result = acknowledge_orders(client, engine, CMS)
    assert result.acknowledged == len(waiting) > 230 and result.failed == 0
    assert result.calls == -(-len(waiting) // 100)
    stats = sandbox.admin.stats()
    assert stats["requests"]["POST /{cms_id}/acknowledge_orders"] == result.calls
    orders = truth(sandbox)
    assert all(orders[o.order_id]["acknowledged_count"] == 1 for o in waiting)
    assert all(orders[o.order_id]["merchant_order_reference"] == o.reference for o in waiting)
    rows = stored(engine)
    assert all(
        rows[o.order_id].acknowledged_at is not None
        and rows[o.order_id].state == "IN_PROGRESS"
        and rows[o.order_id].acknowledge_attempts == 1
        for o in waiting
    )
    assert orders_to_acknowledge(engine) == []
    again = acknowledge_orders(client, engine, CMS)
    assert again.calls == 0, "nothing left, nothing sent"


def test_fb_processing_refusal_records_the_order_and_retries_the_rest_with_a_new_key(
    sandbox, client, engine, monkeypatch
):
    pull_orders(client, engine, CMS)
    (stuck,) = sandbox.admin.create_orders(1, state="FB_PROCESSING")
    pull_orders(client, engine, CMS)
    # The warehouse believes it CREATED (as if Meta had listed it so): Meta refuses the whole batch.
    with engine.begin() as conn:
        conn.execute(
            sa.update(fb_orders)
            .where(fb_orders.c.order_id == stuck)
            .values(state="CREATED", merchant_order_reference="FB-STUCK-1")
        )
    waiting = {o.order_id for o in orders_to_acknowledge(engine)}
    assert stuck in waiting and len(waiting) > 1

    def killed(*args, **kwargs):
        raise RuntimeError("worker killed before recording")

    monkeypatch.setattr("fb_commerce.orders.acknowledge.record_outcomes", killed)
    with pytest.raises(RuntimeError):
        acknowledge_orders(client, engine, CMS)
    monkeypatch.undo()
    assert sandbox.admin.stats()["idempotent_replays"] == 0

    # The rerun walks the same keys: Meta replays its refusal, then the acknowledgement of the rest.
    result = acknowledge_orders(client, engine, CMS)
    assert result.calls == 2 and result.acknowledged == len(waiting) - 1
    assert result.errors == {str(CANNOT_ACKNOWLEDGE): 1}
    assert sandbox.admin.stats()["idempotent_replays"] == 2
    row = stored(engine)[stuck]
    assert row.acknowledged_at is None and row.acknowledge_error_code == CANNOT_ACKNOWLEDGE
    assert "FB_PROCESSING" in row.acknowledge_error_message and row.acknowledge_attempts == 1
    orders = truth(sandbox)
    assert orders[stuck]["acknowledged_count"] == 0
    assert all(orders[oid]["acknowledged_count"] == 1 for oid in waiting - {stuck})


def test_acknowledgement_applied_but_answer_lost_is_replayed_not_repeated(sandbox, engine):
    patient, hasty = client_for(sandbox), client_for(sandbox, max_attempts=1)
    pull_orders(patient, engine, CMS)
    waiting = orders_to_acknowledge(engine)
    sandbox.admin.faults(timeout_rate=1.0, timeout_ms=200, paths=["acknowledge_orders"])
    with pytest.raises(GraphTransientError):
        acknowledge_orders(hasty, engine, CMS)
    sandbox.admin.faults()
    assert all(truth(sandbox)[o.order_id]["acknowledged_count"] == 1 for o in waiting), "applied at Meta"
    assert orders_to_acknowledge(engine) == waiting, "nothing recorded"

    result = acknowledge_orders(patient, engine, CMS)  # the task's retry, before any new pull
    assert result.acknowledged == len(waiting) and sandbox.admin.stats()["idempotent_replays"] == 1
    assert all(truth(sandbox)[o.order_id]["acknowledged_count"] == 1 for o in waiting)


def test_read_back_stores_every_edge_the_sandbox_has(sandbox, client, engine):
    pull_orders(client, engine, CMS)
    result = read_back(client, engine, CMS, page_size=10)
    orders = truth(sandbox)
    with engine.connect() as conn:
        for name, table, key in (
            ("shipments", "fb_shipments", "shipment_id"),
            ("cancellations", "fb_cancellations", "cancellation_id"),
            ("refunds", "fb_refunds", "refund_id"),
            ("returns", "fb_returns", "return_id"),
        ):
            expected = {obj["id"] for o in orders.values() for obj in edge(o, name)}
            assert expected, f"the seeded shop has {name}"
            assert set(conn.execute(sa.text(f"select {key} from {table}")).scalars()) == expected, table
        refunded_by_meta = conn.execute(
            sa.text("select count(*) from fb_refunds where reason_code = 'FACEBOOK_INITIATED'")
        )
        assert refunded_by_meta.scalar_one() == sum(
            1
            for o in orders.values()
            for r in edge(o, "refunds")
            if r["refund_reason"]["reason_code"] == "FACEBOOK_INITIATED"
        )
    assert result.orders["cancelled by Meta or the merchant"] == sum(
        1 for o in orders.values() if edge(o, "cancellations")
    )
    assert result.orders["refunded by Meta or the merchant"] == sum(1 for o in orders.values() if edge(o, "refunds"))

    rows_before = dict(result.rows)
    again = read_back(client, engine, CMS)
    assert sum(again.rows.values()) < sum(rows_before.values()), "only the overlap is read again"


def test_hourly_sweep_finds_what_meta_did_to_orders_outside_the_window(sandbox, client, engine):
    """A refund need not move an order's last_updated (its status): the hourly wide sweep still finds it."""
    from fb_commerce.warehouse.schema import fb_refunds
    from fb_commerce.warehouse.sync_state import READ_BACK_WATERMARK, advance_watermark

    now = dt.datetime.now(dt.UTC)
    first = read_back(client, engine, CMS, now=now)
    assert first.swept_after is not None and first.rows["fb_refunds"] > 0
    expected = first.rows["fb_refunds"]
    # Pretend the refunds were made after we last looked, on orders whose last_updated stayed old.
    advance_watermark(engine, READ_BACK_WATERMARK, now + dt.timedelta(days=1), now=now)
    with engine.begin() as conn:
        conn.execute(sa.delete(fb_refunds))

    soon = read_back(client, engine, CMS, now=now + dt.timedelta(minutes=30))
    assert soon.swept_after is None and soon.rows["fb_refunds"] == 0  # the watermark window misses them

    later = read_back(client, engine, CMS, now=now + dt.timedelta(minutes=61))
    assert later.swept_after is not None and later.rows["fb_refunds"] == expected
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fb_refunds)).scalar_one() == expected


def test_outcomes_are_recorded_per_order_whatever_their_mix(sandbox, client, engine):
    """One UPDATE per distinct answer: each order still gets its own state or error, and an order already
    acknowledged keeps its first acknowledgement."""
    pull_orders(client, engine, CMS)
    first, second, third, fourth, known = (o.order_id for o in orders_to_acknowledge(engine)[:5])
    at, later = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
    record_outcomes(engine, [Outcome(known, state="IN_PROGRESS")], at)
    record_outcomes(
        engine,
        [
            Outcome(first, state="IN_PROGRESS"),
            Outcome(second, state="COMPLETED"),
            Outcome(third, error_code=2361003, error_message="Invalid Order ID"),
            Outcome(fourth, error_message="no result for this order in Meta's answer"),
            Outcome(known, state="COMPLETED"),
        ],
        later,
    )
    rows = stored(engine)
    assert (rows[first].state, rows[first].acknowledged_at) == ("IN_PROGRESS", later)
    assert (rows[second].state, rows[second].acknowledged_at) == ("COMPLETED", later)
    assert (rows[third].acknowledge_error_code, rows[third].acknowledge_error_message) == (2361003, "Invalid Order ID")
    assert rows[fourth].acknowledge_error_code is None and rows[fourth].acknowledged_at is None
    assert "no result" in rows[fourth].acknowledge_error_message
    assert (rows[known].state, rows[known].acknowledged_at, rows[known].acknowledge_attempts) == ("IN_PROGRESS", at, 1)
    assert [rows[oid].acknowledge_attempts for oid in (first, second, third, fourth)] == [1, 1, 1, 1]
