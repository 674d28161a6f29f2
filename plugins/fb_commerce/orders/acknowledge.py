"""Acknowledging stored orders in batches (``POST /{cms_id}/acknowledge_orders``, docs/graph-api.md §1.4).

Only what the warehouse holds is acknowledged: CREATED orders that have their merchant_order_reference and no
``acknowledged_at`` yet, oldest id first, at most 100 per call.

Each call's idempotency key is derived from what the call is about (the orders, their references and the
``last_updated`` we stored for them) and a *generation*, so a retried call, a retried task or a rerun of the DAG
sends the same key for the same batch and Meta replays its first answer instead of acknowledging twice; once Meta
changes one of the orders, the next pull stores its new ``last_updated`` and the key changes with it.

Meta answers per order (acknowledged, or an error such as 2361003 Invalid Order ID), which is recorded per order.
When an order of the batch is still FB_PROCESSING, Meta refuses the whole call with 2361009 and replays that
refusal for the same key, so the batch is sent again without the orders it named, with generation + 1; when the
refusal names none of them, the batch is split in two halves (generation + 1) until the culprits stand alone.
The sequence depends only on the batch and Meta's (replayed) answers, so a rerun walks the same keys.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fb_commerce.graph.client import GraphClient
from fb_commerce.graph.errors import GraphCommerceError
from fb_commerce.graph.idempotency import idempotency_key
from fb_commerce.graph.surface import ACKNOWLEDGE_MAX_ORDERS
from fb_commerce.orders.states import CREATED, IN_PROGRESS
from fb_commerce.warehouse.schema import fb_orders
from fb_commerce.warehouse.upsert import transaction

#: the commerce code of a refused acknowledgement (the whole batch when an order is still FB_PROCESSING)
CANNOT_ACKNOWLEDGE = 2361009
OPERATION = "ack_orders"

Send = Callable[[list[dict[str, str]], str], dict[str, Any]]


@dataclass(frozen=True)
class PendingOrder:
    """A stored order waiting for its acknowledgement."""

    order_id: str
    reference: str
    updated_at: dt.datetime | None


@dataclass(frozen=True)
class Outcome:
    """Meta's answer for one order: its new state, or an error code and message."""

    order_id: str
    state: str | None = None
    error_code: int | None = None
    error_message: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.state is not None


@dataclass
class AcknowledgeResult:
    """What an acknowledgement run did, in counts."""

    pending: int = 0
    calls: int = 0
    acknowledged: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pending": self.pending,
            "calls": self.calls,
            "acknowledged": self.acknowledged,
            "failed": self.failed,
            "errors": dict(self.errors),
        }


def orders_to_acknowledge(bind: Engine | Connection) -> list[PendingOrder]:
    """Stored CREATED orders with a reference and no acknowledgement, by order id."""
    query = (
        sa.select(fb_orders.c.order_id, fb_orders.c.merchant_order_reference, fb_orders.c.updated_at)
        .where(
            fb_orders.c.state == CREATED,
            fb_orders.c.merchant_order_reference.is_not(None),
            fb_orders.c.acknowledged_at.is_(None),
        )
        .order_by(fb_orders.c.order_id)
    )
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            rows = connection.execute(query).all()
    else:
        rows = bind.execute(query).all()
    return [PendingOrder(row.order_id, row.merchant_order_reference, row.updated_at) for row in rows]


def batches(orders: Sequence[PendingOrder], size: int = ACKNOWLEDGE_MAX_ORDERS) -> Iterator[list[PendingOrder]]:
    """Consecutive batches of at most ``size`` (never more than Meta's 100) orders."""
    size = max(1, min(size, ACKNOWLEDGE_MAX_ORDERS))
    for start in range(0, len(orders), size):
        yield list(orders[start : start + size])


def payload(batch: Sequence[PendingOrder]) -> list[dict[str, str]]:
    """The ``orders`` parameter: ids with their references."""
    return [{"id": order.order_id, "merchant_order_reference": order.reference} for order in batch]


def batch_key(cms_id: str, batch: Sequence[PendingOrder], generation: int = 0) -> str:
    """The idempotency key of one call: the same batch of the same stored orders gives the same key."""
    material = [[o.order_id, o.reference, o.updated_at.isoformat() if o.updated_at else None] for o in batch]
    return idempotency_key(OPERATION, cms_id, material, generation=generation)


def _outcomes(answer: dict[str, Any], batch: Sequence[PendingOrder]) -> list[Outcome]:
    by_id: dict[str, Outcome] = {}
    for entry in answer.get("orders") or []:
        order_id = str(entry.get("id"))
        error = entry.get("error")
        if isinstance(error, dict):
            code = error.get("error_code")
            by_id[order_id] = Outcome(
                order_id,
                error_code=int(code) if code is not None else None,
                error_message=str(error.get("error_message") or "refused"),
            )
        else:
            by_id[order_id] = Outcome(order_id, state=str(entry.get("state") or IN_PROGRESS))
    return [
        by_id.get(o.order_id) or Outcome(o.order_id, error_message="no result for this order in Meta's answer")
        for o in batch
    ]


