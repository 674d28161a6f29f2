"""fb_order_updates end to end with dag.test(): the sandbox over HTTP with faults on, SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import set_connections

from fb_commerce import defaults
from fb_commerce.graph.client import GraphClient, GraphSettings
from fb_commerce.orders.demo_oms import order_ids, queue_demo_requests
from fb_commerce.orders.pull import pull_orders
from fb_commerce.orders.updates.requests import OUTBOX_TABLE_NAMES
from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.migrate import upgrade
from fb_commerce.warehouse.schema import (
    fb_cancellation_requests,
    fb_refund_requests,
    fb_shipment_requests,
    metadata,
)

pytestmark = pytest.mark.slow

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "fb_order_updates.py"
ENDPOINTS = {
    ("fb_shipment_requests", "ship"): "POST /{order_id}/shipments",
    ("fb_shipment_requests", "update_tracking"): "POST /{order_id}/update_shipment",
    ("fb_cancellation_requests", None): "POST /{order_id}/cancellations",
    ("fb_refund_requests", None): "POST /{order_id}/refunds",
}


def connect(monkeypatch, sandbox, warehouse_url: str, **extra: Any) -> None:
    set_connections(monkeypatch, sandbox.url, warehouse_url, fast=True, **extra)


def stored_orders(sandbox, url: str, monkeypatch, tmp_path: Path) -> sa.Engine:
    """A warehouse at ``url`` with the sandbox's orders stored (fb_orders_sync's pull), both connections set."""
    monkeypatch.setenv("FB_COMMERCE_DATA_DIR", str(tmp_path))
    engine = create_warehouse_engine(url)
    upgrade(engine)
    client = GraphClient(
        defaults.SANDBOX_ACCESS_TOKEN, defaults.SANDBOX_APP_SECRET, GraphSettings(base_url=sandbox.url)
    )
    pull_orders(client, engine, defaults.SANDBOX_CMS_ID)
    connect(monkeypatch, sandbox, url)
    return engine


@pytest.fixture
def engine(sandbox, warehouse_url, monkeypatch, tmp_path):
    """On SQLite and on PostgreSQL."""
    engine = stored_orders(sandbox, warehouse_url, monkeypatch, tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'warehouse.db'}"


@pytest.fixture
def sqlite_engine(sandbox, sqlite_url, monkeypatch, tmp_path):
    """SQLite only, for paths the dialect does not change."""
    engine = stored_orders(sandbox, sqlite_url, monkeypatch, tmp_path)
    yield engine
    engine.dispose()


def run_dag(conf: dict[str, Any] | None = None):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAG_FILE)).get_dag("fb_order_updates")
    return dag.test(run_conf=conf or {})


def rows(engine: sa.Engine) -> list[dict[str, Any]]:
    found = []
    with engine.connect() as conn:
        for name in OUTBOX_TABLE_NAMES:
            table = metadata.tables[name]
            found += [dict(r, table=name) for r in conn.execute(sa.select(table)).mappings()]
    return found


def endpoint(row: dict[str, Any]) -> str:
    return ENDPOINTS[(row["table"], row.get("request_type"))]


def expected_writes(valid: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {}
    for row in valid:
        counts.setdefault(endpoint(row), Counter())[row["order_id"]] += 1
    return {name: dict(counter) for name, counter in counts.items()}


def queue_more(engine: sa.Engine, skip: set[str]) -> None:
    """More shipments (a whole order each, an explicit carrier case mix) on IN_PROGRESS orders the demo left."""
    with engine.connect() as conn:
        orders = order_ids(conn, "IN_PROGRESS")
    free = [order_id for order_id in orders if order_id not in skip][:3]
    with engine.begin() as conn:
        for number, order_id in enumerate(free):
            conn.execute(
                sa.insert(fb_shipment_requests).values(
                    request_id=f"more-{number}",
                    order_id=order_id,
                    request_type="ship",
                    carrier=("ups", "USPS", "Other")[number],
                    tracking_number=f"MORE{number}",
                )
            )


BAD_ROWS = [
    # (table, request_id, order_id, columns, words the message must hold)
    (
        fb_shipment_requests,
        "bad-order",
        "4040404",
        {"carrier": "ups", "tracking_number": "B1"},
        "not in fb_orders",
    ),
    (
        fb_shipment_requests,
        "bad-carrier",
        None,
        {"carrier": "carrier pigeon", "tracking_number": "B2"},
        "carrier: 'carrier pigeon'",
    ),
    (fb_cancellation_requests, "bad-reason", None, {"reason_code": "BORED"}, "reason_code: 'BORED'"),
    (fb_refund_requests, "bad-refund", None, {"reason_code": "NOT_AS_DESCRIBED"}, "has no shipped items"),
]


def queue_bad(engine: sa.Engine, victim: str) -> None:
    with engine.begin() as conn:
        for table, request_id, order_id, columns, _ in BAD_ROWS:
            conn.execute(sa.insert(table).values(request_id=request_id, order_id=order_id or victim, **columns))


def untouched_created_order(engine: sa.Engine) -> str:
    """A stored CREATED order (never acknowledged here): bad requests go to it, so it must see no call at all."""
    with engine.connect() as conn:
        return order_ids(conn, "CREATED")[0]


def test_every_valid_request_is_applied_once_with_faults_on(engine, sandbox, capfd):
    queued = queue_demo_requests(engine)
    assert queued.counts() == {"shipments": 4, "tracking_updates": 1, "cancellations": 1, "refunds": 1}
    queue_more(engine, {r.split("-", 2)[2] for r in queued.shipments + queued.cancellations})
    victim = untouched_created_order(engine)
    queue_bad(engine, victim)
    sandbox.admin.faults(error_rate=0.2, throttle_rate=0.1, timeout_rate=0.05, timeout_ms=100, conflict_rate=0.2)

    runs = []
    for _ in range(4):  # a row left pending by an unlucky streak goes out on a later run
        runs.append(run_dag())
        assert runs[-1].state == "success"
        if not any(r["status"] == "pending" for r in rows(engine)):
            break

    stats = sandbox.admin.stats()
    assert stats["faults"].get("error", 0) and stats["faults"].get("throttle", 0) and stats["faults"].get("conflict", 0)
    outbox = rows(engine)
    bad = {request_id for _, request_id, *_ in BAD_ROWS}
    valid = [r for r in outbox if r["request_id"] not in bad]
    assert len(valid) == 10
    assert all(r["status"] == "sent" and r["sent_at"] is not None for r in valid), [
        (r["request_id"], r["status"], r["last_error_message"]) for r in valid if r["status"] != "sent"
    ]
    assert stats["writes"] == expected_writes(valid)  # each applied exactly once, nothing else applied
    for _table, request_id, _, _, words in BAD_ROWS:
        failed = next(r for r in outbox if r["request_id"] == request_id)
        assert failed["status"] == "failed" and failed["attempts"] == 0 and words in failed["last_error_message"]
    assert all(victim not in attempts for attempts in stats["write_requests"].values())  # no call for bad rows

    orders = {o["id"]: o for o in sandbox.admin.state(include="orders")["orders"]}
    for r in valid:
        if r["table"] == "fb_shipment_requests" and r["request_type"] == "ship":
            numbers = [s["tracking_info"]["tracking_number"] for s in orders[r["order_id"]]["shipments"]["data"]]
            # one shipment per request (the demo's first shipment got a new number from its tracking update)
            assert numbers.count(r["tracking_number"]) == 1 or r["request_id"] == queued.shipments[0]
    logs = "".join(capfd.readouterr())  # the task logs: counts per kind, per table and status, the hook's summary
    assert "shipments: " in logs and "refunds: 1 sent" in logs and "fb_shipment_requests: 0 pending" in logs
    assert "Graph API: " in logs

    before = sandbox.admin.stats()["writes"]
    assert run_dag().state == "success"  # a rerun applies nothing again
    assert sandbox.admin.stats()["writes"] == before


def test_a_write_applied_but_unanswered_is_replayed_by_the_next_run(sqlite_engine, sandbox, sqlite_url, monkeypatch):
    """The task ends without Meta's answer (timeout, one attempt): the row stays pending; the rerun replays."""
    engine, warehouse_url = sqlite_engine, sqlite_url
    queued = queue_demo_requests(engine, shipments=3)
    connect(monkeypatch, sandbox, warehouse_url, max_attempts=1)
    sandbox.admin.faults(timeout_rate=1.0, timeout_ms=50, paths=["/shipments"])

    assert run_dag().state == "success"
    first = {r["request_id"]: r for r in rows(engine)}
    shipments = [first[request_id] for request_id in queued.shipments]
    assert all(r["status"] == "pending" and r["attempts"] == 1 and r["last_error_code"] == 2 for r in shipments)
    assert first[queued.tracking_updates[0]]["attempts"] == 0  # waits behind its shipment
    applied = sandbox.admin.stats()["writes"]["POST /{order_id}/shipments"]
    assert applied == {r["order_id"]: 1 for r in shipments}

    sandbox.admin.faults()
    connect(monkeypatch, sandbox, warehouse_url)
    assert run_dag().state == "success"
    assert all(r["status"] == "sent" for r in rows(engine))
    stats = sandbox.admin.stats()
    assert stats["writes"]["POST /{order_id}/shipments"] == applied
    assert stats["idempotent_replays"] == len(shipments)


