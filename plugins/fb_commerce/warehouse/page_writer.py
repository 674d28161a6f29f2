"""Writing a page's rows fast: upserts whose statement is built once, run straight on the SQLite driver.

Storing pages is most of a pull's CPU, and most of that was SQLAlchemy assembling parameters row by row. Here the
ON CONFLICT statement of each (table, columns) is built once per process with the warehouse's own builders; on
SQLite each value goes through its column type's own bind processing (UTC timestamps, money, JSON), exactly as
SQLAlchemy would, and the rows go to the driver in one ``executemany``; on PostgreSQL SQLAlchemy's multi-row
VALUES pages (which it uses for statements with RETURNING) are already the fast way. The rows stored are the same as :func:`fb_commerce.warehouse.upsert.upsert`
stores, which a test checks.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fb_commerce.warehouse.upsert import columns_to_update, dialect_insert, key_columns_of, on_conflict_update


@dataclass(frozen=True)
class _Upsert:
    """An ON CONFLICT statement for one set of columns, with what SQLite needs to run it on the driver."""

    statement: Any
    sql: str | None = None
    order: tuple[str, ...] = ()
    processors: tuple[tuple[int, Callable[[Any], Any]], ...] = ()

    def run(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        if self.sql is None:
            # RETURNING makes SQLAlchemy send the rows as multi-row VALUES pages (psycopg2's own executemany
            # would make one round trip per row); the returned keys are read and dropped.
            connection.execute(self.statement, rows).all()
            return
        values_of = operator.itemgetter(*self.order)
        params = []
        for row in rows:
            values = list(values_of(row)) if len(self.order) > 1 else [values_of(row)]
            for index, process in self.processors:
                if values[index] is not None:
                    values[index] = process(values[index])
            params.append(tuple(values))
        connection.exec_driver_sql(self.sql, params)


#: statements by (dialect, table, columns, columns kept): built once per process, not once per page
_STATEMENTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], _Upsert] = {}


def _upsert_for(connection: Connection, table: sa.Table, columns: tuple[str, ...], keep: tuple[str, ...]) -> _Upsert:
    dialect = connection.dialect
    cache_key = (dialect.name, table.name, columns, keep)
    if cache_key not in _STATEMENTS:
        keys = key_columns_of(table, None)
        update = [c for c in columns_to_update(table, columns, keys, None) if c not in keep]
        statement = on_conflict_update(dialect_insert(connection, table), table, keys, update)
        if dialect.name != "sqlite":
            _STATEMENTS[cache_key] = _Upsert(statement.returning(*table.primary_key.columns))
        else:
            compiled = statement.compile(dialect=dialect, column_keys=list(columns))
            order = tuple(compiled.positiontup or ())
            processors = ((i, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
                          for i, name in enumerate(order))
            _STATEMENTS[cache_key] = _Upsert(statement, str(compiled), order,
                                             tuple((i, process) for i, process in processors if process))
    return _STATEMENTS[cache_key]


def write_rows(connection: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], *,
               keep: Sequence[str] = ()) -> None:
    """Upsert ``rows`` (one per key) by primary key, in the caller's transaction.

    Rows may carry different column sets (one statement per set); a column a row does not carry is never
    written. Columns in ``keep`` are written when a row is inserted and never when it exists already.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for columns, group in groups.items():
        _upsert_for(connection, table, columns, tuple(keep)).run(connection, group)
