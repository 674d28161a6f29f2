"""Writing a page's rows fast: one statement per table and page, built once per process.

Storing pages is most of a pull's CPU, and most of that was SQLAlchemy assembling parameters row by row. Here the
ON CONFLICT statement of each (table, columns) is built once per process with the warehouse's own builders
(:mod:`fb_commerce.warehouse.upsert`), and each value goes through its column type's own bind processing (UTC
timestamps, money, JSON) exactly as SQLAlchemy would. Then, the only dialect-specific step:

- SQLite: the single-row statement, all the rows in one ``executemany`` on the driver (a C loop);
- PostgreSQL: one multi-row ``INSERT ... VALUES (...), (...) ... ON CONFLICT`` for the whole page, rendered by
  psycopg2's ``execute_values``: one round trip per table and page, no RETURNING to read back. Rows the caller
  has just found absent in the same transaction (:func:`insert_rows`: a page's new orders and their items) go
  by ``COPY`` straight into the table instead, which costs the server about a third less than parsing the same
  values as SQL; should one exist after all (a concurrent writer), the unique key refuses the whole
  transaction rather than storing anything twice, and the task's retry finds it stored.

The rows stored are the same as :func:`fb_commerce.warehouse.upsert.upsert` stores, which a test checks.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fb_commerce.warehouse.bulk import copy_rows, driver_cursor
from fb_commerce.warehouse.types import Money, UtcDateTime, bind_processor_of
from fb_commerce.warehouse.upsert import columns_to_update, dialect_insert, key_columns_of, on_conflict_update

#: rows per multi-row INSERT on PostgreSQL: a page of orders (100) or of their items fits in one statement
POSTGRES_ROWS_PER_STATEMENT = 5_000

Memos = dict[str, dict[Any, Any]]
"""Bind-processed values by column name, then by the value (timestamps, amounts) or by its ``id`` (a JSON
value of rows that are kept alive until they are written): see :func:`prepare`."""


class _ById:
    """Marks a column whose values are memoised by identity (JSON objects are unhashable)."""


#: the key of a value that is not memoised
_UNKEYED = object()


@dataclass(frozen=True)
class _Upsert:
    """An ON CONFLICT statement for one set of columns, as driver SQL, with the columns' bind processing."""

    dialect: str
    #: SQLite: the single-row statement (``?`` placeholders); PostgreSQL: the statement with ``VALUES %s``
    sql: str
    order: tuple[str, ...]
    #: (index in ``order``, bind processor, class of the values whose result is memoised, _ById, or None)
    processors: tuple[tuple[int, Callable[[Any], Any], type | None], ...]
    #: PostgreSQL: one row's ``(%s, %s::JSONB, ...)``, casts included
    template: str = ""

    def params(
        self, table: sa.Table, rows: Sequence[dict[str, Any]], memos: Memos | None = None
    ) -> Iterator[tuple[Any, ...]]:
        """Each row's values in statement order, bind-processed (NULL stays NULL).

        Processed a column at a time (one loop per column, not one per value of every row: a third of the cost).
        A value its column refuses (a naive timestamp, an amount that is not a number) raises ValueError naming
        the table and the column. ``memos``: values processed ahead (:func:`prepare`), completed here.
        """
        if not rows:
            return iter(())
        values_of = operator.itemgetter(*self.order)
        columns: list[Sequence[Any]]
        if len(self.order) == 1:
            columns = [[values_of(row) for row in rows]]
        else:
            columns = list(zip(*map(values_of, rows), strict=True))
        by_column = {} if memos is None else memos
        for index, process, memoised in self.processors:
            name = self.order[index]
            try:
                columns[index] = _processed_column(columns[index], process, memoised, by_column.setdefault(name, {}))
            except (ValueError, TypeError, ArithmeticError) as exc:  # hashing may refuse too (a signalling NaN)
                raise ValueError(f"{table.name}.{name}: {exc}") from exc
        return zip(*columns, strict=True)

    def run(
        self,
        connection: Connection,
        table: sa.Table,
        rows: Sequence[dict[str, Any]],
        *,
        new: bool,
        memos: Memos | None = None,
    ) -> None:
        params = self.params(table, rows, memos)
        if self.dialect == "sqlite":
            connection.exec_driver_sql(self.sql, list(params))  # inserting or upserting costs SQLite the same
            return
        if new:
            # Streamed: the server parses the first rows while the next ones are processed and rendered.
            copy_rows(connection, connection.dialect.identifier_preparer.format_table(table), self.order, params)
            return
        from psycopg2.extras import execute_values  # the postgresql+psycopg2 driver the warehouse runs on

        with driver_cursor(connection, self.sql) as cursor:
            execute_values(cursor, self.sql, params, template=self.template, page_size=POSTGRES_ROWS_PER_STATEMENT)


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")

