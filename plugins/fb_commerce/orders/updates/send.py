"""Draining the outbox: every pending request, order by order, checked and then sent to Meta.

For each order in turn, its pending requests (shipments, tracking updates, cancellations and refunds
together) go one at a time in queue order (:func:`~fb_commerce.orders.updates.requests.queue_order`), so writes to one
order never overlap and a cancellation queued before a shipment reaches Meta first. Each request is:

- checked against the stored order (:mod:`~fb_commerce.orders.updates.validate`); an invalid one is marked failed
  with the problems, and no call is made;
- marked with one more attempt and its idempotency key, then posted;
- marked ``sent`` (with ``sent_at`` and Meta's answer), or ``failed`` when a commerce rule or an invalid
  parameter refused it (Meta's code and message; the run goes on), or left ``pending`` with the error after a
  temporary failure the client's own retries did not overcome. The order's later requests then wait for the
  next run, so they are never sent ahead of it.

When Meta asks to wait longer than a worker should sleep (:class:`GraphRateLimitWait`), the drain stops there:
what is not sent stays pending, and the caller ends the task so that Airflow retries it later.

A request already attempted without a final answer (a timeout, a killed task) is sent again as it stands with
its stored key, without new checks: Meta may have applied it, and then answers with the first result.
"""

from __future__ import annotations

import copy
import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from decimal import InvalidOperation
from typing import Any

from sqlalchemy.engine import Connection, Engine

from fb_commerce.graph.errors import (
    GraphAuthError,
    GraphCommerceError,
    GraphError,
    GraphInvalidParameterError,
    GraphRateLimitWait,
)
from fb_commerce.orders.updates import outbox
from fb_commerce.orders.updates.payloads import build_payload, graph_path, request_key
from fb_commerce.orders.updates.remaining import OrderRemaining, Remaining, load_remaining
from fb_commerce.orders.updates.requests import (
    FAILED,
    KINDS,
    PENDING,
    SENT,
    SHIP,
    OutboxRequest,
    by_order,
    queue_order,
)
from fb_commerce.orders.updates.validate import effect_of, rejection_message, shipment_of, validate

log = logging.getLogger(__name__)

#: failed requests of an order considered as what a refused request needed (the latest ones)
MAX_FAILED_CANDIDATES = 20
#: posts Graph parameters to a path and returns Meta's answer (``FbCommerceHook.post``)
Post = Callable[[str, dict[str, Any]], dict[str, Any]]


class Outcome(enum.Enum):
    """What became of one request in this run."""

    SENT = "sent"
    FAILED = "failed"  # Meta refused it: final
    REJECTED = "rejected"  # validation refused it, no call: final
    RETRY = "retry"  # temporary error: pending for the next run
    STOP = "stop"  # Meta asked to wait: the drain ends here
    SKIPPED = "skipped"  # settled by someone else meanwhile
    VALID = "valid"  # passed the checks (validation only, nothing sent)
    WAIT = "wait"  # needs another request of its order that is still pending: stays pending


@dataclass
class KindCounts:
    """Requests of one kind by what happened to them in this run."""

    sent: int = 0
    failed: int = 0
    rejected: int = 0
    retrying: int = 0
    waiting: int = 0
    valid: int = 0

    def describe(self) -> str:
        parts = [f"{getattr(self, name)} {words}" for name, words in _COUNT_WORDS if getattr(self, name)]
        return ", ".join(parts) or "none"


_COUNT_WORDS = (
    ("valid", "valid"),
    ("sent", "sent"),
    ("failed", "refused by Meta"),
    ("rejected", "rejected before sending"),
    ("retrying", "to retry (temporary error)"),
    ("waiting", "waiting for another request of their order"),
)


#: the KindCounts field each outcome adds to (a request settled by someone else counts nowhere)
_COUNTED = {
    Outcome.SENT: "sent",
    Outcome.FAILED: "failed",
    Outcome.REJECTED: "rejected",
    Outcome.RETRY: "retrying",
    Outcome.STOP: "retrying",
    Outcome.VALID: "valid",
}


