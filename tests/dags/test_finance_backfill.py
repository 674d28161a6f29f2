"""fb_finance_nightly end to end over a 7-day backfill (dag.test(), the sandbox over HTTP, SQLite and PostgreSQL).

One seeded sandbox per warehouse: one discrepancy of each kind planted (as `make demo` plants them), fb_orders_sync
run, then the 7 days backfilled in order. The tests read what that left, then rerun the backfill and move the
sandbox's clock: keep their order.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import migrated_engine, set_connections

from fb_commerce.demo import (
    FINANCE_DAYS,
    IN_FLIGHT_KINDS,
    compare_with_plants,
    finance_backfill_dates,
    history_lookback,
    plant_finance_discrepancies,
    run_backfill,
)
from fb_commerce.finance.calendar import DEFAULT_LOOKBACK_DAYS
from fb_commerce.warehouse import schema

pytestmark = pytest.mark.slow

#: every finance table (the views read these); fb_reconciliation_issues without the run that last saw an issue
FINANCE_TABLES = (
    "fb_payouts",
    "fb_transactions",
    "fb_transaction_tax_details",
    "fb_payments",
    "fb_reconciliation_issues",
)
RUN_COLUMNS = {"last_run_id", "first_run_id"}


class Backfill:
    """The module's seeded world: sandbox, warehouse, data folder, plants and the backfill's logical dates."""

    def __init__(
        self, sandbox: Any, engine: sa.Engine, data: Path, plants: list[dict[str, Any]], dates: list[dt.datetime]
    ):
        self.sandbox, self.engine, self.data, self.plants, self.dates = sandbox, engine, data, plants, dates

    @property
    def days(self) -> list[dt.date]:
        return [(d - dt.timedelta(days=1)).date() for d in self.dates]

    def issues(self, status: str | None = "open") -> list[dict[str, Any]]:
        issues = schema.fb_reconciliation_issues
        query = sa.select(issues).order_by(issues.c.issue_key)
        if status:
            query = query.where(issues.c.status == status)
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(query)]

    def hashes(self) -> dict[str, str]:
        with self.engine.connect() as connection:
            out = {}
            for name in FINANCE_TABLES:
                table = schema.metadata.tables[name]
                rows = connection.execute(
                    sa.select(*(c for c in table.columns if c.name not in RUN_COLUMNS)).order_by(
                        *table.primary_key.columns
                    )
                )
                out[name] = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
            return out

    def report_bytes(self) -> dict[str, bytes]:
        root = self.data / "reports"
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _orders_sync() -> None:
    from airflow.dag_processing.dagbag import DagBag

    folder = Path(__file__).resolve().parents[2] / "dags" / "fb_orders_sync.py"
    dag = DagBag(dag_folder=str(folder)).get_dag("fb_orders_sync")
    assert dag.test().state == "success"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backfill(request, sandbox_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("finance")
    schema_name = None
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'warehouse.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        schema_name = f"fbc_test_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema_name}"'))
        url = f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{schema_name}"
    sandbox_server.admin.reset()
    engine = migrated_engine(url)
    with pytest.MonkeyPatch.context() as monkeypatch:
        set_connections(monkeypatch, sandbox_server.url, url, fast=True, timeout=[2, 5])
        monkeypatch.setenv("FB_COMMERCE_DATA_DIR", str(folder))
        dates = finance_backfill_dates(sandbox_server.admin.state(include="clock")["clock"]["now"])
        since = dates[0] - dt.timedelta(days=1 + DEFAULT_LOOKBACK_DAYS)
        plants = plant_finance_discrepancies(sandbox_server.url, since.timestamp())
        _orders_sync()
        runs = run_backfill(
            "fb_finance_nightly",
            dates,
            first_conf={
                "lookback_days": history_lookback(sandbox_server.url, (dates[0] - dt.timedelta(days=1)).date())
            },
        )
        assert [r.state for r in runs] == ["success"] * FINANCE_DAYS
        yield Backfill(sandbox_server, engine, folder, plants, dates)
    engine.dispose()
    if schema_name:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE'))
        admin.dispose()


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_reconciliation_finds_exactly_the_planted_discrepancies(backfill):
    missed, unexplained = compare_with_plants(backfill.plants, backfill.issues())
    assert (missed, unexplained) == ([], [])
    assert len(backfill.issues()) == len(backfill.plants) - len(IN_FLIGHT_KINDS)
    # the late SALE is not listed yet: its shipment is in flight (captured today), not an issue, not loaded
    (late,) = [p["changed"] for p in backfill.plants if p["kind"] in IN_FLIGHT_KINDS]
    with backfill.engine.connect() as connection:
        stored = connection.execute(
            sa.select(schema.fb_transactions.c.transaction_id).where(
                schema.fb_transactions.c.transaction_id == late["transaction_id"]
            )
        ).all()
    assert stored == []


def test_every_day_has_its_folder_whose_journal_balances_and_spreadsheet_adds_up(backfill):
    import openpyxl

    entries = 0
    for day in backfill.days:
        folder = backfill.data / "reports" / day.isoformat()
        payouts = {r["payout_reference_id"] for r in read_csv(folder / "cash.csv")}
        totals: dict[str, list[Decimal]] = {}
        for line in read_csv(folder / "journal.csv"):
            total = totals.setdefault(line["entry"], [Decimal(0), Decimal(0)])
            total[0] += Decimal(line["debit"])
            total[1] += Decimal(line["credit"])
        assert len(totals) == len(payouts), day  # one entry per payout
        assert all(debit == credit for debit, credit in totals.values()), (day, totals)
        entries += len(totals)
        workbook = openpyxl.load_workbook(folder / f"finance_{day.isoformat()}.xlsx", read_only=True)
        for name in workbook.sheetnames:
            if not (folder / f"{name}.csv").exists():
                continue
            rows = list(workbook[name].iter_rows(values_only=True))
            from_csv = read_csv(folder / f"{name}.csv")
            assert len(rows) - 1 == len(from_csv), (day, name)
            for index, column in enumerate(rows[0]):
                cells = [r[index] for r in rows[1:] if isinstance(r[index], int | float)]
                if not cells or not all(
                    c.replace(".", "", 1).lstrip("-").isdigit() for r in from_csv if (c := r[column])
                ):
                    continue  # not a number column
                xlsx_total = sum((Decimal(str(c)) for c in cells), Decimal(0))
                csv_total = sum((Decimal(r[column]) for r in from_csv if r[column]), Decimal(0))
                assert xlsx_total.quantize(Decimal("0.0001")) == csv_total.quantize(Decimal("0.0001")), (
                    day,
                    name,
                    column,
                )
    assert entries > 0


def test_the_backfill_run_again_leaves_identical_tables_and_report_bytes(backfill):
    tables, files = backfill.hashes(), backfill.report_bytes()
    assert len(files) >= FINANCE_DAYS * 10
    lookback = history_lookback(backfill.sandbox.url, backfill.days[0])
    runs = run_backfill("fb_finance_nightly", backfill.dates, first_conf={"lookback_days": lookback})
    assert [r.state for r in runs] == ["success"] * FINANCE_DAYS
    assert backfill.hashes() == tables
    assert backfill.report_bytes() == files


def test_the_late_transaction_goes_from_in_flight_to_matched(backfill):
    from fb_commerce.warehouse.sync_state import ORDERS_WATERMARK, advance_watermark

    (late,) = [p["changed"] for p in backfill.plants if p["kind"] in IN_FLIGHT_KINDS]
    admin = backfill.sandbox.admin
    now = admin.state(include="clock")["clock"]["now"]
    admin.clock(late["appears_at"] - now + 3600)  # an hour after Meta lists it
    # the night after it appeared; fb_orders_sync runs on the real clock, so its watermark is moved for it
    (after,) = finance_backfill_dates(late["appears_at"] + 86400, days=1)
    advance_watermark(backfill.engine, ORDERS_WATERMARK, after, now=after)
    (run,) = run_backfill("fb_finance_nightly", [after])
    assert run.state == "success"
    transactions = schema.fb_transactions
    with backfill.engine.connect() as connection:
        stored = connection.execute(
            sa.select(transactions.c.transaction_type, transactions.c.order_id).where(
                transactions.c.transaction_id == late["transaction_id"]
            )
        ).one()
    assert tuple(stored) == ("SALE", late["order_id"])
    named = [
        i["kind"]
        for i in backfill.issues(None)
        if late["transaction_id"] in (i["transaction_id"],) or late["shipment_id"] == i["shipment_id"]
    ]
    assert named == []  # never an issue: in flight, then matched to the cent
