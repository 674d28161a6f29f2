"""Finance benchmark: load + reconcile against the databases' own bulk import of the rows, memory, Graph calls.

--rows transactions (default 1,000,000) are generated directly as Meta sends them (no HTTP): nine SALEs in ten, each
with its order inline (``order_details``) and that order's payment (one shipment), one or two items taxed per
item in two jurisdictions, a REFUND for every tenth; a payout per 1,000 transactions. Then, in this same run:

(a) PostgreSQL (``--warehouse-url``, a fresh schema each side, dropped afterwards): the product's loader
    (``store_payouts`` and ``store_transactions`` from :mod:`fb_commerce.finance.load`, one call per Graph page of
    ``--page-size`` objects as ``load_finance`` makes them, each page its own transaction) against a bare
    ``COPY ... FROM STDIN (FORMAT csv)`` of the same rows (the rows the loader stores, written to CSV files
    beforehand, untimed) into the same empty tables: target <= 2x;
(b) SQLite (a fresh file each side): the same loader against ``sqlite3 .import --csv`` of the same CSV files
    (the sqlite3 command-line tool; if it is missing the bench says so and skips (b): `apt-get install sqlite3`);
    target <= 2x;
(c) peak RSS of the child process that runs the loader (VmHWM, else ``ru_maxrss``), at --small (default rows/10)
    and at --rows, on each warehouse: target <= 500 MB, and flat (the full-size peak <= 1.25x the small one);
(d) Graph calls for one nightly run's extract (its day plus the 5-day look-back) against ``fb-commerce sandbox``,
    against the minimum: the pages of each edge at 100 objects per page (payments come inline: none of their own;
    an order with a shipment whose payment no transaction brought would cost one call, but this warehouse holds no
    shipments).

The measured path is the load and then the reconciliation (:func:`fb_commerce.finance.reconcile.reconcile`, every
rule over the generated days, one call), on a warehouse where the SALEs' orders and shipments are already stored
(as fb_orders_sync stores them; seeded untimed); ``--load-only`` leaves the reconciliation out. The baseline
COPYs the same rows alone. The data is not all clean (the REFUNDs have no ``fb_refunds`` row, the payout amounts
are made up): the open issues found are printed, and the rules have them to write.

    .venv/bin/python bench/finance.py [--rows 1000000] [--small N] [--page-size 100]
        [--warehouse-url postgresql+psycopg2://postgres@127.0.0.1:5432/test] [--warehouses postgresql,sqlite]
        [--skip-calls] [--load-only]

Times are the loader's own measure in the child (interpreter start, imports and data generation excluded: the
generator is timed alone and subtracted) and the baseline's wall time.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from orders import fresh_warehouse  # bench/orders.py: an empty, migrated warehouse (a new schema or file)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TIME_TARGET = 2.0
MEMORY_TARGET_MB = 500.0
GROWTH_TARGET = 1.25
DEFAULT_POSTGRES_URL = os.environ.get(
    "FB_COMMERCE_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TRANSACTIONS_PER_PAYOUT = 1_000
#: the tables the load writes, in the order the baseline fills them
TABLES = ("fb_payouts", "fb_transactions", "fb_transaction_tax_details", "fb_payments")


# --- the data -------------------------------------------------------------------------------------------------


def _usd(cents: int) -> dict[str, str]:
    sign = "-" if cents < 0 else ""
    return {"amount": f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}", "currency": "USD"}


def _tax_lines(cents: int) -> dict[str, Any]:
    state, county = cents * 6 // 100, cents * 125 // 10_000
    return {
        "data": [
            {
                "tax_category": "FB_GENERAL",
                "jurisdiction": "CA",
                "imposition": "SALES_TAX",
                "item_tax_rate": "6%",
                "item_tax_amount": {"amount": f"{state / 100:.4f}", "currency": "USD"},
            },
            {
                "tax_category": "FB_GENERAL",
                "jurisdiction": "LOS ANGELES",
                "imposition": "SALES_TAX",
                "item_tax_rate": "1.25%",
                "item_tax_amount": {"amount": f"{county / 100:.4f}", "currency": "USD"},
            },
        ]
    }


def transaction(number: int) -> dict[str, Any]:
    """Transaction ``number`` as Meta sends it (deterministic)."""
    refund = number % 10 == 9
    order = 30_000_000 + (number - 1 if refund else number)
    when = START + dt.timedelta(seconds=number * 7)
    items = [(f"sku-{number % 997}", 1000 + number % 4000)] + ([(f"sku-{number % 89}", 2500)] if number % 3 else [])
    goods = sum(price for _, price in items)
    shipping = 500
    tax = sum(price * 6 // 100 + price * 125 // 10_000 for _, price in items)
    total = goods + shipping + tax
    fee = (total * 5 + 50) // 100  # the published 5 %, rounded half up (totals are all above 8.00)
    remitted = (number - 1 if refund else number) % 2 == 0  # Meta remits the tax of every other order
    withheld = tax if remitted else 0
    sign = -1 if refund else 1
    order_details: dict[str, Any] = {
        "id": str(order),
        "merchant_order_id": f"FB-{order}",
        "created": (when - dt.timedelta(days=2)).isoformat(),
        "order_status": {"state": "COMPLETED"},
    }
    if not refund:
        order_details["payments"] = {
            "data": [
                {
                    "id": f"{order}:payment",
                    "subtotal": {"items": _usd(goods), "shipping": _usd(shipping)},
                    "tax": _usd(tax),
                    "tax_remitted": remitted,
                    "total_amount": _usd(total),
                    "shipments": {"data": [{"id": f"{order}:shipment", "external_shipment_id": f"S-{order}"}]},
                    "transaction_details": {
                        "transaction_id": str(90_000_000 + number),
                        "processor": "PAYPAL",
                        "captured_amount": _usd(total),
                        "capture_time": when.isoformat(),
                    },
                }
            ]
        }
    return {
        "id": str(90_000_000 + number),
        "transaction_type": "REFUND" if refund else "SALE",
        "transaction_date": when.isoformat(),
        "order_details": order_details,
        "processing_fee": _usd(sign * -fee),
        "net_payment_amount": _usd(sign * (total - fee - withheld)),
        "tax_rate": "7.25%",
        "payout_reference_id": str(40_000_000 + number // TRANSACTIONS_PER_PAYOUT),
        "transfer_id": f"po_{number // TRANSACTIONS_PER_PAYOUT}",
        "items": {
            "data": [
                {"id": sku, "product_id": f"p-{sku}", "quantity": 1, "price_per_unit": _usd(price)}
                | {"tax_details": _tax_lines(price)}
                for sku, price in items
            ]
        },
    }


def payout(number: int) -> dict[str, Any]:
    return {
        "payout_reference_id": str(40_000_000 + number),
        "transfer_id": f"po_{number}",
        "status": "COMPLETED",
        "amount": _usd(123_456 + number),
        "payout_date": (START + dt.timedelta(days=1 + number // 10)).isoformat(),
    }


def pages(make: Any, count: int, size: int, first: int = 0) -> Iterator[list[dict[str, Any]]]:
    """``count`` objects in pages of ``size``, generated as they are asked for (memory stays flat)."""
    numbers = iter(range(first, first + count))
    while page := [make(n) for n in itertools.islice(numbers, size)]:
        yield page


def payout_count(rows: int) -> int:
    return rows // TRANSACTIONS_PER_PAYOUT + 1


def _order_rows(rows: int) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The fb_orders and fb_shipments rows fb_orders_sync would have stored for the SALEs' orders."""
    from decimal import Decimal

    for txn in (transaction(n) for n in range(rows) if n % 10 != 9):
        paid = txn["order_details"]["payments"]["data"][0]
        amount = {k: Decimal(v["amount"]) for k, v in (("tax", paid["tax"]), ("total", paid["total_amount"]))}
        items, shipping = Decimal(paid["subtotal"]["items"]["amount"]), Decimal(paid["subtotal"]["shipping"]["amount"])
        order_id = txn["order_details"]["id"]
        created = dt.datetime.fromisoformat(txn["order_details"]["created"])
        order = {
            "order_id": order_id,
            "state": "COMPLETED",
            "created_at": created,
            "currency": "USD",
            "subtotal": items,
            "shipping": shipping,
            "tax": amount["tax"],
            "total": amount["total"],
            "tax_remitted": paid["tax_remitted"],
        }
        yield order, {"shipment_id": paid["shipments"]["data"][0]["id"], "order_id": order_id}


