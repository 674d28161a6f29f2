"""Local Airflow set-up for `make demo` / `make airflow-init`: metadata DB, pool, warehouse schema."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fb_commerce import defaults
from fb_commerce.environment import LocalConnection, local_connections


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


def store_connections(connections: list[LocalConnection]) -> list[str]:
    """Create or update each connection in Airflow's metadata database; return what was done, one line each.

    Rerunning updates the stored rows in place (never a second row): the Connections page and every service
    started later read them, unless an ``AIRFLOW_CONN_<ID>`` variable overrides them (Airflow reads those first).
    """
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    done = []
    with create_session() as session:
        for local in connections:
            if local.value.lstrip().startswith("{"):
                wanted = Connection.from_json(local.value, conn_id=local.conn_id)
            else:
                wanted = Connection(conn_id=local.conn_id, uri=local.value)
            stored = session.scalar(select(Connection).where(Connection.conn_id == local.conn_id))
            if stored is None:
                session.add(wanted)
                action = "stored"
            else:
                for name in ("conn_type", "description", "host", "login", "password", "schema", "port", "extra"):
                    setattr(stored, name, getattr(wanted, name))
                action = "updated"
            # only the id, the type, the host and the source: the password and extras may be secrets
            done.append(f"Connection {local.conn_id} ({wanted.conn_type}, {wanted.host or 'no host'}): {action} from {local.source}")
    return done


def airflow_init(pool_slots: int | None = None, sandbox_base_url: str | None = None) -> int:
    """Migrate Airflow's DB, set the pool, store the two connections, migrate the warehouse. Safe to run again.

    :param sandbox_base_url: where the stored ``fb_commerce_default`` points when the environment does not set it
        (default: the sandbox's default address).
    """
    slots = pool_slots or int(os.environ.get("FB_COMMERCE_POOL_SLOTS", defaults.POOL_SLOTS))
    home = os.environ.get("AIRFLOW_HOME", "~/airflow")
    Path(home).expanduser().mkdir(parents=True, exist_ok=True)
    print(f"Airflow home {home}: migrating the metadata database ...", flush=True)
    run_airflow("db", "migrate")
    run_airflow("pools", "set", defaults.POOL, str(slots), "Concurrent Graph API calls (fb-commerce)")
    print(f"Pool {defaults.POOL}: {slots} slots")
    connections = local_connections(sandbox_base_url=sandbox_base_url)
    for line in store_connections(connections):
        print(line)
    from fb_commerce.hooks.warehouse import WarehouseHook

    hook = WarehouseHook(defaults.WAREHOUSE_CONN_ID)
    revision = hook.upgrade()
    print(f"Warehouse {hook.describe()}: schema at {revision}")
    return 0
