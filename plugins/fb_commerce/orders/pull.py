"""The incremental order pull: every order Meta changed since the watermark, in every state, page by page.

One ``commerce_orders`` listing asks for all four states (FB_PROCESSING orders are stored but never acted on),
every field docs/graph-api.md lists (``graph.surface.ORDER_FIELDS``, items inline) and the largest page size, from
``updated_after = watermark - overlap``. Each page is stored in its own transaction as it arrives, while the next
page is already being fetched (and, on PostgreSQL, mapped to rows), so the warehouse and the network work at the
same time. Each order's ``raw`` is the JSON text Meta sent for it, stored without being encoded again. The watermark
moves to the newest ``last_updated`` stored only after the last page is committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from fb_commerce.graph.client import DATA_TEXTS, GraphClient
from fb_commerce.graph.fields import FieldSpec
from fb_commerce.graph.surface import ORDER_FIELDS, ORDER_STATES
from fb_commerce.orders.reference import ReferenceGenerator, default_reference
from fb_commerce.orders.store import PageRows, StoredPage, store_page
from fb_commerce.warehouse.sync_state import (
    ORDERS_PULLED,
    ORDERS_WATERMARK,
    advance_watermark,
    unix_seconds,
    window_start,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_OVERLAP = dt.timedelta(minutes=15)
DEFAULT_LOOKBACK = dt.timedelta(days=30)
#: the largest page commerce_orders serves (docs/graph-api.md §1.3 gives none; 100 is the conservative cap)
MAX_PAGE_SIZE = 100
#: pages fetched and mapped ahead of the one being stored (about 2 MB each): a slow commit (an SQLite WAL
#: checkpoint) then no longer stops the fetching
PREFETCH_PAGES = 6


@dataclass
class PullResult(StoredPage):
    """What a pull did, in counts, plus the window it read and the watermark it left."""

    pages: int = 0
    updated_after: dt.datetime | None = None
    watermark: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (for XCom)."""
        return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in asdict(self).items()}


def orders_path(cms_id: str) -> str:
    """The commerce account's order listing."""
    return f"{cms_id}/commerce_orders"


def list_orders(
    client: GraphClient,
    cms_id: str,
    *,
    fields: FieldSpec,
    states: Sequence[str],
    since: dt.datetime,
    page_size: int = MAX_PAGE_SIZE,
    filters: str | None = None,
    texts: bool = False,
) -> Iterator[dict[str, Any]]:
    """Pages of ``commerce_orders`` in ``states`` updated after ``since``, at most 100 a page; with ``texts``,
    each order's JSON text as Meta sent it too (:meth:`GraphClient.iter_pages`)."""
    params: dict[str, Any] = {"state": ",".join(states), "updated_after": unix_seconds(since)}
    if filters:
        params["filters"] = filters
    return client.iter_pages(
        orders_path(cms_id),
        fields=fields,
        params=params,
        limit=max(1, min(page_size, MAX_PAGE_SIZE)),
        texts=texts,
    )


def prefetched(source: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Iterate ``source`` in a background thread, up to ``depth`` items ahead of the consumer.

    The consumer's work (storing a page) then overlaps the producer's waiting (the next HTTP call). An error in
    the producer is raised in the consumer at the point it happened; stopping early stops the producer.
    """
    buffer: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put(("item", item)):
                    return
            put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put(("error", exc))

    worker = threading.Thread(target=produce, name="fb-orders-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = buffer.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join(timeout=30)


@contextlib.contextmanager
def fewer_gc_passes(threshold: int = 50_000) -> Iterator[None]:
    """Let the cyclic garbage collector run less often for a while, then restore it.

    Decoded pages are many small dicts and lists with no reference cycles; with the default threshold (700
    allocations) the collector runs thousands of times per pull for nothing (about a tenth of the pull's CPU).
    """
    before = gc.get_threshold()
    gc.set_threshold(max(threshold, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def pull_orders(
    client: GraphClient,
    engine: Engine,
    cms_id: str,
    *,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
    lookback: dt.timedelta = DEFAULT_LOOKBACK,
    page_size: int = MAX_PAGE_SIZE,
    generator: ReferenceGenerator = default_reference,
    now: dt.datetime | None = None,
) -> PullResult:
    """Read every order changed since the watermark into fb_orders / fb_order_items; move the watermark.

    :param overlap: read this much before the watermark again (orders Meta lists late).
    :param lookback: how far back the first pull reads.
    :param page_size: orders per page (at most :data:`MAX_PAGE_SIZE`).
    :param generator: makes the merchant_order_reference of new orders.
    :param now: the current time (tests pass a fixed one).
    """
    now = now or dt.datetime.now(dt.UTC)
    updated_after = window_start(engine, ORDERS_WATERMARK, now=now, overlap=overlap, lookback=lookback)
    result = PullResult(updated_after=updated_after)
    pages = list_orders(
        client,
        cms_id,
        fields=ORDER_FIELDS,
        states=ORDER_STATES,
        since=updated_after,
        page_size=page_size,
        texts=True,  # fb_orders.raw is stored as Meta sent it, not encoded again
    )

    # PostgreSQL: the storing thread waits on the server and is the slower side, so the fetching thread maps the
    # pages and takes the bind processing off it. SQLite stores in-process faster than pages arrive: there the
    # fetching thread is the slower side (more work in it delays the next request), so the storing thread maps
    # and binds, and the fetching thread only fetches and decodes.
    ahead = engine.dialect if engine.dialect.name == "postgresql" else None

    def read(page: dict[str, Any]) -> PageRows:
        return PageRows.of(
            page.get("data") or [], synced_at=dt.datetime.now(dt.UTC), dialect=ahead, texts=page.get(DATA_TEXTS)
        )

    # One connection for every page (each committed in its own transaction), not a pool checkout and ping each.
    with fewer_gc_passes(), engine.connect() as connection:
        # On PostgreSQL mapped and bind-processed in the fetching thread: that CPU work overlaps the server's work
        # on the previous page.
        if ahead is not None:
            source = prefetched(map(read, pages), depth=PREFETCH_PAGES)
        else:
            source = map(read, prefetched(pages, depth=PREFETCH_PAGES))
        for rows in source:
            stored = store_page(connection, rows, generator=generator)
            result.pages += 1
            result.add(stored)
            log.debug("Page %d: %d orders (%d new), %d items", result.pages, stored.orders, stored.new, stored.items)
    # Every page is committed: only now may the watermark move.
    result.watermark = advance_watermark(engine, ORDERS_WATERMARK, result.newest, now=now)
    advance_watermark(engine, ORDERS_PULLED, now, now=now)  # the pull succeeded: the freshness alert follows it
    return result
