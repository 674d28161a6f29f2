"""The OMS's requests as fb_order_updates sees them: one shape for the three outbox tables.

A row of ``fb_shipment_requests`` is a shipment or a tracking update (its ``request_type``), a row of
``fb_cancellation_requests`` a cancellation, a row of ``fb_refund_requests`` a refund. Each becomes an
:class:`OutboxRequest` that knows its kind, its order and where it stands in the order's queue.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

PENDING, SENT, FAILED = "pending", "sent", "failed"

# --- the columns of the outbox tables, and how each is read ----------------------------------------------------

#: a line of text without control characters, at most ``max_length`` characters
TEXT = "text"
#: free text shown to people (tab and newline allowed), at most ``max_length`` characters
FREE_TEXT = "free text"
#: a JSON value (stored as JSON text on SQLite, JSONB on PostgreSQL)
JSON = "json"
#: an exact decimal amount (``12.34``)
MONEY = "amount"
#: ``true``/``false`` (any case) or ``1``/``0``
BOOLEAN = "boolean"
#: ISO-8601; without an offset it is UTC (what SQLite stores)
TIMESTAMP = "timestamp"
#: a whole number
INTEGER = "integer"


@dataclass(frozen=True)
class Column:
    """How one outbox column is read from the row the OMS wrote: its kind and, for text, its longest value.

    The limits are the pipeline's own (Meta documents none for these fields) and hold on SQLite, which stores
    any length, as on PostgreSQL; a value outside them fails its row before any call, naming the column.
    """

    name: str
    kind: str
    max_length: int | None = None


_DELIVERY_COLUMNS = (
    Column("request_id", TEXT, 255),
    Column("order_id", TEXT, 255),
    Column("status", TEXT, 64),
    Column("attempts", INTEGER),
    Column("idempotency_key", TEXT, 100),
    Column("last_error_code", INTEGER),
    Column("last_error_message", FREE_TEXT),  # written by the pipeline (cut at outbox.MAX_MESSAGE)
    Column("created_at", TIMESTAMP),
    Column("updated_at", TIMESTAMP),
    Column("sent_at", TIMESTAMP),
)
#: every column the pipeline reads, per outbox table (``response`` is the pipeline's and never read back)
COLUMNS: dict[str, tuple[Column, ...]] = {
    "fb_shipment_requests": (
        *_DELIVERY_COLUMNS,
        Column("request_type", TEXT, 64),
        Column("items", JSON),
        Column("carrier", TEXT, 64),
        Column("tracking_number", TEXT, 100),
        Column("shipping_method", TEXT, 255),
        Column("external_shipment_id", TEXT, 100),
        Column("shipment_id", TEXT, 255),
        Column("fulfillment_location_id", TEXT, 255),
        Column("fulfillment_address", JSON),
    ),
    "fb_cancellation_requests": (
        *_DELIVERY_COLUMNS,
        Column("items", JSON),
        Column("reason_code", TEXT, 64),
        Column("reason_description", FREE_TEXT, 1000),
        Column("restock_items", BOOLEAN),
    ),
    "fb_refund_requests": (
        *_DELIVERY_COLUMNS,
        Column("items", JSON),
        Column("currency", TEXT, 3),
        Column("shipping_refund", MONEY),
        Column("return_shipping_deduction", MONEY),
        Column("reason_code", TEXT, 64),
        Column("reason_text", FREE_TEXT, 1000),
        Column("return_id", TEXT, 255),
    ),
}
DELIVERY_COLUMN_NAMES = frozenset(column.name for column in _DELIVERY_COLUMNS)
#: the longest value of a string inside a JSON column (an address line, an item id)
MAX_JSON_TEXT = 255
#: C0 and C1 control characters and DEL: never in a TEXT column or an address line (FREE_TEXT allows tab and
#: newline)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class RequestKind:
    """What a request does at Meta, and where the OMS queues it.

    :param name: the kind, also the start of its idempotency keys (``ship``, ``update_tracking``...).
    :param table: the outbox table.
    :param label: how logs and messages name it.
    :param edge: the order edge it is posted to.
    :param rank: the order among requests of one order queued at the same instant (see :func:`queue_order`).
    """

    name: str
    table: str
    label: str
    edge: str
    rank: int


# Rank for rows queued at the same instant (one transaction on PostgreSQL): an order's life goes cancel
# what will not ship, ship the rest, correct tracking, then refund what came back.
CANCEL = RequestKind("cancel", "fb_cancellation_requests", "cancellation", "cancellations", 0)
SHIP = RequestKind("ship", "fb_shipment_requests", "shipment", "shipments", 1)
UPDATE_TRACKING = RequestKind("update_tracking", "fb_shipment_requests", "tracking update", "update_shipment", 2)
REFUND = RequestKind("refund", "fb_refund_requests", "refund", "refunds", 3)
KINDS: tuple[RequestKind, ...] = (SHIP, UPDATE_TRACKING, CANCEL, REFUND)
SHIPMENT_REQUEST_TYPES = (SHIP.name, UPDATE_TRACKING.name)
OUTBOX_TABLE_NAMES = ("fb_shipment_requests", "fb_cancellation_requests", "fb_refund_requests")


def kind_of(table: str, request_type: str | None = None) -> RequestKind:
    """The kind of a row of ``table``; an unknown ``request_type`` reads as a shipment (validation rejects
    it)."""
    if table == CANCEL.table:
        return CANCEL
    if table == REFUND.table:
        return REFUND
    if table == SHIP.table:
        return UPDATE_TRACKING if request_type == UPDATE_TRACKING.name else SHIP
    raise ValueError(f"{table} is not an outbox table")


@dataclass
class OutboxRequest:
    """One outbox row: the request's own columns in ``fields``, its delivery state beside them.

    ``fields`` holds the columns of the row that describe the request (items, carrier, reason_code...), each
    parsed by its :class:`Column` rule; ``column_errors`` names the columns whose value could not be read
    (validation reports them, and the row fails). ``row_key`` is set when ``request_id`` itself was unreadable:
    the raw value that finds the row again.
    """

    kind: RequestKind
    request_id: str
    order_id: str
    created_at: dt.datetime | None
    status: str = PENDING
    attempts: int = 0
    idempotency_key: str | None = None
    updated_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    last_error_message: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    column_errors: dict[str, str] = field(default_factory=dict)
    row_key: bytes | None = None

    def get(self, name: str) -> Any:
        """A column of the request (None when empty)."""
        value = self.fields.get(name)
        return None if value == "" else value

    @property
    def name(self) -> str:
        """How messages name the row: table and request id."""
        return f"{self.kind.table} request {self.request_id!r}"

    @property
    def in_flight(self) -> bool:
        """Sent at least once without a final answer: Meta may have applied it, so it is resent as it is."""
        return self.status == PENDING and self.attempts > 0 and bool(self.idempotency_key)

    @property
    def attempted_at(self) -> dt.datetime | None:
        """When Meta last saw it: sent_at once sent, the last attempt while pending."""
        return self.sent_at if self.status == SENT else (self.updated_at if self.attempts else None)


def _instant(value: dt.datetime | None) -> dt.datetime:
    return value if value is not None else dt.datetime.min.replace(tzinfo=dt.UTC)


def queue_order(request: OutboxRequest) -> tuple[dt.datetime, int, str]:
    """The order requests of one order are sent in: created_at, then kind (see CANCEL...REFUND), then id."""
    return _instant(request.created_at), request.kind.rank, request.request_id


def by_order(requests: list[OutboxRequest]) -> dict[str, list[OutboxRequest]]:
    """Requests grouped per order, each group in :func:`queue_order`; orders by their first request."""
    groups: dict[str, list[OutboxRequest]] = {}
    for request in sorted(requests, key=queue_order):
        groups.setdefault(request.order_id, []).append(request)
    return groups