def test_requests_pending_too_long_fail_the_summary(sqlite_engine, sandbox, sqlite_url, monkeypatch):
    engine, warehouse_url = sqlite_engine, sqlite_url
    queue_demo_requests(engine, shipments=1)
    connect(monkeypatch, sandbox, warehouse_url, max_attempts=1)
    sandbox.admin.faults(error_rate=1.0)

    run = run_dag({"stuck_after_attempts": 1})

    assert run.state == "failed"
    assert run.get_task_instance("send").state == "success"  # temporary errors do not fail the drain
    assert run.get_task_instance("summary").state == "failed"
    assert all(r["status"] == "pending" for r in rows(engine))
    assert sandbox.admin.stats()["writes"] == {}


#: rows the OMS wrote with a value of the wrong type, too long, or not UTF-8: (table, request_id, column, SQL on
#: SQLite, SQL on PostgreSQL or None when PostgreSQL refuses the insert itself)
BADLY_TYPED = [
    ("fb_refund_requests", "typed-money", "shipping_refund", "'12,50'", "'NaN'"),
    ("fb_shipment_requests", "typed-when", "created_at", "'next tuesday'", "'infinity'"),
    ("fb_shipment_requests", "typed-utf8", "tracking_number", "CAST(X'31FF' AS TEXT)", None),
    ("fb_shipment_requests", "typed-long", "tracking_number", f"'{'9' * 10_000}'", f"'{'9' * 200}'"),
    ("fb_shipment_requests", "typed-method", "shipping_method", f"'{'m' * 10_000}'", f"'{'m' * 10_000}'"),
    ("fb_cancellation_requests", "typed-bool", "restock_items", "'maybe'", None),
    ("fb_cancellation_requests", "typed-c1", "reason_description", "'a' || char(155)", "'a' || chr(155)"),
]
TYPED_BASE = {
    "fb_shipment_requests": {"carrier": "'ups'", "tracking_number": "'TYPED1'"},
    "fb_cancellation_requests": {"reason_code": "'OUT_OF_STOCK'"},
    "fb_refund_requests": {"reason_code": "'DAMAGED_GOODS'"},
}