#: statements by (dialect, table, columns, columns kept): built once per process, not once per page
_STATEMENTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], _Upsert] = {}


def _split_values(sql: str, columns: Sequence[str]) -> tuple[str, str]:
    """``INSERT ... VALUES (row) ON CONFLICT ...`` as (``INSERT ... VALUES %s ON CONFLICT ...``, ``(row)``)."""
    start = sql.index(" VALUES (") + len(" VALUES ")
    end = sql.index(") ON CONFLICT", start) + 1
    row = sql[start:end]
    if sql.count(" VALUES (") != 1 or any(f"%({c})s" not in row for c in columns):
        raise RuntimeError(f"unexpected compiled upsert, cannot batch it: {sql[:200]}")
    return sql[:start] + "%s" + sql[end:], row


def _memoised(column_type: sa.types.TypeEngine[Any]) -> type | None:
    """The class of values whose bind processing may be memoised for a column of ``column_type``: equal values
    give equal results for our UTC timestamps and rounded amounts (``Decimal("1.5")`` and ``Decimal("1.50")``
    both store 1.50); :class:`_ById` for JSON; None for any other type."""
    if isinstance(column_type, UtcDateTime):
        return dt.datetime
    if isinstance(column_type, Money):
        return Decimal
    if isinstance(column_type, sa.JSON):
        return _ById
    return None


def _processed_column(
    values: Sequence[Any], process: Callable[[Any], Any], memoised: type | None, memo: dict[Any, Any]
) -> list[Any]:
    """One column's ``values`` bind-processed, NULL kept. Timestamps and amounts repeat across a page's rows
    (synced_at is in every row, prices recur): each distinct value is processed once, and remembered in ``memo``,
    only for the exact class a column's result depends on by value alone (equal values, equal results), so True
    never stands in for 1 and is refused as before. JSON values are looked up by identity (processed ahead for
    rows kept alive until written) and never remembered: an id is only as good as the rows kept."""
    get = memo.get
    out = list(values)
    if memoised is _ById:
        for i, value in enumerate(out):
            if value is not None:
                done = get(id(value))  # results are never None
                out[i] = process(value) if done is None else done
    elif memoised is None:
        for i, value in enumerate(out):
            if value is not None:
                out[i] = process(value)
    else:
        for i, value in enumerate(out):
            if value is None:
                continue
            if value.__class__ is memoised:
                done = get(value)
                if done is None:
                    done = memo[value] = process(value)
                out[i] = done
            else:
                out[i] = process(value)
    return out


def _key(memoised: type | None, value: Any) -> Any:
    """The memo key of ``value`` in a column that memoises ``memoised`` (:func:`_memoised`)."""
    if memoised is _ById:
        return id(value)
    return value if value.__class__ is memoised else _UNKEYED


def prepare(dialect: sa.Dialect, table: sa.Table, rows: Sequence[Mapping[str, Any]], skip: Sequence[str] = ()) -> Memos:
    """The bind processing of ``rows``' timestamps, amounts and JSON done ahead, for :func:`write_rows` or
    :func:`insert_rows` of these same rows, unchanged and kept alive until then (``memos=``).

    The pull runs it in its fetching thread, while the warehouse stores the previous page, so the storing thread
    has less to do. A value its column would refuse is left out here: the write refuses it, naming its column.
    ``skip``: columns whose processed values the caller has already (an order's JSON text as Meta sent it).
    """
    memos: Memos = {}
    for column in table.columns:
        if column.name in skip:
            continue
        process = bind_processor_of(column.type, dialect)
        memoised = _memoised(column.type)
        if process is None or memoised is None:
            continue
        memo = memos[column.name] = {}
        for row in rows:
            value = row.get(column.name)
            if value is None or (key := _key(memoised, value)) is _UNKEYED:
                continue
            try:
                if key not in memo:
                    memo[key] = process(value)
            except (ValueError, TypeError, ArithmeticError):
                continue
    return memos


