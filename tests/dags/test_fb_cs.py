"""fb_cs_refund, fb_cs_cancel and fb_cs_update_tracking end to end with dag.test(): the sandbox over HTTP, SQLite
and PostgreSQL. Each action lands exactly once at Meta, even when the same form is triggered twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import set_connections

from fb_commerce import defaults
from fb_commerce.graph.client import GraphClient, GraphSettings
from fb_commerce.orders.pull import pull_orders
from fb_commerce.orders.readback import read_back
from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.migrate import upgrade
from fb_commerce.warehouse.schema import fb_cs_actions, fb_order_items, fb_orders, fb_refunds, fb_shipments

pytestmark = pytest.mark.slow

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture
def engine(sandbox, warehouse_url, monkeypatch, tmp_path):
    """The sandbox's orders stored and read back (shipments too), both connections set."""
    monkeypatch.setenv("FB_COMMERCE_DATA_DIR", str(tmp_path))
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    client = GraphClient(
        defaults.SANDBOX_ACCESS_TOKEN, defaults.SANDBOX_APP_SECRET, GraphSettings(base_url=sandbox.url)
    )
    pull_orders(client, engine, defaults.SANDBOX_CMS_ID)
    read_back(client, engine, defaults.SANDBOX_CMS_ID)
    set_connections(monkeypatch, sandbox.url, warehouse_url, fast=True)
    yield engine
    engine.dispose()


def run_dag(dag_id: str, conf: dict[str, Any] | None = None):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py")).get_dag(dag_id)
    for task in dag.tasks:
        task.retries = 0
    return dag.test(run_conf=conf or {})


def states(run) -> dict[str, str | None]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def shipped_item(engine) -> dict[str, Any]:
    """A shipped unit under 100.00 on an order without refunds."""
    with engine.connect() as conn:
        refunded = sa.select(fb_refunds.c.order_id)
        row = conn.execute(
            sa.select(fb_order_items.c.order_id, fb_order_items.c.item_id, fb_order_items.c.price_per_unit)
            .join(fb_orders, fb_orders.c.order_id == fb_order_items.c.order_id)
            .where(
                fb_order_items.c.quantity_fulfilled > 0,
                fb_order_items.c.price_per_unit < 100,
                fb_orders.c.order_id.not_in(refunded),
            )
            .order_by(fb_order_items.c.order_id, fb_order_items.c.item_id)
        ).first()
    assert row is not None, "the seeded shop has a shipped item"
    return dict(row._mapping)


def open_item(engine) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(fb_order_items.c.order_id, fb_order_items.c.item_id)
            .join(fb_orders, fb_orders.c.order_id == fb_order_items.c.order_id)
            .where(fb_orders.c.state == "IN_PROGRESS", fb_order_items.c.quantity_in_progress > 0)
            .order_by(fb_order_items.c.order_id, fb_order_items.c.item_id)
        ).first()
    assert row is not None
    return dict(row._mapping)


def a_shipment(engine) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(fb_shipments.c.order_id, fb_shipments.c.shipment_id).order_by(fb_shipments.c.shipment_id)
        ).first()
    assert row is not None
    return dict(row._mapping)


