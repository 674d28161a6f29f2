"""`make demo`: start the sandbox, run the pipelines on it end to end, print what happened.

Each step runs a DAG with `airflow dags test` (the same code path as a scheduled run, in one process) against a
fresh sandbox and a fresh SQLite warehouse. It uses what `make airflow` uses: the same AIRFLOW_HOME (its runs are
recorded in the metadata DB, so the UI shows them) and the data folder's default warehouse
``$FB_COMMERCE_DATA_DIR/warehouse.db`` (emptied at the start of each demo; reports and feed files beside it), whatever
``AIRFLOW_CONN_FB_COMMERCE_WAREHOUSE`` says, so the demo never writes to a configured warehouse. Logs of every step
go to ``$FB_COMMERCE_DATA_DIR/demo``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from fb_commerce import defaults
from fb_commerce.environment import GRAPH_ENV, WAREHOUSE_ENV, sandbox_connection, sandbox_url
from fb_commerce.local import airflow_bin
from fb_commerce.warehouse.paths import WAREHOUSE_FILE, data_dir
from fb_commerce.web import page_url


def free_port(preferred: int) -> int:
    """The preferred port if nothing listens there, else any free one."""
    from fb_commerce.devstack import free_port as any_free_port

    with socket.socket() as probe:
        if probe.connect_ex((defaults.SANDBOX_HOST, preferred)) != 0:
            return preferred
    return any_free_port()


#: the demo's step logs, in the data folder
LOGS = "demo"


@dataclass
class DemoContext:
    """Where the demo runs: the data folder, environment for child processes and the sandbox URL."""

    folder: Path
    env: dict[str, str]
    sandbox_url: str
    runs: dict[str, int] = field(default_factory=dict)

    def engine(self) -> Any:
        """The demo warehouse (created once per step; SQLite)."""
        from fb_commerce.warehouse.engine import create_warehouse_engine

        return create_warehouse_engine(f"sqlite:///{self.folder / WAREHOUSE_FILE}")

    def log_file(self, name: str) -> Path:
        return self.folder / LOGS / f"{name}.log"

    def dag_test(self, dag_id: str, conf: dict | None = None) -> None:
        """Run one DAG with `airflow dags test`; on failure show the end of its log and stop the demo."""
        self.runs[dag_id] = self.runs.get(dag_id, 0) + 1
        log = self.log_file(dag_id if self.runs[dag_id] == 1 else f"{dag_id}-{self.runs[dag_id]}")
        log.parent.mkdir(parents=True, exist_ok=True)
        command = [airflow_bin(), "dags", "test", dag_id]
        if conf:
            command += ["-c", json.dumps(conf)]
        started = time.monotonic()
        with log.open("w") as out:
            result = subprocess.run(command, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        took = time.monotonic() - started
        text = log.read_text(errors="replace")
        if result.returncode != 0 or "state=failed" in text or "DagRun failed" in text:
            errors = [line for line in text.splitlines() if "[error" in line or "Exception:" in line]
            print("\n".join(errors[-10:]), file=sys.stderr)
            raise DemoFailed(f"{dag_id} failed after {took:.0f} s; full log: {log}")
        print(f"  {dag_id}: success in {took:.0f} s (log {log.relative_to(self.folder)})", flush=True)

    def backfill(self, dag_id: str, dates: list[dt.datetime], what: str, first_conf: dict[str, Any]) -> None:
        """Run ``dag_id`` for each logical date in order, in one child process (:func:`run_backfill`); on failure show
        the end of its log and stop the demo."""
        log = self.log_file(dag_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "fb_commerce.demo",
            dag_id,
            json.dumps(first_conf),
            *(d.isoformat() for d in dates),
        ]
        started = time.monotonic()
        with log.open("w") as out:
            result = subprocess.run(command, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        took = time.monotonic() - started
        if result.returncode != 0:
            text = log.read_text(errors="replace")
            errors = [line for line in text.splitlines() if "[error" in line or "Exception:" in line or "RUN " in line]
            print("\n".join(errors[-10:]), file=sys.stderr)
            raise DemoFailed(f"{dag_id} failed after {took:.0f} s; full log: {log}")
        print(
            f"  {dag_id}: {len(dates)} runs ({what}), success in {took:.0f} s (log {log.relative_to(self.folder)})",
            flush=True,
        )

    def fb_commerce(self, *args: str) -> str:
        """Run an `fb-commerce` subcommand in the demo's environment; its output is returned (and logged)."""
        command = [str(Path(sys.executable).with_name("fb-commerce")), *args]
        result = subprocess.run(command, env=self.env, capture_output=True, text=True)
        self.log_file("fb-commerce-" + args[0]).write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise DemoFailed(f"`fb-commerce {' '.join(args)}` failed:\n{result.stdout}{result.stderr}")
        return result.stdout


