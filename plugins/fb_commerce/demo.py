"""`make demo`: start the sandbox, run the pipelines on it end to end, print what happened.

Each step runs a DAG with `airflow dags test` (the same code path as a scheduled run, in one process) against a
fresh sandbox and a fresh SQLite warehouse. It uses what `make airflow` uses: the same AIRFLOW_HOME (its runs are
recorded in the metadata DB, so the UI shows them) and the data folder's default warehouse
``$FB_COMMERCE_DATA_DIR/warehouse.db`` (emptied at the start of each demo; reports and feed files beside it), whatever
``AIRFLOW_CONN_FB_COMMERCE_WAREHOUSE`` says, so the demo never writes to a configured warehouse. Logs of every step
go to ``$FB_COMMERCE_DATA_DIR/demo``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fb_commerce import defaults
from fb_commerce.environment import GRAPH_ENV, WAREHOUSE_ENV, sandbox_connection, sandbox_url
from fb_commerce.local import airflow_bin
from fb_commerce.warehouse.paths import WAREHOUSE_FILE, data_dir


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
    return [
        admin.plant("payout_short", pick=True, since=since, amount="1.00"),
        admin.plant("payout_failed", pick=True, since=since),
        admin.plant("missing_sale", pick=True, since=min(since, settled - 86400), before=settled),
        admin.plant("tax_mismatch", pick=True, since=since, amount="0.50"),
        admin.plant("fee_off_rate", pick=True, since=since, amount="0.25"),
        admin.plant("late_transaction", pick=True, since=since, days=2),
    ]


def _indent(text: str) -> str:
    return "\n".join(line if line.startswith("  ") else f"  {line}" for line in text.splitlines())


#: the demo, in order
STEPS: list[tuple[str, Callable[[DemoContext], None]]] = [
    ("Warehouse schema", _step_warehouse),
    ("Setup check against the sandbox (fb_setup_check)", _step_setup_check),
    ("Orders: pull, reference and acknowledge (fb_orders_sync)", _step_orders),
    ("OMS: ship, cancel and refund through the outbox (fb_order_updates)", _step_order_updates),
    ("Orders again: Meta's side read back (fb_orders_sync)", _step_orders_again),
    ("Catalog: validated feed built and uploaded (fb_catalog_feed)", _step_catalog_feed),
    ("Inventory: stock and price changes through the Batch API (fb_inventory_sync)", _step_inventory),
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
        "`make airflow` shows these runs and this warehouse in the Airflow UI."
    )
    return 0
