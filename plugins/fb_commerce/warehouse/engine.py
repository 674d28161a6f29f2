"""Engines for the warehouse, usable without Airflow (domain code, tests, the CLI).

:func:`create_warehouse_engine` is the one place where connection-level settings live, so every caller gets
the same behaviour: on SQLite WAL (readers never block the writer), enforced foreign keys and a busy timeout
(concurrent Airflow tasks wait for the lock instead of failing); on PostgreSQL a UTC session, an application
name, pre-ping (connections dropped by a proxy are replaced instead of failing the task) and, with psycopg2,
UPDATE/DELETE run with many parameter sets sent as batches of 100 statements per round trip
(``executemany_mode="values_plus_batch"``; psycopg2's own ``executemany`` makes one round trip per row).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import sqlite3
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

log = logging.getLogger(__name__)

APPLICATION_NAME = "fb-commerce"
SQLITE_BUSY_TIMEOUT_MS = 60_000


def _json_default(value: Any) -> Any:
    # Decimal as a string keeps the exact amount; JSON floats would not.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


json_dumps = functools.partial(json.dumps, default=_json_default, ensure_ascii=False, separators=(",", ":"))
"""The standard-library JSON serializer: Decimal as string, dates as ISO-8601."""


def _fast_json_serializer() -> Any:
    """msgspec's encoder (a dependency of Airflow itself), several times faster than ``json`` on the ``raw``
    columns that keep Meta's objects, which is most of the cost of storing a page of orders. Decimal is written
    as a string like :data:`json_dumps` does; dates as RFC 3339. Falls back to :data:`json_dumps`."""
    try:
        import msgspec
    except ImportError:  # pragma: no cover - Airflow installs it
        return json_dumps
    encoder = msgspec.json.Encoder(decimal_format="string")

    def serialize(value: Any) -> str:
        return encoder.encode(value).decode("utf-8")

    return serialize


json_serializer = _fast_json_serializer()
"""The JSON serializer of warehouse engines."""


def _sqlite_wal(cursor: Any) -> None:
    """Switch the file to WAL (stored in the file, so only its first connection really does it).

    The switch needs an exclusive lock and SQLite answers "database is locked" at once, without the busy
    handler, while another connection holds one, which happens when several tasks open a new warehouse
    together: retry for as long as the busy timeout.
    """
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _sqlite_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster than FULL
        # a checkpoint every 64 MB of WAL rather than SQLite's 4 MB: a pull of orders (a few kB of raw JSON each)
        # then pays for a few checkpoints instead of dozens, each rewriting the same index pages
        cursor.execute("PRAGMA wal_autocheckpoint=16384")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _postgres_options(url: URL) -> str:
    """libpq ``options`` of the URL plus a UTC session time zone, unless the URL already sets one."""
    options = url.query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    if "timezone" not in options.lower():
        options = f"{options} -c timezone=UTC".strip()
    return options


def create_warehouse_engine(url: str | URL, **engine_kwargs: Any) -> Engine:
    """A SQLAlchemy engine for the warehouse at ``url`` (SQLite or PostgreSQL), with the project's settings.

    For a SQLite file the parent folder is created. ``engine_kwargs`` go to :func:`sqlalchemy.create_engine`
    and win over the defaults set here.
    """
    url = sa.make_url(url)
    backend = url.get_backend_name()
    kwargs: dict[str, Any] = {"json_serializer": json_serializer}
    if backend == "sqlite":
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    elif backend == "postgresql":
        kwargs["pool_pre_ping"] = True
        if url.get_driver_name() == "psycopg2":
            # Per-row outcomes (acknowledgements, references) are UPDATE executemany; no caller reads their rowcount.
            kwargs["executemany_mode"] = "values_plus_batch"
        query = dict(url.query)
        query["options"] = _postgres_options(url)
        query.setdefault("application_name", APPLICATION_NAME)
        url = url.set(query=query)
    kwargs.update(engine_kwargs)
    engine = sa.create_engine(url, **kwargs)
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***`` (for logs and messages)."""
    return sa.make_url(url).render_as_string(hide_password=True)


def describe_engine(engine: Engine) -> str:
    """``<dialect> <url with the password masked>``, e.g. ``postgresql postgresql+psycopg2://u:***@db/wh``."""
    return f"{engine.dialect.name} {mask_url(engine.url)}"
