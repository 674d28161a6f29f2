"""Local Airflow set-up for `make demo` / `make airflow-init`: metadata DB, pool, warehouse schema."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fb_commerce import defaults


def airflow_bin() -> str:
    """The `airflow` next to this interpreter (the venv's), so children find it without PATH."""
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"


def run_airflow(*args: str, env: dict[str, str] | None = None, quiet: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [airflow_bin(), *args],
        env=env or os.environ.copy(),
        capture_output=quiet,
        text=True,
    )
    if result.returncode != 0:
        if quiet:
            sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"`airflow {' '.join(args)}` failed with exit code {result.returncode}")
    return result


def airflow_init(pool_slots: int | None = None) -> int:
    """Migrate Airflow's DB, set the pool, migrate the warehouse. Safe to run again."""
    from fb_commerce.environment import WAREHOUSE_ENV, apply_local_defaults

    slots = pool_slots or int(os.environ.get("FB_COMMERCE_POOL_SLOTS", defaults.POOL_SLOTS))
    home = os.environ.get("AIRFLOW_HOME", "~/airflow")
    Path(home).expanduser().mkdir(parents=True, exist_ok=True)
    print(f"Airflow home {home}: migrating the metadata database ...", flush=True)
    run_airflow("db", "migrate")
    run_airflow("pools", "set", defaults.POOL, str(slots), "Concurrent Graph API calls (fb-commerce)")
    print(f"Pool {defaults.POOL}: {slots} slots")
    applied = apply_local_defaults()
    from fb_commerce.hooks.warehouse import WarehouseHook

    hook = WarehouseHook(defaults.WAREHOUSE_CONN_ID)
    revision = hook.upgrade()
    source = "default SQLite file" if WAREHOUSE_ENV in applied else f"${WAREHOUSE_ENV}"
    print(f"Warehouse ({source}) {hook.describe()}: schema at {revision}")
    return 0
