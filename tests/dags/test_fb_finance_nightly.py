"""fb_finance_nightly end to end with dag.test(): the sandbox over HTTP, a real warehouse (SQLite and PostgreSQL).

One logical date (yesterday, with the default 5-day look-back) loads what the sandbox says was paid and
transacted in those days and writes yesterday's report folder; a second run of the same date leaves identical
tables and report bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from support import set_connections

from fb_commerce.orders.values import timestamp
from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.migrate import upgrade
from fb_commerce.warehouse.schema import fb_payouts, fb_transaction_tax_details, fb_transactions

pytestmark = pytest.mark.slow

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "fb_finance_nightly.py"
TABLES = (fb_payouts, fb_transactions, fb_transaction_tax_details)


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
                repr([tuple(r) for r in connection.execute(sa.select(t).order_by(*t.primary_key.columns))]).encode()
            ).hexdigest()
            for t in TABLES
        }


def test_one_logical_date_loads_its_days_and_a_rerun_changes_nothing(sandbox, warehouse, tmp_path):
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    truth = sandbox.admin.state(include="transactions,payouts")

    first = run(today - dt.timedelta(days=1))
    assert {ti.task_id: ti.state for ti in first.get_task_instances()} == {
        "load_finance": "success",
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
    assert stored == expected and payouts == expected_payouts and lines >= len(expected)
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
