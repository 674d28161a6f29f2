"""The log of ``items_batch`` calls in the warehouse: written before a call, confirmed after, settled from its status.

``items_batch`` has no idempotency key, so the record is what makes reruns converge:

1. :meth:`BatchLog.reserve`: before the call, the request and its items are stored under a provisional key
   (``unsent:<uuid>``, status ``SENDING``);
2. :meth:`BatchLog.confirm`: after Meta answered with a handle, the rows move to that handle (status NULL:
   sent, not yet checked); :meth:`BatchLog.release` removes them when the call was refused;
3. :meth:`BatchLog.settle`: once the handle finished, each item becomes ``synced``, ``failed`` (refused, with
   Meta's message) or ``not_applied`` (accepted with a warning that a value was ignored, with the warning), and
   only the ``synced`` ones are copied into ``fb_catalog_sync_state``, in one transaction. The others stay
   different from the source, so the next run's delta sends them again.

Products whose source values break a rule are never sent: :meth:`BatchLog.record_refused` stores them under
``refused:<run id>`` (status ``REFUSED``, finished) as ``failed`` items with the message naming each bad column and
value. They stay different from the sync state, so every run refuses them again until the source is fixed.

A task killed between 1 and 2 leaves a provisional record: the next run drops it (:meth:`drop_unconfirmed`) and the
delta, which still sees those products as different, sends them again. Meta may then get the same absolute values
twice, which leaves the catalog as once. A task killed after 2 leaves handles that are not settled: the next run
settles them first (:meth:`outstanding`), before computing a new delta, so nothing sent is sent again and nothing
is marked synced without Meta's word.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fb_commerce.catalog.batch_calls import BatchStatus, already_gone, is_pending
from fb_commerce.catalog.inventory_delta import DELETE, ITEM_TYPE, BatchPlan
from fb_commerce.catalog.meta_accepted import SYNCED, apply_batch
from fb_commerce.warehouse import schema

log = logging.getLogger(__name__)

REQUESTS = schema.fb_batch_requests
ITEMS = schema.fb_batch_request_items
UNSENT_PREFIX = "unsent:"
REFUSED_PREFIX = "refused:"
SENDING = "SENDING"
#: The record of a run's products refused before any call (bad source values): never sent, never settled.
REFUSED = "REFUSED"
ABANDONED = "ABANDONED"
PENDING, FAILED = "pending", "failed"
#: Meta took the request but said (a per-item warning) that a value was not applied: not synced, sent again.
NOT_APPLIED = "not_applied"
_INSERT_CHUNK = 10_000
#: Errors kept per handle in fb_batch_requests.errors/warnings (the per-item message is on each item anyway).
MAX_STORED_MESSAGES = 1000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Settled:
    """What settling handles found: items accepted, refused and not applied (a warning said a value was ignored),
    the handles still running, and the advisory warnings (which hold nothing back)."""

    synced: int = 0
    failed: int = 0
    not_applied: int = 0
    pending_handles: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    advisories: list[str] = field(default_factory=list)

    def add(self, other: Settled) -> None:
        """Add another result's counts."""
        self.synced += other.synced
        self.failed += other.failed
        self.not_applied += other.not_applied
        self.pending_handles += other.pending_handles
        self.failures += other.failures
        self.advisories += other.advisories