class DemoFailed(RuntimeError):
    """A demo step failed; the message says which and where its log is."""


def _step_warehouse(ctx: DemoContext) -> None:
    print("  " + ctx.fb_commerce("db", "upgrade").strip())


def _step_setup_check(ctx: DemoContext) -> None:
    report = ctx.folder / "reports" / "setup_check.txt"
    try:
        ctx.dag_test("fb_setup_check", {"register_order_management_app": True})
    finally:
        if report.exists():
            print(report.read_text())


def _print_orders(ctx: DemoContext) -> None:
    import sqlalchemy as sa

    with ctx.engine().connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT state, COUNT(*), COUNT(merchant_order_reference), COUNT(acknowledged_at), "
                "COUNT(acknowledge_error_code) FROM fb_orders GROUP BY state ORDER BY state"
            )
        ).all()
        print(f"  {'state':<14} {'orders':>6} {'with reference':>15} {'acknowledged':>13} {'ack errors':>11}")
        for state, total, referenced, acknowledged, errors in rows:
            print(f"  {state:<14} {total:>6} {referenced:>15} {acknowledged:>13} {errors:>11}")
        read_back = {
            table: conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in ("fb_shipments", "fb_cancellations", "fb_refunds", "fb_returns")
        }
        # the seeded shop has IN_PROGRESS orders past their ship-by date: alerts, not a failed run
        alerts = conn.execute(
            sa.text(
                "SELECT condition, COUNT(*) FROM fb_alerts WHERE resolved_at IS NULL AND condition <> 'daily_digest' "
                "GROUP BY condition ORDER BY condition"
            )
        ).all()
    print("  read back from Meta: " + ", ".join(f"{n} {table.removeprefix('fb_')}" for table, n in read_back.items()))
    print(
        "  open alerts (fb_alerts; notified through fb_commerce_alerts when it exists): "
        + (", ".join(f"{n} {condition}" for condition, n in alerts) or "none")
    )


def _step_orders(ctx: DemoContext) -> None:
    ctx.dag_test("fb_orders_sync")
    _print_orders(ctx)


def _step_order_updates(ctx: DemoContext) -> None:
    from fb_commerce.orders.demo_oms import queue_demo_requests
    from fb_commerce.orders.updates.outbox import describe_status_counts, status_counts

    queued = queue_demo_requests(ctx.engine())
    print("  the demo OMS queued: " + ", ".join(f"{n} {kind}" for kind, n in queued.counts().items()))
    ctx.dag_test("fb_order_updates")
    with ctx.engine().connect() as conn:
        for line in describe_status_counts(status_counts(conn)):
            print("  " + line)


def _step_orders_again(ctx: DemoContext) -> None:
    ctx.dag_test("fb_orders_sync")
    _print_orders(ctx)


def _step_catalog_feed(ctx: DemoContext) -> None:
    from fb_commerce.catalog.demo_products import seed_demo_products
    from fb_commerce.catalog.summary import feed_summary

    engine = ctx.engine()
    print(f"  {seed_demo_products(engine)} products in merchant_products (3 of them deliberately bad)")
    engine.dispose()  # no connection of ours stays open on the file while the DAG builds the feed
    ctx.dag_test("fb_catalog_feed")
    print(_indent(feed_summary(ctx.engine())))


