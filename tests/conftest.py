"""Test setup shared by every suite.

Airflow reads its configuration when first imported, so the environment is fixed here, before any test module
imports it: a private AIRFLOW_HOME under .airflow/test (never the demo's), the repo's dags folder, no examples.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_HOME = ROOT / ".airflow" / "test"
TEST_HOME.mkdir(parents=True, exist_ok=True)

os.environ["AIRFLOW_HOME"] = str(TEST_HOME)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{TEST_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["FB_COMMERCE_DATA_DIR"] = str(TEST_HOME / "data")

PG_URL = os.environ.get("FB_COMMERCE_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("FB_COMMERCE_REQUIRE_POSTGRES", "") not in ("", "0", "false", "False")


def _migrate_airflow_db() -> None:
    """Create or upgrade the test metadata DB once per Airflow version (dag.test needs it)."""
    import importlib.metadata

    stamp = TEST_HOME / ".migrated"
    version = importlib.metadata.version("apache-airflow-core")
    if stamp.exists() and stamp.read_text() == version and (TEST_HOME / "airflow.db").exists():
        return
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
    )
    stamp.write_text(version)


_migrate_airflow_db()


# --- Hypothesis ---------------------------------------------------------------------------------------------
# Locally each run tries new examples (and keeps the failures it finds in .hypothesis/); CI (CI=true) runs the same
# examples every time, so a red CI is a real change, not a lucky draw.
from hypothesis import settings as _hypothesis_settings  # noqa: E402 - after the environment above is fixed

_hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true"):
    _hypothesis_settings.load_profile("ci")


# --- PostgreSQL ---------------------------------------------------------------------------------------------


def _postgres_available() -> str | None:
    """None when the server answers, else the reason it does not."""
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: no usable server
        return f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL URL; skips (or fails, when FB_COMMERCE_REQUIRE_POSTGRES=1) if the server is absent."""
    reason = _postgres_available()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(f"FB_COMMERCE_REQUIRE_POSTGRES is set but {reason}")
        pytest.skip(reason)
    return PG_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped after the test: tests never see each other's rows."""
    import sqlalchemy as sa

    schema = f"fbc_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres_server else "?"
    try:
        yield f"{postgres_server}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLAlchemy URL of an empty warehouse, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def warehouse_engine(warehouse_url: str) -> Iterator[object]:
    """An engine on an empty warehouse at the latest migration, once on SQLite and once on PostgreSQL."""
    from support import migrated_engine

    engine = migrated_engine(warehouse_url)
    yield engine
    engine.dispose()


# --- Graph API sandbox --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[object]:
    """One real sandbox HTTP server (uvicorn in a thread, free port) for the whole session."""
    from fb_commerce.sandbox.server import SandboxServer

    with SandboxServer(port=0) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server) -> Iterator[object]:
    """The session's sandbox, reset to its default seed before each test."""
    sandbox_server.admin.reset()
    yield sandbox_server