@dataclass
class DrainResult:
    """Counts per request kind, and the rate-limit wait that stopped the drain (if one did)."""

    counts: dict[str, KindCounts] = field(default_factory=lambda: {kind.name: KindCounts() for kind in KINDS})
    stopped_by: GraphRateLimitWait | None = None

    def count(self, request: OutboxRequest, outcome: Outcome) -> None:
        name = _COUNTED.get(outcome)
        if name is not None:
            counts = self.counts[request.kind.name]
            setattr(counts, name, getattr(counts, name) + 1)

    def wait(self, requests: list[OutboxRequest]) -> None:
        for request in requests:
            self.counts[request.kind.name].waiting += 1

    def total(self, name: str) -> int:
        return sum(getattr(counts, name) for counts in self.counts.values())

    def lines(self) -> list[str]:
        """One line per kind, for the task log."""
        return [f"{kind.label}s: {self.counts[kind.name].describe()}" for kind in KINDS]

    def as_dict(self) -> dict[str, Any]:
        return {name: asdict(counts) for name, counts in self.counts.items()} | {
            "stopped_by_rate_limit": self.stopped_by is not None
        }


# --- the walk -----------------------------------------------------------------------------------------------


@dataclass
class _Run:
    engine: Engine
    remaining: Remaining
    post: Post | None
    result: DrainResult = field(default_factory=DrainResult)


@dataclass
class _Loaded:
    groups: dict[str, list[OutboxRequest]]
    remaining: Remaining
    failed: dict[str, list[OutboxRequest]]


def _load(engine: Engine, order_ids: Iterable[str] | None = None) -> _Loaded:
    """Pending requests per order (of ``order_ids`` only, when given), what remains of those orders caught up
    with what Meta already applied, and the requests of those orders that failed before (named when a request
    needed one of them)."""
    with engine.connect() as conn:
        pending = outbox.pending_requests(conn) if order_ids is None else outbox.pending_requests_of(conn, order_ids)
        groups = by_order(pending)
        pending = [request for requests in groups.values() for request in requests]
        numbers = {str(r.get("tracking_number")).strip() for r in pending if r.get("tracking_number")}
        remaining = load_remaining(conn, list(groups), numbers)
        sent = sorted(outbox.sent_requests(conn, groups), key=queue_order)
        failed = by_order(outbox.failed_requests(conn, groups))
        uses = outbox.tracking_number_uses(conn, numbers)
    catch_up(remaining, sent, uses)
    return _Loaded(groups, remaining, failed)


def catch_up(remaining: Remaining, sent: list[OutboxRequest], uses: list[OutboxRequest]) -> None:
    """Move the stored orders forward by what Meta applied since fb_orders_sync last read them (``sent``, in
    queue order), and note the tracking numbers Meta has from our requests (``uses``)."""
    for request in sent:
        order = remaining.orders.get(request.order_id)
        # Sent after fb_orders_sync last read the order: the stored order does not show it yet.
        if order is not None and not order.reflects(request.sent_at):
            _apply(remaining, request)
    for use in uses:  # numbers Meta has from our requests, whether or not read back yet
        remaining.tracking_numbers.setdefault(str(use.get("tracking_number")).strip(), shipment_of(use))


def outlook(
    conn: Connection,
    order_id: str,
    tracking_numbers: Iterable[str] = (),
    *,
    remaining: Remaining | None = None,
    requests: list[OutboxRequest] | None = None,
) -> tuple[Remaining, list[OutboxRequest]]:
    """What one order will allow once its queue is sent: the stored order (or ``remaining``, e.g. Meta's live
    state), moved forward by what Meta applied since it was read and by its pending requests that pass the
    checks, in queue order, as a drain would send them. Returns it and those pending requests.

    This is what a new request of the order is checked against before it is queued (customer service).
    ``requests``: the order's outbox rows when the caller has read them already (``outbox.requests_of``).
    """
    numbers = set(tracking_numbers)
    if remaining is None:
        remaining = load_remaining(conn, [order_id], numbers)
    if requests is None:
        requests = outbox.requests_of(conn, [order_id])
    sent = sorted((r for r in requests if r.status == SENT), key=queue_order)
    catch_up(remaining, sent, outbox.tracking_number_uses(conn, numbers))
    pending = by_order([r for r in requests if r.status == PENDING]).get(order_id, [])
    passing = []
    for request in pending:
        if request.in_flight or validate(request, remaining).ok:
            _apply(remaining, request)
            passing.append(request)
    return remaining, passing


def _apply(remaining: Remaining, request: OutboxRequest) -> None:
    effect = effect_of(request, remaining)
    if effect is not None:
        remaining.apply(request.order_id, effect)


def _walk(engine: Engine, post: Post | None, order_ids: Iterable[str] | None = None) -> DrainResult:
    loaded = _load(engine, order_ids)
    run = _Run(engine, loaded.remaining, post)
    orders = list(loaded.groups.items())
    for position, (order_id, requests) in enumerate(orders):
        if _drain_order(run, requests, loaded.failed.get(order_id, [])) is Outcome.STOP:
            for _, later in orders[position + 1 :]:
                run.result.wait(later)
            return run.result
    return run.result


