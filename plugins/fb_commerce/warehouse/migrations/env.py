"""Alembic environment of the fb-commerce warehouse.

Run through :mod:`fb_commerce.warehouse.migrate`, which passes an open connection (already in a transaction
that holds the migration lock) in ``config.attributes["connection"]``. Without one (the ``alembic`` command
line, offline ``--sql`` mode), the URL comes from the ``sqlalchemy.url`` option, else the default SQLite
warehouse.

Logging is left alone on purpose: ``fileConfig`` here would replace the logging setup of the Airflow task that
runs the migration.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.migrate import VERSION_TABLE, include_name
from fb_commerce.warehouse.paths import default_warehouse_url
from fb_commerce.warehouse.schema import metadata
from fb_commerce.warehouse.types import Money, UtcDateTime

config = context.config


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Write the project's column types as the plain SQLAlchemy types they stand for.

    Migration scripts are frozen history: they must not import types that may change later, and the DDL of
    ``UtcDateTime`` / ``Money`` is exactly that of their implementation.
    """
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, Money):
        return f"sa.Numeric(precision={obj.precision}, scale={obj.scale})"
    return False


def _options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": metadata,
        "version_table": VERSION_TABLE,
        "include_name": include_name,
        "render_item": render_item,
        "compare_type": True,
        "compare_server_default": True,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        "render_as_batch": dialect_name == "sqlite",
    }


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or default_warehouse_url()


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade head --sql``)."""
    url = _url()
    context.configure(url=url, literal_binds=True, **_options(url.split(":", 1)[0].split("+", 1)[0]))
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table by copy, drop and rename; SQLite (3.26+) then checks every view and refuses
        # the rename while a view names the dropped table ("error in view ...: no such table"). The legacy
        # rename does not look at views, and the views find the table again under its own name.
        connection.exec_driver_sql("PRAGMA legacy_alter_table = ON")
    context.configure(connection=connection, **_options(connection.dialect.name))
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA legacy_alter_table = OFF")


def run_migrations_online() -> None:
    """Run against the connection given by migrate.py, or a new engine for the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_warehouse_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
