"""fb_orders_sync end to end with dag.test(): the real sandbox over HTTP, a real warehouse (SQLite and PostgreSQL).

After the runs, the warehouse must say what the sandbox's /_sandbox/state says: no order missing or doubled, the
same states and references, every order acknowledged exactly once at Meta, every shipment, cancellation, refund
and return read back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import WebhookReceiver, set_alerts_connection, set_connections

from fb_commerce.orders.values import edge
from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.migrate import upgrade
from fb_commerce.warehouse.schema import fb_order_items, fb_orders

pytestmark = pytest.mark.slow

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "fb_orders_sync.py"
#: the alert rules are off where a test is about the sync itself (the seeded shop has late orders)
NO_ALERTS = {
    "stuck_created_minutes": 0,
    "ship_by_warning_hours": 0,
    "return_unanswered_hours": 0,
    "freshness_minutes": 0,
}
READ_BACK = {
    "shipments": "fb_shipments",
    "cancellations": "fb_cancellations",
    "refunds": "fb_refunds",
    "returns": "fb_returns",
}
ID_COLUMNS = {
    "fb_shipments": "shipment_id",
    "fb_cancellations": "cancellation_id",
    "fb_refunds": "refund_id",
    "fb_returns": "return_id",
}


@pytest.fixture
def dag():
    """Parsed per test: a run's conf lingers in the in-process DAG object's params."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAG_FILE)).get_dag("fb_orders_sync")
    for task in dag.tasks:
        task.retries = 0  # a failing task fails the run at once instead of waiting for its retry delay
    return dag


def use_connections(monkeypatch, sandbox_url: str, warehouse_url: str, **extra: Any) -> None:
    set_connections(monkeypatch, sandbox_url, warehouse_url, fast=True, **{"timeout": [2, 5], **extra})


@pytest.fixture
def warehouse(sandbox, monkeypatch, tmp_path, request):
    """A migrated warehouse (SQLite unless the test asks for ``warehouse_url``) and both connections set."""
    url = (
        request.getfixturevalue("warehouse_url")
        if "warehouse_url" in request.fixturenames
        else f"sqlite:///{tmp_path / 'warehouse.db'}"
    )
    engine = create_warehouse_engine(url)
    upgrade(engine)
    use_connections(monkeypatch, sandbox.url, url)
    monkeypatch.setenv("FB_COMMERCE_DATA_DIR", str(tmp_path))
    yield engine
    engine.dispose()


def states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def assert_matches_sandbox(engine, sandbox) -> None:
    """The warehouse holds exactly the sandbox's orders, and each was acknowledged once."""
    truth = {o["id"]: o for o in sandbox.admin.state(include="orders")["orders"]}
    with engine.connect() as conn:
        orders = {r.order_id: r for r in conn.execute(sa.select(fb_orders))}
        items = conn.execute(
            sa.select(fb_order_items.c.order_id, fb_order_items.c.item_id, fb_order_items.c.quantity)
        ).all()
        read_back = {
            table: set(conn.execute(sa.text(f"select {ID_COLUMNS[table]} from {table}")).scalars())
            for table in READ_BACK.values()
        }
    assert sorted(orders) == sorted(truth), "orders missing or extra"
    assert {(i.order_id, i.item_id, i.quantity) for i in items} == {
        (oid, item["id"], item["quantity"]) for oid, o in truth.items() for item in edge(o, "items")
    }
    for oid, order in truth.items():
        row = orders[oid]
        assert row.state == order["state"], oid
        assert row.merchant_order_reference == order["merchant_order_reference"], oid
        assert row.total == Decimal(order["estimated_payment_details"]["total_amount"]["amount"]), oid
        if order["state"] == "FB_PROCESSING":
            assert order["acknowledged_count"] == 0 and row.acknowledged_at is None, oid
        else:
            assert order["acknowledged_count"] == 1, f"{oid} acknowledged {order['acknowledged_count']} times"
            assert row.acknowledged_at is not None, oid
    for name, table in READ_BACK.items():
        expected = {obj["id"] for o in truth.values() for obj in edge(o, name)}
        assert read_back[table] == expected, table


def stored_order_events() -> int:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.scalar(
            sa.select(sa.func.count())
            .select_from(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == "fb_commerce://warehouse/fb_orders")
        )


