"""A run's colour tells the truth: in every DAG, each task is made to fail in turn (by real means: a wrong token,
a missing warehouse table, sandbox faults, an unreachable notifier) and the run must end failed.

Tasks that run whatever happened upstream (``all_done``) keep doing so: the read-back still reads Meta's own
changes when acknowledging failed, and the alerts still go out; the run fails all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import closed_port, fast_client, migrated_engine, set_alerts_connection, set_connections

from fb_commerce.catalog.demo_products import seed_demo_products
from fb_commerce.orders.demo_oms import queue_demo_requests
from fb_commerce.orders.pull import pull_orders

pytestmark = pytest.mark.slow

DAGS = Path(__file__).resolve().parents[2] / "dags"
#: order alert rules off, so only the failure under test can fail a task
NO_ALERTS = {
    "stuck_created_minutes": 0,
    "ship_by_warning_hours": 0,
    "return_unanswered_hours": 0,
    "freshness_minutes": 0,
}


def run_dag(dag_id: str, conf: dict[str, Any] | None = None):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py")).get_dag(dag_id)
    for task in dag.tasks:
        task.retries = 0  # a failure shows at once, instead of dag.test sleeping through the retry delays
    return dag.test(run_conf=conf or {})


def states(run) -> dict[str, str | None]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


class Shop:
    """The sandbox, a migrated SQLite warehouse and both connections, with ways to break each of them."""

    def __init__(self, sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sandbox, self.monkeypatch = sandbox, monkeypatch
        self.url = f"sqlite:///{tmp_path / 'warehouse.db'}"
        self.engine = migrated_engine(self.url)
        monkeypatch.setenv("FB_COMMERCE_DATA_DIR", str(tmp_path))
        self.connect()

    def connect(self, **extra: Any) -> None:
        set_connections(self.monkeypatch, self.sandbox.url, self.url, fast=True, **extra)

    def drop(self, table: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.text(f"DROP TABLE {table}"))

    def unreachable_notifier(self) -> None:
        set_alerts_connection(self.monkeypatch, f"json://127.0.0.1:{closed_port()}/")

    def pull(self) -> None:
        pull_orders(fast_client(self.sandbox.url), self.engine, self.sandbox_cms_id)

    sandbox_cms_id = "100000000000004"


@pytest.fixture
def shop(sandbox, tmp_path, monkeypatch) -> Iterator[Shop]:
    shop = Shop(sandbox, tmp_path, monkeypatch)
    yield shop
    shop.engine.dispose()


Breaker = Callable[[Shop], dict[str, Any] | None]


def wrong_token(shop: Shop) -> None:
    shop.connect(token="expired-token")


def fail_acknowledgements(shop: Shop) -> None:
    # Meta applies the acknowledgements but the answers never come back, and the client gives up at once.
    shop.connect(max_attempts=1)
    shop.sandbox.admin.faults(timeout_rate=1.0, timeout_ms=200, paths=["acknowledge_orders"])


ORDERS_SYNC: dict[str, Breaker] = {
    "pull_orders": lambda shop: shop.drop("fb_order_items"),  # the page cannot be stored: nothing else breaks
    "acknowledge_orders": fail_acknowledgements,
    "read_back_orders": lambda shop: shop.drop("fb_cancellations"),
    # the alert rules on (the seeded shop has late orders) and the notifier cannot be reached
    "check_order_alerts": lambda shop: (shop.unreachable_notifier(), {})[1],
}


@pytest.mark.parametrize("task_id", sorted(ORDERS_SYNC))
def test_fb_orders_sync_fails_when_any_task_fails(shop, task_id):
    conf = ORDERS_SYNC[task_id](shop)
    run = run_dag("fb_orders_sync", NO_ALERTS if conf is None else conf)
    assert states(run)[task_id] == "failed", states(run)
    assert run.state == "failed", states(run)
    # the tasks that run whatever happened upstream still ran
    assert states(run)["check_order_alerts"] in ("success", "failed")
    if task_id != "pull_orders":
        assert states(run)["read_back_orders"] in ("success", "failed")


def test_fb_orders_sync_is_green_when_every_task_succeeded(shop):
    run = run_dag("fb_orders_sync", NO_ALERTS)
    assert run.state == "success", states(run)


SETUP_CHECK: dict[str, Breaker] = {
    "run_checks": wrong_token,
    # no orders sync ever succeeded in this warehouse, so the freshness alert is due, and cannot be sent
    "check_sync_freshness": lambda shop: shop.unreachable_notifier(),
}


@pytest.mark.parametrize("task_id", sorted(SETUP_CHECK))
def test_fb_setup_check_fails_when_any_task_fails(shop, task_id):
    SETUP_CHECK[task_id](shop)
    run = run_dag("fb_setup_check")
    assert states(run)[task_id] == "failed", states(run)
    assert run.state == "failed", states(run)


def queued_requests(shop: Shop) -> None:
    shop.pull()
    queue_demo_requests(shop.engine, shipments=1)


def stuck_requests(shop: Shop) -> dict[str, Any]:
    queued_requests(shop)
    shop.connect(max_attempts=1)
    shop.sandbox.admin.faults(error_rate=1.0)  # temporary errors: the rows stay pending
    return {"stuck_after_attempts": 1}


ORDER_UPDATES: dict[str, Breaker] = {
    "validate": lambda shop: (queued_requests(shop), shop.drop("fb_refund_requests"))[1],
    "send": lambda shop: (queued_requests(shop), wrong_token(shop))[1],
    "summary": stuck_requests,
}


@pytest.mark.parametrize("task_id", sorted(ORDER_UPDATES))
def test_fb_order_updates_fails_when_any_task_fails(shop, task_id):
    conf = ORDER_UPDATES[task_id](shop)
    run = run_dag("fb_order_updates", conf)
    assert states(run)[task_id] == "failed", states(run)
    assert run.state == "failed", states(run)


CATALOG_FEED: dict[str, Breaker] = {
    "build_feed": lambda shop: shop.drop("merchant_products"),
    "upload_feed": lambda shop: (seed_demo_products(shop.engine), wrong_token(shop))[1],
}


@pytest.mark.parametrize("task_id", sorted(CATALOG_FEED))
def test_fb_catalog_feed_fails_when_any_task_fails(shop, task_id):
    CATALOG_FEED[task_id](shop)
    shop.engine.dispose()  # the build reads SQLite through ADBC in this process
    run = run_dag("fb_catalog_feed")
    assert states(run)[task_id] == "failed", states(run)
    assert run.state == "failed", states(run)


def test_fb_inventory_sync_fails_when_its_task_fails(shop):
    from fb_commerce.catalog.demo_products import change_demo_inventory

    seed_demo_products(shop.engine)
    shop.sandbox.admin.config(upload_delay_seconds=0.2)
    shop.engine.dispose()
    assert run_dag("fb_catalog_feed").state == "success"  # Meta has the products: changes now go by items_batch
    change_demo_inventory(shop.engine)
    wrong_token(shop)
    shop.engine.dispose()
    run = run_dag("fb_inventory_sync")
    assert states(run) == {"sync_inventory": "failed"}
    assert run.state == "failed"


FINANCE_NIGHTLY: dict[str, Breaker] = {
    "wrong token": wrong_token,
    "no tax-line table": lambda shop: shop.drop("fb_transaction_tax_details"),
}


@pytest.mark.parametrize("breaker", sorted(FINANCE_NIGHTLY))
def test_fb_finance_nightly_fails_when_its_load_fails(shop, breaker):
    shop.pull()  # the orders are stored: the wait is over at once
    FINANCE_NIGHTLY[breaker](shop)
    run = run_dag("fb_finance_nightly")
    assert states(run) == {
        "wait_for_orders": "success",
        "load_finance": "failed",
        "reconcile": "upstream_failed",
        "write_reports": "upstream_failed",
    }
    assert run.state == "failed"


def test_fb_finance_nightly_fails_when_the_orders_never_come(shop):
    # fb_orders_sync never ran and the run may not wait: it fails, and nothing is loaded
    run = run_dag("fb_finance_nightly", {"orders_wait_hours": 0})
    assert states(run) == {
        "wait_for_orders": "failed",
        "load_finance": "upstream_failed",
        "reconcile": "upstream_failed",
        "write_reports": "upstream_failed",
    }
    assert run.state == "failed"


def test_fb_finance_nightly_is_green_when_its_tasks_succeeded(shop):
    shop.pull()
    run = run_dag("fb_finance_nightly")
    assert states(run) == {
        "wait_for_orders": "success",
        "load_finance": "success",
        "reconcile": "success",
        "write_reports": "success",
    }
    assert run.state == "success"


def test_fb_finance_nightly_fails_when_the_reports_cannot_be_written(shop, tmp_path):
    shop.pull()
    mapping = tmp_path / "accounts.csv"
    mapping.write_text("category,account\nbank,1000 Bank\n")  # incomplete: the task fails, naming the file
    run = run_dag("fb_finance_nightly", {"accounts_file": str(mapping)})
    assert states(run) == {
        "wait_for_orders": "success",
        "load_finance": "success",
        "reconcile": "success",
        "write_reports": "failed",
    }
    assert run.state == "failed"


def cs_form(shop: Shop, dag_id: str) -> dict[str, Any]:
    """A form that would pass: a shipped unit to refund, an open unit to cancel, a shipment to re-track."""
    from fb_commerce.orders.readback import read_back
    from fb_commerce.warehouse.schema import fb_order_items, fb_orders, fb_shipments

    shop.pull()
    read_back(fast_client(shop.sandbox.url), shop.engine, shop.sandbox_cms_id)
    items, orders = fb_order_items, fb_orders
    with shop.engine.connect() as conn:
        if dag_id == "fb_cs_update_tracking":
            order_id, shipment_id = conn.execute(sa.select(fb_shipments.c.order_id, fb_shipments.c.shipment_id)).first()
            return {"order": order_id, "shipment": shipment_id, "carrier": "ups", "tracking_number": "RS-1"}
        column = items.c.quantity_fulfilled if dag_id == "fb_cs_refund" else items.c.quantity_in_progress
        order_id, item_id = conn.execute(
            sa.select(items.c.order_id, items.c.item_id)
            .join(orders, orders.c.order_id == items.c.order_id)
            .where(column > 0, items.c.price_per_unit < 100, orders.c.state.in_(["IN_PROGRESS", "COMPLETED"]))
            .order_by(items.c.order_id)
        ).first()
    return {"order": order_id, "items": [f"{item_id} 1"]}


CS_FIRST_TASK = {"fb_cs_refund": "check_refund", "fb_cs_cancel": "submit", "fb_cs_update_tracking": "submit"}


@pytest.mark.parametrize("dag_id", sorted(CS_FIRST_TASK))
def test_fb_cs_dags_fail_when_their_tasks_fail(shop, dag_id):
    conf = cs_form(shop, dag_id)
    wrong_token(shop)  # Meta's state cannot be read: the check fails
    run = run_dag(dag_id, conf)
    assert states(run)[CS_FIRST_TASK[dag_id]] == "failed", states(run)
    assert run.state == "failed", states(run)
    shop.connect()
    shop.sandbox.admin.faults(error_rate=1.0, paths=["cancellations", "refunds", "update_shipment"])
    run = run_dag(dag_id, conf)  # queued, then Meta keeps failing: send fails (fb_order_updates retries later)
    assert states(run)["send"] == "failed", states(run)
    assert run.state == "failed", states(run)
