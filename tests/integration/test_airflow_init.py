"""`fb-commerce airflow-init` stores the two project connections in Airflow's metadata database, idempotently,
so services started later (and the UI's Connections page) see them without any AIRFLOW_CONN_* variable."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from fb_commerce import defaults
from fb_commerce.environment import GRAPH_ENV, WAREHOUSE_ENV

FB_COMMERCE = str(Path(sys.executable).with_name("fb-commerce"))


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW_CONN_")}
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "home"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'home' / 'airflow.db'}",
            "FB_COMMERCE_DATA_DIR": str(tmp_path / "data"),
        }
    )
    env.update(extra)
    return env


def _run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([FB_COMMERCE, *args], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _stored(tmp_path: Path) -> list[tuple[str, str, str]]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'home' / 'airflow.db'}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT conn_id, conn_type, host FROM connection ORDER BY conn_id")).all()
    engine.dispose()
    return [tuple(row) for row in rows]


@pytest.mark.slow
def test_airflow_init_stores_the_connections_and_a_rerun_updates_them(tmp_path):
    output = _run(_env(tmp_path), "airflow-init")
    default_file = str(tmp_path / "data" / "warehouse.db")
    assert _stored(tmp_path) == [
        (defaults.GRAPH_CONN_ID, defaults.CONN_TYPE, f"http://{defaults.SANDBOX_HOST}:{defaults.SANDBOX_PORT}"),
        (defaults.WAREHOUSE_CONN_ID, "sqlite", default_file),
    ]
    assert "stored from the sandbox default" in output and defaults.SANDBOX_ACCESS_TOKEN not in output
    # the services that share the metadata file read and write without blocking each other
    with sqlite3.connect(tmp_path / "home" / "airflow.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    # from the environment this time: the same rows are updated, none is added
    other_file = tmp_path / "elsewhere" / "warehouse.db"
    other_file.parent.mkdir()
    graph = {
        "conn_type": defaults.CONN_TYPE,
        "host": "http://127.0.0.1:9",
        "password": "a-token",
        "extra": {"app_secret": "s"},
    }
    output = _run(
        _env(
            tmp_path,
            **{
                GRAPH_ENV: json.dumps(graph),
                WAREHOUSE_ENV: json.dumps({"conn_type": "sqlite", "host": str(other_file)}),
            },
        ),
        "airflow-init",
    )
    assert _stored(tmp_path) == [
        (defaults.GRAPH_CONN_ID, defaults.CONN_TYPE, "http://127.0.0.1:9"),
        (defaults.WAREHOUSE_CONN_ID, "sqlite", str(other_file)),
    ]
    assert f"updated from ${WAREHOUSE_ENV}" in output and "a-token" not in output

    # a process started later with no AIRFLOW_CONN_* variable finds the stored warehouse (migrated by the init)
    current = _run(_env(tmp_path), "db", "current")
    assert str(other_file) in current and "up to date" in current
