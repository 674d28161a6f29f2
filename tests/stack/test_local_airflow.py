"""`fb-commerce airflow` (what `make airflow` runs): every service on 127.0.0.1 with the sandbox, a login that
works, every DAG triggered through the REST API with the defaults its trigger form submits, and Ctrl-C stopping all
of it with nothing left behind."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from support import trigger_form

from fb_commerce import defaults
from fb_commerce.devstack import ADMIN_USER, free_port

pytestmark = pytest.mark.slow

FB_COMMERCE = str(Path(sys.executable).with_name("fb-commerce"))
DAG_IDS = {
    "fb_setup_check",
    "fb_orders_sync",
    "fb_order_updates",
    "fb_catalog_feed",
    "fb_inventory_sync",
    "fb_finance_nightly",
    "fb_cs_refund",
    "fb_cs_cancel",
    "fb_cs_update_tracking",
}


def _until(what: str, check: Callable[[], object], timeout: float, process: subprocess.Popen, log: Path) -> object:
    """Poll ``check`` until it returns something truthy, failing if the command exits or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"fb-commerce airflow exited with {process.returncode}:\n{log.read_text()}"
        try:
            if result := check():
                return result
        except requests.RequestException:
            pass
        time.sleep(1)
    raise AssertionError(f"{what} not seen within {timeout:.0f} s:\n{log.read_text()}")


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, session id, state) of every process (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (command) "
            found[int(entry.name)] = (int(fields[1]), int(fields[3]), fields[0])
    return found


def test_make_airflow_serves_the_ui_triggers_every_dag_and_stops_on_ctrl_c(tmp_path):
    home, data = tmp_path / "home", tmp_path / "data"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW_CONN_")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "FB_COMMERCE_DATA_DIR": str(data),
            # finance catches up from its start day: from today, unpausing it adds at most one scheduled run
            "FB_COMMERCE_FINANCE_START": dt.datetime.now(dt.UTC).date().isoformat(),
        }
    )
    # as after `make airflow-init`: the warehouse exists; the demo's products give the catalog feed something to send
    subprocess.run([FB_COMMERCE, "airflow-init"], env=env, check=True, capture_output=True, timeout=300)
    from fb_commerce.catalog.demo_products import seed_demo_products
    from fb_commerce.warehouse.engine import create_warehouse_engine

    engine = create_warehouse_engine(f"sqlite:///{data / 'warehouse.db'}")
    seed_demo_products(engine)
    engine.dispose()

    port, sandbox_port, password = free_port(), free_port(), "a-test-password"
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "make-airflow.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [FB_COMMERCE, "airflow", "--port", str(port), "--sandbox-port", str(sandbox_port), "--password", password],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _until("the ready message", lambda: "Ctrl-C stops everything" in log.read_text(), 300, process, log)
        printed = log.read_text()
        assert f"Airflow UI: {url}" in printed and f"log in as '{ADMIN_USER}' with password '{password}'" in printed
        assert requests.get(f"{url}/api/v2/monitor/health", timeout=10).ok
        # the customer-service page is mounted and, like the API, refuses an anonymous request
        assert f"Customer service page: {url}/fb-commerce/" in printed
        assert requests.get(f"{url}/fb-commerce/", timeout=10).status_code == 401

        # the UI asks for a login; the printed one works, a wrong one does not
        assert requests.get(f"{url}/api/v2/dags", timeout=10).status_code == 401
        wrong = requests.post(f"{url}/auth/token", json={"username": ADMIN_USER, "password": "nope"}, timeout=10)
        assert wrong.status_code == 401
        token = requests.post(f"{url}/auth/token", json={"username": ADMIN_USER, "password": password}, timeout=10)
        assert token.status_code == 201, token.text
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

        def api(method: str, path: str, **kwargs: object) -> dict:
            # longer than the metadata DB's 60 s lock wait: unpausing a catchup DAG keeps the scheduler writing
            for attempt in range(3):
                response = session.request(method, f"{url}/api/v2/{path}", timeout=90, **kwargs)
                # SQLite refuses, without waiting, a write whose read snapshot another service has just outdated;
                # Airflow answers that with a 500 "Database error" and rolls it back, and the UI's user clicks
                # again. Three in a row would be a real fault.
                if not (response.status_code == 500 and "Database error" in response.text and attempt < 2):
                    break
            assert response.ok, f"{method} {path}: {response.status_code} {response.text}"
            return response.json()

        listed = lambda: {dag["dag_id"] for dag in api("GET", "dags")["dags"]} >= DAG_IDS  # noqa: E731
        _until("every DAG in the DAG list", listed, 240, process, log)
        stored = {c["connection_id"]: c for c in api("GET", "connections")["connections"]}
        assert stored[defaults.GRAPH_CONN_ID]["host"] == f"http://127.0.0.1:{sandbox_port}"
        assert stored[defaults.WAREHOUSE_CONN_ID]["host"] == str(data / "warehouse.db")

        # each DAG triggered as its form does it: the form's default conf, "Unpause" ticked
        runs = {}
        for dag_id in sorted(DAG_IDS):
            conf, blocked = trigger_form(api("GET", f"dags/{dag_id}/details")["params"])
            assert blocked == [], f"{dag_id}: the form cannot be submitted, {blocked} required but empty"
            api("PATCH", f"dags/{dag_id}", json={"is_paused": False})
            runs[dag_id] = api("POST", f"dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})[
                "dag_run_id"
            ]

        def states() -> dict[str, str] | None:
            found = {dag_id: api("GET", f"dags/{dag_id}/dagRuns/{run_id}")["state"] for dag_id, run_id in runs.items()}
            return found if all(state in ("success", "failed") for state in found.values()) else None

        finished = _until("every run finished", states, 600, process, log)
        for dag_id, run_id in runs.items():
            tasks = {
                ti["task_id"]: ti["state"]
                for ti in api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
            }
            # green all the way: alerts on the seeded orders are notifications, not failed runs
            assert finished[dag_id] == "success", f"{dag_id} {finished[dag_id]}: {tasks}; logs in {home / 'logs'}"

        # Ctrl-C: every service and everything they started is gone when the command returns
        services = {pid for pid, (parent, _, _) in _processes().items() if parent == process.pid}
        assert len(services) >= 5, f"expected sandbox + 4 Airflow services, found {services}"
        sessions = {_processes()[pid][1] for pid in services}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=120) == 0, log.read_text()
        left = {pid: info for pid, info in _processes().items() if info[1] in sessions and info[2] != "Z"}
        assert left == {}, f"left running after Ctrl-C: {left}"
        assert "All Airflow services stopped." in log.read_text()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=120)


def test_make_airflow_refuses_a_port_in_use(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "home")}
        result = subprocess.run(
            [FB_COMMERCE, "airflow", "--port", str(port)], env=env, capture_output=True, text=True, timeout=120
        )
    assert result.returncode == 1 and f"Port {port} is in use" in result.stderr
