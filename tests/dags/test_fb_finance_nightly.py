"""fb_finance_nightly end to end with dag.test(): the sandbox over HTTP, a real warehouse (SQLite and PostgreSQL).

One logical date (yesterday, with the default 5-day look-back) loads what the sandbox says was paid and
transacted in those days, once fb_orders_sync has stored the orders, and writes yesterday's report folder; a second
run of the same date leaves identical tables and report bytes. A run whose orders are not stored fails when its
wait is over, saying so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from support import fast_client, set_connections

from fb_commerce import defaults
from fb_commerce.orders.pull import pull_orders
from fb_commerce.orders.values import timestamp
from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.migrate import upgrade
from fb_commerce.warehouse.schema import (
    fb_payments,
    fb_payouts,
    fb_reconciliation_issues,
    fb_transaction_tax_details,
    fb_transactions,
)

pytestmark = pytest.mark.slow

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "fb_finance_nightly.py"
TABLES = (fb_payouts, fb_transactions, fb_transaction_tax_details, fb_payments, fb_reconciliation_issues)
#: bookkeeping that names the run: dag.test names each run by the clock, a backfill by its logical date
RUN_COLUMNS = {"last_run_id"}


@pytest.fixture
def warehouse(sandbox, monkeypatch, tmp_path, warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    set_connections(monkeypatch, sandbox.url, warehouse_url, fast=True, timeout=[2, 5])
    monkeypatch.setenv("FB_COMMERCE_DATA_DIR", str(tmp_path))
    yield engine
    engine.dispose()


def run(logical_date: dt.datetime, conf: dict | None = None):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAG_FILE)).get_dag("fb_finance_nightly")
    for task in dag.tasks:
        task.retries = 0
    return dag.test(logical_date=logical_date, run_conf=conf or {})


def hashes(engine) -> dict[str, str]:
    with engine.connect() as connection:
        return {
            t.name: hashlib.sha256(
                repr(
                    [
                        tuple(r)
                        for r in connection.execute(
                            sa.select(*(c for c in t.columns if c.name not in RUN_COLUMNS)).order_by(
                                *t.primary_key.columns
                            )
                        )
                    ]
                ).encode()
            ).hexdigest()
            for t in TABLES
        }


def test_one_logical_date_loads_its_days_and_a_rerun_changes_nothing(sandbox, warehouse, tmp_path):
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    truth = sandbox.admin.state(include="transactions,payouts")
    pull_orders(fast_client(sandbox.url), warehouse, defaults.SANDBOX_CMS_ID)  # fb_orders_sync ran since midnight

    first = run(today - dt.timedelta(days=1))
    assert {ti.task_id: ti.state for ti in first.get_task_instances()} == {
        "wait_for_orders": "success",
        "load_finance": "success",
        "reconcile": "success",
        "write_reports": "success",
    }
    # the run reads its data interval (one business day, UTC here) plus the default 5 days before it
    start, end = first.data_interval_start - dt.timedelta(days=5), first.data_interval_end
    assert end - first.data_interval_start == dt.timedelta(days=1)
    expected = {t["id"] for t in truth["transactions"] if start <= timestamp(t["transaction_date"]) < end}
    expected_payouts = {
        p["payout_reference_id"] for p in truth["payouts"] if start <= timestamp(p["payout_date"]) < end
    }
    assert expected and expected_payouts
    with warehouse.connect() as connection:
        stored = set(connection.execute(sa.select(fb_transactions.c.transaction_id)).scalars())
        payouts = set(connection.execute(sa.select(fb_payouts.c.payout_reference_id)).scalars())
        lines = connection.execute(sa.select(sa.func.count()).select_from(fb_transaction_tax_details)).scalar()
        paid = set(connection.execute(sa.select(fb_payments.c.transaction_id)).scalars())
    assert stored == expected and payouts == expected_payouts and lines >= len(expected)
    sales = {t["id"] for t in truth["transactions"] if t["id"] in expected and t["transaction_type"] == "SALE"}
    assert sales and sales <= paid  # every SALE loaded has the payment it captured
    before = hashes(warehouse)
    folder = tmp_path / "reports" / first.data_interval_start.date().isoformat()  # the run's day (UTC here)
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert {"cash.csv", "journal.csv", "summary.html", f"finance_{folder.name}.xlsx"} <= set(files)
    assert files["cash.csv"].count(b"\r\n") > 1  # the day's payouts are there

    from airflow.models import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:  # dag.test would reuse the run of that logical date: clear it first
        session.query(DagRun).filter(DagRun.dag_id == "fb_finance_nightly").delete()
    again = run(today - dt.timedelta(days=1))
    assert again.state == "success"
    assert hashes(warehouse) == before
    assert {p.name: p.read_bytes() for p in sorted(folder.iterdir())} == files  # the same report bytes
    with warehouse.connect() as connection:  # the issues found again name the run that last saw them
        last_runs = set(connection.execute(sa.select(fb_reconciliation_issues.c.last_run_id)).scalars())
    assert last_runs <= {again.run_id}


def test_a_run_whose_orders_are_not_stored_waits_then_fails_saying_so(sandbox, warehouse):
    # fb_orders_sync never ran: nothing tells that the day's orders are stored; the wait is made 0 hours
    failed = run(
        dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=1),
        {"orders_wait_hours": 0},
    )
    assert {ti.task_id: ti.state for ti in failed.get_task_instances()} == {
        "wait_for_orders": "failed",
        "load_finance": "upstream_failed",
        "reconcile": "upstream_failed",
        "write_reports": "upstream_failed",
    }
    assert failed.state == "failed"
    with warehouse.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(fb_transactions)).scalar() == 0


def test_the_sensor_waits_while_the_watermark_is_short_of_the_day(sandbox, warehouse):
    from fb_commerce.finance.orders_ready import orders_readiness
    from fb_commerce.operators.finance import WaitForOrdersSensor
    from fb_commerce.warehouse.sync_state import ORDERS_WATERMARK, advance_watermark

    midnight = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    sensor = WaitForOrdersSensor(task_id="wait_for_orders", wait_hours=6)
    sensor._needed = midnight
    assert sensor.mode == "reschedule" and sensor.poke({}) is False  # no orders stored at all
    advance_watermark(warehouse, ORDERS_WATERMARK, midnight - dt.timedelta(seconds=1), now=midnight)
    assert sensor.poke({}) is False  # a second short: still waiting
    assert "2026-03-02T00:00:00+00:00" in orders_readiness(warehouse, midnight).timed_out(dt.timedelta(hours=6))
    advance_watermark(warehouse, ORDERS_WATERMARK, midnight, now=midnight)
    assert sensor.poke({}) is True
