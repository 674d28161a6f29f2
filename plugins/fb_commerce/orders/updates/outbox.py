"""Reading and marking the outbox tables (fb_shipment_requests, fb_cancellation_requests, fb_refund_requests).

Every mark is an UPDATE of one row that is still ``pending`` (so a row the OMS or another run already settled
is never overwritten), in its own transaction, committed at once: a task killed half-way keeps what it did.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fb_commerce.orders.updates.remaining import chunks
from fb_commerce.orders.updates.requests import (
    BOOLEAN,
    COLUMNS,
    CONTROL,
    DELIVERY_COLUMN_NAMES,
    FAILED,
    FREE_TEXT,
    INTEGER,
    JSON,
    MONEY,
    OUTBOX_TABLE_NAMES,
    PENDING,
    SENT,
    TEXT,
    TIMESTAMP,
    Column,
    OutboxRequest,
    kind_of,
)

MAX_MESSAGE = 4000
#: FREE_TEXT columns may hold tab and newline, other text columns no control character (validate.CONTROL)
_FREE_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
BOOLEAN_SPELLINGS = {"true": True, "1": True, "false": False, "0": False}
#: how much of a bad value a message quotes
SHOWN = 40


def _table(name: str) -> sa.Table:
    from fb_commerce.warehouse import schema

    return schema.metadata.tables[name]


# --- reading: every column as raw text, parsed here per row and per column ---------------------------------
#
# SQLAlchemy's own type processors raise on a value of the wrong type (text in a NUMERIC column on SQLite, an
# unparseable timestamp), and SQLite's driver raises on text that is not UTF-8, so one bad row would stop the
# whole read. Each column is therefore selected as bytes (SQLite) or text (PostgreSQL) and parsed below; a
# value that cannot be read exactly becomes an error naming the column, never a default.


def _raw(column: sa.Column, rule: Column, dialect: str) -> Any:
    if dialect == "sqlite":
        return sa.cast(column, sa.LargeBinary).label(column.name)
    if rule.kind == TIMESTAMP:
        # An ISO text whatever the session's DateStyle; infinity and years outside 1..9999 are shown as
        # they are, so that they fail to parse instead of becoming datetime.max.
        finite = sa.and_(
            sa.func.isfinite(column),
            column.between(sa.literal("0001-01-01T00:00:00+00:00"), sa.literal("9999-12-31T23:59:59+00:00")),
        )
        iso = sa.func.to_char(sa.func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US')
        return sa.case((finite, iso), else_=sa.cast(column, sa.Text)).label(column.name)
    return sa.cast(column, sa.Text).label(column.name)


def _shown(text: str) -> str:
    return repr(text if len(text) <= SHOWN else text[:SHOWN] + "…")


def _decode(raw: Any) -> str:
    """The raw value as text: bytes from SQLite must be UTF-8."""
    if isinstance(raw, bytes | memoryview):
        data = bytes(raw)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not valid UTF-8 (byte {data[exc.start]:#04x} at position {exc.start})") from None
    return str(raw)


def _text(text: str, rule: Column) -> str:
    control = (_FREE_TEXT_CONTROL if rule.kind == FREE_TEXT else CONTROL).search(text)
    if control is not None:
        raise ValueError(
            f"control character U+{ord(control.group()):04X} at position {control.start()} in {_shown(text)}"
        )
    if rule.max_length is not None and len(text) > rule.max_length:
        raise ValueError(f"{len(text)} characters, at most {rule.max_length} ({_shown(text)})")
    return text


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _no_twice(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"key {key!r} given twice")
        found[key] = value
    return found


def _json_value(text: str) -> Any:
    """JSON read exactly: numbers with a fraction as Decimal, no NaN, no key given twice."""
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant, object_pairs_hook=_no_twice)
    except json.JSONDecodeError:
        raise ValueError(f"not valid JSON: {_shown(text)}") from None


def _timestamp(text: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{_shown(text)} is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)  # the warehouse's convention: naive means UTC
    return parsed.astimezone(dt.UTC)


def parse_value(raw: Any, rule: Column) -> Any:
    """One column's raw value (bytes, text, or None) as the request's value; ValueError says what is wrong."""
    if raw is None:
        return None
    text = _decode(raw)
    if rule.kind in (TEXT, FREE_TEXT):
        return _text(text, rule)
    if rule.kind == JSON:
        return _json_value(text)
    if rule.kind == TIMESTAMP:
        return _timestamp(text)
    if rule.kind == BOOLEAN:
        if text.strip().lower() not in BOOLEAN_SPELLINGS:
            raise ValueError(f"{_shown(text)} is not one of true, false, 1, 0")
        return BOOLEAN_SPELLINGS[text.strip().lower()]
    if rule.kind == INTEGER:
        if not _INTEGER.fullmatch(text):
            raise ValueError(f"{_shown(text)} is not a whole number")
        return int(text)
    if rule.kind == MONEY:
        if not _DECIMAL.fullmatch(text):
            raise ValueError(f"{_shown(text)} is not a decimal number like 12.34")
        return Decimal(text)
    raise AssertionError(f"unknown column kind {rule.kind}")


@functools.cache
def columns_of(table_name: str, dialect: str) -> tuple[Any, ...]:
    """The columns to select from an outbox table, each read raw so that ``request_of`` can check it."""
    # Built once per table and dialect: two dozen CASTs per select otherwise cost more than the query.
    table = _table(table_name)
    return tuple(_raw(table.c[rule.name], rule, dialect) for rule in COLUMNS[table_name])


def _columns(table: sa.Table, dialect: str) -> list[Any]:
    return list(columns_of(table.name, dialect))


def request_of(table_name: str, row: sa.RowMapping) -> OutboxRequest:
    """The request of a row selected with ``columns_of``; a column that cannot be read is named in its errors."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for rule in COLUMNS[table_name]:
        try:
            values[rule.name] = parse_value(row[rule.name], rule)
        except ValueError as exc:
            errors[rule.name] = str(exc)
            values[rule.name] = None
    row_key = None
    if "request_id" in errors or "order_id" in errors:
        # Named in messages as well as it can be; an unreadable request_id is found again by its raw bytes.
        for name in ("request_id", "order_id"):
            raw = row[name]
            values[name] = bytes(raw).decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
        if "request_id" in errors and isinstance(row["request_id"], bytes):
            row_key = bytes(row["request_id"])
    fields = {name: value for name, value in values.items() if name not in DELIVERY_COLUMN_NAMES}
    return OutboxRequest(
        kind=kind_of(table_name, fields.get("request_type")),
        request_id=str(values["request_id"]),
        order_id=str(values["order_id"]),
        created_at=values["created_at"],
        status=values["status"] or PENDING,
        attempts=values["attempts"] or 0,
        idempotency_key=values["idempotency_key"],
        updated_at=values["updated_at"],
        sent_at=values["sent_at"],
        last_error_message=values["last_error_message"],
        fields=fields,
        column_errors=errors,
        row_key=row_key,
    )


