"""WarehouseHook against real databases: schema management through the hook, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from fb_commerce.hooks.warehouse import WarehouseHook
from fb_commerce.warehouse import migrate, schema

ENV = "AIRFLOW_CONN_FB_COMMERCE_WAREHOUSE"


def test_hook_manages_the_schema(monkeypatch: pytest.MonkeyPatch, warehouse_url: str) -> None:
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": warehouse_url}}))
    hook = WarehouseHook()
    ok, message = hook.test_connection()
    assert ok and "revision none" in message and "fb-commerce db upgrade" in message
    with pytest.raises(migrate.SchemaOutOfDate):
        hook.require_latest()
    assert hook.ensure_schema() == migrate.head_revision()
    hook.require_latest()
    assert hook.upgrade() == migrate.head_revision()
    ok, message = hook.test_connection()
    assert ok and "latest revision" in message
    with hook.get_engine().connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.fb_orders)).scalar() == 0
    hook.dispose()


def test_auto_upgrade_off_refuses_old_schema(monkeypatch: pytest.MonkeyPatch, warehouse_url: str) -> None:
    monkeypatch.setenv(
        ENV,
        json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": warehouse_url, "auto_upgrade": False}}),
    )
    hook = WarehouseHook()
    with pytest.raises(migrate.SchemaOutOfDate, match="fb-commerce db upgrade"):
        hook.ensure_schema()
    assert migrate.current_revision(hook.get_engine()) is None
    assert hook.ensure_schema(auto_upgrade=True) == migrate.head_revision()
    hook.dispose()


@pytest.mark.postgres
def test_postgres_connection_fields(monkeypatch: pytest.MonkeyPatch, postgres_url: str) -> None:
    """The classic postgres connection form (host, port, login, schema, options) reaches the test schema."""
    url = sa.make_url(postgres_url)
    monkeypatch.setenv(
        ENV,
        json.dumps(
            {
                "conn_type": "postgres",
                "host": url.host,
                "port": url.port or 5432,
                "login": url.username,
                "password": url.password,
                "schema": url.database,
                "extra": {"options": url.query["options"]},
            }
        ),
    )
    hook = WarehouseHook()
    assert hook.get_engine().dialect.name == "postgresql"
    hook.upgrade()
    search_path_schema = url.query["options"].split("=", 1)[1]
    with hook.get_engine().connect() as conn:
        assert conn.execute(sa.text("SELECT current_schema()")).scalar() == search_path_schema
        assert conn.execute(sa.text("SHOW timezone")).scalar() == "UTC"
        tables = set(sa.inspect(conn).get_table_names(schema=search_path_schema))
    assert set(schema.metadata.tables) <= tables
    hook.dispose()