def _step_inventory(ctx: DemoContext) -> None:
    from fb_commerce.catalog.demo_products import change_demo_inventory
    from fb_commerce.catalog.summary import inventory_summary

    engine = ctx.engine()
    changed = change_demo_inventory(engine)
    engine.dispose()
    print("  the merchant changed: " + ", ".join(f"{n} {what}" for what, n in changed.items()))
    ctx.dag_test("fb_inventory_sync")
    print(_indent(inventory_summary(ctx.engine())))


#: a missing SALE is planted on a shipment at least this old: past the 3 business days a SALE may lag (a weekend
#: included), so reconciliation reports it instead of counting it in flight
MISSING_SALE_AGE_DAYS = 5


def plant_finance_discrepancies(sandbox_url: str, since: float) -> list[dict[str, Any]]:
    """Plant one finance discrepancy of each kind on the demo's sandbox (``POST /_sandbox/plants``, ``pick``: the
    same targets for the same seed) and return the plants, each with what it changed (ids, expected and actual
    amounts) for the finance step to compare with what reconciliation finds.

    Targets are dated at or after ``since`` (Unix seconds: the start of the days the nightly covers): a payout short
    by 1.00, a failed payout, a tax mismatch of 0.50 and a fee 0.25 off the schedule; a missing SALE on a shipment
    captured in [``since``, ``MISSING_SALE_AGE_DAYS`` before the sandbox's now); and a late transaction on a SALE not
    yet paid out, which appears two days after its capture: in flight (no issue) until the sandbox's clock passes
    its ``appears_at``, then matched.
    """
    from fb_commerce.sandbox.client import SandboxAdmin

    admin = SandboxAdmin(sandbox_url)
    now = admin.state(include="clock")["clock"]["now"]
    settled = now - MISSING_SALE_AGE_DAYS * 86400
    # the missing SALE first: the seed's payouts are few, and a payout plant never takes one holding a planted SALE
    return [
        admin.plant("missing_sale", pick=True, since=min(since, settled - 86400), before=settled),
        admin.plant("payout_short", pick=True, since=since, amount="1.00"),
        admin.plant("payout_failed", pick=True, since=since),
        admin.plant("tax_mismatch", pick=True, since=since, amount="0.50"),
        admin.plant("fee_off_rate", pick=True, since=since, amount="0.25"),
        admin.plant("late_transaction", pick=True, since=since, days=2),
    ]


#: the rule (``include/sql/finance/reconcile/<kind>.sql``) each plant makes fire, and the ids its issue must carry
PLANT_ISSUES: dict[str, tuple[str, tuple[str, ...]]] = {
    "payout_short": ("payout_amount_mismatch", ("payout_reference_id",)),
    "payout_failed": ("payout_failed", ("payout_reference_id",)),
    "missing_sale": ("sale_missing", ("order_id", "shipment_id")),
    "tax_mismatch": ("tax_mismatch", ("order_id",)),
    "fee_off_rate": ("fee_off_schedule", ("order_id", "transaction_id")),
}
#: planted money that is late, not wrong: in flight until it appears, then matched; never an issue
IN_FLIGHT_KINDS = ("late_transaction",)