def _select(conn: Connection, where: Any = None, tables: Iterable[str] = OUTBOX_TABLE_NAMES) -> list[OutboxRequest]:
    found: list[OutboxRequest] = []
    for name in tables:
        table = _table(name)
        query = sa.select(*_columns(table, conn.dialect.name))
        if where is not None:
            query = query.where(where(table))
        found.extend(request_of(name, row) for row in conn.execute(query).mappings())
    return found


def pending_requests(conn: Connection) -> list[OutboxRequest]:
    """Every pending request of the three tables (group and order them with ``requests.by_order``)."""
    return _select(conn, lambda t: t.c.status == PENDING)


def _of_orders(conn: Connection, order_ids: Iterable[str], status: str | None) -> list[OutboxRequest]:
    found = []
    for batch in chunks(sorted(set(order_ids))):

        def where(t: sa.Table, b: list[str] = batch) -> Any:
            return t.c.order_id.in_(b) if status is None else sa.and_(t.c.status == status, t.c.order_id.in_(b))

        found.extend(_select(conn, where))
    return found


def pending_requests_of(conn: Connection, order_ids: Iterable[str]) -> list[OutboxRequest]:
    """The pending requests of these orders."""
    return _of_orders(conn, order_ids, PENDING)


def requests_of(conn: Connection, order_ids: Iterable[str]) -> list[OutboxRequest]:
    """Every request of these orders, whatever its status (an order's history)."""
    return _of_orders(conn, order_ids, None)


def sent_requests(conn: Connection, order_ids: Iterable[str]) -> list[OutboxRequest]:
    """The sent requests of these orders (what Meta applied, perhaps not yet read back by fb_orders_sync)."""
    return _of_orders(conn, order_ids, SENT)


def failed_requests(conn: Connection, order_ids: Iterable[str]) -> list[OutboxRequest]:
    """The failed requests of these orders (a request that needed one of them says so when it fails)."""
    return _of_orders(conn, order_ids, FAILED)


