"""Bulk upserts for large inputs (hundreds of thousands of rows, DataFrames) with bounded memory.

PostgreSQL: each chunk is streamed in COPY's text format into a temporary table (COPY is
several times faster than INSERT), then one ``INSERT ... SELECT DISTINCT ON (key) ... ON CONFLICT DO UPDATE``
moves everything into the target, all in one transaction. SQLite: each chunk is one ``executemany`` of the
single-row upsert, which the sqlite3 module runs in C.

The result is the same as :func:`fb_commerce.warehouse.upsert.upsert` with the same rows: duplicates collapse
to the last one given, and columns the rows do not carry are left alone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from fb_commerce.warehouse.types import bind_processor_of
from fb_commerce.warehouse.upsert import (
    check_columns,
    columns_to_update,
    dialect_insert,
    execute_counting,
    key_columns_of,
    on_conflict_update,
    resolve_table,
    transaction,
)

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_CHUNK_SIZE = 20_000

Chunk = tuple[list[str], list[tuple[Any, ...]]]


def _frame_chunks(frame: pd.DataFrame, chunk_size: int) -> Iterator[Chunk]:
    columns = [str(c) for c in frame.columns]
    for start in range(0, len(frame), chunk_size):
        part = frame.iloc[start : start + chunk_size].astype(object)
        # NaN, NaT and pd.NA all mean "missing": the database's NULL.
        part = part.where(part.notna(), None)
        yield columns, list(part.itertuples(index=False, name=None))


def _mapping_chunks(rows: Iterable[Mapping[str, Any]], chunk_size: int) -> Iterator[Chunk]:
    iterator = iter(rows)
    columns: list[str] | None = None
    while batch := list(itertools.islice(iterator, chunk_size)):
        if columns is None:
            columns = list(batch[0])
        expected = set(columns)
        for row in batch:
            if set(row) != expected:
                raise ValueError(
                    f"bulk rows must all carry the same columns: expected {sorted(expected)}, got {sorted(row)}"
                )
        yield columns, [tuple(row[c] for c in columns) for row in batch]


def iter_chunks(rows: Any, chunk_size: int) -> Iterator[Chunk]:
    """(columns, tuples) chunks of at most ``chunk_size`` rows.

    From a DataFrame, an iterable of DataFrames (e.g. ``pd.read_sql(..., chunksize=...)``) or an iterable of
    mappings that all carry the same columns.
    """
    import pandas as pd  # imported here: the warehouse package must stay cheap to import for DAG parsing

    if isinstance(rows, pd.DataFrame):
        yield from _frame_chunks(rows, chunk_size)
        return
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return
    if isinstance(first, pd.DataFrame):
        for frame in itertools.chain([first], iterator):
            yield from _frame_chunks(frame, chunk_size)
    else:
        yield from _mapping_chunks(itertools.chain([first], iterator), chunk_size)


# --- PostgreSQL: COPY (text format) into a temporary table --------------------------------------------------


class _NulError(ValueError):
    """A text value holds NUL, which PostgreSQL text cannot (the stream names the column)."""


def _escaped(text: str) -> str:
    """Text as a field of COPY's text format: backslash, tab, newline and carriage return escaped (so a literal
    ``\\N`` stays text, never NULL). Most fields hold none of them: a test of each costs less than a replace; JSON's
    many quotes need no escaping here (CSV doubled them all)."""
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\t" in text:
        text = text.replace("\t", "\\t")
    if "\n" in text:
        text = text.replace("\n", "\\n")
    if "\r" in text:
        text = text.replace("\r", "\\r")
    if "\x00" in text:
        raise _NulError
    return text


def _bytea(value: bytes | bytearray | memoryview) -> str:
    return "\\\\x" + bytes(value).hex()  # bytea's hex input, its backslash escaped for the text format


def _copy_field(value: Any) -> str:
    """Any other value: its text, escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    from psycopg2.extensions import Binary  # COPY runs on psycopg2; LargeBinary's bind processing wraps bytes

    if isinstance(value, Binary):
        value = value.adapted
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytea(value)
    return _escaped(str(value))


#: text-format fields of the common types by exact class; numbers, booleans and ISO timestamps never need escapes.
#: NULL is ``\\N``, the empty string the empty field.
_FIELDS: dict[type, Callable[[Any], str]] = {
    str: _escaped,
    int: str,
    Decimal: str,
    bool: lambda value: "true" if value else "false",
    dt.datetime: dt.datetime.isoformat,
    dt.date: dt.date.isoformat,
    type(None): lambda _value: "\\N",
}