class BatchLog:
    """The log of one catalog's ``items_batch`` calls: ``fb_batch_requests`` and ``fb_batch_request_items``."""

    def __init__(self, engine: Engine, catalog_id: str) -> None:
        self.engine = engine
        self.catalog_id = catalog_id

    # --- before and after a call ----------------------------------------------------------------------------

    def reserve(self, plan: BatchPlan, run_id: str | None) -> str:
        """Store a call before it is sent; return its provisional key."""
        key = f"{UNSENT_PREFIX}{uuid.uuid4().hex}"
        with self.engine.begin() as connection:
            connection.execute(
                sa.insert(REQUESTS).values(
                    handle=key,
                    catalog_id=self.catalog_id,
                    item_type=ITEM_TYPE,
                    run_id=run_id,
                    request_count=len(plan.requests),
                    status=SENDING,
                    sent_at=_now(),
                )
            )
            connection.execute(
                sa.insert(ITEMS),
                [
                    {
                        "handle": key,
                        "retailer_id": c.retailer_id,
                        "method": c.method,
                        "status": PENDING,
                        **c.state_values(),
                    }
                    for c in plan.changes
                ],
            )
        return key

    def record_refused(self, run_id: str | None, refused: Mapping[str, tuple[str, str]]) -> str | None:
        """Store the products refused for bad source values (``{retailer_id: (method, message)}``) as failed items
        of the record ``refused:<run id>``, replacing what an earlier try of the same run stored; return its key
        (None when nothing was refused)."""
        key = f"{REFUSED_PREFIX}{run_id or uuid.uuid4().hex}"
        now = _now()
        with self.engine.begin() as connection:
            self._forget(connection, REQUESTS.c.handle == key)
            if not refused:
                return None
            connection.execute(
                sa.insert(REQUESTS).values(
                    handle=key,
                    catalog_id=self.catalog_id,
                    item_type=ITEM_TYPE,
                    run_id=run_id,
                    request_count=0,
                    status=REFUSED,
                    sent_at=now,
                    checked_at=now,
                    finished_at=now,
                )
            )
            rows = [
                {
                    "handle": key,
                    "retailer_id": retailer_id,
                    "method": method,
                    "status": FAILED,
                    "error_message": message,
                }
                for retailer_id, (method, message) in refused.items()
            ]
            for start in range(0, len(rows), _INSERT_CHUNK):
                connection.execute(sa.insert(ITEMS), rows[start : start + _INSERT_CHUNK])
        return key

    def confirm(self, key: str, handle: str) -> None:
        """Meta answered ``handle`` for the call stored under ``key``: move the record to it."""
        with self.engine.begin() as connection:
            reserved = connection.execute(sa.select(REQUESTS).where(REQUESTS.c.handle == key)).mappings().one()
            connection.execute(
                sa.insert(REQUESTS).values({**dict(reserved), "handle": handle, "status": None, "sent_at": _now()})
            )
            connection.execute(sa.update(ITEMS).where(ITEMS.c.handle == key).values(handle=handle))
            connection.execute(sa.delete(REQUESTS).where(REQUESTS.c.handle == key))

    def release(self, key: str) -> None:
        """The call stored under ``key`` was refused (nothing reached the catalog): forget it."""
        with self.engine.begin() as connection:
            self._forget(connection, REQUESTS.c.handle == key)

    @staticmethod
    def _forget(connection: Connection, which: sa.ColumnElement[bool]) -> int:
        keys = sa.select(REQUESTS.c.handle).where(which)
        connection.execute(sa.delete(ITEMS).where(ITEMS.c.handle.in_(keys)))
        return connection.execute(sa.delete(REQUESTS).where(which)).rowcount

    # --- at the start of a run ------------------------------------------------------------------------------

    def drop_unconfirmed(self) -> int:
        """Remove the provisional records a killed task left (their changes are still in the delta)."""
        which = sa.and_(REQUESTS.c.catalog_id == self.catalog_id, REQUESTS.c.status == SENDING)
        with self.engine.begin() as connection:
            runs = connection.execute(
                sa.select(REQUESTS.c.run_id, sa.func.sum(REQUESTS.c.request_count))
                .where(which)
                .group_by(REQUESTS.c.run_id)
            ).all()
            dropped = self._forget(connection, which)
        for run_id, requests in runs:
            log.warning(
                "Run %s stopped while sending %s inventory changes (no handle recorded): they may have reached "
                "Meta; they are sent again if still different (absolute values: a repeat changes nothing)",
                run_id,
                requests,
            )
        return dropped

    def abandon_stale(self, older_than: dt.timedelta) -> list[str]:
        """Give up on handles sent longer than ``older_than`` ago that never finished; their items fail and,
        still being different, go out again with the next delta."""
        limit = _now() - older_than
        with self.engine.begin() as connection:
            stale = [
                handle
                for handle, status in connection.execute(
                    sa.select(REQUESTS.c.handle, REQUESTS.c.status).where(
                        REQUESTS.c.catalog_id == self.catalog_id, REQUESTS.c.sent_at < limit
                    )
                )
                if status != SENDING and is_pending(status)
            ]
            for handle in stale:
                self._close(connection, handle, ABANDONED)
                self._fail_pending(connection, handle, f"no final status from Meta within {older_than}")
        if stale:
            log.warning("Gave up on %d batch handle(s) without a final status: %s", len(stale), ", ".join(stale))
        return stale

    def outstanding(self) -> list[str]:
        """Handles sent but not settled, oldest first (settled in that order, so a later value wins)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(REQUESTS.c.handle, REQUESTS.c.status)
                .where(REQUESTS.c.catalog_id == self.catalog_id)
                .where(sa.or_(REQUESTS.c.status.is_(None), REQUESTS.c.status != SENDING))
                .where(REQUESTS.c.finished_at.is_(None))
                .order_by(REQUESTS.c.sent_at, REQUESTS.c.handle)
            ).all()
        return [handle for handle, status in rows if is_pending(status)]

    # --- settling -------------------------------------------------------------------------------------------

    def settle(self, status: BatchStatus) -> Settled:
        """Record ``status``; when the handle finished, mark its items and update the sync state (one
        transaction)."""
        now = _now()
        with self.engine.begin() as connection:
            self._record(connection, status, now)
            if status.pending:
                return Settled(pending_handles=[status.handle])
            if status.succeeded:
                self._mark_invalid(connection, status)
                self._mark_not_applied(connection, status)
                connection.execute(
                    sa.update(ITEMS)
                    .where(ITEMS.c.handle == status.handle, ITEMS.c.status == PENDING)
                    .values(status=SYNCED)
                )
            else:
                self._fail_pending(connection, status.handle, f"the batch ended with status {status.status}")
            apply_batch(connection, status.handle, now)
            counts: dict[str, int] = dict(
                connection.execute(
                    sa.select(ITEMS.c.status, sa.func.count())
                    .where(ITEMS.c.handle == status.handle)
                    .group_by(ITEMS.c.status)
                ).all()
            )
            failures = [
                f"{retailer_id}: {message}"
                for retailer_id, message in connection.execute(
                    sa.select(ITEMS.c.retailer_id, ITEMS.c.error_message)
                    .where(ITEMS.c.handle == status.handle, ITEMS.c.status.in_((FAILED, NOT_APPLIED)))
                    .order_by(ITEMS.c.retailer_id)
                    .limit(5)
                )
            ]
        return Settled(
            synced=counts.get(SYNCED, 0),
            failed=counts.get(FAILED, 0),
            not_applied=counts.get(NOT_APPLIED, 0),
            failures=failures,
            advisories=status.advisories()[:5],
        )

    def _record(self, connection: Connection, status: BatchStatus, now: dt.datetime) -> None:
        values = {
            "status": status.status or None,
            "errors_total_count": status.errors_total_count,
            "warnings_total_count": status.warnings_total_count,
            "ids_of_invalid_requests": status.invalid_ids,
            "errors": status.errors[:MAX_STORED_MESSAGES],
            "warnings": status.warnings[:MAX_STORED_MESSAGES],
            "checked_at": now,
            "check_attempts": REQUESTS.c.check_attempts + 1,
            "raw": status.summary(),
        }
        if not status.pending:
            values["finished_at"] = now
        connection.execute(sa.update(REQUESTS).where(REQUESTS.c.handle == status.handle).values(values))

    @staticmethod
    def _mark_invalid(connection: Connection, status: BatchStatus) -> None:
        """Items Meta named invalid fail with its message, except a DELETE of an item that is already gone."""
        messages = status.messages_by_id()
        updates = [
            {"h": status.handle, "r": retailer_id, "m": messages.get(retailer_id, "invalid request (no message)")}
            for retailer_id in dict.fromkeys(status.invalid_ids)
        ]
        if not updates:
            return
        connection.execute(
            sa.update(ITEMS)
            .where(ITEMS.c.handle == sa.bindparam("h"), ITEMS.c.retailer_id == sa.bindparam("r"))
            .values(status=FAILED, error_message=sa.bindparam("m")),
            updates,
        )
        gone = [u["r"] for u in updates if already_gone(u["m"])]
        if gone:
            connection.execute(
                sa.update(ITEMS)
                .where(ITEMS.c.handle == status.handle, ITEMS.c.method == DELETE, ITEMS.c.retailer_id.in_(gone))
                .values(status=SYNCED)
            )

    @staticmethod
    def _mark_not_applied(connection: Connection, status: BatchStatus) -> None:
        """Items a warning says Meta did not fully apply stay unsynced, with the warning as their message."""
        messages = status.not_applied_by_id()
        if not messages:
            return
        if "" in messages:  # a warning without an id may concern any item of the handle: none counts as synced
            connection.execute(
                sa.update(ITEMS)
                .where(ITEMS.c.handle == status.handle, ITEMS.c.status == PENDING)
                .values(status=NOT_APPLIED, error_message=f"Meta did not apply a value (warning): {messages['']}")
            )
            return
        connection.execute(
            sa.update(ITEMS)
            .where(
                ITEMS.c.handle == sa.bindparam("h"), ITEMS.c.retailer_id == sa.bindparam("r"), ITEMS.c.status == PENDING
            )
            .values(status=NOT_APPLIED, error_message=sa.bindparam("m")),
            [
                {"h": status.handle, "r": retailer_id, "m": f"Meta did not apply a value (warning): {message}"}
                for retailer_id, message in messages.items()
            ],
        )

    @staticmethod
    def _fail_pending(connection: Connection, handle: str, message: str) -> None:
        connection.execute(
            sa.update(ITEMS)
            .where(ITEMS.c.handle == handle, ITEMS.c.status == PENDING)
            .values(status=FAILED, error_message=message)
        )

    @staticmethod
    def _close(connection: Connection, handle: str, status: str) -> None:
        connection.execute(
            sa.update(REQUESTS).where(REQUESTS.c.handle == handle).values(status=status, finished_at=_now())
        )
