"""One inventory sync, step by step: settle what earlier runs sent, send the new delta, settle it.

The Airflow operator runs these steps with a deferral between sending and settling (the trigger waits for the
handles); the benchmark and tests run them with :func:`wait_for_handles` in between. Nothing here imports
Airflow.

    sync = InventorySync(engine, client, catalog_id, run_id="manual")
    earlier = sync.prepare()              # handles from killed or slow earlier runs
    sync.settle(earlier)
    sent = sync.send()                    # restocks read back, delta -> items_batch calls, recorded
    sync.settle(wait_for_handles(client, catalog_id, sent.handles))
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from fb_commerce.catalog.batch_calls import read_status, send_batch
from fb_commerce.catalog.batch_log import BatchLog, Settled
from fb_commerce.catalog.inventory_delta import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_BYTES,
    BatchPlan,
    DeltaCounts,
    iter_delta,
    load_source,
    plan_batches,
    sendable,
)
from fb_commerce.catalog.inventory_restocks import Restocks, read_back_restocks
from fb_commerce.graph.client import GraphClient

log = logging.getLogger(__name__)

#: Handles that have not finished after this long are given up (their changes go out again).
DEFAULT_ABANDON_AFTER = dt.timedelta(hours=24)


@dataclass
class Sent:
    """What :meth:`InventorySync.send` did: the delta's counts, the handles, the calls made."""

    counts: DeltaCounts
    handles: list[str] = field(default_factory=list)
    requests_sent: int = 0
    restocks: Restocks = field(default_factory=Restocks)

    def describe(self) -> str:
        """One line for a task log."""
        if not self.handles:
            text = f"Inventory delta: {self.counts.describe()}; nothing to send, no call made"
        else:
            text = (
                f"Inventory delta: {self.counts.describe()}; sent {self.requests_sent:,} changes in "
                f"{len(self.handles)} items_batch call(s)"
            )
        return f"{text}; {self.restocks.describe()}"


class InventorySync:
    """The inventory sync of one catalog against one warehouse.

    :param engine: the warehouse (holds the source, the sync state and the batch records).
    :param client: the Graph API client.
    :param catalog_id: the catalog the products are in.
    :param run_id: recorded on every call (the Airflow run).
    :param source: the inventory source SQL (text or path); default include/sql/catalog/inventory_source.sql.
    :param batch_size: requests per call (at most 5000).
    :param max_bytes: JSON bytes per call (under Meta's 28 MB).
    """

    def __init__(
        self,
        engine: Engine,
        client: GraphClient,
        catalog_id: str,
        *,
        run_id: str | None = None,
        source: str | Path | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_bytes: int = DEFAULT_MAX_BYTES,
        abandon_after: dt.timedelta = DEFAULT_ABANDON_AFTER,
    ) -> None:
        self.engine = engine
        self.client = client
        self.catalog_id = catalog_id
        self.run_id = run_id
        self.source = source
        self.batch_size = batch_size
        self.max_bytes = max_bytes
        self.abandon_after = abandon_after
        self.batch_log = BatchLog(engine, catalog_id)

    def prepare(self) -> list[str]:
        """Clean up after earlier runs; return the handles they sent that are not settled yet."""
        self.batch_log.drop_unconfirmed()
        self.batch_log.abandon_stale(self.abandon_after)
        return self.batch_log.outstanding()

    def send(self) -> Sent:
        """Read back the products Meta restocked, compute the delta and send it; every call is recorded before
        and after it is made.

        A refused call (throttled for long, 80014; invalid) is released and its error raised: the calls made before
        it stay recorded and are settled by the next attempt.
        """
        counts = DeltaCounts()
        sent = Sent(counts, restocks=self.read_back_restocks())
        # closing(): a refused call must not leave the delta's cursor (and its read transaction) open.
        try:
            with closing(iter_delta(self.engine, load_source(self.source))) as delta:
                for plan in plan_batches(sendable(delta, counts), self.batch_size, self.max_bytes):
                    self._send_one(plan, sent)
        finally:
            # Also when a call was refused: the products refused so far are stored (a retry replaces them).
            self._record_refused(counts)
        return sent

    def _record_refused(self, counts: DeltaCounts) -> None:
        key = self.batch_log.record_refused(self.run_id, counts.refused)
        if key is not None:
            log.warning(
                "%d products refused for bad source values, not sent (stored as failed in fb_batch_request_items, "
                "handle %s; e.g. %s)",
                len(counts.refused),
                key,
                " | ".join(counts.invalid_examples[:3]),
            )

    def read_back_restocks(self) -> Restocks:
        """Correct the sync state of products Meta restocked itself (see :mod:`inventory_restocks`), unless a
        handle is still outstanding: its UPDATE could land after the read."""
        if self.batch_log.outstanding():
            return Restocks(skipped=True)
        return read_back_restocks(self.engine, self.client, self.catalog_id)

    def _send_one(self, plan: BatchPlan, sent: Sent) -> None:
        """One call, recorded before and after."""
        key = self.batch_log.reserve(plan, self.run_id)
        try:
            handle = send_batch(self.client, self.catalog_id, plan)
        except Exception:
            # The call did not go through (or its answer was lost: then the delta sends it again).
            self.batch_log.release(key)
            log.warning(
                "items_batch call %d refused after %d changes were sent in %d call(s)",
                len(sent.handles) + 1,
                sent.requests_sent,
                len(sent.handles),
            )
            raise
        self.batch_log.confirm(key, handle)
        sent.handles.append(handle)
        sent.requests_sent += len(plan.requests)
        log.info("items_batch call %d: %d changes, handle %s", len(sent.handles), len(plan.requests), handle)

    def settle(self, handles: Sequence[str]) -> Settled:
        """Read each handle's status (with the invalid ids) and record it; finished handles update the state."""
        total = Settled()
        for handle in handles:
            total.add(self.batch_log.settle(read_status(self.client, self.catalog_id, handle)))
        return total


def describe_settled(settled: Settled) -> str:
    """One line for a task log."""
    text = f"{settled.synced:,} changes accepted by Meta and marked synced, {settled.failed:,} refused"
    if settled.not_applied:
        text += f", {settled.not_applied:,} not applied (a warning said a value was ignored; sent again next run)"
    if settled.failures:
        text += " (e.g. " + "; ".join(settled.failures[:5]) + ")"
    if settled.advisories:
        text += "; advisory warnings (nothing held back): " + "; ".join(settled.advisories[:3])
    if settled.pending_handles:
        text += f"; {len(settled.pending_handles)} handle(s) still running"
    return text


def wait_for_handles(
    client: GraphClient,
    catalog_id: str,
    handles: Sequence[str],
    *,
    poll_interval: float = 1.0,
    timeout: float = 600.0,
) -> list[str]:
    """Block until every handle finished (outside Airflow: benchmark, scripts); return the handles.

    Raises TimeoutError naming the handles still running after ``timeout`` seconds.
    """
    waiting = list(handles)
    deadline = time.monotonic() + timeout
    while True:
        waiting = [h for h in waiting if read_status(client, catalog_id, h, load_ids=False).pending]
        if not waiting:
            return list(handles)
        if time.monotonic() > deadline:
            raise TimeoutError(f"batch handles still running after {timeout:.0f} s: {', '.join(waiting)}")
        time.sleep(poll_interval)
