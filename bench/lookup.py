"""Customer-service lookup benchmark: each lookup against the same SQL run by the database alone, on a large warehouse.

A warehouse of ``--orders`` orders (default 1,000,000; two or three items each, a shipment for half of them, a refund
for one in twenty, a return for one in ten) is written with the orders path's own writer (``page_writer.insert_rows``:
COPY on PostgreSQL) into a new SQLite file and a new schema of the PostgreSQL at ``--postgres-url`` (dropped
afterwards). Buyer names carry accents and mixed case.

For each lookup, ``--samples`` keys picked at random (seeded) that exist:

- ``id`` and ``reference``: ``cs.lookup.find_order`` (the search box with an order id or a merchant reference);
- ``email``: ``find_orders(email=...)`` in another case than stored;
- ``name``: ``find_orders(name=...)`` with the first three letters of a last name, accents dropped;
- ``view``: ``order_view`` (everything ``fb-commerce orders show`` prints: a dozen statements, one per table);
- ``returns``: ``awaiting_returns`` (the web page's returns awaiting customer service: 200 oldest of the REQUESTED
  ones, a third of the returns), ``--samples`` / 10 times.

The baseline is the same statements, captured from our call (SQLAlchemy's ``before_cursor_execute``, on another
connection), replayed on a raw DBAPI cursor of the measured connection with all rows fetched: what the database costs
by itself. Both sides run
alternately on warm caches; p50 and p99 of each are printed with their ratio. Target: ours <= 1.5x the database
alone, on SQLite and PostgreSQL. Every statement's plan is printed once (EXPLAIN QUERY PLAN / EXPLAIN) and checked:
no full scan of a table with more than 10,000 rows.

    .venv/bin/python bench/lookup.py [--orders 1000000] [--samples 300] [--warehouses sqlite,postgresql]
        [--postgres-url URL] [--plans] [--lookups view,id] [--repeat 3] [--keep DIR]

``--keep DIR`` keeps the warehouses for the next run (the SQLite file in DIR, the PostgreSQL schema
``fbc_bench_keep_<orders>``) and reuses them when they hold ``--orders`` orders: building 1,000,000 orders takes
minutes. ``--repeat`` measures each lookup that many times in the run (a table per round).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fb_commerce.cs.lookup import awaiting_returns, find_order, find_orders, order_view
from fb_commerce.orders.mapping import email_search, name_search_columns, search_text
from fb_commerce.warehouse import schema
from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.migrate import upgrade
from fb_commerce.warehouse.page_writer import insert_rows

TARGET_RATIO = 1.5
DEFAULT_POSTGRES_URL = os.environ.get(
    "FB_COMMERCE_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
#: a plan may scan a table fully only when it is this small
SMALL_TABLE = 10_000
BATCH = 20_000
FIRST = ["Jean", "Zoë", "Ana", "José", "Łukasz", "Mia", "Omar", "Renée", "Søren", "Aiko", "Chloé", "Björn", "Nuño"]
LAST = [
    "Dupont", "Núñez", "García", "Müller", "O'Brien", "Lefèvre", "Haddad", "Kowalski", "Åström", "Nguyễn", "Smith",
    "Brontë", "Çelik", "Dvořák", "Ibáñez", "Jürgens", "Kaur", "Lindqvist", "Moreau", "Østergaard",
]  # fmt: skip
STATES = ("COMPLETED",) * 5 + ("IN_PROGRESS", "IN_PROGRESS", "CREATED", "FB_PROCESSING")
T0 = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


# --- the warehouse ---------------------------------------------------------------------------------------------


def order_id(n: int) -> str:
    return str(4_000_000_000_000_000 + n)


def buyer(n: int) -> tuple[str, str]:
    rng = random.Random(n)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    name = f"{first} {last}" if n % 7 else f"{first.upper()} {last.upper()}"
    email = f"{search_text(first).replace(' ', '')}.{search_text(last).replace(' ', '')}{n}@example.com"
    return name, email


def rows(start: int, stop: int) -> dict[str, list[dict[str, Any]]]:
    synced = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    out: dict[str, list[dict[str, Any]]] = {
        "fb_orders": [],
        "fb_order_items": [],
        "fb_shipments": [],
        "fb_refunds": [],
        "fb_returns": [],
    }
    for n in range(start, stop):
        oid, (name, email) = order_id(n), buyer(n)
        search, last_first = name_search_columns(name)
        state = STATES[n % len(STATES)]
        created = T0 + dt.timedelta(seconds=n * 31_536_000 // 1_000_000 % 31_536_000)
        out["fb_orders"].append(
            {
                "order_id": oid,
                "state": state,
                "channel": "instagram" if n % 3 else "facebook",
                "created_at": created,
                "updated_at": created,
                "merchant_order_reference": f"FB-{n:07d}" if state != "FB_PROCESSING" else None,
                "buyer_name": name,
                "buyer_email": email.title() if n % 5 == 0 else email,
                "buyer_email_search": email_search(email),
                "buyer_name_search": search,
                "buyer_name_search_last_first": last_first,
                "marketing_opt_in": n % 2 == 0,
                "ship_to_name": name,
                "ship_to_city": "Lyon",
                "ship_to_country": "FR",
                "currency": "EUR",
                "subtotal": Decimal("40.00"),
                "shipping": Decimal("4.00"),
                "tax": Decimal("0.00"),
                "total": Decimal("44.00"),
                "acknowledged_at": created if state != "FB_PROCESSING" else None,
                "synced_at": synced,
                "raw": {"id": oid},
            }
        )
        shipped = state in ("COMPLETED", "IN_PROGRESS") and n % 2 == 0
        for line in range(2 + n % 2):
            out["fb_order_items"].append(
                {
                    "order_id": oid,
                    "item_id": f"{oid}{line}",
                    "retailer_id": f"SKU-{(n + line) % 500:04d}",
                    "product_name": f"Product {(n + line) % 500}",
                    "quantity": 1,
                    "quantity_in_progress": 0 if shipped else 1,
                    "quantity_fulfilled": 1 if shipped else 0,
                    "quantity_cancelled": 0,
                    "price_per_unit": Decimal("20.00"),
                    "currency": "EUR",
                    "synced_at": synced,
                }
            )
        if shipped:
            out["fb_shipments"].append(
                {
                    "shipment_id": f"s{oid}",
                    "order_id": oid,
                    "carrier": "ups",
                    "tracking_number": f"1Z{n:010d}",
                    "items": [{"id": f"{oid}0", "quantity": 1}],
                    "synced_at": synced,
                    "raw": {},
                }
            )
            if n % 10 == 0:
                out["fb_returns"].append(
                    {
                        "return_id": f"ret{oid}",
                        "order_id": oid,
                        "return_status": "REQUESTED" if n % 30 == 0 else "APPROVED",
                        "created_at": created + dt.timedelta(days=3),
                        "item_return_quantities": [{"key": f"{oid}0", "value": 1}],
                        "synced_at": synced,
                        "raw": {},
                    }
                )
            if n % 20 == 0:
                out["fb_refunds"].append(
                    {
                        "refund_id": f"r{oid}",
                        "order_id": oid,
                        "reason_code": "DAMAGED_GOODS",
                        "currency": "EUR",
                        "subtotal": Decimal("20.00"),
                        "shipping": Decimal("0.00"),
                        "tax": Decimal("0.00"),
                        "total": Decimal("20.00"),
                        "items": [{"id": f"{oid}0", "quantity": 1, "refund_subtotal": {"amount": "20.00"}}],
                        "synced_at": synced,
                        "raw": {},
                    }
                )
    return out


def fill(engine: sa.Engine, orders: int) -> None:
    started = time.perf_counter()
    for start in range(0, orders, BATCH):
        batch = rows(start, min(start + BATCH, orders))
        with engine.begin() as conn:
            for table, table_rows in batch.items():
                insert_rows(conn, schema.metadata.tables[table], table_rows)
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
    print(f"  filled with {orders} orders in {time.perf_counter() - started:.0f} s", flush=True)


def order_count(engine: sa.Engine) -> int | None:
    """How many orders a kept warehouse holds (None: not a built one)."""
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(schema.fb_orders)).scalar() or 0)
    except sa.exc.DBAPIError:
        return None


@contextmanager
def warehouse(kind: str, base_url: str, workdir: Path, orders: int, keep: Path | None) -> Iterator[sa.Engine]:
    """A migrated warehouse of ``orders`` orders: a SQLite file, or a schema of the PostgreSQL at ``base_url``;
    new (dropped afterwards), or with ``keep`` the kept one when it holds as many orders (else built and kept)."""
    schema_name = None
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT") if kind == "postgresql" else None
    if admin is not None:
        schema_name = f"fbc_bench_keep_{orders}" if keep else f"fbc_bench_{uuid.uuid4().hex[:10]}"
        url = f"{base_url}{'&' if '?' in base_url else '?'}options=-csearch_path%3D{schema_name}"
    else:
        url = (
            f"sqlite:///{(keep or workdir) / (f'lookup-{orders}.db' if keep else f'lookup-{uuid.uuid4().hex[:8]}.db')}"
        )
    engine = create_warehouse_engine(url)
    if keep and order_count(engine) == orders:
        upgrade(engine)  # a migration added since it was built
        print(f"  kept warehouse with {orders} orders", flush=True)
    else:
        engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE'))
                conn.execute(sa.text(f'CREATE SCHEMA "{schema_name}"'))
        elif keep:
            (keep / f"lookup-{orders}.db").unlink(missing_ok=True)
        upgrade(engine)
        fill(engine, orders)
    try:
        yield engine
    finally:
        engine.dispose()
        if admin is not None:
            if not keep:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema_name}" CASCADE'))
            admin.dispose()


# --- the lookups -----------------------------------------------------------------------------------------------


def lookups(orders: int, samples: int) -> dict[str, list[Callable[[Any], Any]]]:
    rng = random.Random(20261201)
    picks = [rng.randrange(orders) for _ in range(samples)]
    with_reference = [n for n in picks if STATES[n % len(STATES)] != "FB_PROCESSING"]

    def email_of(n: int) -> str:
        return buyer(n)[1].upper()

    def name_of(n: int) -> str:
        return search_text(buyer(n)[0].split(" ")[-1])[:3]

    # The keys are made beforehand: only the lookup is timed (buyer() alone costs as much as a lookup on SQLite).
    ids, emails, names = [order_id(n) for n in picks], [email_of(n) for n in picks], [name_of(n) for n in picks]
    references = [f"FB-{n:07d}" for n in with_reference]
    return {
        "id": [lambda c, k=k: find_order(c, k) for k in ids],
        "reference": [lambda c, k=k: find_order(c, k) for k in references],
        "email": [lambda c, k=k: find_orders(c, email=k) for k in emails],
        "name": [lambda c, k=k: find_orders(c, name=k) for k in names],
        "view": [lambda c, k=k: order_view(c, k) for k in ids],
        "returns": [lambda c: awaiting_returns(c, now=NOW)] * max(1, samples // 10),
    }


def capture(engine: sa.Engine, call: Callable[[Any], Any]) -> list[tuple[str, Any]]:
    """The statements (driver SQL and parameters) ``call`` runs, on a connection of its own: a connection that
    once had a listener keeps paying for event dispatch, which the measured one must not (production has none).
    ``cs.lookup`` runs its statements through ``Connection._cursor_execute`` on a connection with a listener (on
    the driver directly only when nothing listens), which fires ``before_cursor_execute`` like any SQLAlchemy
    execution: every statement is seen."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    with engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute", record)
        call(conn)
    if not seen:
        raise AssertionError("the lookup ran no statement that the capture saw")
    return seen


