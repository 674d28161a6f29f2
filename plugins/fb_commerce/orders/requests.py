"""The OMS's requests as fb_order_updates sees them: one shape for the three outbox tables.

A row of ``fb_shipment_requests`` is a shipment or a tracking update (its ``request_type``), a row of
``fb_cancellation_requests`` a cancellation, a row of ``fb_refund_requests`` a refund. Each becomes an
:class:`OutboxRequest` that knows its kind, its order and where it stands in the order's queue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

PENDING, SENT, FAILED = "pending", "sent", "failed"


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
UPDATE_TRACKING = RequestKind(
    "update_tracking", "fb_shipment_requests", "tracking update", "update_shipment", 2
)
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

    ``fields`` holds the columns of the row that describe the request (items, carrier, reason_code...), as
    read; ``json_errors`` names JSON columns whose text could not be decoded (validation reports them).
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
    json_errors: dict[str, str] = field(default_factory=dict)

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