def _cents(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def _plant_of(issue: dict[str, Any], plants: list[dict[str, Any]]) -> dict[str, Any] | None:
    for planted in plants:
        kind, ids = PLANT_ISSUES.get(planted["kind"], ("", ()))
        changed = planted["changed"]
        if (
            issue["kind"] == kind
            and all(str(issue.get(name)) == str(changed.get(name)) for name in ids)
            and _cents(issue.get("difference")) == _cents(changed.get("difference"))
        ):
            return planted
    return None


def compare_with_plants(plants: list[dict[str, Any]], issues: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """What reconciliation got wrong against the plants: (planted discrepancies it missed, issues it found that no
    plant explains, or found naming a late transaction). ``issues``: the open rows of fb_reconciliation_issues; a
    plant is found by an issue of its rule (:data:`PLANT_ISSUES`) with its ids and its difference."""
    from fb_commerce.finance.reconcile import issue_line

    found = {id(p): False for p in plants}
    unexplained = []
    late = {p["changed"].get("transaction_id") for p in plants if p["kind"] in IN_FLIGHT_KINDS}
    late |= {p["changed"].get("shipment_id") for p in plants if p["kind"] in IN_FLIGHT_KINDS}
    for issue in issues:
        planted = _plant_of(issue, plants)
        if planted is None or late & {issue.get("transaction_id"), issue.get("shipment_id")}:
            unexplained.append(issue_line(issue))
        else:
            found[id(planted)] = True
    missed = [
        f"{p['kind']} {json.dumps(p['changed'], sort_keys=True)}"
        for p in plants
        if p["kind"] not in IN_FLIGHT_KINDS and not found[id(p)]
    ]
    return missed, unexplained


#: the finance step's short backfill: this many days (one run each, in order), the last one being yesterday
FINANCE_DAYS = 7


def finance_backfill_dates(now: float, days: int = FINANCE_DAYS) -> list[dt.datetime]:
    """The logical dates of a backfill of the ``days`` UTC days before ``now``: each run's logical date is the end
    of the day it covers (midnight after it)."""
    midnight = dt.datetime.fromtimestamp(now, dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return [midnight - dt.timedelta(days=days - 1 - n) for n in range(days)]


def history_lookback(sandbox_url: str, first_day: dt.date) -> int:
    """The look-back that takes the backfill's first run back to the sandbox's first transaction: a payout early in
    the window pays transactions of days before it, which a first run must load or it reports the payout short
    (``payout_amount_mismatch``: a day not loaded yet)."""
    from fb_commerce.finance.calendar import DEFAULT_LOOKBACK_DAYS
    from fb_commerce.orders.values import timestamp
    from fb_commerce.sandbox.client import SandboxAdmin

    transactions = SandboxAdmin(sandbox_url).state(include="transactions")["transactions"]
    dates = [when.date() for t in transactions if (when := timestamp(t["transaction_date"])) is not None]
    oldest = min(dates, default=first_day)
    return max(DEFAULT_LOOKBACK_DAYS, (first_day - oldest).days)


def run_backfill(
    dag_id: str,
    logical_dates: list[dt.datetime],
    conf: dict[str, Any] | None = None,
    first_conf: dict[str, Any] | None = None,
) -> list[Any]:
    """Run ``dag_id`` once per logical date, in order, with ``dag.test()`` in this process (Airflow imported and
    the DAG parsed once: a run costs seconds, not a process start); a run already recorded for one of those dates is
    deleted first, so a second demo runs them again; the first run gets ``first_conf`` too. Returns the DagRuns;
    stops at the first that is not a success."""
    from airflow.configuration import conf as airflow_conf
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    folder = Path(airflow_conf.get("core", "dags_folder")) / f"{dag_id}.py"
    dag = DagBag(dag_folder=str(folder)).get_dag(dag_id)
    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag_id, DagRun.logical_date.in_(logical_dates)).delete()
    runs: list[Any] = []
    for logical_date in logical_dates:
        extra = (first_conf or {}) if not runs else {}
        runs.append(dag.test(logical_date=logical_date, run_conf={**(conf or {}), **extra}))
        if runs[-1].state != "success":
            break
    return runs


def _backfill_main(dag_id: str, first_conf: str, *dates: str) -> int:
    runs = run_backfill(dag_id, [dt.datetime.fromisoformat(d) for d in dates], first_conf=json.loads(first_conf))
    for run in runs:
        print(f"RUN {run.logical_date.isoformat()} {run.state}", flush=True)
    return 0 if len(runs) == len(dates) and all(r.state == "success" for r in runs) else 1


def _step_finance(ctx: DemoContext) -> None:
    import sqlalchemy as sa

    from fb_commerce.finance.calendar import DEFAULT_LOOKBACK_DAYS
    from fb_commerce.finance.journal import load_accounts
    from fb_commerce.finance.reconcile import issue_line
    from fb_commerce.finance.reports import build_day_report
    from fb_commerce.sandbox.client import SandboxAdmin
    from fb_commerce.warehouse.schema import fb_reconciliation_issues

    dates = finance_backfill_dates(SandboxAdmin(ctx.sandbox_url).state(include="clock")["clock"]["now"])
    days = [(d - dt.timedelta(days=1)).date() for d in dates]
    window_start = dt.datetime.combine(days[0], dt.time(), dt.UTC) - dt.timedelta(days=DEFAULT_LOOKBACK_DAYS)
    plants = plant_finance_discrepancies(ctx.sandbox_url, window_start.timestamp())
    print(f"  planted on the sandbox: {', '.join(p['kind'] for p in plants)}")
    lookback = history_lookback(ctx.sandbox_url, days[0])
    ctx.backfill("fb_finance_nightly", dates, f"{days[0]} to {days[-1]}", {"lookback_days": lookback})

    engine = ctx.engine()
    with engine.connect() as conn:
        issues = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(fb_reconciliation_issues)
                .where(fb_reconciliation_issues.c.status == "open")
                .order_by(fb_reconciliation_issues.c.kind, fb_reconciliation_issues.c.issue_key)
            )
        ]
    print(f"  open reconciliation issues (fb_reconciliation_issues): {len(issues)}")
    for issue in issues:
        planted = _plant_of(issue, plants)
        print(f"    {issue_line(issue)}  [planted: {planted['kind'] if planted else 'NO'}]")
    for late in (p for p in plants if p["kind"] in IN_FLIGHT_KINDS):
        changed = late["changed"]
        print(
            f"  in flight, not an issue: SALE {changed['transaction_id']} of shipment {changed['shipment_id']} "
            f"({changed['actual_amount']} {changed['currency']}) captured {changed['captured_at']}, "
            f"Meta lists it at {changed['transaction_date']}"
        )
    accounts = load_accounts()
    print(f"  report folders: {ctx.folder / 'reports'}/{{{days[0]} .. {days[-1]}}}/")
    for day in days[-3:]:
        report = build_day_report(engine, day, "UTC", accounts)
        for currency, f in report.figures.items():
            print(
                f"    {day} {currency}: gross sales {f['gross_sales']:.2f}, refunds {f['refunds']:.2f}, "
                f"fees {f['fees']:.2f}, tax {f['tax']:.2f}, payouts {f['payouts']:.2f}, net {f['net']:.2f}; "
                f"{len(report.open_issues)} open issues"
            )
    engine.dispose()
    missed, unexplained = compare_with_plants(plants, issues)
    if missed or unexplained:
        lines = [f"MISSED (planted, not found): {m}" for m in missed]
        lines += [f"NOT PLANTED (found, unexpected): {u}" for u in unexplained]
        raise DemoFailed("reconciliation does not find exactly the planted discrepancies:\n  " + "\n  ".join(lines))
    print(f"  reconciliation found exactly the {len(plants) - 1} planted discrepancies and nothing else")


