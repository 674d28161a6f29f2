"""Inventory sync at catalog scale: Graph calls per change, and the SQL delta against one EXCEPT.

Builds (once, cached under data/bench/) an SQLite warehouse with --skus products in ``merchant_products`` (default
1,000,000, ids ``SKU-00001`` ... like the sandbox's) and ``fb_catalog_sync_state`` equal to them, as a feed leaves
it. Each run works on a fresh copy in which --changed (default 1%) of the products changed: half their stock, half
their price. Then, in this same run:

(a) the delta as fb_inventory_sync computes it (``iter_delta``: the SQL statement, every changed row fetched and
    turned into a change) against one ``SELECT ... EXCEPT SELECT ...`` of the same columns over the same two tables,
    fetched the same way: target ≤ 1.5x (best of --repeat, interleaved);
(b) the whole sync against a sandbox running as a separate process and seeded with the same --skus products
    (about 1 KB of memory each there): ``items_batch`` calls made against ceil(changed / batch size): target equal.
    The sync must converge: after it, the delta is empty and the sandbox holds the new values.

    .venv/bin/python bench/inventory.py [--skus 1000000] [--changed 0.01] [--batch-size 3000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
BENCH_DIR = ROOT / "data" / "bench"
DELTA_TARGET = 1.5
GENERATOR_VERSION = 2  # bump when the generated warehouse changes, so cached files are rebuilt

# One INSERT ... SELECT over a recursive counter: a million products in seconds, identical every time. Prices in
# cents, as a shop stores them (the sync refuses a price with more decimals rather than rounding it). The SKUs and
# their numbers match the sandbox's seeded catalog (SKU-00001 ...), so every UPDATE names an existing item.
_GENERATE = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO merchant_products (sku, name, description, price, sale_price, currency, stock, brand, url, image_url,
    category, condition, is_active, updated_at)
SELECT printf('SKU-%05d', i), 'Product ' || i, 'Product ' || i || ', a fine thing.', (i % 9000 + 500) / 100.0,
    CASE WHEN i % 4 = 0 THEN round((i % 9000 + 500) / 125.0, 2) END, 'USD', i % 37, 'Acme',
    'https://shop.example.com/p/' || i, 'https://cdn.example.com/' || i || '.jpg', 'Home & Garden > Decor', 'new', 1,
    '2026-01-01 00:00:00.000000'
FROM n
"""


def base_warehouse(skus: int) -> Path:
    """The cached warehouse: products and a sync state equal to them (generated on first use)."""
    path = BENCH_DIR / f"inventory-{skus}-v{GENERATOR_VERSION}.db"
    if path.exists():
        return path
    from fb_commerce.catalog.inventory_delta import load_source
    from fb_commerce.warehouse.engine import create_warehouse_engine
    from fb_commerce.warehouse.migrate import upgrade

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    engine = create_warehouse_engine(f"sqlite:///{partial}")
    upgrade(engine)
    engine.dispose()
    with sqlite3.connect(partial) as conn:
        conn.execute(_GENERATE, {"count": skus})
        conn.execute(
            "INSERT INTO fb_catalog_sync_state (retailer_id, availability, quantity, price, sale_price, currency, "
            f"synced_at) SELECT id, availability, quantity_to_sell_on_facebook, price, sale_price, currency, "
            f"'2026-01-01 00:00:00.000000' FROM ({load_source().strip().rstrip(';')})"
        )
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to copy
    os.replace(partial, path)
    print(
        f"generated {skus:,} products and their sync state in {time.perf_counter() - started:.1f} s: {path}", flush=True
    )
    return path


WORK = BENCH_DIR / "inventory-work.db"


def remove_working_copy() -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{WORK}{suffix}").unlink(missing_ok=True)


def working_copy(base: Path, share: float) -> tuple[Path, int]:
    """A copy of ``base`` in which ``share`` of the products changed; returns it and the number changed."""
    work = WORK
    remove_working_copy()
    shutil.copyfile(base, work)
    step = max(round(1 / share), 1)
    with sqlite3.connect(work) as conn:
        # Every step-th product: the even ones get one more in stock, the odd ones a price one dollar higher.
        changed = conn.execute(
            "UPDATE merchant_products SET stock = CASE WHEN (rowid / :step) % 2 = 0 THEN stock + 1 ELSE stock END, "
            "price = CASE WHEN (rowid / :step) % 2 = 1 THEN price + 1 ELSE price END WHERE rowid % :step = 0",
            {"step": step},
        ).rowcount
    return work, changed


def time_delta(engine, source: str) -> tuple[float, int]:
    """Seconds and rows of the pipeline's delta (SQL, fetch, conversion)."""
    from fb_commerce.catalog.inventory_delta import iter_delta

    started = time.perf_counter()
    rows = sum(1 for _ in iter_delta(engine, source))
    return time.perf_counter() - started, rows


