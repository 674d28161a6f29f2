"""Reading the mapped products as Arrow record batches from any SQLAlchemy URL.

SQLite and PostgreSQL are read Arrow-natively through ADBC (the database fills the columns; no Python object per
value), which is what keeps a million-product feed near the database's own export time (docs/performance.md).
Any other dialect, or a missing ADBC driver, goes through SQLAlchemy ``fetchmany`` into pyarrow arrays.

Every path runs the mapping wrapped as::

    SELECT COALESCE(CAST("col" AS TEXT), '') AS "col", ... FROM (<mapping>) AS fb_feed_source

so that all columns arrive as text whatever the merchant's column types. This matters for ADBC's SQLite driver,
which infers a column's type from the first batch and fails when a later row differs (an integer column with one
"abc", or an optional column that is NULL for the first 64k rows); an empty value and NULL mean the same in a feed.
Column names are normalised to lower case (PostgreSQL folds unquoted aliases anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import quote

import pyarrow as pa
import sqlalchemy as sa

from fb_commerce.catalog.mapping import column_names, strip_query
from fb_commerce.catalog.text import as_text

if TYPE_CHECKING:
    import sqlite3

log = logging.getLogger(__name__)

Method = Literal["auto", "adbc", "sqlalchemy"]
#: Rows per batch. Measured on the 1M-product bench (bench/feed.py, ~630 bytes a row): 32k rows is both faster and
#: leaner than 64k (peak RSS ~250 MB against ~275 MB; ADBC's SQLite driver holds about twice a batch while
#: building it). Very wide rows (long descriptions everywhere) want a smaller batch.
DEFAULT_BATCH_SIZE = 32_768
#: ADBC's PostgreSQL driver sizes batches in bytes; they are re-sliced to ``batch_size`` rows.
_PG_BATCH_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class SourceInfo:
    """What a source read is: the column names (normalised) and how it is read (for logs)."""

    columns: tuple[str, ...]
    method: str


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _probe_names(names: list[str]) -> tuple[str, ...]:
    """The probe's column names as feed fields. SQLite renames a repeated name of a subquery to "name:1", so such a
    name is taken back to "name" when that name came before: the repeat is then reported as such."""
    seen: set[str] = set()
    restored = []
    for name in names:
        base, colon, suffix = name.rpartition(":")
        if colon and suffix.isdigit() and base.strip().lower() in seen:
            name = base
        seen.add(name.strip().lower())
        restored.append(name)
    return column_names(restored)


def _probe_sql(query: str) -> str:
    return f"SELECT * FROM (\n{strip_query(query)}) AS fb_feed_source WHERE 1 = 0"


def _text_sql(query: str, names: list[str]) -> str:
    selected = ", ".join(
        f"COALESCE(CAST({_quote(name)} AS TEXT), '') AS {_quote(name.strip().lower())}" for name in names
    )
    return f"SELECT {selected} FROM (\n{strip_query(query)}) AS fb_feed_source"


def libpq_uri(url: str | sa.URL) -> str:
    """A libpq connection URI (for ADBC) from a SQLAlchemy PostgreSQL URL, with a UTC session time zone.

    SQLAlchemy's own rendering writes spaces as "+", which libpq does not decode, so the URI is built here with
    percent-encoding throughout. The driver suffix (``+psycopg2``) is dropped.
    """
    url = sa.make_url(url)
    user = quote(url.username or "", safe="")
    auth = ""
    if url.username:
        auth = user + (":" + quote(url.password, safe="") if url.password else "") + "@"
    host = url.host or ""
    port = f":{url.port}" if url.port else ""
    query = {key: (" ".join(value) if isinstance(value, tuple) else value) for key, value in url.query.items()}
    options = query.get("options", "")
    if "timezone" not in options.lower():
        # Timestamps cast to text in the mapping must read as UTC, as on the warehouse engine.
        query["options"] = f"{options} -c timezone=UTC".strip()
    params = "&".join(f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in query.items())
    return f"postgresql://{auth}{host}{port}/{quote(url.database or '', safe='')}" + (f"?{params}" if params else "")


def _rebatch(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Slices of at most ``size`` rows (zero-copy); empty batches are skipped.

    Written so that no reference to a consumed batch survives in this frame while the next one is read: otherwise
    two batches would be alive at the read, doubling peak memory.
    """
    for batch in batches:
        pieces = [batch.slice(start, size) for start in range(0, batch.num_rows, size)]
        del batch
        pieces.reverse()
        while pieces:
            yield pieces.pop()