def queue_badly_typed(engine: sa.Engine, victim: str) -> list[tuple[str, str, str]]:
    position = 0 if engine.dialect.name == "sqlite" else 1
    queued = []
    for number, (table, request_id, column, *exprs) in enumerate(BADLY_TYPED):
        if exprs[position] is None:
            continue
        values = {**TYPED_BASE[table], column: exprs[position]}
        if table == "fb_shipment_requests" and column != "tracking_number":
            values["tracking_number"] = f"'TYPED{number}'"
        columns = {"request_id": f"'{request_id}'", "order_id": f"'{victim}'", **values}
        with engine.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(columns.values())})"))
        queued.append((table, request_id, column))
    return queued


def test_badly_typed_rows_fail_by_column_and_the_good_ones_land_once(engine, sandbox):
    queued = queue_demo_requests(engine)
    victim = untouched_created_order(engine)
    bad = queue_badly_typed(engine, victim)

    run = run_dag()

    assert run.state == "success"
    with engine.connect() as conn:  # read as text: the bad values themselves cannot be read by SQLAlchemy
        found = {
            (table, request_id): (status, message)
            for table in OUTBOX_TABLE_NAMES
            for request_id, status, message in conn.execute(
                sa.text(
                    f"SELECT request_id, status, last_error_message FROM {table}"
                    " WHERE request_id NOT LIKE 'typed-%' OR status = 'failed'"
                )
            )
        }
    for table, request_id, column in bad:
        status, message = found[(table, request_id)]
        assert status == "failed" and f"): {column}: " in message, message
    good = [r for r in rows_readable(engine) if not r["request_id"].startswith("typed-")]
    assert len(good) == queued.counts()["shipments"] + 3
    assert all(r["status"] == "sent" for r in good), [(r["request_id"], r["last_error_message"]) for r in good]
    stats = sandbox.admin.stats()
    assert stats["writes"] == expected_writes(good)  # each good row applied exactly once, no bad one
    assert all(victim not in calls for calls in stats["write_requests"].values())

    assert run_dag().state == "success"  # a rerun applies nothing again
    assert sandbox.admin.stats()["writes"] == stats["writes"]


def rows_readable(engine: sa.Engine) -> list[dict[str, Any]]:
    """The outbox rows SQLAlchemy can read (the bad ones excluded)."""
    found = []
    with engine.connect() as conn:
        for name in OUTBOX_TABLE_NAMES:
            table = metadata.tables[name]
            query = sa.select(table).where(table.c.request_id.not_like("typed-%"))
            found += [dict(r, table=name) for r in conn.execute(query).mappings()]
    return found