def _indent(text: str) -> str:
    return "\n".join(line if line.startswith("  ") else f"  {line}" for line in text.splitlines())


#: the demo, in order

#: lines of the looked-up order the demo prints (the whole view is `fb-commerce orders show`)
LOOKUP_LINES = 40


def _step_lookup(ctx: DemoContext) -> None:
    """One order as customer service sees it: one the OMS step refunded, else the newest."""
    import sqlalchemy as sa

    from fb_commerce.cs.lookup import order_view
    from fb_commerce.cs.text import format_order
    from fb_commerce.warehouse.schema import fb_orders, fb_refunds

    engine = ctx.engine()
    try:
        with engine.connect() as conn:
            order_id = (
                conn.execute(sa.select(sa.func.min(fb_refunds.c.order_id))).scalar()
                or conn.execute(
                    sa.select(fb_orders.c.order_id).order_by(fb_orders.c.created_at.desc()).limit(1)
                ).scalar()
            )
        view = order_view(engine, order_id) if order_id else None
        if view is None:
            raise DemoFailed("customer service: no order in the warehouse to look up")
        key = view.merchant_order_reference or order_id
        lines = format_order(view).splitlines()
    finally:
        engine.dispose()
    print(f"$ fb-commerce orders show {key}")
    print("\n".join(lines[:LOOKUP_LINES]))
    if len(lines) > LOOKUP_LINES:
        print(f"... ({len(lines) - LOOKUP_LINES} more lines: run the command above, or open the order on the page)")


