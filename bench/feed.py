"""Feed build against the database's own CSV export, and its peak memory at two catalog sizes.

Builds (once, cached under data/bench/) SQLite warehouses with a deterministic ``merchant_products`` catalog of
--products rows (default 1,000,000) and of a tenth of that, about 1.5% of them bad in one way or another (missing
price, unknown currency, relative link, HTML in the description, wrong GTIN check digit, over-long title). Then, in
this same run:

(a) time of `sqlite3 -csv -header` exporting the feed mapping's SELECT (include/sql/catalog/feed_mapping.sql) to a
    file, against the time of ``build_feed`` (read, validate, write) on the same SELECT: target ≤ 2x;
(b) peak RSS of a child process that builds the feed, at the small and the full size: target ≤ 300 MB, and the
    full-size peak ≤ 1.25x the small one (memory must not grow with the catalog).

    .venv/bin/python bench/feed.py [--products 1000000] [--repeat 2] [--keep]

Each feed build runs in a fresh child process (``--child``) so its high-water mark (``ru_maxrss`` from wait4) is
its own; the time compared is the child's own measure of ``build_feed`` (interpreter start and imports excluded;
the whole child's wall time is printed too). Timings take the best of --repeat runs of each side, interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "data" / "bench"
MAPPING = ROOT / "include" / "sql" / "catalog" / "feed_mapping.sql"
TIME_TARGET = 2.0
MEMORY_TARGET_MB = 300.0
GROWTH_TARGET = 1.25
GENERATOR_VERSION = 2  # bump when the generated catalog changes, so cached databases are rebuilt


def _gtin13(prefix12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(prefix12))
    return prefix12 + str((10 - total % 10) % 10)


_GTINS = [_gtin13(f"400638{k:06d}") for k in range(10)]
_GTIN_CASE = "CASE i % 10 " + " ".join(f"WHEN {k} THEN '{g}'" for k, g in enumerate(_GTINS)) + " END"

# One INSERT ... SELECT over a recursive counter: SQLite generates a million rows in seconds, identically each time.
_GENERATE = f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO merchant_products (sku, name, description, price, sale_price, sale_price_start, sale_price_end, currency,
    stock, brand, url, image_url, category, condition, item_group_id, gtin, size, color, is_active, updated_at)
SELECT
    printf('SKU-%08d', i),
    CASE WHEN i % 809 = 0 THEN 'Overlong title ' || printf('%.*c', 240, 'x')
         ELSE 'Organic cotton t-shirt, style ' || i || ', ' || substr('XS S  M  L  XL ', 1 + 3 * (i % 5), 2) END,
    CASE WHEN i % 503 = 0 THEN '<p>Our <b>best</b> seller</p>'
         ELSE 'Soft organic cotton tee with a relaxed, regular fit and a ribbed crew neck. Style ' || i
              || ' is pre-shrunk, breathable and machine washable at 30 degrees; it keeps its shape and colour '
              || 'wash after wash. Sizes XS to XL, "true to size". Fair-trade certified cotton, dyed without '
              || 'harmful chemicals, sewn in Portugal.' END,
    CASE WHEN i % 211 = 0 THEN NULL ELSE (i % 9000 + 500) / 100.0 END,
    CASE WHEN i % 4 = 0 THEN round((i % 9000 + 500) / 125.0, 2) END,
    CASE WHEN i % 4 = 0 THEN '2026-01-01 00:00:00.000000' END,
    CASE WHEN i % 4 = 0 THEN '2026-02-01 00:00:00.000000' END,
    CASE WHEN i % 307 = 0 THEN 'XYZ' ELSE 'USD' END,
    i % 37,
    'Acme Organics',
    CASE WHEN i % 401 = 0 THEN 'shop.example.com/products/' ELSE 'https://shop.example.com/products/' END
        || printf('sku-%08d', i),
    'https://cdn.example.com/images/' || printf('sku-%08d', i) || '.jpg',
    'Apparel & Accessories > Clothing > Shirts & Tops',
    'new',
    printf('G-%07d', i / 5),
    CASE WHEN i % 701 = 0 THEN '4006381333932' ELSE {_GTIN_CASE} END,
    trim(substr('XS S  M  L  XL ', 1 + 3 * (i % 5), 2)),
    substr('black white navy  red   green ', 1 + 6 * (i % 5), 5),
    CASE WHEN i % 50 = 0 THEN 0 ELSE 1 END,
    '2026-01-01 00:00:00.000000'
FROM n
"""


def source_db(products: int) -> Path:
    """The cached SQLite catalog of ``products`` rows (generated on first use)."""
    path = BENCH_DIR / f"products-{products}-v{GENERATOR_VERSION}.db"
    if path.exists():
        return path
    sys.path.insert(0, str(ROOT / "plugins"))
    import sqlalchemy as sa

    from fb_commerce.warehouse.schema import merchant_products

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    engine = sa.create_engine(f"sqlite:///{partial}")
    merchant_products.create(engine)
    engine.dispose()
    with sqlite3.connect(partial) as conn:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute(_GENERATE, {"count": products})
    os.replace(partial, path)
    print(f"generated {products:,} products in {time.perf_counter() - started:.1f} s: {path}", flush=True)
    return path


def baseline_export(db: Path, out: Path) -> float:
    """Seconds `sqlite3 -csv -header` takes to write the mapping's result to ``out``."""
    sql = MAPPING.read_text().strip().rstrip(";") + ";\n"
    started = time.perf_counter()
    with out.open("wb") as sink:
        subprocess.run(["sqlite3", "-csv", "-header", str(db)], input=sql.encode(), stdout=sink, check=True)
    return time.perf_counter() - started


