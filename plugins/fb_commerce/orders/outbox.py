"""Reading and marking the outbox tables (fb_shipment_requests, fb_cancellation_requests, fb_refund_requests).

Every mark is an UPDATE of one row that is still ``pending`` (so a row the OMS or another run already settled
is never overwritten), in its own transaction, committed at once: a task killed half-way keeps what it did.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fb_commerce.orders.ledger import chunks
from fb_commerce.orders.requests import FAILED, OUTBOX_TABLE_NAMES, PENDING, SENT, OutboxRequest, kind_of

#: the delivery columns; everything else in a row describes the request
_DELIVERY = (
    "request_id",
    "order_id",
    "status",
    "attempts",
    "idempotency_key",
    "last_error_code",
    "last_error_message",
    "created_at",
    "updated_at",
    "sent_at",
    "response",
)
#: JSON columns the OMS fills, read as text so that a malformed value becomes a validation error, not a crash
_REQUEST_JSON = ("items", "fulfillment_address")
MAX_MESSAGE = 4000


def _table(name: str) -> sa.Table:
    from fb_commerce.warehouse import schema

    return schema.metadata.tables[name]


def _columns(table: sa.Table) -> list[Any]:
    return [
        sa.cast(c, sa.Text).label(c.name) if c.name in _REQUEST_JSON else c
        for c in table.columns
        if c.name != "response"
    ]


def _decode(raw: Any, name: str, errors: dict[str, str]) -> Any:
    if raw is None or not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        errors[name] = f"not valid JSON: {raw[:80]!r}"
        return None


def _request(table_name: str, row: Mapping[str, Any]) -> OutboxRequest:
    errors: dict[str, str] = {}
    fields = {
        k: (_decode(v, k, errors) if k in _REQUEST_JSON else v) for k, v in row.items() if k not in _DELIVERY
    }
    return OutboxRequest(
        kind=kind_of(table_name, fields.get("request_type")),
        request_id=str(row["request_id"]),
        order_id=str(row["order_id"]),
        created_at=row["created_at"],
        status=row["status"],
        attempts=int(row["attempts"] or 0),
        idempotency_key=row["idempotency_key"],
        updated_at=row["updated_at"],
        sent_at=row["sent_at"],
        last_error_message=row["last_error_message"],
        fields=fields,
        json_errors=errors,
    )


def _select(
    conn: Connection, where: Any = None, tables: Iterable[str] = OUTBOX_TABLE_NAMES
) -> list[OutboxRequest]:
    found = []
    for name in tables:
        table = _table(name)
        query = sa.select(*_columns(table))
        if where is not None:
            query = query.where(where(table))
        found.extend(_request(name, row) for row in conn.execute(query).mappings())
    return found


def pending_requests(conn: Connection) -> list[OutboxRequest]:
    """Every pending request of the three tables (group and order them with ``requests.by_order``)."""
    return _select(conn, lambda t: t.c.status == PENDING)


def sent_requests(conn: Connection, order_ids: Iterable[str]) -> list[OutboxRequest]:
    """The sent requests of these orders (what Meta applied, perhaps not yet read back by fb_orders_sync)."""
    found = []
    for batch in chunks(sorted(set(order_ids))):
        found.extend(_select(conn, lambda t, b=batch: sa.and_(t.c.status == SENT, t.c.order_id.in_(b))))
    return found


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


def _mark(engine: Engine, request: OutboxRequest, values: dict[str, Any]) -> bool:
    """Update the row if it is still pending; True when it was."""
    table = _table(request.kind.table)
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(table)
            .where(table.c.request_id == request.request_id, table.c.status == PENDING)
            .values(updated_at=_now(), **values)
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


def mark_failed(
    engine: Engine, request: OutboxRequest, code: int | None, message: str, response: Any = None
) -> bool:
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
        request.status = FAILED
    return marked


def mark_retry(
    engine: Engine, request: OutboxRequest, code: int | None, message: str, response: Any = None
) -> bool:
    """Still pending after a temporary error: the next run sends it again with the same key."""
    return _mark(
        engine,
        request,
        {"last_error_code": code, "last_error_message": _message(message), "response": response},
    )


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