def _upsert_for(connection: Connection, table: sa.Table, columns: tuple[str, ...], keep: tuple[str, ...]) -> _Upsert:
    dialect = connection.dialect
    cache_key = (dialect.name, table.name, columns, keep)
    if cache_key not in _STATEMENTS:
        keys = key_columns_of(table, None)
        update = [c for c in columns_to_update(table, columns, keys, None) if c not in keep]
        statement = on_conflict_update(dialect_insert(connection, table), table, keys, update)
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        if dialect.name == "sqlite":
            order, sql, template = tuple(compiled.positiontup or ()), str(compiled), ""
        elif dialect.driver == "psycopg2":
            # The row template's named placeholders become positional: values go as tuples, in its order.
            sql, named = _split_values(str(compiled), columns)
            order = tuple(_PLACEHOLDER.findall(named))
            template = _PLACEHOLDER.sub("%s", named)
        else:
            raise NotImplementedError(
                f"the page writer supports sqlite and postgresql+psycopg2, not {dialect.name}+{dialect.driver}"
            )
        processors = []
        for i, name in enumerate(order):
            if (process := bind_processor_of(table.c[name].type, dialect)) is not None:
                processors.append((i, process, _memoised(table.c[name].type)))
        _STATEMENTS[cache_key] = _Upsert(dialect.name, sql, order, tuple(processors), template)
    return _STATEMENTS[cache_key]


def _write(
    connection: Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    keep: Sequence[str],
    new: bool,
    memos: Memos | None,
) -> None:
    keys = key_columns_of(table, None)
    key_of = operator.itemgetter(*keys)
    unique: dict[Any, dict[str, Any]] = {}
    for row in rows:
        unique[key_of(row)] = row
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in unique.values():
        groups.setdefault(tuple(row), []).append(row)
    for columns, group in groups.items():
        _upsert_for(connection, table, columns, tuple(keep)).run(connection, table, group, new=new, memos=memos)


def write_rows(
    connection: Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    keep: Sequence[str] = (),
    memos: Memos | None = None,
) -> None:
    """Upsert ``rows`` by primary key, in the caller's transaction.

    Rows with the same key collapse to the last one (as :func:`~fb_commerce.warehouse.upsert.upsert`; one
    statement may not update a row twice on PostgreSQL). Rows may carry different column sets (one statement
    per set); a column a row does not carry is never written. Columns in ``keep`` are written when a row is
    inserted and never when it exists already. ``memos``: the rows' values processed ahead (:func:`prepare`).
    """
    _write(connection, table, rows, keep, new=False, memos=memos)


def insert_rows(
    connection: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], *, memos: Memos | None = None
) -> None:
    """Insert ``rows``, whose keys the caller found absent earlier in this transaction (COPY on PostgreSQL).

    The same rows as :func:`write_rows` would store. A key present after all fails the statement on PostgreSQL
    (the transaction is then rolled back whole, nothing stored twice) and is upserted on SQLite. ``memos``: as
    for :func:`write_rows`.
    """
    _write(connection, table, rows, (), new=True, memos=memos)


def insert_streamed(
    connection: Connection, table: sa.Table, columns: Sequence[str], rows: Iterable[dict[str, Any]]
) -> None:
    """Insert ``rows`` as :func:`insert_rows` does, read as they are written: every row carries exactly
    ``columns`` and a key the caller found absent, and no key twice (nothing is collapsed here).

    ``rows`` may be a generator that maps each row as it is asked for: on PostgreSQL COPY reads it as it goes, so
    the server parses the first rows while the next ones are made.
    """
    upsert = _upsert_for(connection, table, tuple(columns), ())
    upsert.run(connection, table, cast(Sequence[dict[str, Any]], rows), new=True)  # run() reads them once, in order
