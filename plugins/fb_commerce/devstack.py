"""Start the Airflow 3 services that docker-compose.yml runs, directly on this machine (no Docker).

Used by the stack test and the latency benchmark: api-server, scheduler, dag-processor, triggerer and, with the
CeleryExecutor, a Celery worker on Redis; plus the Graph API sandbox as its own process. Each stack has its own
AIRFLOW_HOME, metadata database and Celery queue, so several can share a PostgreSQL and a Redis server.
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
    """

    home: Path
    executor: str = "LocalExecutor"
    database_url: str | None = None
    broker_url: str | None = None
    sandbox_args: list[str] = field(default_factory=list)
    external_sandbox: str | None = None
    dags_folder: Path = REPO / "dags"
    extra_env: dict[str, str] = field(default_factory=dict)
    api_port: int = field(default_factory=free_port)
    sandbox_port: int = field(default_factory=free_port)
    queue: str = field(default_factory=lambda: f"fbc_{uuid.uuid4().hex[:8]}")
    #: one secret for every service: the api-server signs the workers' task tokens with it
    jwt_secret: str = field(default_factory=lambda: uuid.uuid4().hex)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def sandbox_url(self) -> str:
        return self.external_sandbox or f"http://127.0.0.1:{self.sandbox_port}"

    def environment(self) -> dict[str, str]:
        env = os.environ.copy()
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # children find `airflow`
        db = self.database_url or f"sqlite:///{self.home / 'airflow.db'}"
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
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
                "FB_COMMERCE_DATA_DIR": str(self.home / "data"),
                GRAPH_ENV: json.dumps(sandbox_connection(self.sandbox_url)),
                WAREHOUSE_ENV: json.dumps({"conn_type": "sqlite", "host": str(self.home / "data" / "warehouse.db")}),
            }
        )
        if self.executor == "CeleryExecutor":
            env["AIRFLOW__CELERY__BROKER_URL"] = self.broker_url or "redis://127.0.0.1:6379/0"
            result_db = db.replace("postgresql+psycopg2://", "db+postgresql://") if db.startswith("postgresql") else f"db+{db}"
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
        subprocess.run([_bin("airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
        subprocess.run([_bin("fb-commerce"), "airflow-init"], env=env, check=True, capture_output=True)
        if not self.external_sandbox:
            self._spawn("sandbox", _bin("fb-commerce"), "sandbox", "--port", str(self.sandbox_port), *self.sandbox_args)
        self._spawn("api-server", _bin("airflow"), "api-server", "--port", str(self.api_port))
        self._spawn("scheduler", _bin("airflow"), "scheduler")
        self._spawn("dag-processor", _bin("airflow"), "dag-processor")
        self._spawn("triggerer", _bin("airflow"), "triggerer")
        if self.executor == "CeleryExecutor":
            self._spawn("worker", _bin("airflow"), "celery", "worker", "--queues", self.queue, "--concurrency", "2")
        self._wait(lambda: requests.get(f"{self.api_url}/api/v2/monitor/health", timeout=2).ok, timeout, "api-server")
        self._wait(lambda: requests.get(f"{self.sandbox_url}/_sandbox/health", timeout=2).ok, timeout, "sandbox")
        return self

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

    # --- REST API (the simple auth manager with all-admins: no token needed locally) -------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.api_url}/api/v2/{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        def parsed() -> bool:
            response = requests.get(f"{self.api_url}/api/v2/dags/{dag_id}", timeout=5)
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

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()

    def __enter__(self) -> AirflowStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["AirflowStack", "defaults", "free_port"]
