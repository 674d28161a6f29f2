"""Operator of the fb_inventory_sync DAG: thin glue between Airflow and the workflow of
:mod:`fb_commerce.catalog.inventory_sync`.

Heavy imports happen inside the methods, so the DAG file stays cheap to parse. Waiting for Meta's batch handles
is deferred to :class:`~fb_commerce.triggers.catalog.BatchStatusTrigger`: no worker slot is held.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fb_commerce.operators.base import FbCommerceOperator, releases_warehouse
from fb_commerce.settings import as_int

if TYPE_CHECKING:
    from fb_commerce.catalog.inventory_sync import InventorySync
    from fb_commerce.hooks.graph import FbCommerceHook


class InventorySyncOperator(FbCommerceOperator):
    """Sends the inventory delta through ``items_batch`` and marks products synced once Meta accepted them.

    1. handles that earlier runs sent but did not settle (a killed task, a throttled retry) are awaited
       (deferred) and settled first, so nothing sent is sent again;
    2. the delta between the inventory source and fb_catalog_sync_state is computed in SQL; UPDATEs and DELETEs
       go out in calls of at most ``batch_size`` requests (and 27 MB), each recorded before and after the call;
       nothing changed means no call at all;
    3. deferral until every handle finished; then each item is marked synced, failed (Meta's message) or
       not_applied (a per-item warning said a value was ignored) in fb_batch_request_items, and only the synced
       ones update fb_catalog_sync_state; the others go out again next run.

    Before the delta, products of orders whose cancellation restocked them at Meta are read back from the
    catalog, so the delta corrects what Meta raised by itself.

    When Meta throttles the Catalog Batch API (80014) the client backs off; when it asks for a long wait the
    task ends with GraphRateLimitWait and Airflow retries it after that wait (the calls already made are settled
    by the retry).

    :param fb_conn_id: the Graph API connection (templated).
    :param warehouse_conn_id: the warehouse connection (templated).
    :param batch_size: requests per ``items_batch`` call, at most 5000 (templated).
    :param source: the inventory source SQL or .sql path; default include/sql/catalog/inventory_source.sql.
    :param poll_interval: longest pause between two status checks, in seconds.
    :param timeout: how long to wait for the handles of one run.
    :param abandon_after: handles without a final status after this long are given up (their changes go again).
    """

    template_fields: Sequence[str] = (*FbCommerceOperator.template_fields, "batch_size", "source")

    def __init__(
        self,
        *,
        batch_size: int | str = 3000,
        source: str | None = None,
        poll_interval: float = 15.0,
        timeout: dt.timedelta = dt.timedelta(hours=1),
        abandon_after: dt.timedelta = dt.timedelta(hours=24),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch_size = batch_size
        self.source = source
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.abandon_after = abandon_after

    def _sync(self, context: Any) -> tuple[InventorySync, FbCommerceHook]:
        from fb_commerce.catalog.inventory_sync import InventorySync
        from fb_commerce.graph.surface import ITEMS_BATCH_MAX_REQUESTS

        size = self.setting("batch_size", as_int, minimum=1, maximum=ITEMS_BATCH_MAX_REQUESTS)
        graph = self.graph()
        sync = InventorySync(
            self.warehouse(),
            graph.client,
            graph.catalog_id,
            run_id=context["run_id"],
            source=self.source or None,
            batch_size=size,
            abandon_after=self.abandon_after,
        )
        return sync, graph

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, Any] | None:
        sync, graph = self._sync(context)
        earlier = sync.prepare()
        if earlier:
            self.log.info("Settling %d batch handle(s) earlier runs sent before computing a new delta", len(earlier))
            self._wait(sync.catalog_id, earlier, "earlier_finished")
        return self._send(sync, graph)

    def _wait(self, catalog_id: str, handles: list[str], method_name: str, **kwargs: Any) -> None:
        from fb_commerce.triggers.catalog import BatchStatusTrigger

        self.defer(
            trigger=BatchStatusTrigger(
                catalog_id,
                handles,
                fb_conn_id=self.fb_conn_id,
                poll_interval=self.poll_interval,
                end_time=time.time() + self.timeout.total_seconds(),
            ),
            method_name=method_name,
            kwargs=kwargs or None,
            timeout=self.timeout + dt.timedelta(minutes=5),
        )

    def _settle(self, sync: InventorySync, event: dict[str, Any], method_name: str, **kwargs: Any) -> Any:
        from fb_commerce.catalog.inventory_sync import describe_settled

        if event.get("status") != "success":
            from airflow.sdk.exceptions import AirflowException

            # Retried: the next try settles the same handles first.
            raise AirflowException(f"Waiting for the batch handles failed: {event.get('message')}")
        settled = sync.settle(event["handles"])
        self.log.info("Batch handles settled: %s", describe_settled(settled))
        if settled.pending_handles:
            self._wait(sync.catalog_id, settled.pending_handles, method_name, **kwargs)
        return settled

    @releases_warehouse
    def earlier_finished(self, context: Any, event: dict[str, Any]) -> dict[str, Any] | None:
        """Resumed when the earlier runs' handles finished: settle them, then send this run's delta."""
        sync, graph = self._sync(context)
        self._settle(sync, event, "earlier_finished")
        return self._send(sync, graph)

    def _send(self, sync: InventorySync, graph: FbCommerceHook) -> dict[str, Any] | None:
        sent = sync.send()
        self.log.info("%s", sent.describe())
        graph.log_summary()
        counts = {
            "updates": sent.counts.updates,
            "deletes": sent.counts.deletes,
            "new_products": sent.counts.new_products,
            "invalid": sent.counts.invalid,
            "calls": len(sent.handles),
            "restocks_read": sent.restocks.read,
            "restocks_corrected": sent.restocks.corrected,
        }
        if not sent.handles:
            return {**counts, "synced": 0, "failed": 0, "not_applied": 0}
        self._wait(sync.catalog_id, sent.handles, "sent_finished", counts=counts)
        return None

    @releases_warehouse
    def sent_finished(
        self, context: Any, event: dict[str, Any], counts: dict[str, int] | None = None
    ) -> dict[str, Any]:
        """Resumed when this run's handles finished: mark items synced or failed and update the sync state."""
        sync, graph = self._sync(context)
        settled = self._settle(sync, event, "sent_finished", counts=counts)
        graph.log_summary()
        result = {
            **(counts or {}),
            "synced": settled.synced,
            "failed": settled.failed,
            "not_applied": settled.not_applied,
        }
        if settled.failed:
            self.log.warning(
                "%d changes were refused by Meta; they stay different and go out again next run. Messages are in "
                "fb_batch_request_items (status 'failed')",
                settled.failed,
            )
        if settled.not_applied:
            self.log.warning(
                "%d changes were taken by Meta with a warning that a value was not applied (e.g. %s); they are "
                "not marked synced and go out again next run. Warnings are in fb_batch_request_items (status "
                "'not_applied')",
                settled.not_applied,
                "; ".join(settled.failures[:3]),
            )
        return result