def bind_processors(table: sa.Table, columns: Sequence[str], dialect: sa.Dialect) -> list[Callable[[Any], Any] | None]:
    """The column types' own bind processing (UTC normalisation, money rounding, JSON serialisation).

    Applied before COPY, so the values are exactly what an INSERT would have sent.
    """
    return [bind_processor_of(table.c[c].type, dialect) for c in columns]


def _processed(
    tuples: Iterable[tuple[Any, ...]], processors: list[Callable[[Any], Any] | None]
) -> Iterator[tuple[Any, ...]]:
    for values in tuples:
        yield tuple(
            proc(value) if proc is not None and value is not None else value
            for value, proc in zip(values, processors, strict=True)
        )


@contextlib.contextmanager
def driver_cursor(connection: Connection, statement: str) -> Iterator[Any]:
    """A cursor of the connection's driver (for COPY, ``execute_values``), closed after use; the driver's
    errors come out as SQLAlchemy's (IntegrityError...) with ``statement``, as from ``Connection.execute``."""
    dbapi_error = connection.dialect.loaded_dbapi.Error
    driver_connection = connection.connection.driver_connection
    if driver_connection is None:
        raise RuntimeError("the connection has no driver connection (it was invalidated)")
    cursor = driver_connection.cursor()
    try:
        yield cursor
    except dbapi_error as exc:
        raise sa.exc.DBAPIError.instance(statement, None, exc, dbapi_error) from exc
    finally:
        cursor.close()


class _CopyStream:
    """The text-format lines of some rows as a file COPY reads from, rendered as it asks for them: the server
    parses the rows already sent while the next ones are being rendered (and their values bind-processed, when
    the rows come from a generator)."""

    def __init__(self, tuples: Iterable[tuple[Any, ...]], name: str, columns: Sequence[str]) -> None:
        self._tuples = iter(tuples)
        self._name = name
        self._columns = columns
        #: what a row raised (psycopg2 reports it as a cancelled COPY; the caller re-raises this instead)
        self.error: Exception | None = None

    def read(self, size: int = -1) -> str:
        fields, other = _FIELDS.get, _copy_field
        lines: list[str] = []
        length = 0
        values: tuple[Any, ...] = ()
        try:
            for values in self._tuples:
                line = "\t".join([fields(value.__class__, other)(value) for value in values]) + "\n"
                lines.append(line)
                length += len(line)
                if 0 <= size <= length:
                    break
        except _NulError:
            column = next(c for c, v in zip(self._columns, values, strict=True) if "\x00" in str(v))
            self.error = ValueError(f"{self._name}.{column}: text cannot hold a NUL character (0x00)")
            raise self.error from None
        except Exception as exc:
            self.error = exc
            raise
        return "".join(lines)  # "" once every row is sent: the end of the COPY data


#: characters COPY asks for per read, and so per message to the server
COPY_READ_SIZE = 64 * 1024


def copy_rows(
    connection: Connection,
    target: str,
    columns: Sequence[str],
    tuples: Iterable[tuple[Any, ...]],
    *,
    name: str | None = None,
) -> None:
    """``COPY target (columns) FROM STDIN`` of bind-processed tuples (text format, streamed); PostgreSQL only.

    :param target: the table's name as SQL (quoted where needed), e.g. from ``format_table``.
    :param tuples: the values in ``columns`` order; may be a generator, read once, as COPY goes.
    :param name: the table named in errors (default ``target``): text holding NUL is refused as
        ``ValueError("name.column: ...")``.
    """
    preparer = connection.dialect.identifier_preparer
    sql = f"COPY {target} ({', '.join(preparer.quote(c) for c in columns)}) FROM STDIN"
    stream = _CopyStream(tuples, target if name is None else name, columns)
    with driver_cursor(connection, sql) as cursor:
        try:
            cursor.copy_expert(sql, stream, size=COPY_READ_SIZE)
        except connection.dialect.loaded_dbapi.Error:
            if stream.error is not None:
                raise stream.error from None
            raise


