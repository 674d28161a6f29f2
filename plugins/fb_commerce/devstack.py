"""Start the Airflow 3 services that docker-compose.yml runs, directly on this machine (no Docker).

Used by `fb-commerce airflow` (`make airflow`), the stack tests and the latency benchmark: api-server, scheduler,
dag-processor, triggerer and, with the CeleryExecutor, a Celery worker on Redis; plus the Graph API sandbox as its own
process. Each stack has its own AIRFLOW_HOME, metadata database and Celery queue, so several can share a PostgreSQL
and a Redis server. Every service listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from fb_commerce import defaults
from fb_commerce.environment import GRAPH_ENV, WAREHOUSE_ENV, sandbox_connection

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: the UI's user when the stack asks for a login (see AirflowStack.admin_password)
ADMIN_USER = "admin"

#: connect args of an SQLite metadata DB (``[database] sql_alchemy_connect_args`` names this by import path): four
#: services write to one file, and the driver's default 5 s wait for a lock ends in "database is locked" (an HTTP
#: 500 in the UI) on a busy machine; waiting longer turns that into a short delay
SQLITE_CONNECT_ARGS: dict[str, float] = {"timeout": 60.0}


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False when the group is empty (0 only asks whether it still exists)."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member still exists but is not ours to signal (never expected here)
        return True
    return True


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@dataclass
class AirflowStack:
    """A running Airflow (and sandbox) for end-to-end runs through the real scheduler.

    :param home: AIRFLOW_HOME (logs and config go there).
    :param executor: ``CeleryExecutor`` (as in docker-compose.yml) or ``LocalExecutor``.
    :param database_url: metadata DB; None = SQLite in ``home``.
    :param broker_url: Celery broker (Redis) for the CeleryExecutor.
    :param sandbox_args: extra `fb-commerce sandbox` arguments (e.g. ``["--orders", "10"]``).
    :param external_sandbox: URL of a sandbox already running; none is started then.
    :param dags_folder: the DAGs to load (default: the repo's dags/).
    :param extra_env: more environment for every service (e.g. ``AIRFLOW_VAR_*``).
    :param data_dir: ``FB_COMMERCE_DATA_DIR`` of the services; None = ``home/data``.
    :param stored_connections: False (tests): the two project connections are set in the services' environment,
        pointing at this stack's sandbox and at ``data_dir/warehouse.db``. True (`fb-commerce airflow`): the services
        read what `fb-commerce airflow-init` stored in the metadata DB (from the caller's AIRFLOW_CONN_* variables,
        else the sandbox at ``sandbox_url`` and the default SQLite file), which the Connections page shows.
    :param admin_password: None (tests): every request is an admin, no login. Else the UI asks for a login and the
        user ``admin`` has this password (Airflow's SimpleAuthManager reads it from its passwords file).
    """

    home: Path
    executor: str = "LocalExecutor"
    database_url: str | None = None
    broker_url: str | None = None
    sandbox_args: list[str] = field(default_factory=list)
    external_sandbox: str | None = None
    dags_folder: Path = REPO / "dags"
    extra_env: dict[str, str] = field(default_factory=dict)
    data_dir: Path | None = None
    stored_connections: bool = False
    admin_password: str | None = None
    api_port: int = field(default_factory=free_port)
    sandbox_port: int = field(default_factory=free_port)
    queue: str = field(default_factory=lambda: f"fbc_{uuid.uuid4().hex[:8]}")
    #: one secret for every service: the api-server signs the workers' task tokens with it
    jwt_secret: str = field(default_factory=lambda: uuid.uuid4().hex)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    #: what `fb-commerce airflow-init` printed at start (pool, connections, warehouse)
    init_output: str = field(default="", init=False)
    _token: str | None = field(default=None, init=False, repr=False)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def sandbox_url(self) -> str:
        return self.external_sandbox or f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def services_data_dir(self) -> Path:
        return self.data_dir or self.home / "data"

    @property
    def passwords_file(self) -> Path:
        """Where SimpleAuthManager keeps its users' passwords (Airflow's default place in AIRFLOW_HOME)."""
        return self.home / "simple_auth_manager_passwords.json.generated"

    def environment(self) -> dict[str, str]:
        env = os.environ.copy()
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # children find `airflow`
        db = self.database_url or f"sqlite:///{self.home / 'airflow.db'}"
        if db.startswith("sqlite"):
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS"] = f"{__name__}.SQLITE_CONNECT_ARGS"
            # the api-server's async engine (aiosqlite) has its own setting, else the driver's 5 s
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC"] = f"{__name__}.SQLITE_CONNECT_ARGS"
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": str(self.admin_password is None),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
                "FB_COMMERCE_DATA_DIR": str(self.services_data_dir),
            }
        )
        if not self.stored_connections:
            env[GRAPH_ENV] = json.dumps(sandbox_connection(self.sandbox_url))
            env[WAREHOUSE_ENV] = json.dumps(
                {"conn_type": "sqlite", "host": str(self.services_data_dir / "warehouse.db")}
            )
        if self.executor == "CeleryExecutor":
            env["AIRFLOW__CELERY__BROKER_URL"] = self.broker_url or "redis://127.0.0.1:6379/0"
            result_db = (
                db.replace("postgresql+psycopg2://", "db+postgresql://") if db.startswith("postgresql") else f"db+{db}"
            )
            env["AIRFLOW__CELERY__RESULT_BACKEND"] = result_db
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, *command: str) -> None:
        log = (self.home / "logs" / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(
            list(command), env=self.environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start(self, timeout: float = 120) -> AirflowStack:
        """What docker-compose's airflow-init does, then every service; returns when the API answers."""
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        env = self.environment()
        init = subprocess.run(
            [_bin("fb-commerce"), "airflow-init", "--sandbox-url", self.sandbox_url],
            env=env,
            capture_output=True,
            text=True,
        )
        if init.returncode != 0:
            raise RuntimeError(f"fb-commerce airflow-init failed:\n{init.stdout[-4000:]}{init.stderr[-4000:]}")
        self.init_output = init.stdout
        if self.admin_password is not None:
            self._write_password()
        if not self.external_sandbox:
            self._spawn("sandbox", _bin("fb-commerce"), "sandbox", "--port", str(self.sandbox_port), *self.sandbox_args)
        self._spawn("api-server", _bin("airflow"), "api-server", "--host", "127.0.0.1", "--port", str(self.api_port))
        self._spawn("scheduler", _bin("airflow"), "scheduler")
        self._spawn("dag-processor", _bin("airflow"), "dag-processor")
        self._spawn("triggerer", _bin("airflow"), "triggerer")
        if self.executor == "CeleryExecutor":
            self._spawn("worker", _bin("airflow"), "celery", "worker", "--queues", self.queue, "--concurrency", "2")
        self._wait(lambda: requests.get(f"{self.api_url}/api/v2/monitor/health", timeout=2).ok, timeout, "api-server")
        self._wait(lambda: requests.get(f"{self.sandbox_url}/_sandbox/health", timeout=2).ok, timeout, "sandbox")
        return self

    def _write_password(self) -> None:
        """Give ``admin`` its password in SimpleAuthManager's file before the api-server starts: Airflow only
        generates a password for a user the file lacks, so the login stays the one configured here."""
        passwords = json.loads(self.passwords_file.read_text() or "{}") if self.passwords_file.exists() else {}
        passwords[ADMIN_USER] = self.admin_password
        # readable by its owner only, from the moment it is created
        with os.fdopen(os.open(self.passwords_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write(json.dumps(passwords) + "\n")
        self.passwords_file.chmod(0o600)

    def _wait(self, ready: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {self.home / 'logs' / name}.log")
            try:
                if ready():
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise TimeoutError(f"{what} not ready after {timeout:.0f} s; logs in {self.home / 'logs'}")

    # --- REST API (all admins: no token needed; with a password: the token of a login) ------------------------

    def login(self, username: str = ADMIN_USER, password: str | None = None) -> str:
        """An access token for the REST API, as the UI's login form gets it (SimpleAuthManager's token endpoint)."""
        response = requests.post(
            f"{self.api_url}/auth/token",
            json={"username": username, "password": password if password is not None else self.admin_password},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def _headers(self) -> dict[str, str]:
        if self.admin_password is None:
            return {}
        if self._token is None:
            self._token = self.login()
        return {"Authorization": f"Bearer {self._token}"}

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method, f"{self.api_url}/api/v2/{path}", headers=self._headers(), timeout=30, **kwargs
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        def parsed() -> bool:
            response = requests.get(f"{self.api_url}/api/v2/dags/{dag_id}", headers=self._headers(), timeout=5)
            return response.status_code == 200

        self._wait(parsed, timeout, f"DAG {dag_id}")

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        run = self.api("POST", f"dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        state: dict[str, str] = {}

        def finished() -> bool:
            state["value"] = self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}")["state"]
            return state["value"] in ("success", "failed")

        self._wait(finished, timeout, f"run {run_id} of {dag_id}")
        return state["value"]

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """The DAG's runs, oldest first (``dag_run_id``, ``run_type``, ``state``...)."""
        return self.api("GET", f"dags/{dag_id}/dagRuns", params={"order_by": "run_after", "limit": 1000})["dag_runs"]

    def wait_idle(self, dag_id: str, timeout: float = 600) -> None:
        """Until the DAG has runs and none is queued or running."""
        self._wait(
            lambda: (runs := self.runs(dag_id)) and all(r["state"] in ("success", "failed") for r in runs),
            timeout,
            f"{dag_id} idle",
        )

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        instances = self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti["state"] for ti in instances}

    def wait(self) -> str:
        """Block until a service exits by itself; return its name (the others keep running: call :meth:`stop`)."""
        while True:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    return name
            time.sleep(1)

    def stop(self, timeout: float = 20) -> None:
        """Terminate every service and whatever it started (each runs in its own process group), then wait until
        each group is empty, killing what is left after ``timeout``: nothing is left behind."""
        for process in self.processes.values():
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        for process in self.processes.values():
            # a worker or task process may outlive its service's main process by a moment
            while _signal_group(process.pid, 0) and time.monotonic() < deadline:
                time.sleep(0.2)
            _signal_group(process.pid, signal.SIGKILL)
        self.processes.clear()

    def __enter__(self) -> AirflowStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["ADMIN_USER", "AirflowStack", "defaults", "free_port"]