def steps(engine, order_id: str) -> list[tuple[str, str | None, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(fb_cs_actions.c.status, fb_cs_actions.c.requested_by, fb_cs_actions.c.source)
            .where(fb_cs_actions.c.order_id == order_id)
            .order_by(fb_cs_actions.c.created_at)
        ).all()
    return [tuple(r) for r in rows]


def meta_order(sandbox, order_id: str) -> dict[str, Any]:
    return next(o for o in sandbox.admin.state()["orders"] if o["id"] == order_id)


def edge_count(order: dict[str, Any], name: str) -> int:
    value = order.get(name) or []
    return len(value.get("data", []) if isinstance(value, dict) else value)


def test_a_refund_lands_once_even_when_triggered_twice(sandbox, engine):
    item = shipped_item(engine)
    order_id = item["order_id"]
    before = edge_count(meta_order(sandbox, order_id), "refunds")
    conf = {
        "order": order_id,
        "items": [f"{item['item_id']} 1"],
        "reason_code": "DAMAGED_GOODS",
        "reason_text": "Sorry about that",
    }
    first = run_dag("fb_cs_refund", conf)
    assert first.state == "success", states(first)
    assert states(first)["approve"] == "success"  # below the approval amount: no approval needed
    second = run_dag("fb_cs_refund", conf)
    assert second.state == "success", states(second)
    assert sandbox.admin.stats()["writes"]["POST /{order_id}/refunds"] == {order_id: 1}
    assert edge_count(meta_order(sandbox, order_id), "refunds") == before + 1
    assert steps(engine, order_id) == [
        ("queued", "dag_test", "dag"),
        ("sent", "dag_test", "dag"),
        ("queued", "dag_test", "dag"),  # the second run: the same form, the same outbox row
        ("sent", "dag_test", "dag"),
    ]


def test_a_cancellation_lands_once_even_when_triggered_twice(sandbox, engine):
    item = open_item(engine)
    order_id = item["order_id"]
    conf = {"order": order_id, "items": [f"{item['item_id']} 1"], "reason_code": "OUT_OF_STOCK"}
    for _ in range(2):
        run = run_dag("fb_cs_cancel", conf)
        assert run.state == "success", states(run)
    assert sandbox.admin.stats()["writes"]["POST /{order_id}/cancellations"] == {order_id: 1}
    assert [s[0] for s in steps(engine, order_id)] == ["queued", "sent", "queued", "sent"]


def test_a_tracking_change_lands_once_even_when_triggered_twice(sandbox, engine):
    shipment = a_shipment(engine)
    conf = {
        "order": shipment["order_id"],
        "shipment": shipment["shipment_id"],
        "carrier": "fedex",
        "tracking_number": "CS-NEW-0001",
    }
    for _ in range(2):
        run = run_dag("fb_cs_update_tracking", conf)
        assert run.state == "success", states(run)
    assert sandbox.admin.stats()["writes"]["POST /{order_id}/update_shipment"] == {shipment["order_id"]: 1}
    shipments = meta_order(sandbox, shipment["order_id"])["shipments"]
    shipments = shipments.get("data", shipments) if isinstance(shipments, dict) else shipments
    changed = next(s for s in shipments if s["id"] == shipment["shipment_id"])
    assert changed["tracking_info"]["tracking_number"] == "CS-NEW-0001"


@pytest.fixture
def sqlite_only(warehouse_url):
    if not warehouse_url.startswith("sqlite"):
        pytest.skip("the DAG's paths below do not depend on the dialect")


@pytest.mark.parametrize("dag_id", ["fb_cs_refund", "fb_cs_cancel", "fb_cs_update_tracking"])
def test_the_default_form_does_nothing_and_is_green(sandbox, engine, sqlite_only, dag_id):
    run = run_dag(dag_id)
    assert run.state == "success", states(run)
    assert set(states(run).values()) == {"skipped"}
    assert sandbox.admin.stats()["writes"] == {}


def test_a_refused_refund_is_red_and_audited(sandbox, engine, sqlite_only):
    item = open_item(engine)
    with engine.connect() as conn:
        unshipped = conn.execute(
            sa.select(fb_order_items.c.item_id).where(
                fb_order_items.c.order_id == item["order_id"], fb_order_items.c.quantity_fulfilled == 0
            )
        ).scalar()
    run = run_dag("fb_cs_refund", {"order": item["order_id"], "items": [f"{unshipped} 1"]})
    assert run.state == "failed" and states(run)["check_refund"] == "failed", states(run)
    assert steps(engine, item["order_id"]) == [("refused", "dag_test", "dag")]
    assert sandbox.admin.stats()["writes"] == {}


def awaiting(dag_id: str, task_id: str) -> set[Any]:
    """The task instances waiting for input now (a killed test run may have left some)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    with create_session() as session:
        return set(
            session.scalars(
                sa.select(TaskInstance.id).where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.task_id == task_id,
                    TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
                )
            )
        )


def respond(dag_id: str, task_id: str, option: str, user: str, ignore: set[Any], timeout: float = 120) -> None:
    """What the HITL REST API does when ``user`` answers in Required actions (dag.test has no api-server), for
    the task instance that starts waiting (not one in ``ignore``)."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import handle_event_submit
    from airflow.triggers.base import TriggerEvent
    from airflow.utils import timezone
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with create_session() as session:
            ti = session.scalar(
                sa.select(TaskInstance).where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.task_id == task_id,
                    TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
                    TaskInstance.id.not_in(ignore),
                )
            )
            detail = session.scalar(sa.select(HITLDetail).where(HITLDetail.ti_id == ti.id)) if ti else None
            if ti is not None and detail is not None:
                detail.responded_by = {"id": user, "name": user}
                detail.responded_at = timezone.utcnow()
                detail.chosen_options = [option]
                detail.params_input = {}
                session.add(detail)
                handle_event_submit(TriggerEvent(detail.as_resume_event_payload()), task_instance=ti, session=session)
                return
        time.sleep(0.5)
    raise AssertionError(f"{dag_id}.{task_id} never waited for input")


def approval_run(monkeypatch, engine, option: str, user: str):
    monkeypatch.setenv("AIRFLOW_VAR_FB_CS_REFUND_APPROVAL_AMOUNT", "0.00")
    item = shipped_item(engine)
    conf = {"order": item["order_id"], "items": [f"{item['item_id']} 1"], "reason_code": "QUALITY_ISSUE"}
    before = awaiting("fb_cs_refund", "approve")
    responder = threading.Thread(target=respond, args=("fb_cs_refund", "approve", option, user, before), daemon=True)
    responder.start()
    run = run_dag("fb_cs_refund", conf)
    responder.join(timeout=10)
    return run, item["order_id"]


def test_a_large_refund_waits_for_a_second_person(sandbox, engine, sqlite_only, monkeypatch):
    run, order_id = approval_run(monkeypatch, engine, "Approve", "supervisor")
    assert run.state == "success", states(run)
    assert steps(engine, order_id) == [
        ("awaiting_approval", "dag_test", "dag"),
        ("approved", "supervisor", "dag"),
        ("queued", "dag_test", "dag"),
        ("sent", "dag_test", "dag"),
    ]
    assert sandbox.admin.stats()["writes"]["POST /{order_id}/refunds"] == {order_id: 1}


def test_a_declined_refund_is_recorded_and_not_sent(sandbox, engine, sqlite_only, monkeypatch):
    run, order_id = approval_run(monkeypatch, engine, "Reject", "supervisor")
    assert run.state == "success", states(run)
    assert states(run)["submit"] == "skipped" and states(run)["send"] == "skipped"
    assert steps(engine, order_id) == [("awaiting_approval", "dag_test", "dag"), ("declined", "supervisor", "dag")]
    assert sandbox.admin.stats()["writes"] == {}


def test_the_asker_cannot_approve_their_own_refund(sandbox, engine, sqlite_only, monkeypatch):
    run, order_id = approval_run(monkeypatch, engine, "Approve", "dag_test")
    assert run.state == "failed" and states(run)["approve"] == "failed", states(run)
    assert [s[0] for s in steps(engine, order_id)] == ["awaiting_approval", "declined"]
    assert sandbox.admin.stats()["writes"] == {}