def test_with_faults_the_warehouse_ends_equal_to_the_sandbox(dag, sandbox, warehouse, warehouse_url):
    created = [o["id"] for o in sandbox.admin.state(include="orders")["orders"] if o["state"] == "CREATED"]
    assert created, "the seeded shop has CREATED orders to acknowledge"
    events_before = stored_order_events()
    sandbox.admin.faults(error_rate=0.2, throttle_rate=0.1)

    for _ in range(2):  # the second run reads back what the first one's acknowledgements changed
        run = dag.test(run_conf=NO_ALERTS)
        assert run.state == "success", states(run)

    stats = sandbox.admin.stats()
    sandbox.admin.faults()
    assert stats["throttled"] > 0 and sum(stats["faults"].values()) > 0, "the faults really happened"
    assert_matches_sandbox(warehouse, sandbox)
    assert stored_order_events() == events_before + 2, "pull_orders emits the stored-orders asset"


def test_killed_between_storing_and_acknowledging_then_fb_processing_orders_later(dag, sandbox, warehouse, monkeypatch):
    # Acknowledgements are applied at Meta but their answers are lost, and the client gives up at once: the
    # acknowledge task dies after the orders were stored and acknowledged, before it could record anything.
    use_connections(monkeypatch, sandbox.url, str(warehouse.url.render_as_string(hide_password=False)), max_attempts=1)
    sandbox.admin.faults(timeout_rate=1.0, timeout_ms=200, paths=["acknowledge_orders"])
    failed = dag.test(run_conf=NO_ALERTS)
    assert states(failed) == {
        "pull_orders": "success",
        "acknowledge_orders": "failed",
        "read_back_orders": "success",
        "check_order_alerts": "success",
        "watcher": "failed",
    }
    assert failed.state == "failed"  # the read-back and the alerts ran all the same, and the run says it failed
    truth = {o["id"]: o for o in sandbox.admin.state(include="orders")["orders"]}
    with warehouse.connect() as conn:
        waiting = conn.execute(sa.select(fb_orders.c.order_id).where(fb_orders.c.state == "CREATED")).scalars().all()
    assert waiting and all(truth[oid]["acknowledged_count"] == 1 for oid in waiting), "applied at Meta, not recorded"

    sandbox.admin.faults()
    rerun = dag.test(run_conf=NO_ALERTS)
    assert rerun.state == "success", states(rerun)
    assert_matches_sandbox(warehouse, sandbox)

    # Orders still FB_PROCESSING were stored and left alone; once Meta finalises them, the next run acknowledges.
    processing = [oid for oid, o in truth.items() if o["state"] == "FB_PROCESSING"]
    assert processing
    sandbox.admin.clock(advance_seconds=31 * 60)
    later = dag.test(run_conf=NO_ALERTS)
    assert later.state == "success", states(later)
    after = {o["id"]: o for o in sandbox.admin.state(include="orders")["orders"]}
    for oid in processing:
        assert after[oid]["state"] == "IN_PROGRESS" and after[oid]["acknowledged_count"] == 1, oid
        assert after[oid]["merchant_order_reference"].startswith("FB-"), oid
    assert_matches_sandbox(warehouse, sandbox)


def late_and_on_time_orders(sandbox) -> tuple[list[str], list[str]]:
    """Unshipped IN_PROGRESS orders of the sandbox whose ship-by day ends within 23 h, and beyond 25 h."""
    now = dt.datetime.now(dt.UTC)
    unshipped = [
        o
        for o in sandbox.admin.state(include="orders")["orders"]
        if o["state"] == "IN_PROGRESS" and not edge(o, "shipments")
    ]
    ends = {
        o["id"]: dt.datetime.fromisoformat(o["ship_by_date"]).replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
        for o in unshipped
    }
    late = [oid for oid, end in ends.items() if end - now < dt.timedelta(hours=23)]
    on_time = [oid for oid, end in ends.items() if end - now > dt.timedelta(hours=25)]
    assert late and on_time, "the seeded shop has unshipped orders both past and far from their ship-by date"
    return late, on_time