def time_except(engine, source: str) -> tuple[float, int]:
    """Seconds and rows of one EXCEPT over the same tables and columns, fetched the same way.

    The source gives amounts and quantities as text ('19.90', as the feed writes them); the state keeps numbers.
    A compound SELECT compares values without type conversion, so the source's are cast to numbers here (what the
    delta's comparison does too), or every row would differ.
    """
    sql = (
        "SELECT id, availability, CAST(quantity_to_sell_on_facebook AS INTEGER), CAST(price AS NUMERIC), "
        "CAST(sale_price AS NUMERIC), currency FROM ("
        f"{source.strip().rstrip(';')}) AS src EXCEPT SELECT retailer_id, availability, quantity, price, sale_price, "
        "currency FROM fb_catalog_sync_state"
    )
    started = time.perf_counter()
    rows = 0
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True).exec_driver_sql(sql)
        while chunk := result.fetchmany(10_000):
            rows += len(chunk)
    return time.perf_counter() - started, rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(skus: int) -> tuple[subprocess.Popen, str]:
    """A sandbox in its own process, seeded with ``skus`` products (its memory is not this process's)."""
    from fb_commerce.sandbox.client import SandboxAdmin

    port = free_port()
    log = (BENCH_DIR / "inventory-sandbox.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("fb-commerce")),
            "sandbox",
            "--port",
            str(port),
            "--products",
            str(skus),
            "--orders",
            "0",
            "--days",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        SandboxAdmin(url).wait_ready(timeout=600)
    except Exception:  # noqa: BLE001 - whatever went wrong, the child must not outlive the bench
        process.terminate()
        raise SystemExit(f"the sandbox did not start; see {log.name}") from None
    return process, url


def run_sync(engine, url: str, batch_size: int) -> dict[str, object]:
    """The whole inventory sync against the sandbox; its counts and the calls it made."""
    from fb_commerce import defaults
    from fb_commerce.catalog.inventory_sync import InventorySync, wait_for_handles
    from fb_commerce.graph.client import GraphClient, GraphSettings
    from fb_commerce.sandbox.client import SandboxAdmin

    admin = SandboxAdmin(url)
    # Enough Catalog Batch calls per minute for any --batch-size: the count measured is the calls the sync needs.
    admin.config(batch_delay_seconds=0.2, items_batch_per_minute=10_000)
    client = GraphClient(defaults.SANDBOX_ACCESS_TOKEN, defaults.SANDBOX_APP_SECRET, GraphSettings(base_url=url))
    sync = InventorySync(engine, client, defaults.SANDBOX_CATALOG_ID, run_id="bench", batch_size=batch_size)
    started = time.perf_counter()
    sync.settle(sync.prepare())
    sent = sync.send()
    settled = sync.settle(wait_for_handles(client, defaults.SANDBOX_CATALOG_ID, sent.handles, poll_interval=0.2))
    seconds = time.perf_counter() - started
    stats = admin.stats()
    return {
        "seconds": seconds,
        "changes": sent.requests_sent,
        "calls": client.stats.by_endpoint.get("POST {id}/items_batch", 0),
        "sandbox_calls": stats["requests"].get("POST /{catalog_id}/items_batch", 0),
        "throttled": stats["throttled"],
        "synced": settled.synced,
        "failed": settled.failed,
    }


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=1_000_000, help="products (default 1,000,000)")
    parser.add_argument("--changed", type=float, default=0.01, help="share of products changed (default 0.01)")
    parser.add_argument("--batch-size", type=int, default=3000, help="requests per items_batch call (default 3000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each query; the best counts (default 3)")
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    from fb_commerce.catalog.inventory_delta import iter_delta, load_source
    from fb_commerce.warehouse.engine import create_warehouse_engine

    base = base_warehouse(args.skus)
    work, changed = working_copy(base, args.changed)
    engine = create_warehouse_engine(f"sqlite:///{work}")
    source = load_source()

    delta_runs, except_runs = [], []
    for _ in range(max(args.repeat, 1)):
        delta_runs.append(time_delta(engine, source))
        except_runs.append(time_except(engine, source))
    delta_s, delta_rows = min(delta_runs)
    except_s, except_rows = min(except_runs)
    ratio = delta_s / except_s

    sandbox, url = start_sandbox(args.skus)
    try:
        sync = run_sync(engine, url, args.batch_size)
        left = sum(1 for _ in iter_delta(engine, source))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
        engine.dispose()
        remove_working_copy()
    expected_calls = math.ceil(changed / args.batch_size)

    print()
    print(
        f"Inventory benchmark: {args.skus:,} products in SQLite, {changed:,} changed ({args.changed:.1%}), "
        f"batch size {args.batch_size:,}; best of {len(delta_runs)} timed runs"
    )
    print()
    print(f"  {'measure':<46} {'value':>12} {'target':>14}  verdict")
    print(f"  {'-' * 46} {'-' * 12} {'-' * 14}  -------")
    print(f"  {'baseline: one SQL EXCEPT, rows fetched':<46} {except_s:>10.2f} s {'':>14}  ({except_rows:,} rows)")
    print(f"  {'delta as the sync computes it (iter_delta)':<46} {delta_s:>10.2f} s {'':>14}  ({delta_rows:,} rows)")
    print(
        f"  {'(a) delta / EXCEPT time':<46} {ratio:>11.2f}x {f'<= {DELTA_TARGET:.2f}x':>14}  "
        f"{_verdict(ratio <= DELTA_TARGET)}"
    )
    print(
        f"  {'(b) items_batch calls made':<46} {sync['calls']:>12,} {f'= {expected_calls:,}':>14}  "
        f"{_verdict(sync['calls'] == expected_calls)}"
    )
    print(f"  {'    ceil(changed / batch size)':<46} {expected_calls:>12,}")
    print(f"  {'    calls / expected':<46} {sync['calls'] / expected_calls:>11.2f}x {'= 1.00x':>14}")
    print(
        f"  sync: {sync['changes']:,} changes sent, {sync['synced']:,} synced, {sync['failed']:,} failed, "
        f"{sync['throttled']} throttled, {sync['sandbox_calls']} calls seen by the sandbox, "
        f"{sync['seconds']:.1f} s; delta left after the sync: {left:,} rows"
    )
    print(
        f"  runs (s): delta {', '.join(f'{s:.2f}' for s, _ in delta_runs)}; "
        f"EXCEPT {', '.join(f'{s:.2f}' for s, _ in except_runs)}"
    )
    ok = ratio <= DELTA_TARGET and sync["calls"] == expected_calls and left == 0 and sync["failed"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
