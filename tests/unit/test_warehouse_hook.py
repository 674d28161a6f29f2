"""WarehouseHook: the URL each connection form gives, the default SQLite fallback, and no password in logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from fb_commerce.hooks.warehouse import WarehouseHook

ENV = "AIRFLOW_CONN_FB_COMMERCE_WAREHOUSE"


def _set_conn(monkeypatch: pytest.MonkeyPatch, **conn: object) -> None:
    monkeypatch.setenv(ENV, json.dumps(conn))


def _logged(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    """Everything logged: Airflow's structlog writes to stdout, plain logging reaches caplog."""
    out, err = capfd.readouterr()
    return caplog.text + out + err


def _url(hook: WarehouseHook) -> str:
    return hook.get_url().render_as_string(hide_password=False)


def test_sqlalchemy_url_extra_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _set_conn(
        monkeypatch,
        conn_type="postgres",
        host="ignored",
        extra={"sqlalchemy_url": f"sqlite:///{tmp_path / 'x.db'}"},
    )
    assert _url(WarehouseHook()) == f"sqlite:///{tmp_path / 'x.db'}"


def test_sqlite_connection_uses_host_as_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _set_conn(monkeypatch, conn_type="sqlite", host=str(tmp_path / "wh.db"))
    hook = WarehouseHook()
    assert _url(hook) == f"sqlite:///{tmp_path / 'wh.db'}"
    assert hook.describe().startswith("sqlite ")


@pytest.mark.parametrize("conn_type", ["postgres", "postgresql"])
def test_postgres_connection(monkeypatch: pytest.MonkeyPatch, conn_type: str) -> None:
    _set_conn(
        monkeypatch,
        conn_type=conn_type,
        host="db.internal",
        port=6543,
        login="etl",
        password="p@ss:w/rd",
        schema="warehouse",
        extra={"options": "-csearch_path=fbc", "sslmode": "require", "unrelated": "x"},
    )
    hook = WarehouseHook()
    url = hook.get_url()
    assert url.drivername == "postgresql+psycopg2"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "etl",
        "p@ss:w/rd",
        "db.internal",
        6543,
        "warehouse",
    )
    assert dict(url.query) == {"options": "-csearch_path=fbc", "sslmode": "require"}
    assert "p@ss" not in hook.describe() and "***" in hook.describe()


def test_postgres_uri_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "postgresql://etl:secret@db:5432/wh?options=-csearch_path%3Dfbc")
    url = WarehouseHook().get_url()
    assert (url.host, url.database, url.query["options"]) == ("db", "wh", "-csearch_path=fbc")


def test_other_connection_types_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(monkeypatch, conn_type="mysql", host="db")
    with pytest.raises(ValueError, match=r"sqlite .*postgres.*sqlalchemy_url"):
        WarehouseHook().get_url()


def test_custom_conn_id(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_OTHER_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "o.db")})
    )
    assert WarehouseHook(warehouse_conn_id="other_warehouse").get_url().database == str(tmp_path / "o.db")


def test_default_sqlite_when_connection_missing(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    data = tmp_path / "data-dir"
    monkeypatch.setenv("FB_COMMERCE_DATA_DIR", str(data))
    hook = WarehouseHook()
    with caplog.at_level(logging.INFO):
        engine = hook.get_engine()
    assert engine.url.database == str(data / "warehouse.db")
    assert data.is_dir()
    logged = _logged(caplog, capfd)
    assert "is not defined" in logged and "warehouse.db" in logged
    assert hook.get_engine() is engine, "the engine is cached"
    hook.dispose()


def test_auto_upgrade_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _set_conn(monkeypatch, conn_type="sqlite", host=str(tmp_path / "a.db"), extra={"auto_upgrade": "false"})
    assert WarehouseHook().auto_upgrade is False
    _set_conn(monkeypatch, conn_type="sqlite", host=str(tmp_path / "a.db"))
    assert WarehouseHook().auto_upgrade is True


def test_password_never_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    _set_conn(
        monkeypatch,
        conn_type="postgres",
        host="127.0.0.1",
        port=1,  # nothing listens: the connection fails
        login="etl",
        password="VerySecret123",
        schema="wh",
        extra={"connect_timeout": "1"},
    )
    hook = WarehouseHook()
    with caplog.at_level(logging.DEBUG):
        ok, message = hook.test_connection()
    assert not ok
    assert "Cannot reach the warehouse" in message
    assert "VerySecret123" not in message
    assert "VerySecret123" not in _logged(caplog, capfd)