def test_alerts_are_notified_once_and_the_run_stays_green(dag, sandbox, warehouse, monkeypatch, capfd):
    with WebhookReceiver() as receiver:
        # a webhook with credentials in its URL: they must not show in any log
        set_alerts_connection(monkeypatch, f"json://alerts:hook-s3cret@127.0.0.1:{receiver.port}/fb")
        run = dag.test()
        assert states(run) == {
            "pull_orders": "success",
            "acknowledge_orders": "success",
            "read_back_orders": "success",
            "check_order_alerts": "success",
            "watcher": "skipped",
        }
        assert run.state == "success"
        rerun = dag.test()  # the same orders are still late: nothing is sent again
        assert rerun.state == "success", states(rerun)
    late, on_time = late_and_on_time_orders(sandbox)
    [message] = receiver.messages
    assert message["title"].startswith("fb-commerce: ") and message["title"].endswith(" new alerts")
    for oid in late:
        assert f"ship-by date at risk: order {oid}" in message["message"]
    for oid in on_time:
        assert f"order {oid} " not in message["message"]
    output = capfd.readouterr()
    log = output.out + output.err
    for oid in late:
        assert f"New alert: ship-by date at risk: order {oid}" in log
    assert "hook-s3cret" not in log
    assert "Traceback" not in log
    with warehouse.connect() as conn:
        stored = conn.execute(
            sa.text("select subject, notified_at from fb_alerts where condition = 'ship_by_at_risk'")
        ).all()
    assert {row.subject for row in stored} >= set(late) and all(row.notified_at for row in stored)


def test_without_a_notifier_alerts_are_log_lines_and_a_warning(dag, sandbox, warehouse, capfd):
    run = dag.test()
    assert run.state == "success", states(run)
    log = "".join(capfd.readouterr())
    late, _ = late_and_on_time_orders(sandbox)
    for oid in late:
        assert f"New alert: ship-by date at risk: order {oid}" in log
    assert "No notifier configured (connection fb_commerce_alerts)" in log


def test_freshness_alert_goes_out_while_the_sync_keeps_failing(dag, sandbox, warehouse, monkeypatch):
    use_connections(monkeypatch, sandbox.url, str(warehouse.url.render_as_string(hide_password=False)), max_attempts=1)
    sandbox.admin.faults(error_rate=1.0, paths=["commerce_orders"])  # Meta keeps failing the listing
    with WebhookReceiver() as receiver:
        set_alerts_connection(monkeypatch, f"json://127.0.0.1:{receiver.port}/")
        conf = {**NO_ALERTS, "freshness_minutes": 60}
        first, second = dag.test(run_conf=conf), dag.test(run_conf=conf)
    for run in (first, second):
        assert states(run)["pull_orders"] == "failed" and states(run)["check_order_alerts"] == "success"
        assert run.state == "failed"
    [message] = receiver.messages  # once, not once per run
    assert "orders sync stale: no successful orders sync ever" in message["message"]


@pytest.mark.parametrize(
    "asked", ["os.system", "subprocess.check_output", "builtins.eval", "fb_commerce.orders.reference.default_reference"]
)
def test_a_run_cannot_choose_the_reference_generator(dag, sandbox, warehouse, asked):
    """Code chosen by whoever triggers: refused from run conf (even an acceptable one), before any call."""
    run = dag.test(run_conf={**NO_ALERTS, "reference_generator": asked})

    assert states(run)["pull_orders"] == "failed"
    assert run.state == "failed"
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fb_orders)).scalar_one() == 0
    assert sandbox.admin.stats()["writes"] == {}
    # The DAG object keeps its declared default although Airflow wrote the conf into its params.
    assert dag.get_task("pull_orders").declared_reference_generator in ("", None)


def test_the_reference_generator_comes_from_the_variable_and_only_from_installed_code(
    dag, sandbox, warehouse, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_VAR_FB_ORDERS_SYNC_REFERENCE_GENERATOR", "builtins:eval")
    run = dag.test(run_conf=NO_ALERTS)
    assert states(run)["pull_orders"] == "failed"
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fb_orders)).scalar_one() == 0

    monkeypatch.setenv(
        "AIRFLOW_VAR_FB_ORDERS_SYNC_REFERENCE_GENERATOR", "fb_commerce.orders.reference:default_reference"
    )
    run = dag.test(run_conf={**NO_ALERTS, "reference_generator": ""})  # the form's default: not a choice
    assert states(run)["pull_orders"] == "success"
    with warehouse.connect() as conn:
        references = conn.execute(sa.select(fb_orders.c.merchant_order_reference)).scalars().all()
    assert any(reference and reference.startswith("FB-") for reference in references)
