"""An event trigger that notices new CREATED orders, so fb_orders_sync runs within a minute of one appearing.

It runs in the triggerer behind an ``AssetWatcher`` (docs/airflow.md §1.2, §7). Every ``poll_interval``
seconds it asks Meta for CREATED orders updated since the newest one it has seen
(``commerce_orders?state=CREATED&limit=25&fields=id,last_updated&updated_after=...``): one small call, no paging
through the shop's orders. When one it has not seen comes back it yields a ``TriggerEvent`` (the watcher turns it
into an asset event, which starts a DAG run) and goes on polling from that order's ``last_updated``. Orders it
misses (more than a page at once) are still pulled by that run, or by the 5-minute schedule.

It has no side effects (a trigger may run twice): it reads, and remembers only in memory where it got to. After
a restart it looks back ``lookback_seconds``, so an order that appeared meanwhile still fires. The Graph calls
are the project's synchronous client run in a worker thread, never blocking the triggerer's event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from fb_commerce.defaults import GRAPH_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from fb_commerce.graph.client import GraphClient

#: orders per poll: a handful, in case several arrive in the same second
PAGE_SIZE = 25
#: how many pages an empty-but-not-finished listing is followed before the poll gives up until the next one
MAX_PAGES_PER_POLL = 20


def _client_for(conn: Connection) -> tuple[GraphClient, str]:
    """The Graph client and commerce account of a connection (imports the hook module: run it off the loop)."""
    from fb_commerce.graph.errors import GraphError
    from fb_commerce.hooks.graph import client_from_connection, connection_extra

    cms_id = connection_extra(conn, "cms_id")
    if not cms_id:
        raise GraphError(f"Connection {conn.conn_id} has no cms_id: set it in the connection's extra")
    client = client_from_connection(conn)
    # A poll repeats soon anyway: fail fast instead of retrying for minutes inside one poll.
    client.settings.max_attempts = min(client.settings.max_attempts, 2)
    return client, str(cms_id)


def created_orders_since(client: GraphClient, cms_id: str, second: int) -> list[dict[str, Any]]:
    """CREATED orders (id, last_updated) updated in or after the Unix ``second``: one small page, or the first
    non-empty one (a filtered listing may answer an empty page that still has a next)."""
    from fb_commerce.orders.pull import orders_path
    from fb_commerce.orders.states import CREATED

    params = {"state": CREATED, "updated_after": second - 1}
    pages = client.iter_pages(orders_path(cms_id), fields="id,last_updated", params=params, limit=PAGE_SIZE)
    for number, page in enumerate(pages):
        data = page.get("data") or []
        if data or number + 1 >= MAX_PAGES_PER_POLL:
            return data
    return []


class NewOrders:
    """Where the polls got to: the newest second seen, and the orders seen in it (``updated_after`` is in whole
    seconds, so orders of that second come back on the next poll and must not count as new again)."""

    def __init__(self, since: int) -> None:
        self.since = since
        self.seen: set[str] = set()

    def take(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The orders not seen before; the position moves to the newest of them."""
        from fb_commerce.orders.values import timestamp

        fresh = []
        for order in orders:
            updated = timestamp(order.get("last_updated"))
            second = int(updated.timestamp()) if updated else self.since
            if second < self.since or (second == self.since and str(order["id"]) in self.seen):
                continue
            fresh.append((second, order))
        if fresh:
            newest = max(second for second, _ in fresh)
            if newest > self.since:
                self.since, self.seen = newest, set()
            self.seen.update(str(order["id"]) for second, order in fresh if second == newest)
        return [order for _, order in fresh]


class NewOrdersTrigger(BaseEventTrigger):
    """Fires when a CREATED order appears at Meta.

    :param fb_conn_id: the Graph API connection (token, app secret, cms_id).
    :param poll_interval: seconds between polls.
    :param lookback_seconds: on start, orders updated this long ago already count as new.
    :param max_consecutive_failures: polls that may fail in a row before the trigger raises (the triggerer then
        logs it and restarts the watcher).
    """

    def __init__(
        self,
        fb_conn_id: str = GRAPH_CONN_ID,
        poll_interval: float = 20.0,
        lookback_seconds: float = 120.0,
        max_consecutive_failures: int = 10,
    ) -> None:
        super().__init__()
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        if max_consecutive_failures < 1:
            raise ValueError("max_consecutive_failures must be at least 1")
        self.fb_conn_id = fb_conn_id
        self.poll_interval = poll_interval
        self.lookback_seconds = lookback_seconds
        self.max_consecutive_failures = max_consecutive_failures

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "fb_conn_id": self.fb_conn_id,
                "poll_interval": self.poll_interval,
                "lookback_seconds": self.lookback_seconds,
                "max_consecutive_failures": self.max_consecutive_failures,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.sdk import BaseHook

        from fb_commerce.graph.errors import GraphError

        conn = await BaseHook.aget_connection(self.fb_conn_id)
        client, cms_id = await asyncio.to_thread(_client_for, conn)
        position = NewOrders(int(time.time() - self.lookback_seconds))
        failures = 0
        while True:
            try:
                listed = await asyncio.to_thread(created_orders_since, client, cms_id, position.since)
            except GraphError as exc:
                failures += 1
                if failures >= self.max_consecutive_failures:
                    raise
                self.log.warning("Poll for new orders failed (%d/%d): %s", failures, self.max_consecutive_failures, exc)
            else:
                failures = 0
                # Taken before yielding: the generator may never be resumed.
                fresh = position.take(listed)
                if fresh:
                    ids = [str(order["id"]) for order in fresh]
                    self.log.info("New CREATED orders %s: starting fb_orders_sync", ", ".join(ids))
                    yield TriggerEvent({"order_id": ids[0], "order_ids": ids, "cms_id": cms_id})
            await asyncio.sleep(self.poll_interval)