def tracking_number_uses(conn: Connection, numbers: Iterable[str]) -> list[OutboxRequest]:
    """Shipment requests holding one of these tracking numbers at Meta: sent, or attempted and unanswered."""
    found = []
    for batch in chunks(sorted(set(numbers))):
        found.extend(
            _select(
                conn,
                lambda t, b=batch: sa.and_(
                    t.c.tracking_number.in_(b),
                    sa.or_(t.c.status == SENT, sa.and_(t.c.status == PENDING, t.c.attempts > 0)),
                ),
                tables=("fb_shipment_requests",),
            )
        )
    return found


# --- marks --------------------------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _mark(engine: Engine, request: OutboxRequest, values: dict[str, Any], *, touch: bool = True) -> bool:
    """Update the row if it is still pending; True when it was. ``touch`` sets updated_at (a status change or
    an attempt; an in-flight row's updated_at says when Meta last saw it)."""
    table = _table(request.kind.table)
    row = (
        table.c.request_id == request.request_id
        if request.row_key is None
        else sa.cast(table.c.request_id, sa.LargeBinary) == request.row_key
    )
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(table)
            .where(row, table.c.status == PENDING)
            .values(**({"updated_at": _now()} if touch else {}), **values)
        )
    return result.rowcount == 1


def _message(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def mark_attempt(engine: Engine, request: OutboxRequest, key: str) -> bool:
    """Before a call: one more attempt, with the key about to be sent (kept for every later attempt)."""
    marked = _mark(engine, request, {"attempts": request.attempts + 1, "idempotency_key": key})
    if marked:
        request.attempts += 1
        request.idempotency_key = key
    return marked


def mark_sent(engine: Engine, request: OutboxRequest, response: Any) -> bool:
    """Meta accepted it: sent, with the time and Meta's answer; earlier errors are cleared."""
    sent_at = _now()
    marked = _mark(
        engine,
        request,
        {
            "status": SENT,
            "sent_at": sent_at,
            "response": response,
            "last_error_code": None,
            "last_error_message": None,
        },
    )
    if marked:
        request.status, request.sent_at = SENT, sent_at
    return marked


def mark_failed(engine: Engine, request: OutboxRequest, code: int | None, message: str, response: Any = None) -> bool:
    """Final: Meta refused it (code = Meta's), or validation did (code NULL, no call made)."""
    marked = _mark(
        engine,
        request,
        {
            "status": FAILED,
            "last_error_code": code,
            "last_error_message": _message(message),
            "response": response,
        },
    )
    if marked:
        request.status, request.last_error_message = FAILED, _message(message)
    return marked


def mark_waiting(engine: Engine, request: OutboxRequest, reason: str) -> bool:
    """Still pending, never sent: why it waits (an earlier request of its order), in last_error_message."""
    if request.attempts or request.last_error_message == _message(reason):
        return False  # an attempted row keeps its own last error; an unchanged reason is not written again
    marked = _mark(engine, request, {"last_error_code": None, "last_error_message": _message(reason)}, touch=False)
    if marked:
        request.last_error_message = _message(reason)
    return marked


def mark_retry(engine: Engine, request: OutboxRequest, code: int | None, message: str, response: Any = None) -> bool:
    """Still pending after a temporary error: the next run sends it again with the same key."""
    marked = _mark(
        engine,
        request,
        {"last_error_code": code, "last_error_message": _message(message), "response": response},
    )
    if marked:
        request.last_error_message = _message(message)
    return marked


# --- counts -------------------------------------------------------------------------------------------------


def status_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """Rows per status in each outbox table: ``{"fb_shipment_requests": {"pending": 2, "sent": 5, ...}}``."""
    counts: dict[str, dict[str, int]] = {}
    for name in OUTBOX_TABLE_NAMES:
        table = _table(name)
        rows = conn.execute(sa.select(table.c.status, sa.func.count()).group_by(table.c.status))
        counts[name] = {PENDING: 0, SENT: 0, FAILED: 0} | {status: int(n) for status, n in rows}
    return counts


def describe_status_counts(counts: Mapping[str, Mapping[str, int]]) -> list[str]:
    """One line per outbox table, e.g. ``fb_refund_requests: 0 pending, 3 sent, 1 failed``."""
    return [
        f"{table}: {n.get(PENDING, 0)} pending, {n.get(SENT, 0)} sent, {n.get(FAILED, 0)} failed"
        for table, n in counts.items()
    ]


def stuck_requests(conn: Connection, min_attempts: int) -> list[OutboxRequest]:
    """Pending requests already attempted ``min_attempts`` times or more (Meta keeps failing them)."""
    return _select(conn, lambda t: sa.and_(t.c.status == PENDING, t.c.attempts >= min_attempts))