def _postgres_bulk_upsert(
    connection: Connection,
    table: sa.Table,
    chunks: Iterator[Chunk],
    keys: list[str],
    build: Callable[[Callable[[], Any], list[str]], Any],
) -> int:
    first = next(chunks, None)
    if first is None:
        return 0
    columns = first[0]
    preparer = connection.dialect.identifier_preparer
    temp = f"_fbc_bulk_{uuid.uuid4().hex[:12]}"
    column_list = ", ".join(preparer.quote(c) for c in columns)

    def insert_from_staged() -> Any:
        staged = sa.table(temp, *(sa.column(c) for c in columns), sa.column("_fbc_seq"))
        # The last occurrence of a key wins, as in upsert().
        latest = (
            sa.select(*(staged.c[c] for c in columns))
            .ext(postgresql.distinct_on(*(staged.c[k] for k in keys)))
            .order_by(*(staged.c[k] for k in keys), staged.c._fbc_seq.desc())
        )
        return dialect_insert(connection, table).from_select(columns, latest)

    # Validated (columns, key) and built before anything is created or copied.
    stmt = build(insert_from_staged, columns)
    # Same column types as the target, none of its constraints; dropped at commit.
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {temp} ON COMMIT DROP AS "
        f"SELECT {column_list} FROM {preparer.format_table(table)} WITH NO DATA"
    )
    connection.exec_driver_sql(f"ALTER TABLE {temp} ADD COLUMN _fbc_seq BIGINT GENERATED ALWAYS AS IDENTITY")
    processors = bind_processors(table, columns, connection.dialect)
    for chunk_columns, tuples in itertools.chain([first], chunks):
        if chunk_columns != columns:
            raise ValueError(f"bulk chunks must carry the same columns: {columns} then {chunk_columns}")
        copy_rows(connection, temp, columns, _processed(tuples, processors), name=table.name)
    return max(connection.execute(stmt).rowcount, 0)


# --- SQLite: executemany per chunk --------------------------------------------------------------------------


def _sqlite_bulk_upsert(
    connection: Connection,
    table: sa.Table,
    chunks: Iterator[Chunk],
    build: Callable[[Callable[[], Any], list[str]], Any],
) -> int:
    written = 0
    statements: dict[tuple[str, ...], Any] = {}
    for columns, tuples in chunks:
        stmt = statements.get(tuple(columns))
        if stmt is None:
            stmt = statements[tuple(columns)] = build(lambda: dialect_insert(connection, table), columns)
        written += execute_counting(
            connection, stmt, [dict(zip(columns, values, strict=True)) for values in tuples], table
        )
    return written


def bulk_upsert(
    engine: Engine | Connection,
    table: sa.Table | str,
    rows_or_dataframe: Any,
    key_columns: Sequence[str] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    update_columns: Sequence[str] | None = None,
    skip_unchanged: bool = False,
    *,
    compare_columns: Sequence[str] | None = None,
) -> int:
    """Upsert a large input into ``table`` in one transaction, ``chunk_size`` rows in memory at a time.

    :param rows_or_dataframe: a DataFrame, an iterable of DataFrames, or an iterable of mappings that all
        carry the same columns (a generator is fine: it is read once, chunk by chunk).
    :param key_columns: the conflict key (default: the primary key).
    :param update_columns: as in :func:`~fb_commerce.warehouse.upsert.upsert`.
    :param skip_unchanged: as in :func:`~fb_commerce.warehouse.upsert.upsert`.
    :return: rows inserted plus rows updated, as the database counts them (on SQLite a key repeated in the
        input counts each time it is written).
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    table = resolve_table(table)
    keys = key_columns_of(table, key_columns)

    def build(make_insert: Callable[[], Any], columns: list[str]) -> Any:
        """Validate the columns, then add the ON CONFLICT clause to the insert ``make_insert`` builds."""
        check_columns(table, columns)
        missing = [k for k in keys if k not in columns]
        if missing:
            raise ValueError(f"{table.name}: bulk rows lack key column(s) {', '.join(missing)}")
        update = columns_to_update(table, columns, keys, update_columns)
        return on_conflict_update(make_insert(), table, keys, update, skip_unchanged, compare_columns)

    chunks = iter_chunks(rows_or_dataframe, chunk_size)
    with transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            return _postgres_bulk_upsert(connection, table, chunks, keys, build)
        if connection.dialect.name == "sqlite":
            return _sqlite_bulk_upsert(connection, table, chunks, build)
        raise NotImplementedError(f"bulk_upsert supports SQLite and PostgreSQL, not {connection.dialect.name}")