def _valid_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with every column valid UTF-8. SQLite stores whatever bytes it is given as TEXT and ADBC passes
    them on unchecked; Arrow's kernels assume valid UTF-8, so bad bytes become U+FFFD here (full validation is a
    fast SIMD scan; the repair runs only on a column that fails it)."""
    try:
        batch.validate(full=True)
        return batch
    except pa.ArrowInvalid:
        columns = []
        for column in batch.columns:
            try:
                column.validate(full=True)
            except pa.ArrowInvalid:
                column = as_text(column.cast(pa.binary()))
            columns.append(column)
        return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _adbc_database(url: sa.URL) -> Any:
    # The low-level ADBC API on purpose: the drivers' DB-API modules import pandas and pyarrow.dataset, 50 MB of
    # resident memory for nothing used here.
    if url.get_backend_name() == "sqlite":
        import adbc_driver_sqlite

        database = url.database or ""
        if not database or database == ":memory:":
            raise ValueError("an in-memory SQLite database cannot be read through a second connection")
        # Read-only, always: the driver links its own copy of SQLite, and a read-write connection of it deletes
        # the WAL file when it closes, under the feet of this process's other connections to the same file (the
        # warehouse's), which corrupts it (sqlite.org/howtocorrupt.html 2.2.1). A read-only one never does.
        return adbc_driver_sqlite.connect(f"file:{quote(str(Path(database).resolve()))}?mode=ro")
    import adbc_driver_postgresql

    return adbc_driver_postgresql.connect(libpq_uri(url))


@contextmanager
def _adbc_query(connection: Any, sql: str, options: dict[str, str]) -> Iterator[pa.RecordBatchReader]:
    """The result stream of ``sql``; closes the stream, then the statement (ADBC refuses the other order)."""
    import adbc_driver_manager

    with adbc_driver_manager.AdbcStatement(connection) as statement:
        statement.set_options(**options)
        statement.set_sql_query(sql)
        stream, _ = statement.execute_query()
        with pa.RecordBatchReader._import_from_c(stream.address) as reader:
            yield reader


def _adbc_batches(
    url: sa.URL, query: str, batch_size: int, info: list[SourceInfo]
) -> Generator[pa.RecordBatch, None, None]:
    import adbc_driver_manager

    if url.get_backend_name() == "sqlite":
        options = {"adbc.sqlite.query.batch_rows": str(batch_size)}
    else:
        options = {"adbc.postgresql.batch_size_hint_bytes": str(_PG_BATCH_BYTES)}
    with _adbc_database(url) as database, adbc_driver_manager.AdbcConnection(database) as connection:
        with _adbc_query(connection, _probe_sql(query), options) as probe:
            names = probe.schema.names
        info.append(SourceInfo(_probe_names(names), f"adbc-{url.get_backend_name()}"))
        with _adbc_query(connection, _text_sql(query, names), options) as reader:
            yield from map(_valid_text, _rebatch(reader, batch_size))


def _sqlalchemy_engine(url: sa.URL) -> sa.Engine:
    if url.get_backend_name() in ("sqlite", "postgresql"):
        # The warehouse's settings (UTC session on PostgreSQL), so this path renders timestamps like ADBC does.
        from fb_commerce.warehouse.engine import create_warehouse_engine

        return create_warehouse_engine(url)
    return sa.create_engine(url)


def _driver_sql(engine: sa.Engine, sql: str) -> str:
    """``sql`` as the DB-API driver must receive it: drivers with "format" parameters (psycopg2, MySQL) read a "%"
    anywhere in the statement, even in a comment, as a placeholder, so it is doubled for them."""
    return sql.replace("%", "%%") if engine.dialect.paramstyle in ("format", "pyformat") else sql


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _sqlalchemy_batches(
    url: sa.URL, query: str, batch_size: int, info: list[SourceInfo]
) -> Generator[pa.RecordBatch, None, None]:
    engine = _sqlalchemy_engine(url)
    try:
        with engine.connect() as conn:
            if url.get_backend_name() == "sqlite":
                # Like the ADBC path: bytes that are not UTF-8 become U+FFFD instead of failing the read.
                dbapi_connection = conn.connection.dbapi_connection
                if dbapi_connection is None:
                    raise RuntimeError("the SQLite connection has no DB-API connection (it was invalidated)")
                cast("sqlite3.Connection", dbapi_connection).text_factory = _lenient_text
            # exec_driver_sql, not text(): a mapping may contain ":00" in a literal, which text() takes for a
            # bind parameter.
            names = list(conn.exec_driver_sql(_driver_sql(engine, _probe_sql(query))).keys())
            columns = _probe_names(names)
            info.append(SourceInfo(columns, f"sqlalchemy-{url.get_backend_name()}"))
            sql = _driver_sql(engine, _text_sql(query, names))
            result = conn.execution_options(stream_results=True).exec_driver_sql(sql)
            while rows := result.fetchmany(batch_size):
                arrays = [pa.array(values, pa.string()) for values in zip(*rows, strict=True)]
                yield pa.RecordBatch.from_arrays(arrays, names=list(columns))
    finally:
        engine.dispose()


def _choose(url: sa.URL, method: Method) -> str:
    backend = url.get_backend_name()
    if method == "sqlalchemy" or backend not in ("sqlite", "postgresql"):
        if method == "adbc":
            raise ValueError(f"no ADBC driver for {backend}; use method='sqlalchemy'")
        return "sqlalchemy"
    try:
        __import__("adbc_driver_sqlite.dbapi" if backend == "sqlite" else "adbc_driver_postgresql.dbapi")
    except ImportError:
        if method == "adbc":
            raise
        log.warning("ADBC driver for %s is not installed; reading the feed source through SQLAlchemy", backend)
        return "sqlalchemy"
    return "adbc"


class ProductSource:
    """The mapped products of one query, read in record batches of at most ``batch_size`` rows, all columns text.

    Use as a context manager; :attr:`info` (columns and method) is known on entering, before any row is read.
    ``method`` is "auto" (ADBC for SQLite and PostgreSQL, SQLAlchemy otherwise), "adbc" or "sqlalchemy".
    """

    def __init__(
        self, url: str | sa.URL, query: str, *, batch_size: int = DEFAULT_BATCH_SIZE, method: Method = "auto"
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.url = sa.make_url(url)
        self.query = query
        self.batch_size = batch_size
        self.method = _choose(self.url, method)
        self._info: list[SourceInfo] = []
        self._batches: Generator[pa.RecordBatch, None, None] | None = None

    @property
    def info(self) -> SourceInfo:
        """Column names and read method (after entering the context)."""
        if not self._info:
            raise RuntimeError("ProductSource.info is known once the source is open (use `with`)")
        return self._info[0]

    def __enter__(self) -> ProductSource:
        reader = _adbc_batches if self.method == "adbc" else _sqlalchemy_batches
        self._batches = reader(self.url, self.query, self.batch_size, self._info)
        # Run the generator up to its first batch so the connection is open and the columns are known.
        self._first = next(self._batches, None)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._batches is not None:
            self._batches.close()  # closes the cursor and connection of an unfinished read
            self._batches = None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if self._batches is None:
            raise RuntimeError("open the ProductSource with `with` before iterating")
        if self._first is not None:
            first, self._first = self._first, None
            yield first
            del first  # see _rebatch: hold no batch while the next one is read
        yield from self._batches