def seed_orders(engine: Any, rows: int) -> None:
    """What fb_orders_sync stored before finance runs (untimed): the orders and their shipments."""
    from fb_commerce.warehouse.bulk import bulk_upsert

    bulk_upsert(engine, "fb_orders", (order for order, _ in _order_rows(rows)))
    bulk_upsert(engine, "fb_shipments", (shipment for _, shipment in _order_rows(rows)))


def span(rows: int) -> tuple[dt.datetime, dt.datetime]:
    """The days the generated transactions fall in (whole UTC days)."""
    return START, START + dt.timedelta(days=math.ceil(rows * 7 / 86400) + 1)


# --- the measured side: the product's loader in a child process -----------------------------------------------


def child_main(url: str, rows: int, page_size: int, reconciled: bool) -> int:
    """Load ``rows`` transactions with the product's functions (and reconcile their days when ``reconciled``);
    report JSON on the last line of stdout."""
    from fb_commerce.finance.load import make_durable, sale_payments, store_payouts, store_transactions, unpaid_orders
    from fb_commerce.warehouse.engine import create_warehouse_engine

    engine = create_warehouse_engine(url)
    synced_at = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    generating = time.perf_counter()
    for page in pages(transaction, rows, page_size):
        sale_payments(page)
    for _page in pages(payout, payout_count(rows), page_size):
        pass
    generation = time.perf_counter() - generating  # the data's own cost, not the loader's

    counts = {"payouts": 0, "transactions": 0, "tax_lines": 0, "payments": 0}
    started = time.perf_counter()
    for page in pages(payout, payout_count(rows), page_size):
        counts["payouts"] += store_payouts(engine, page, synced_at=synced_at, durable=False)
    for page in pages(transaction, rows, page_size):
        found, missing = sale_payments(page)
        assert not missing
        stored, lines, paid = store_transactions(engine, page, synced_at=synced_at, payments=found, durable=False)
        counts["transactions"] += stored
        counts["tax_lines"] += lines
        counts["payments"] += paid
    # as load_finance then looks for shipments whose payment no transaction brought (none here: all inline)
    unpaid = unpaid_orders(engine, *span(rows))
    assert not unpaid, f"{len(unpaid)} orders' payments did not come inline"
    make_durable(engine)  # as load_finance ends
    loaded = time.perf_counter() - started - generation
    reconciling, issues = time.perf_counter(), 0
    if reconciled:
        from fb_commerce.finance.reconcile import reconcile

        start, end = span(rows)
        result = reconcile(engine, window_start=start, window_end=end, timezone="UTC", run_id="bench")
        issues = result.totals().open
    reconciliation = time.perf_counter() - reconciling
    engine.dispose()
    report = {"seconds": loaded + reconciliation, "load": loaded, "reconcile": reconciliation, "issues": issues}
    print(json.dumps({**report, "generation": generation, "peak_mb": own_peak_mb(), **counts}))
    return 0