def baseline_export_python(db: Path, out: Path) -> float:
    """Fallback when the sqlite3 CLI is absent: Python's sqlite3 cursor straight into csv.writer, nothing else."""
    import csv

    sql = MAPPING.read_text().strip().rstrip(";")
    started = time.perf_counter()
    with sqlite3.connect(db) as conn, out.open("w", newline="") as sink:
        cursor = conn.execute(sql)
        writer = csv.writer(sink)
        writer.writerow([c[0] for c in cursor.description])
        while rows := cursor.fetchmany(10_000):
            writer.writerows(rows)
    return time.perf_counter() - started


def feed_in_child(db: Path, out: Path) -> dict[str, float]:
    """Run the feed build in a fresh interpreter; its report plus its peak RSS (MB) and whole wall time."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(db), str(out)]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT / "plugins")})
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"feed build child failed with exit code {child.returncode}")
    report = json.loads(output.decode().strip().splitlines()[-1])
    report["peak_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    report["wall"] = wall
    return report


def child_main(db: str, out: str) -> int:
    """The measured side: one ``build_feed`` call, reported as JSON on the last line of stdout."""
    import logging

    from fb_commerce.catalog.build import build_feed

    logging.basicConfig(level=logging.ERROR)  # the parent prints the counts; the build's warning would repeat them
    started = time.perf_counter()
    result = build_feed(f"sqlite:///{db}", None, Path(out), reject_limit=None)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows_read": result.rows_read,
                "rows_written": result.rows_written,
                "rows_rejected": result.rows_rejected,
                "bytes": result.bytes_written,
                "method": result.method,
            }
        )
    )
    return 0


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1_000_000, help="catalog size (default 1,000,000)")
    parser.add_argument("--small", type=int, default=None, help="size for the memory comparison (default products/10)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of each side; the best counts (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the feed and export files under data/bench/out")
    parser.add_argument("--child", nargs=2, metavar=("DB", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(*args.child)

    small = args.small or max(args.products // 10, 1)
    full_db, small_db = source_db(args.products), source_db(small)
    out_dir = BENCH_DIR / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    cli = shutil.which("sqlite3")
    export = baseline_export if cli else baseline_export_python
    baseline_name = "sqlite3 -csv -header (CLI)" if cli else "Python sqlite3 + csv.writer (no sqlite3 CLI found)"
    if not cli:
        print(
            "NOTE: the sqlite3 command-line tool is not installed; the baseline is Python's sqlite3 module writing "
            "CSV with nothing else (slower than the CLI, so the ratio flatters the feed)."
        )

    baseline_times, feed_runs = [], []
    for _ in range(max(args.repeat, 1)):
        baseline_times.append(export(full_db, out_dir / "baseline.csv"))
        feed_runs.append(feed_in_child(full_db, out_dir / "feed.csv"))
    small_run = feed_in_child(small_db, out_dir / "feed-small.csv")

    base = min(baseline_times)
    best = min(feed_runs, key=lambda r: r["seconds"])
    ratio = best["seconds"] / base
    peak_full = max(r["peak_mb"] for r in feed_runs)
    growth = peak_full / small_run["peak_mb"]
    baseline_mb = (out_dir / "baseline.csv").stat().st_size / 1e6

    print()
    print(f"Feed benchmark: {args.products:,} products in SQLite ({full_db.name}), best of {len(feed_runs)} runs")
    print(
        f"  source read by {best['method']}; {best['rows_read']:,} read, {best['rows_written']:,} written, "
        f"{best['rows_rejected']:,} rejected ({best['rows_rejected'] / max(best['rows_read'], 1):.2%})"
    )
    print()
    print(f"  {'measure':<44} {'value':>12} {'target':>12}  verdict")
    print(f"  {'-' * 44} {'-' * 12} {'-' * 12}  -------")
    print(f"  {'baseline: ' + baseline_name:<44} {base:>10.2f} s {'':>12}  ({baseline_mb:,.0f} MB of CSV)")
    print(
        f"  {'feed build (read, validate, write)':<44} {best['seconds']:>10.2f} s {'':>12}  "
        f"({best['bytes'] / 1e6:,.0f} MB; child wall {best['wall']:.2f} s)"
    )
    print(
        f"  {'(a) feed / baseline time':<44} {ratio:>11.2f}x {f'<= {TIME_TARGET:.2f}x':>12}  "
        f"{_verdict(ratio <= TIME_TARGET)}"
    )
    print(
        f"  {f'(b) peak RSS at {small:,} products':<44} {small_run['peak_mb']:>9.0f} MB "
        f"{f'<= {MEMORY_TARGET_MB:.0f} MB':>12}  {_verdict(small_run['peak_mb'] <= MEMORY_TARGET_MB)}"
    )
    print(
        f"  {f'(b) peak RSS at {args.products:,} products':<44} {peak_full:>9.0f} MB "
        f"{f'<= {MEMORY_TARGET_MB:.0f} MB':>12}  {_verdict(peak_full <= MEMORY_TARGET_MB)}"
    )
    print(
        f"  {'(b) peak RSS growth, full / small':<44} {growth:>11.2f}x {f'<= {GROWTH_TARGET:.2f}x':>12}  "
        f"{_verdict(growth <= GROWTH_TARGET)}"
    )
    feed_times = ", ".join(f"{run['seconds']:.2f}" for run in feed_runs)
    print(f"  runs (s): baseline {', '.join(f'{t:.2f}' for t in baseline_times)}; feed {feed_times}")
    if not args.keep:
        shutil.rmtree(out_dir, ignore_errors=True)
    ok = ratio <= TIME_TARGET and peak_full <= MEMORY_TARGET_MB and growth <= GROWTH_TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
