"""Local Airflow for `make airflow-init` (metadata DB, pool, connections, warehouse schema) and `make airflow`
(every service on 127.0.0.1 with the sandbox, until Ctrl-C)."""

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


def metadata_db_wal() -> str | None:
    """Put an SQLite metadata DB in WAL mode; return its path, or None when the DB is not an SQLite file.

    Four services write to that one file. In SQLite's default journal a writer waits for every reader to finish
    and a reader that then wants to write is refused at once ("database is locked", a 500 in the UI); in WAL
    readers and the writer do not block each other. The mode is stored in the file, so doing it once here holds
    for every service started later.
    """
    import sqlite3

    from airflow.configuration import conf
    from sqlalchemy.engine import make_url

    url = make_url(conf.get("database", "sql_alchemy_conn"))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    with sqlite3.connect(url.database, timeout=60) as db:
        db.execute("PRAGMA journal_mode=WAL")
    return url.database


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
            done.append(
                f"Connection {local.conn_id} ({wanted.conn_type}, {wanted.host or 'no host'}): "
                f"{action} from {local.source}"
            )
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
    metadata_db_wal()
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


#: the UI password of ``admin`` for `fb-commerce airflow` when neither --password nor this variable is given
PASSWORD_ENV = "FB_COMMERCE_AIRFLOW_PASSWORD"
DEFAULT_PASSWORD = "admin"


def _sandbox_answers(url: str) -> bool:
    import requests

    try:
        return requests.get(f"{url}/_sandbox/health", timeout=2).ok
    except requests.RequestException:
        return False


def run_local_airflow(
    port: int = defaults.AIRFLOW_PORT, sandbox_port: int = defaults.SANDBOX_PORT, password: str | None = None
) -> int:
    """`make airflow`: start the stack in $AIRFLOW_HOME, print how to reach it, run until Ctrl-C, stop it all.

    The services use the same Airflow home, metadata DB, data folder and stored connections as `make demo` and
    `make airflow-init`, so the demo's runs and data show in the UI.
    """
    import signal
    import socket

    from fb_commerce.devstack import ADMIN_USER, AirflowStack
    from fb_commerce.environment import sandbox_url
    from fb_commerce.warehouse.paths import data_dir
    from fb_commerce.web import page_url

    home = Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser().resolve()
    password = password or os.environ.get(PASSWORD_ENV) or DEFAULT_PASSWORD
    sandbox = sandbox_url(port=sandbox_port)
    stack = AirflowStack(
        home=home,
        database_url=os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or None,
        data_dir=data_dir(),
        stored_connections=True,
        admin_password=password,
        api_port=port,
        sandbox_port=sandbox_port,
        external_sandbox=sandbox if _sandbox_answers(sandbox) else None,
        # Airflow's default of 32 task processes is more than a laptop's sandbox runs need
        extra_env={"AIRFLOW__CORE__PARALLELISM": os.environ.get("AIRFLOW__CORE__PARALLELISM", "8")},
    )

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # `kill` stops it as cleanly as Ctrl-C

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            print(
                f"Port {port} is in use on 127.0.0.1: choose another with --port (make airflow PORT=...)",
                file=sys.stderr,
            )
            return 1
    # set both explicitly: a process started in the background of a script inherits SIGINT ignored
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    print(f"Starting Airflow in {home} (service logs in {home / 'logs'}) ...", flush=True)
    try:
        stack.start(timeout=300)
        # what airflow-init did (pool, connections, warehouse), without the library's log lines
        print("\n".join(line for line in stack.init_output.splitlines() if line and not line[:4].isdigit()))
        sandbox_note = "already running, reused" if stack.external_sandbox else "started"
        print(
            f"\nAirflow UI: {stack.api_url}\n"
            f"  log in as {ADMIN_USER!r} with password {password!r} "
            f"(set by --password or ${PASSWORD_ENV}; kept in {stack.passwords_file})\n"
            f"  REST API: POST {stack.api_url}/auth/token with that user and password gives a token\n"
            f"Customer service page: {page_url(stack.api_url)} (also under Browse in the UI)\n"
            f"Graph API sandbox: {stack.sandbox_url} ({sandbox_note})\n"
            f"DAGs are paused when first seen: tick 'Unpause' in the trigger form, or use the toggle.\n"
            f"Ctrl-C stops everything.",
            flush=True,
        )
        ended = stack.wait()
        print(f"{ended} stopped by itself; see {home / 'logs' / ended}.log. Stopping the rest ...", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping Airflow ...", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as exc:  # a service did not start: the message names its log
        print(f"Airflow did not start: {exc}", file=sys.stderr)
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        stack.stop()
        print("All Airflow services stopped.", flush=True)
