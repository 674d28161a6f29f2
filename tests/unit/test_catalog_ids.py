"""Id uniqueness across batches in bounded memory."""

from __future__ import annotations

import pyarrow as pa

from fb_commerce.catalog.ids import IdRegistry


def test_first_seen_within_and_across_batches() -> None:
    registry = IdRegistry()
    assert registry.first_seen(pa.array(["a", "b", "a", "c", "b"])).tolist() == [True, True, False, True, False]
    assert registry.first_seen(pa.array(["d", "a", "d", "e"])).tolist() == [True, False, False, True]
    assert registry.first_seen(pa.array([], pa.string())).tolist() == []
    assert len(registry) == 5


def test_case_and_whitespace_make_different_ids() -> None:
    assert IdRegistry().first_seen(pa.array(["A", "a", "a "])).all()


def test_memory_is_eight_bytes_per_distinct_id() -> None:
    registry = IdRegistry()
    for start in range(0, 200_000, 50_000):
        ids = pa.array([f"SKU-{i:08d}" for i in range(start, start + 50_000)])
        assert registry.first_seen(ids).all()
    assert len(registry) == 200_000
    assert registry.nbytes == 200_000 * 8
    assert not registry.first_seen(pa.array(["SKU-00000000", "SKU-00199999"])).any()