STEPS: list[tuple[str, Callable[[DemoContext], None]]] = [
    ("Warehouse schema", _step_warehouse),
    ("Setup check against the sandbox (fb_setup_check)", _step_setup_check),
    ("Orders: pull, reference and acknowledge (fb_orders_sync)", _step_orders),
    ("OMS: ship, cancel and refund through the outbox (fb_order_updates)", _step_order_updates),
    ("Orders again: Meta's side read back (fb_orders_sync)", _step_orders_again),
    ("Catalog: validated feed built and uploaded (fb_catalog_feed)", _step_catalog_feed),
    ("Inventory: stock and price changes through the Batch API (fb_inventory_sync)", _step_inventory),
    ("Finance: a 7-day backfill, reconciled to the cent, with the day's reports (fb_finance_nightly)", _step_finance),
    ("Customer service: one order looked up (fb-commerce orders show)", _step_lookup),
]


def _start_sandbox(port: int, folder: Path, env: dict[str, str]) -> subprocess.Popen:
    log = (folder / LOGS / "sandbox.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("fb-commerce")), "sandbox", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    from fb_commerce.sandbox.client import SandboxAdmin

    try:
        SandboxAdmin(sandbox_url(port=port)).wait_ready(timeout=30)
    except Exception:  # noqa: BLE001 - whatever kept it from answering, the log says why
        process.terminate()
        raise DemoFailed(f"The sandbox did not start; see {folder / LOGS / 'sandbox.log'}") from None
    return process


def run_demo(port: int = defaults.SANDBOX_PORT, keep_sandbox: bool = False) -> int:
    folder = data_dir()
    # each demo starts from a fresh sandbox, so from an empty warehouse too (SQLite's side files with it)
    shutil.rmtree(folder / LOGS, ignore_errors=True)
    for leftover in folder.glob(f"{WAREHOUSE_FILE}*"):
        leftover.unlink()
    (folder / LOGS).mkdir(parents=True)
    port = free_port(port)
    url = sandbox_url(port=port)
    env = os.environ.copy()
    env.update(
        {
            GRAPH_ENV: json.dumps(sandbox_connection(url)),
            WAREHOUSE_ENV: json.dumps({"conn_type": "sqlite", "host": str(folder / WAREHOUSE_FILE)}),
            "FB_COMMERCE_DATA_DIR": str(folder),
        }
    )
    print(f"fb-commerce demo: sandbox at {url}, warehouse {folder / WAREHOUSE_FILE}", flush=True)
    started = time.monotonic()
    sandbox = _start_sandbox(port, folder, env)
    context = DemoContext(folder=folder, env=env, sandbox_url=url)
    try:
        for title, step in STEPS:
            print(f"\n== {title}", flush=True)
            step(context)
    except DemoFailed as exc:
        print(f"\nDemo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if keep_sandbox:
            print(f"\nThe sandbox keeps running at {url} (pid {sandbox.pid}).")
        else:
            sandbox.terminate()
            sandbox.wait(timeout=10)
    print(
        f"\nDemo finished in {time.monotonic() - started:.0f} s. "
        f"Logs: {folder / LOGS}; reports: {folder / 'reports'}.\n"
        "`make airflow` shows these runs and this warehouse in the Airflow UI.\n"
        f"Customer service page (after `make airflow`, log in as admin): {page_url()}"
    )
    return 0


if __name__ == "__main__":  # the finance step's backfill child: python -m fb_commerce.demo DAG_ID FIRST_CONF DATE...
    sys.exit(_backfill_main(*sys.argv[1:]))
