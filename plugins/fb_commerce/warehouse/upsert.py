"""Idempotent writes that work on SQLite and PostgreSQL: INSERT ... ON CONFLICT.

Every pipeline writes through these, so that a rerun, an overlapping watermark or a repeated page leaves the
same rows:

- :func:`upsert`: insert new rows, update existing ones (by primary key or another unique key);
- :func:`insert_ignore`: insert new rows, leave existing ones alone;
- :func:`replace_interval`: delete an interval (a day of reconciliation issues, one upload's errors...) and
  insert its rows again, atomically.

Each function accepts a :class:`~sqlalchemy.engine.Connection` or an :class:`~sqlalchemy.engine.Engine`. On a
connection that is already in a transaction the write joins it (the caller commits); otherwise the function
runs in its own transaction and commits it. For large inputs see
:func:`fb_commerce.warehouse.bulk.bulk_upsert`.

Rows go out as one compiled single-row statement run with executemany, in batches: SQLite binds one row at a
time (never near its bound-variable limit), and on PostgreSQL SQLAlchemy packs the rows into multi-row VALUES
pages sized within the parameter limit (see :func:`execute_counting`).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from fb_commerce.warehouse import schema

Bind = Connection | Engine

# Rows per executemany: bounds the memory of parameter processing and of RETURNING results on a large call.
BATCH_ROWS = 10_000


def resolve_table(table: sa.Table | str) -> sa.Table:
    """A Table, or the warehouse table of that name."""
    if isinstance(table, sa.Table):
        return table
    try:
        return schema.metadata.tables[table]
    except KeyError:
        raise ValueError(f"no warehouse table named {table!r}") from None


def key_columns_of(table: sa.Table, key_columns: Sequence[str] | None) -> list[str]:
    """The conflict key: the given columns (which must carry a unique constraint), else the primary key."""
    keys = list(key_columns) if key_columns else [c.name for c in table.primary_key.columns]
    if not keys:
        raise ValueError(f"{table.name} has no primary key: pass key_columns")
    check_columns(table, keys)
    return keys


def check_columns(table: sa.Table, names: Iterable[str]) -> None:
    """Raise ValueError naming any column ``table`` does not have (a typo would otherwise write nothing)."""
    unknown = sorted(set(names) - set(table.columns.keys()))
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}")


def dialect_insert(bind: Bind, table: sa.Table) -> Any:
    """The dialect's ``insert()``, which has ``on_conflict_do_update`` and ``on_conflict_do_nothing``."""
    name = bind.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upserts support SQLite and PostgreSQL, not {name}")


def columns_to_update(
    table: sa.Table, present: Iterable[str], keys: Sequence[str], update_columns: Sequence[str] | None
) -> list[str]:
    """Columns the ON CONFLICT clause sets: those given (default: every non-key column) that the rows carry.

    A column the rows do not carry is never set, so an update never blanks a column the caller did not mention
    (``first_seen_at``, an OMS-assigned reference...).
    """
    present = list(present)
    if update_columns is None:
        return [c for c in present if c not in keys]
    check_columns(table, update_columns)
    return [c for c in present if c in set(update_columns) and c not in keys]


def _differs(stmt: Any, column: sa.Column, excluded: Any) -> Any:
    """``column IS DISTINCT FROM excluded``; PostgreSQL's ``json`` (:data:`~fb_commerce.warehouse.types.JSON_TEXT_TYPE`)
    has no equality, so there both sides are compared as jsonb: equal objects, whatever their spacing or key order,
    as when the column was jsonb."""
    if (
        isinstance(stmt, postgresql.Insert)
        and isinstance(column.type, sa.JSON)
        and not isinstance(column.type.dialect_impl(_postgres_dialect()), postgresql.JSONB)
    ):
        return sa.cast(column, postgresql.JSONB).is_distinct_from(sa.cast(excluded, postgresql.JSONB))
    return column.is_distinct_from(excluded)


@functools.cache
def _postgres_dialect() -> sa.Dialect:
    return postgresql.dialect()


def on_conflict_update(
    stmt: Any,
    table: sa.Table,
    keys: Sequence[str],
    update: Sequence[str],
    skip_unchanged: bool = False,
    compare_columns: Sequence[str] | None = None,
) -> Any:
    """Add ``ON CONFLICT (keys) DO UPDATE SET col = excluded.col ...`` to a dialect insert.

    With ``skip_unchanged`` the update only happens when a compared column differs (NULL-safe), so unchanged
    rows are neither rewritten nor counted. Compared columns default to the updated ones minus bookkeeping
    columns (``synced_at``...), which change on every write by design.
    """
    if not update:
        return stmt.on_conflict_do_nothing(index_elements=list(keys))
    where = None
    if skip_unchanged:
        if compare_columns is None:
            bookkeeping = schema.bookkeeping_columns(table)
            compare = [c for c in update if c not in bookkeeping]
        else:
            check_columns(table, compare_columns)
            compare = list(compare_columns)
        where = sa.or_(sa.false(), *(_differs(stmt, table.c[c], stmt.excluded[c]) for c in compare))
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in update}, where=where
    )


