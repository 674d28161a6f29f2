"""fb_setup_check end to end with dag.test(): real sandbox over HTTP, real warehouse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from fb_commerce import defaults
from fb_commerce.environment import sandbox_connection

pytestmark = pytest.mark.slow


@pytest.fixture
def connections(sandbox, tmp_path, monkeypatch):
    """Both project connections in the environment: the sandbox and a migrated SQLite warehouse."""
    from fb_commerce.warehouse.engine import create_warehouse_engine
    from fb_commerce.warehouse.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(create_warehouse_engine(url))
    monkeypatch.setenv("AIRFLOW_CONN_FB_COMMERCE_DEFAULT", json.dumps(sandbox_connection(sandbox.url)))
    monkeypatch.setenv(
        "AIRFLOW_CONN_FB_COMMERCE_WAREHOUSE",
        json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "warehouse.db")}),
    )
    monkeypatch.setenv("FB_COMMERCE_DATA_DIR", str(tmp_path))
    return tmp_path


def run_dag(conf: dict | None = None):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags" / "fb_setup_check.py")).get_dag(
        "fb_setup_check"
    )
    return dag.test(run_conf=conf or {})


def test_all_checks_pass_against_the_sandbox(connections, capfd, caplog):
    run = run_dag()
    assert run.state == "success"
    # the task's whole log (and the XCom it returned) never carries the token or the app secret
    out, err = capfd.readouterr()
    xcom = str(run.get_task_instance("run_checks").xcom_pull(task_ids="run_checks"))
    for text in (out, err, caplog.text, xcom):
        assert defaults.SANDBOX_ACCESS_TOKEN not in text and defaults.SANDBOX_APP_SECRET not in text
    assert "token" in xcom
    report = (connections / "reports" / "setup_check.txt").read_text()
    assert "All checks passed." in report and "FAIL" not in report
    for name in ("token", "commerce account", "order management app", "catalog and feed", "warehouse"):
        assert f"OK    {name}" in report


def test_unregistered_app_fails_and_says_how_to_fix_then_registers(connections, sandbox):
    requests.delete(
        f"{sandbox.url}/{defaults.API_VERSION}/{defaults.SANDBOX_CMS_ID}/order_management_apps",
        headers={"Authorization": f"Bearer {defaults.SANDBOX_ACCESS_TOKEN}"},
        params={"appsecret_proof": _proof()},
        timeout=10,
    ).raise_for_status()
    failed = run_dag()
    assert failed.state == "failed"
    report = (connections / "reports" / "setup_check.txt").read_text()
    assert "FAIL  order management app" in report and "fb-commerce check --register" in report

    registered = run_dag({"register_order_management_app": True})
    assert registered.state == "success"
    assert "registered it now" in (connections / "reports" / "setup_check.txt").read_text()


def test_old_warehouse_schema_fails_the_check(connections, monkeypatch, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_FB_COMMERCE_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "empty.db")})
    )
    assert run_dag().state == "failed"
    report = (connections / "reports" / "setup_check.txt").read_text()
    assert "FAIL  warehouse" in report and "fb-commerce db upgrade" in report


def test_cli_check_exit_codes(connections, sandbox):
    airflow = str(Path(sys.executable).with_name("airflow"))
    cli = [str(Path(sys.executable).with_name("fb-commerce")), "check"]
    subprocess.run([airflow, "pools", "delete", defaults.POOL], capture_output=True)
    no_pool = subprocess.run(cli, capture_output=True, text=True)
    assert no_pool.returncode == 1 and f"FAIL  pool {defaults.POOL}" in no_pool.stdout

    subprocess.run([airflow, "pools", "set", defaults.POOL, "4", "test"], capture_output=True, check=True)
    ok = subprocess.run(cli, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "All checks passed." in ok.stdout and "pool fb_graph_api" in ok.stdout
    assert defaults.SANDBOX_ACCESS_TOKEN not in ok.stdout and defaults.SANDBOX_APP_SECRET not in ok.stdout

    conn = sandbox_connection(sandbox.url)
    conn["password"] = "expired-token"
    env = {**__import__("os").environ, "AIRFLOW_CONN_FB_COMMERCE_DEFAULT": json.dumps(conn)}
    bad = subprocess.run(cli, capture_output=True, text=True, env=env)
    assert bad.returncode == 1
    assert "FAIL  token" in bad.stdout and "expired-token" not in bad.stdout


def _proof() -> str:
    from fb_commerce.graph.client import appsecret_proof

    return appsecret_proof(defaults.SANDBOX_ACCESS_TOKEN, defaults.SANDBOX_APP_SECRET)