def _drain_order(run: _Run, requests: list[OutboxRequest], failed_before: list[OutboxRequest]) -> Outcome | None:
    """One order's requests in queue order. A request that can only go after another one of its order still
    pending (a tracking update whose shipment is queued, a refund of units whose shipment is) waits for it and
    is tried again once that one is settled in this run; otherwise it stays pending with the reason. Returns
    the RETRY or STOP that ended the order's turn, if one did."""
    failed = list(failed_before)
    settled: set[int] = set()
    todo = list(requests)
    while todo:
        deferred: list[tuple[OutboxRequest, str]] = []
        progressed = False
        for index, request in enumerate(todo):
            unsettled = [r for r in requests if id(r) not in settled and r is not request]
            outcome, reason = _handle(run, request, unsettled, failed)
            if outcome is Outcome.WAIT:
                deferred.append((request, reason))
                continue
            progressed = True
            settled.add(id(request))
            if outcome in (Outcome.FAILED, Outcome.REJECTED):
                failed.append(request)
            if outcome in (Outcome.RETRY, Outcome.STOP):
                # never ahead of an earlier request of the same order
                behind = f"waiting behind {request.name}, which got a temporary error: {request.last_error_message}"
                for later in [*todo[index + 1 :], *(r for r, _ in deferred)]:
                    run.result.wait([later])
                    outbox.mark_waiting(run.engine, later, behind)
                return outcome
        if not deferred or not progressed:
            for request, reason in deferred:
                run.result.wait([request])
                log.info("%s (order %s) %s", request.name, request.order_id, reason)
                outbox.mark_waiting(run.engine, request, reason)
            return None
        todo = [request for request, _ in deferred]
    return None


def _handle(
    run: _Run, request: OutboxRequest, unsettled: list[OutboxRequest], failed: list[OutboxRequest]
) -> tuple[Outcome, str]:
    order = run.remaining.orders.get(request.order_id)
    # Sent before without an answer: resent as it stands. Its effect counts unless the stored order,
    # read after that attempt, already shows it.
    reflected = _reflected(request, order)
    # A column that cannot be read fails the row even after an attempt: it can no longer be sent as it was.
    if not request.in_flight or request.column_errors:
        verdict = validate(request, run.remaining)
        if not verdict.ok:
            problems = verdict.problems
            needs = None if request.column_errors else _prerequisites(run.remaining, request, unsettled, failed)
            if needs is not None:
                waiting_for = [r for r in needs if r.status != FAILED]
                if waiting_for:
                    names = ", ".join(r.name for r in waiting_for)
                    return Outcome.WAIT, f"waits for {names} of the same order, still pending: {'; '.join(problems)}"
                problems = [
                    f"needs {r.name}, which failed ({r.last_error_message or 'no message'})" for r in needs
                ] + problems
            message = rejection_message(request, problems)
            log.warning("%s", message)
            outcome = Outcome.REJECTED if outbox.mark_failed(run.engine, request, None, message) else Outcome.SKIPPED
            run.result.count(request, outcome)
            return outcome, message
    outcome = Outcome.VALID if run.post is None else _send(run, request, order)
    run.result.count(request, outcome)
    if outcome in (Outcome.SENT, Outcome.VALID) and not reflected:
        _apply(run.remaining, request)  # later requests of the order are checked against what will be left
    return outcome, ""


def _reflected(request: OutboxRequest, order: OrderRemaining | None) -> bool:
    """Whether the stored order already shows an in-flight request (so its effect must not count twice).

    A shipment is looked for in the order's stored shipments (its external id or tracking number): an attempt
    Meta answered with a temporary error was not applied, although the order was read after it. Other kinds
    leave no such trace, so the time of the last read decides.
    """
    if not request.in_flight or order is None:
        return False
    if request.kind is SHIP:
        external_id, number = request.get("external_shipment_id"), request.get("tracking_number")
        return (external_id is not None and str(external_id) in order.external_shipment_ids) or (
            number is not None and str(number).strip() in order.stored_tracking_numbers
        )
    return order.reflects(request.updated_at)


def _trial(remaining: Remaining, order_id: str) -> Remaining:
    """A copy of what remains of one order, for what-ifs."""
    order = remaining.orders.get(order_id)
    return Remaining(
        orders={} if order is None else {order_id: copy.deepcopy(order)},
        tracking_numbers=dict(remaining.tracking_numbers),
    )


def _passes_with(remaining: Remaining, request: OutboxRequest, others: list[OutboxRequest]) -> bool:
    trial = _trial(remaining, request.order_id)
    for other in others:
        _apply(trial, other)
    return validate(request, trial).ok