def replay(conn: sa.Connection, statements: list[tuple[str, Any]]) -> None:
    cursor = conn.connection.driver_connection.cursor()
    try:
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            cursor.fetchall()
    finally:
        cursor.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(engine: sa.Engine, calls: list[Callable[[Any], Any]]) -> tuple[list[float], list[float], set[str]]:
    """Per call: our wall time, the database alone on the same statements; and the distinct statements."""
    ours, alone, texts = [], [], set()
    with engine.connect() as conn:
        for call in calls[:20]:  # warm: compiled-statement caches, pages in memory
            call(conn)
            replay(conn, capture(engine, call))
        for number, call in enumerate(calls):
            statements = capture(engine, call)
            texts.update(s for s, _ in statements)
            sides = [(ours, lambda call=call: call(conn)), (alone, lambda s=statements: replay(conn, s))]
            for times, run in sides if number % 2 else sides[::-1]:  # each side goes first half of the time
                started = time.perf_counter()
                run()
                times.append(time.perf_counter() - started)
            conn.rollback()
    return ours, alone, texts


# --- plans -----------------------------------------------------------------------------------------------------


def table_sizes(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
            for name, table in schema.metadata.tables.items()
        }


def plan(engine: sa.Engine, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        try:
            if engine.dialect.name == "sqlite":
                cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
                return [str(row[-1]) for row in cursor.fetchall()]
            cursor.execute(f"EXPLAIN {statement}", parameters)
            return [str(row[0]) for row in cursor.fetchall()]
        finally:
            cursor.close()


def full_scans(lines: list[str], sizes: dict[str, int], dialect: str) -> list[str]:
    found = []
    for line in lines:
        for table, size in sizes.items():
            if size <= SMALL_TABLE:
                continue
            if dialect == "sqlite" and (line.startswith(f"SCAN {table}") and "INDEX" not in line):
                found.append(line)
            if dialect == "postgresql" and f"Seq Scan on {table} " in f"{line} ":
                found.append(line.strip())
    return found


def check_plans(engine: sa.Engine, calls: dict[str, list[Callable[[Any], Any]]], show: bool) -> list[str]:
    sizes = table_sizes(engine)
    problems = []
    for kind, kind_calls in calls.items():
        statements = capture(engine, kind_calls[0])
        shown: set[str] = set()
        for statement, parameters in statements:
            if statement in shown:
                continue
            shown.add(statement)
            lines = plan(engine, statement, parameters)
            bad = full_scans(lines, sizes, engine.dialect.name)
            problems += [f"{kind}: {b}" for b in bad]
            if show or bad:
                print(f"  [{kind}] {' '.join(statement.split())[:160]}")
                for line in lines:
                    print(f"      {line}")
    return problems


# --- report ----------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--warehouses", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--plans", action="store_true", help="print every statement's plan (else only bad ones)")
    parser.add_argument("--lookups", default="", help="only these lookups, e.g. view,id (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="measure each lookup this many times")
    parser.add_argument("--keep", type=Path, help="keep the warehouses in (and reuse them from) this folder")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.warehouses.split(",") if k.strip()]
    if not kinds or set(kinds) - {"sqlite", "postgresql"}:
        parser.error("--warehouses takes sqlite, postgresql")
    calls = lookups(args.orders, args.samples)
    wanted = [k.strip() for k in args.lookups.split(",") if k.strip()] or list(calls)
    if set(wanted) - set(calls):
        parser.error(f"--lookups takes {', '.join(calls)}")
    calls = {name: calls[name] for name in wanted}
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    rounds: list[list[tuple[str, str, float, float, float, float]]] = [[] for _ in range(max(1, args.repeat))]
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fb-bench-lookup-") as workdir:
        for kind in kinds:
            print(f"{kind}:", flush=True)
            with warehouse(kind, args.postgres_url, Path(workdir), args.orders, args.keep) as engine:
                print("  plans:", flush=True)
                problems += [f"{kind} {p}" for p in check_plans(engine, calls, args.plans)]
                for results in rounds:
                    for name, kind_calls in calls.items():
                        ours, alone, _ = measure(engine, kind_calls)
                        results.append(
                            (
                                kind,
                                name,
                                statistics.median(ours),
                                statistics.median(alone),
                                percentile(ours, 0.99),
                                percentile(alone, 0.99),
                            )
                        )
                        print(f"  {name}: measured {len(kind_calls)} lookups", flush=True)
    met = True
    for number, results in enumerate(rounds, 1):
        met &= report(
            results, args.orders, args.samples, f" (round {number} of {len(rounds)})" if len(rounds) > 1 else ""
        )
    print(f"full-table scans: {'none' if not problems else len(problems)}")
    for problem in problems:
        print(f"  {problem}")
    return 0 if met and not problems else 1


def report(results: list[tuple[str, str, float, float, float, float]], orders: int, samples: int, title: str) -> bool:
    """Print one round's table; whether every lookup met the target."""
    print()
    print(f"{orders} orders; {samples} lookups of each kind; times in ms{title}")
    print(
        f"{'warehouse':<11} {'lookup':<10} {'p50 ours':>9} {'p50 db':>8} {'ratio':>6} "
        f"{'p99 ours':>9} {'p99 db':>8} {'ratio':>6} {'target':>7}  met"
    )
    met = True
    for kind, name, p50, p50_db, p99, p99_db in results:
        r50, r99 = p50 / p50_db, p99 / p99_db
        ok = r50 <= TARGET_RATIO and r99 <= TARGET_RATIO
        met &= ok
        print(
            f"{kind:<11} {name:<10} {p50 * 1e3:>9.3f} {p50_db * 1e3:>8.3f} {r50:>6.2f} {p99 * 1e3:>9.3f} "
            f"{p99_db * 1e3:>8.3f} {r99:>6.2f} {'<= ' + str(TARGET_RATIO):>7}  {'yes' if ok else 'NO'}"
        )
    return met


if __name__ == "__main__":
    sys.exit(main())
