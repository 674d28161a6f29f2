"""The pull's window, its watermark, and the page prefetcher."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from fb_commerce.orders.pull import prefetched
from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.schema import metadata
from fb_commerce.warehouse.sync_state import advance_watermark, read_watermark, unix_seconds, updated_after

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def test_first_pull_looks_back_later_ones_overlap():
    window = {"now": NOW, "overlap": dt.timedelta(minutes=15), "lookback": dt.timedelta(days=30)}
    assert updated_after(None, **window) == NOW - dt.timedelta(days=30)
    assert updated_after(NOW - dt.timedelta(hours=1), **window) == NOW - dt.timedelta(hours=1, minutes=15)
    assert unix_seconds(dt.datetime(2026, 1, 1, 0, 0, 0, 999999, tzinfo=dt.UTC)) == 1767225600


def test_watermark_never_moves_backwards(tmp_path):
    engine = create_warehouse_engine(f"sqlite:///{tmp_path / 'w.db'}")
    metadata.create_all(engine)
    assert read_watermark(engine, "orders") is None
    assert advance_watermark(engine, "orders", None, now=NOW) is None
    assert advance_watermark(engine, "orders", NOW, now=NOW) == NOW
    assert advance_watermark(engine, "orders", NOW - dt.timedelta(days=1), now=NOW) == NOW
    later = NOW + dt.timedelta(seconds=1)
    assert advance_watermark(engine, "orders", later, now=NOW) == later == read_watermark(engine, "orders")
    assert read_watermark(engine, "orders_read_back") is None, "each sync keeps its own"


def test_prefetch_yields_everything_in_order_while_running_ahead():
    produced: list[int] = []

    def source():
        for n in range(5):
            produced.append(n)
            yield n

    items = prefetched(source(), depth=2)
    assert next(items) == 0
    deadline = time.monotonic() + 10  # the producer thread runs ahead on its own: wait for it, with a deadline
    while len(produced) < 3:
        assert time.monotonic() < deadline, "the next pages are fetched while the first is being stored"
        time.sleep(0.001)
    assert list(items) == [1, 2, 3, 4]


def test_prefetch_raises_the_producers_error_where_it_happened():
    def source():
        yield 1
        raise ValueError("page 2 failed")

    items = prefetched(source())
    assert next(items) == 1
    with pytest.raises(ValueError, match="page 2 failed"):
        next(items)


def test_stopping_early_stops_the_producer():
    def endless():
        n = 0
        while True:
            n += 1
            yield n

    items = prefetched(endless(), depth=1)
    assert next(items) == 1
    items.close()
    assert not any(t.name == "fb-orders-prefetch" and t.is_alive() for t in threading.enumerate())
