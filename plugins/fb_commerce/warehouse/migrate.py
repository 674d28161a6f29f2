"""Schema migrations with Alembic, driven from Python: no alembic.ini is needed at run time.

The scripts live in ``migrations/`` next to this module; the version is kept in
``fb_commerce_alembic_version`` so a warehouse that shares its database with Airflow's metadata never touches
Airflow's own ``alembic_version``, and autogenerate looks only at the tables of
:mod:`fb_commerce.warehouse.schema`.

Upgrades take a lock first (an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so tasks that
start together on a new database do not race to create the same tables: the second waits, then finds nothing
to do.

``fb-commerce db upgrade`` is the command users run; DAGs call :func:`ensure_latest` before they write.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from fb_commerce.warehouse import schema
from fb_commerce.warehouse.engine import describe_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "fb_commerce_alembic_version"
UPGRADE_COMMAND = "fb-commerce db upgrade"

# pg_advisory_xact_lock key: any constant bigint that no other application uses ("fbcommerce" in ASCII,
# truncated).
_PG_LOCK_KEY = 0x6662636F6D6D


class SchemaOutOfDate(RuntimeError):
    """The warehouse is not at the revision this code needs; the message says the revisions and the fix."""

    def __init__(self, current: str | None, head: str, where: str | None = None) -> None:
        self.current = current
        self.head = head
        self.where = where
        place = f"The fb-commerce warehouse ({where})" if where else "The fb-commerce warehouse"
        if current is None:
            state = f"{place} has no fb-commerce schema yet (revision: none); this code needs revision {head}."
        elif current in known_revisions():
            state = f"{place} is at schema revision {current}; this code needs revision {head}."
        else:
            state = (
                f"{place} is at schema revision {current}, which this code does not know (head is {head}): "
                "it was migrated by a newer version of fb-commerce; deploy that version."
            )
        super().__init__(f"{state} Run `{UPGRADE_COMMAND}` to migrate it.")


def _config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the package's scripts, optionally bound to an open connection."""
    config = Config()
    # ConfigParser interpolates '%', which a folder name could contain.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    """The newest revision of the migration scripts (what the code expects)."""
    head = _script().get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise RuntimeError(f"no migration scripts in {MIGRATIONS_DIR}")
    return head


def known_revisions() -> frozenset[str]:
    """Every revision the migration scripts define."""
    return frozenset(script.revision for script in _script().walk_revisions())


def _current(connection: Connection) -> str | None:
    # Read the version table directly rather than through a MigrationContext, which logs two INFO lines per
    # call into every task log that checks the schema.
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    versions = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(versions) > 1:
        raise RuntimeError(f"{VERSION_TABLE} holds several revisions {versions}: the migration history branched")
    return versions[0] if versions else None


def current_revision(engine: Engine) -> str | None:
    """The revision the warehouse is at, or None when no fb-commerce migration ever ran there."""
    with engine.connect() as connection:
        return _current(connection)


@contextlib.contextmanager
def _migration_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the migration lock; commits on success."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            with _sqlite_migration_transaction(connection):
                yield connection
        else:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
                yield connection


@contextlib.contextmanager
def _sqlite_migration_transaction(connection: Connection) -> Iterator[None]:
    # Foreign keys off for the duration: batch mode rebuilds a table by copy, drop and rename, and with
    # foreign keys on, dropping a parent table would cascade-delete its children (SQLite's documented
    # procedure for schema changes). The pragma is a no-op inside a transaction, so it is set before BEGIN and
    # restored after COMMIT.
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        with connection.begin():
            # BEGIN IMMEDIATE takes the write lock now: a second migrating process waits (busy_timeout) here,
            # before it reads the version, instead of failing halfway through creating tables.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield
            problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise RuntimeError(f"migration left rows that break foreign keys: {problems[:10]}")
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Migrate the warehouse to ``revision`` (default: the newest) and return the revision it is now at.

    Running it on an up-to-date warehouse does nothing. A warehouse at a revision this code does not know
    (migrated by a newer version) raises :class:`SchemaOutOfDate` rather than Alembic's "Can't locate
    revision".
    """
    with _migration_transaction(engine) as connection:
        current = _current(connection)
        if current is not None and current not in known_revisions():
            raise SchemaOutOfDate(current, head_revision(), describe_engine(engine))
        command.upgrade(_config(connection), revision)
        new = _current(connection)
    return new or ""


def downgrade(engine: Engine, revision: str) -> str | None:
    """Migrate down to ``revision`` (``"base"`` drops every fb-commerce table); for development."""
    with _migration_transaction(engine) as connection:
        command.downgrade(_config(connection), revision)
        return _current(connection)


def require_latest(engine: Engine) -> None:
    """Raise :class:`SchemaOutOfDate` unless the warehouse is at :func:`head_revision`."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(current, head, describe_engine(engine))


def ensure_latest(engine: Engine, auto_upgrade: bool = True) -> str:
    """Make sure the warehouse is at the head revision: upgrade it when allowed, else raise SchemaOutOfDate.

    A warehouse migrated by a newer version of the code (an unknown revision) always raises: downgrading
    someone else's schema is not this function's call.
    """
    current, head = current_revision(engine), head_revision()
    if current == head:
        return head
    if not auto_upgrade or (current is not None and current not in known_revisions()):
        raise SchemaOutOfDate(current, head, describe_engine(engine))
    return upgrade(engine)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate filter: only our tables (a warehouse may share its database with Airflow or the OMS)."""
    if type_ == "table":
        return name in schema.metadata.tables
    return True


def schema_differences(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the database match schema.py: empty when they agree."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": VERSION_TABLE,
                "include_name": include_name,
                "compare_type": True,
                "compare_server_default": True,
            },
        )
        return list(compare_metadata(context, schema.metadata))


def new_revision(engine: Engine, message: str, revision_id: str | None = None) -> str:
    """Write a new migration script from the differences between ``engine`` (at head) and schema.py.

    For developers: change schema.py, upgrade a scratch warehouse to head, call this, then read and edit the
    script (autogenerate does not see renames and needs help with data migrations). Returns the script's path.
    """
    require_latest(engine)
    with engine.connect() as connection:
        # revision ids follow the 0001, 0002... sequence of the file names
        rev_id = revision_id or f"{len(known_revisions()) + 1:04d}"
        script = command.revision(_config(connection), message=message, autogenerate=True, rev_id=rev_id)
    _script.cache_clear()
    scripts = script if isinstance(script, list) else [script]
    return str(scripts[0].path) if scripts and scripts[0] is not None else ""