def execute_counting(connection: Connection, stmt: Any, rows: list[dict[str, Any]], table: sa.Table) -> int:
    """Run an insert for many rows (one compiled statement, executemany) and return how many rows it wrote.

    SQLite's executemany is a C loop whose rowcount counts inserted and updated rows exactly. psycopg2's would
    run one round trip per row and count only the last page; with RETURNING, SQLAlchemy sends the rows in
    multi-row VALUES pages (its "insertmanyvalues" mode, which also keeps within the bound-parameter limits)
    and the returned rows are exactly the ones written.
    """
    if connection.dialect.name == "postgresql":
        result = connection.execute(stmt.returning(*table.primary_key.columns), rows)
        return sum(1 for _ in result)
    return max(connection.execute(stmt, rows).rowcount, 0)


@contextlib.contextmanager
def transaction(bind: Bind) -> Iterator[Connection]:
    """A connection in a transaction: the caller's (joined, not committed here) or a new one, committed."""
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            yield connection
    elif bind.in_transaction():
        yield bind
    else:
        with bind.begin():
            yield bind


def _dedupe(rows: Iterable[Mapping[str, Any]], keys: Sequence[str], table: sa.Table) -> list[dict[str, Any]]:
    """One row per key, the last one winning (PostgreSQL refuses to update a row twice in one statement)."""
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for number, row in enumerate(rows):
        missing = [k for k in keys if row.get(k) is None]
        if missing:
            raise ValueError(f"{table.name} row {number}: key column(s) {', '.join(missing)} missing or null")
        unique[tuple(row[k] for k in keys)] = dict(row)
    return list(unique.values())


def _groups(rows: list[dict[str, Any]]) -> Iterator[tuple[list[str], list[dict[str, Any]]]]:
    """Rows grouped by the set of columns they carry, in batches of at most BATCH_ROWS.

    One executemany needs the same columns in every row; grouping (rather than padding with NULL) keeps a row
    that omits a column from overwriting it.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for columns, group in groups.items():
        for start in range(0, len(group), BATCH_ROWS):
            yield list(columns), group[start : start + BATCH_ROWS]


def _write(
    bind: Bind,
    table: sa.Table | str,
    rows: Iterable[Mapping[str, Any]],
    key_columns: Sequence[str] | None,
    build: Any,
) -> int:
    """Shared body of upsert and insert_ignore: validate, dedupe, group, execute, count."""
    table = resolve_table(table)
    keys = key_columns_of(table, key_columns)
    unique = _dedupe(rows, keys, table)
    if not unique:
        return 0
    check_columns(table, {c for row in unique for c in row})
    written = 0
    with transaction(bind) as connection:
        for columns, group in _groups(unique):
            stmt = build(dialect_insert(connection, table), table, keys, columns)
            written += execute_counting(connection, stmt, group, table)
    return written


def upsert(
    conn: Bind,
    table: sa.Table | str,
    rows: Sequence[Mapping[str, Any]],
    key_columns: Sequence[str] | None = None,
    update_columns: Sequence[str] | None = None,
    skip_unchanged: bool = False,
    *,
    compare_columns: Sequence[str] | None = None,
) -> int:
    """Insert ``rows`` into ``table``, updating rows whose key already exists; return how many were written.

    :param key_columns: the conflict key (default: the primary key); must carry a unique constraint.
    :param update_columns: columns an existing row gets from the new one (default: every non-key column the
        rows carry). Columns outside it are written on insert only.
    :param skip_unchanged: leave (and do not count) rows whose compared columns are unchanged.
    :param compare_columns: with ``skip_unchanged``, the columns compared (default: the updated ones minus
        bookkeeping columns such as ``synced_at``).
    :return: rows inserted plus rows updated, as the database counts them.

    Rows with the same key are collapsed, the last winning. Rows may carry different sets of columns; a column
    a row does not carry is never overwritten.
    """

    def build(stmt: Any, table_: sa.Table, keys: Sequence[str], columns: list[str]) -> Any:
        update = columns_to_update(table_, columns, keys, update_columns)
        return on_conflict_update(stmt, table_, keys, update, skip_unchanged, compare_columns)

    return _write(conn, table, rows, key_columns, build)


def insert_ignore(
    conn: Bind,
    table: sa.Table | str,
    rows: Sequence[Mapping[str, Any]],
    key_columns: Sequence[str] | None = None,
) -> int:
    """Insert the rows whose key is new (``ON CONFLICT (key) DO NOTHING``); return how many were inserted."""

    def build(stmt: Any, table_: sa.Table, keys: Sequence[str], columns: list[str]) -> Any:
        return stmt.on_conflict_do_nothing(index_elements=list(keys))

    return _write(conn, table, rows, key_columns, build)


def replace_interval(
    conn: Bind,
    table: sa.Table | str,
    rows: Sequence[Mapping[str, Any]],
    where: sa.ColumnElement[bool],
) -> int:
    """Delete the rows matching ``where`` and insert ``rows`` in one transaction; return the rows inserted.

    For writes whose unit is an interval rather than a key: a day of reconciliation issues, the tax lines of a
    set of transactions, the errors of one upload. ``where`` is required (pass ``sa.true()`` to replace the
    whole table) so that a forgotten filter cannot empty a table. The rows are expected to fall inside the
    interval.
    """
    table = resolve_table(table)
    records = [dict(row) for row in rows]
    check_columns(table, {c for row in records for c in row})
    with transaction(conn) as connection:
        connection.execute(sa.delete(table).where(where))
        for _columns, group in _groups(records):
            connection.execute(sa.insert(table), group)
    return len(records)