def own_peak_mb() -> float | None:
    """This process's peak RSS (MB) since its exec, from /proc (Linux), else None.

    Not ``ru_maxrss``: Linux carries the high-water mark of the process image an exec replaces into it, so a child
    spawned (vfork) by a parent that has grown, seeding orders say, would report the parent's peak.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return None


def load_in_child(url: str, rows: int, page_size: int, reconciled: bool) -> dict[str, Any]:
    """The loader in a fresh interpreter: its report plus its peak RSS (MB)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", url, str(rows), str(page_size)]
    command += ["--reconcile"] if reconciled else []
    child = subprocess.Popen(command, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT / "plugins")})
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"loader child failed with exit code {os.waitstatus_to_exitcode(status)}")
    report = json.loads(output.decode().strip().splitlines()[-1])
    if report.get("peak_mb") is None:  # no /proc: the OS's measure (see own_peak_mb)
        report["peak_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return report


# --- the baseline: the same rows, as CSV, imported by the database's own tool ---------------------------------


def write_csv(rows: int, folder: Path, page_size: int) -> dict[str, tuple[list[str], Path]]:
    """The rows the loader stores, one CSV per table (every column, in table order, no header), as PostgreSQL's
    COPY and sqlite3's .import read them."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    from fb_commerce.finance.load import payment_row, payout_row, sale_payments, transaction_rows
    from fb_commerce.warehouse.bulk import bind_processors
    from fb_commerce.warehouse.schema import metadata

    synced_at = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    dialect = postgresql.psycopg2.dialect()
    files: dict[str, Any] = {}
    writers: dict[str, Any] = {}
    layout: dict[str, tuple[list[str], Path]] = {}
    for name in TABLES:
        table: sa.Table = metadata.tables[name]
        columns = [c.name for c in table.columns]
        path = folder / f"{name}.csv"
        layout[name] = (columns, path)
        files[name] = path.open("w", newline="")
        writers[name] = (csv.writer(files[name]), columns, bind_processors(table, columns, dialect))

    def put(name: str, row: dict[str, Any]) -> None:
        writer, columns, processors = writers[name]
        row = {**row, "first_seen_at": synced_at}
        values = []
        for column, process in zip(columns, processors, strict=True):
            value = row.get(column)
            if value is not None and process is not None:
                value = process(value)
            values.append("" if value is None else value.isoformat() if isinstance(value, dt.datetime) else value)
        writer.writerow(values)

    for page in pages(payout, payout_count(rows), page_size):
        for obj in page:
            put("fb_payouts", payout_row(obj, synced_at=synced_at))
    for page in pages(transaction, rows, page_size):
        for obj in page:
            row, lines = transaction_rows(obj, synced_at=synced_at)
            put("fb_transactions", row)
            for line in lines:
                put("fb_transaction_tax_details", line)
        for order_id, paid in sale_payments(page)[0]:
            put("fb_payments", payment_row(paid, order_id, synced_at=synced_at))
    for handle in files.values():
        handle.close()
    return layout


def copy_baseline(engine: Any, layout: dict[str, tuple[list[str], Path]]) -> float:
    """Seconds a bare ``COPY ... FROM STDIN`` of the CSV files takes, in one transaction."""
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for name, (columns, path) in layout.items():
            with path.open() as source:
                cursor.copy_expert(f"COPY {name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", source)
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def sqlite_baseline(db: Path, layout: dict[str, tuple[list[str], Path]]) -> float:
    """Seconds `sqlite3 .import --csv` of the CSV files takes, in one transaction."""
    script = "BEGIN;\n" + "".join(f".import --csv {path} {name}\n" for name, (_, path) in layout.items()) + "COMMIT;\n"
    started = time.perf_counter()
    subprocess.run(["sqlite3", str(db)], input=script.encode(), check=True)
    return time.perf_counter() - started


# --- (d): Graph calls of one nightly extract against the sandbox -----------------------------------------------


def pages_served(url: str, node: str, edge: str, start: dt.datetime, end: dt.datetime) -> int:
    """How many pages the edge serves for the window at 100 per page, followed to the end with `requests` alone
    (a filtered listing may answer a short page with a ``next``: those pages cannot be skipped)."""
    import requests

    from fb_commerce import defaults
    from fb_commerce.graph.client import appsecret_proof

    proof = {"appsecret_proof": appsecret_proof(defaults.SANDBOX_ACCESS_TOKEN, defaults.SANDBOX_APP_SECRET)}
    auth = {"Authorization": f"Bearer {defaults.SANDBOX_ACCESS_TOKEN}"}
    window = {"start_time": int(start.timestamp()), "end_time": int(end.timestamp())}
    target: str | None = f"{url}/{defaults.API_VERSION}/{node}/{edge}"
    query: dict[str, Any] = {"fields": "id", "limit": 100, **window, **proof}
    served = 0
    with requests.Session() as session:
        while target:
            page = session.get(target, params=query, headers=auth, timeout=60).json()
            served += 1
            target, query = (page.get("paging") or {}).get("next"), proof
    return served


def graph_calls(workdir: Path) -> dict[str, Any]:
    """One run's extract (its day and the 5-day look-back) against ``fb-commerce sandbox``: calls and minimum."""
    from fb_commerce import defaults
    from fb_commerce.devstack import free_port
    from fb_commerce.finance.calendar import DEFAULT_LOOKBACK_DAYS, run_window
    from fb_commerce.finance.load import load_finance
    from fb_commerce.graph.client import GraphClient, GraphSettings
    from fb_commerce.orders.values import timestamp
    from fb_commerce.sandbox.client import SandboxAdmin
    from fb_commerce.warehouse.engine import create_warehouse_engine
    from fb_commerce.warehouse.migrate import upgrade

    port = free_port()
    log = (workdir / "sandbox.log").open("w")
    command = [str(BIN / "fb-commerce"), "sandbox", "--host", "127.0.0.1", "--port", str(port), "--orders", "3000"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        admin = SandboxAdmin(url)
        admin.wait_ready(timeout=120)
        truth = admin.state(include="transactions,payouts")
        days = [timestamp(t["transaction_date"]) for t in truth["transactions"]]
        day = max(days).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
        start, end = run_window(day, day + dt.timedelta(days=1), "UTC", DEFAULT_LOOKBACK_DAYS)
        engine = create_warehouse_engine(f"sqlite:///{workdir / 'calls.db'}")
        upgrade(engine)
        client = GraphClient(
            defaults.SANDBOX_ACCESS_TOKEN, defaults.SANDBOX_APP_SECRET, GraphSettings(base_url=url, max_attempts=1)
        )
        result = load_finance(client, engine, defaults.SANDBOX_PAGE_ID, start, end)
        engine.dispose()
        in_window = sum(1 for t in truth["transactions"] if start <= timestamp(t["transaction_date"]) < end)
        paid = sum(1 for p in truth["payouts"] if p.get("payout_date") and start <= timestamp(p["payout_date"]) < end)
        full_pages = max(1, math.ceil(in_window / 100)) + max(1, math.ceil(paid / 100))
        node = defaults.SANDBOX_PAGE_ID
        minimum = sum(
            pages_served(url, node, edge, start, end) for edge in ("commerce_payouts", "commerce_transactions")
        )
        return {
            "calls": client.stats.calls,
            "minimum": minimum,
            "transactions": result.transactions,
            "payouts": result.payouts,
            "payments": result.payments,
            "payment_pages": result.payment_pages,
            "pages_read": dict(result.pages_read),
            "full_pages": full_pages,
            "start": start,
            "end": end,
        }
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
        log.close()


# --- the report -----------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="transactions (default 1,000,000)")
    parser.add_argument("--small", type=int, default=None, help="size for the memory comparison (default rows/10)")
    parser.add_argument("--page-size", type=int, default=100, help="objects per Graph page = per loader call")
    parser.add_argument("--warehouse-url", default=DEFAULT_POSTGRES_URL, help="PostgreSQL base URL")
    parser.add_argument("--warehouses", default="postgresql,sqlite")
    parser.add_argument("--skip-calls", action="store_true", help="skip (d), the sandbox extract")
    parser.add_argument("--load-only", action="store_true", help="measure the load without reconciliation")
    parser.add_argument("--no-baseline", action="store_true", help="no CSV and no baseline: memory and time only")
    parser.add_argument("--child", nargs=3, metavar=("URL", "ROWS", "PAGE"), help=argparse.SUPPRESS)
    parser.add_argument("--reconcile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(args.child[0], int(args.child[1]), int(args.child[2]), args.reconcile)
    reconciled = not args.load_only

    small = args.small or max(args.rows // 10, 1)
    kinds = [k.strip() for k in args.warehouses.split(",") if k.strip()]
    cli = shutil.which("sqlite3")
    lines: list[str] = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="fbc-bench-finance-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        layout = {} if args.no_baseline else write_csv(args.rows, workdir, args.page_size)
        csv_mb = sum(path.stat().st_size for _, path in layout.values()) / 1e6
        if layout:
            took = time.perf_counter() - started
            print(f"generated {args.rows:,} transactions as CSV ({csv_mb:,.0f} MB) in {took:.0f} s", flush=True)
        for kind in kinds:
            if kind == "sqlite" and not cli:
                lines.append(
                    "  (b) SKIPPED: the sqlite3 command-line tool is not installed (`apt-get install -y sqlite3`); "
                    "no SQLite ratio was measured"
                )
                ok = False
                continue
            base_url = args.warehouse_url if kind == "postgresql" else None
            base = math.nan  # --no-baseline: no ratio, memory and the loader's time only
            if layout:
                with fresh_warehouse(base_url, workdir) as engine:
                    if kind == "postgresql":
                        base = copy_baseline(engine, layout)
                    else:
                        base = sqlite_baseline(Path(str(engine.url.database)), layout)
            runs = {}
            for size in (small, args.rows):
                with fresh_warehouse(base_url, workdir) as engine:
                    if reconciled:
                        seed_orders(engine, size)
                    engine.dispose()
                    url = engine.url.render_as_string(hide_password=False)
                    runs[size] = load_in_child(url, size, args.page_size, reconciled)
                    print(f"  {kind}: {size:,} loaded, peak RSS {runs[size]['peak_mb']:.0f} MB", flush=True)
            little, full = runs[small], runs[args.rows]
            ratio = full["seconds"] / base
            growth = full["peak_mb"] / little["peak_mb"]
            label = "(a) PostgreSQL" if kind == "postgresql" else "(b) SQLite"
            tool = "COPY FROM STDIN (csv)" if kind == "postgresql" else "sqlite3 .import --csv"
            section = [
                f"  {label}: {full['transactions']:,} transactions, {full['tax_lines']:,} tax lines, "
                f"{full['payments']:,} payments, {full['payouts']:,} payouts",
                f"    {'baseline: ' + tool:<44} {base:>10.2f} s",
                f"    {'loader (store_payouts, store_transactions)':<44} {full['load']:>10.2f} s"
                f"   (pages of {args.page_size}; data generation {full['generation']:.1f} s, not counted)",
                f"    {'reconcile (every rule, the whole span)':<44} {full['reconcile']:>10.2f} s"
                f"   ({full['issues']:,} open issues)"
                if reconciled
                else "    reconciliation not measured (--load-only)",
                f"    {'measured (load + reconcile)':<44} {full['seconds']:>10.2f} s",
                f"    {'measured / baseline':<44} {ratio:>10.2f}x  <= {TIME_TARGET:.2f}x  "
                f"{verdict(ratio <= TIME_TARGET)}",
                f"    {f'(c) peak RSS at {small:,}':<44} {little['peak_mb']:>9.0f} MB  <= {MEMORY_TARGET_MB:.0f} MB"
                f"  {verdict(little['peak_mb'] <= MEMORY_TARGET_MB)}",
                f"    {f'(c) peak RSS at {args.rows:,}':<44} {full['peak_mb']:>9.0f} MB  <= {MEMORY_TARGET_MB:.0f} MB"
                f"  {verdict(full['peak_mb'] <= MEMORY_TARGET_MB)}",
                f"    {'(c) growth, full / small':<44} {growth:>10.2f}x  <= {GROWTH_TARGET:.2f}x  "
                f"{verdict(growth <= GROWTH_TARGET)}",
            ]
            lines += section
            ok = ok and ratio <= TIME_TARGET and full["peak_mb"] <= MEMORY_TARGET_MB and growth <= GROWTH_TARGET
            print("\n".join(section), flush=True)  # as it goes: a 1M run takes a while
        if not args.skip_calls:
            calls = graph_calls(workdir)
            lines += [
                f"  (d) Graph calls, one nightly extract [{calls['start']:%Y-%m-%d}, {calls['end']:%Y-%m-%d}) "
                f"against the sandbox: {calls['transactions']:,} transactions, {calls['payouts']:,} payouts, "
                f"{calls['payments']:,} payments ({calls['payment_pages']} calls of their own); pages read "
                f"{calls['pages_read']}",
                f"    {'calls made / pages the edges serve':<44} {calls['calls']:>6} / {calls['minimum']}  "
                f"{verdict(calls['calls'] == calls['minimum'])}   (objects / 100 rounded up: {calls['full_pages']}; "
                "a filtered listing may serve a short page with a next)",
            ]
            ok = ok and calls["calls"] == calls["minimum"]
    print()
    print(f"Finance benchmark: {args.rows:,} transactions (memory compared with {small:,})")
    print("\n".join(lines))
    print(f"  measured: {'the load and the reconciliation' if reconciled else 'the load only (--load-only)'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