def _prerequisites(
    remaining: Remaining, request: OutboxRequest, unsettled: list[OutboxRequest], failed: list[OutboxRequest]
) -> list[OutboxRequest] | None:
    """The other requests of the order that ``request`` needs: it is refused as things stand but would pass
    once they are applied (still pending ones first, then failed ones). None when nothing of the order would
    make it pass. Which of them are really needed: those without which it fails again (else the last one)."""
    # The most recent failures only: an order's history of failed rows must not make each check quadratic.
    order = [*sorted(unsettled, key=queue_order), *sorted(failed, key=queue_order)[-MAX_FAILED_CANDIDATES:]]
    for count in range(1, len(order) + 1):
        prefix = order[:count]
        if _passes_with(remaining, request, prefix):
            needed = [r for r in prefix if not _passes_with(remaining, request, [o for o in prefix if o is not r])]
            return needed or [prefix[-1]]
    return None


# --- one call -----------------------------------------------------------------------------------------------


def _error_code(exc: GraphError) -> int | None:
    return exc.commerce_code or exc.code


def _error_body(exc: GraphError) -> dict[str, Any]:
    return {"error": exc.body} if exc.body else {"error": {"message": exc.message, "code": exc.code}}


def _send(run: _Run, request: OutboxRequest, order: OrderRemaining | None) -> Outcome:
    assert run.post is not None
    try:
        payload = build_payload(request, order.currency if order is not None else None)
    except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
        # Only an attempted row skips validation; one edited since into something unsendable ends here.
        message = f"{request.name} (order {request.order_id}) cannot be sent as it stands now: {exc!r}"
        return Outcome.FAILED if outbox.mark_failed(run.engine, request, None, message) else Outcome.SKIPPED
    # The stored key wins: if the row was edited after an attempt, Meta refuses the new payload under the old
    # key (idempotency conflict) instead of applying a second write.
    key = request.idempotency_key or request_key(request, payload)
    if not outbox.mark_attempt(run.engine, request, key):
        return Outcome.SKIPPED
    try:
        response = run.post(graph_path(request), {**payload, "idempotency_key": key})
    except GraphRateLimitWait as exc:
        outbox.mark_retry(run.engine, request, _error_code(exc), str(exc), _error_body(exc))
        run.result.stopped_by = exc
        log.warning("%s: Meta asks to wait; the drain stops here and the task is retried later", request.name)
        return Outcome.STOP
    except GraphCommerceError as exc:
        if exc.retryable:  # the client's retries of 2361050 / 2361081 ran out: next run
            return _retry(run, request, exc)
        return _refused(run, request, exc)
    except GraphInvalidParameterError as exc:
        return _refused(run, request, exc)
    except GraphAuthError as exc:
        outbox.mark_retry(run.engine, request, _error_code(exc), str(exc), _error_body(exc))
        raise  # no request can go out with a bad token: fail the task, with the hook's message
    except GraphError as exc:  # transient, connection, throttling, or unknown: kept for the next run
        return _retry(run, request, exc)
    return Outcome.SENT if outbox.mark_sent(run.engine, request, response) else Outcome.SKIPPED


def _refused(run: _Run, request: OutboxRequest, exc: GraphError) -> Outcome:
    log.warning("%s (order %s) refused by Meta: %s", request.name, request.order_id, exc)
    marked = outbox.mark_failed(run.engine, request, _error_code(exc), str(exc), _error_body(exc))
    return Outcome.FAILED if marked else Outcome.SKIPPED


def _retry(run: _Run, request: OutboxRequest, exc: GraphError) -> Outcome:
    log.warning("%s (order %s) stays pending after a temporary error: %s", request.name, request.order_id, exc)
    outbox.mark_retry(run.engine, request, _error_code(exc), str(exc), _error_body(exc))
    return Outcome.RETRY


# --- entry points -------------------------------------------------------------------------------------------


def drain(engine: Engine, post: Post, order_ids: Iterable[str] | None = None) -> DrainResult:
    """Check and send every pending request (see the module docstring); returns counts per kind.

    :param post: ``FbCommerceHook.post`` (path, parameters) -> Meta's answer.
    :param order_ids: only the requests of these orders (a customer-service action sends its order's queue).
    """
    return _walk(engine, post, order_ids)


def reject_invalid(engine: Engine) -> DrainResult:
    """Mark every pending request that fails validation as failed, without any call.

    Requests are checked in the order a drain would send them, each as if the ones before it went through, so
    that e.g. two shipments of the same units are caught before either is sent.
    """
    return _walk(engine, None)