def _named(exc: GraphCommerceError, batch: Sequence[PendingOrder]) -> list[PendingOrder]:
    """The orders of ``batch`` whose ids the refusal's message names."""
    numbers = set(re.findall(r"\d+", exc.message))
    return [o for o in batch if o.order_id in numbers]


def acknowledge_batch(send: Send, cms_id: str, batch: Sequence[PendingOrder]) -> tuple[list[Outcome], int]:
    """Acknowledge one batch, working around orders still FB_PROCESSING; returns (outcomes, calls made).

    :param send: posts ``orders`` with an idempotency key and returns Meta's answer (raises Graph errors).
    """
    outcomes: list[Outcome] = []
    calls = 0
    work: list[tuple[list[PendingOrder], int]] = [(list(batch), 0)]
    while work:
        orders, generation = work.pop(0)
        calls += 1
        try:
            answer = send(payload(orders), batch_key(cms_id, orders, generation))
        except GraphCommerceError as exc:
            if exc.commerce_code != CANNOT_ACKNOWLEDGE:
                raise
            named = _named(exc, orders) if len(orders) > 1 else list(orders)
            if named:
                outcomes.extend(
                    Outcome(o.order_id, error_code=CANNOT_ACKNOWLEDGE, error_message=exc.message) for o in named
                )
                rest = [o for o in orders if o not in named]
                if rest:
                    work.append((rest, generation + 1))
            else:
                half = len(orders) // 2
                work.extend([(orders[:half], generation + 1), (orders[half:], generation + 1)])
            continue
        outcomes.extend(_outcomes(answer, orders))
    return outcomes, calls


def record_outcomes(bind: Engine | Connection, outcomes: Sequence[Outcome], at: dt.datetime) -> None:
    """Store each order's outcome: acknowledged_at and the new state, or the error; one transaction.

    One UPDATE per distinct answer (a batch's orders mostly share one state, or one error), each naming its
    orders by id, rather than one statement per order.

    :param bind: the warehouse, or a connection outside any transaction (committed before this returns).
    """
    done: dict[str | None, list[str]] = {}
    failed: dict[tuple[int | None, str], list[str]] = {}
    for o in outcomes:
        if o.acknowledged:
            done.setdefault(o.state, []).append(o.order_id)
        else:
            failed.setdefault((o.error_code, (o.error_message or "")[:2000]), []).append(o.order_id)
    attempts = fb_orders.c.acknowledge_attempts + 1
    with transaction(bind) as connection:
        for state, ids in done.items():
            connection.execute(
                sa.update(fb_orders)
                .where(fb_orders.c.order_id.in_(ids), fb_orders.c.acknowledged_at.is_(None))
                .values(
                    acknowledged_at=at,
                    state=state,
                    acknowledge_attempts=attempts,
                    acknowledge_error_code=None,
                    acknowledge_error_message=None,
                )
            )
        for (code, message), ids in failed.items():
            connection.execute(
                sa.update(fb_orders)
                .where(fb_orders.c.order_id.in_(ids))
                .values(acknowledge_attempts=attempts, acknowledge_error_code=code, acknowledge_error_message=message)
            )


def acknowledge_orders(
    client: GraphClient, engine: Engine, cms_id: str, *, batch_size: int = ACKNOWLEDGE_MAX_ORDERS
) -> AcknowledgeResult:
    """Acknowledge every stored order waiting for it; each batch's outcomes are committed before the next call."""
    result = AcknowledgeResult()

    def send(orders: list[dict[str, str]], key: str) -> dict[str, Any]:
        return client.post(f"{cms_id}/acknowledge_orders", {"idempotency_key": key, "orders": orders})

    # One connection for the run (each batch committed in its own transaction), not a pool checkout and ping each.
    with engine.connect() as connection:
        pending = orders_to_acknowledge(connection)
        connection.commit()  # the read's transaction ends before the first call: each batch has its own
        result.pending = len(pending)
        for batch in batches(pending, batch_size):
            outcomes, calls = acknowledge_batch(send, cms_id, batch)
            record_outcomes(connection, outcomes, dt.datetime.now(dt.UTC))
            result.calls += calls
            for outcome in outcomes:
                if outcome.acknowledged:
                    result.acknowledged += 1
                else:
                    result.failed += 1
                    label = str(outcome.error_code or "no answer")
                    result.errors[label] = result.errors.get(label, 0) + 1
    return result
