"""Which product ids a feed has already seen, in bounded memory.

A Python ``set`` of a million short strings costs about 100 MB; this keeps one 64-bit hash per id in a sorted numpy
array instead (8 MB per million ids), checked with a binary search per batch. Hashes are Python's own string hash
(SipHash, 64 bits, seeded per process: fine, the registry lives for one feed build). Two different ids share a hash
with a probability of about n²/2⁶⁵ (3·10⁻⁸ for a million ids); the cost of that is one good product wrongly reported
as a duplicate, visible in the rejects with its id.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


class IdRegistry:
    """The ids seen so far; :meth:`first_seen` tells which ids of a batch are new and remembers them."""

    def __init__(self) -> None:
        self._hashes = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self._hashes.size)

    @property
    def nbytes(self) -> int:
        """Memory held by the registry."""
        return int(self._hashes.nbytes)

    def first_seen(self, ids: pa.Array) -> np.ndarray:
        """For each id (in order): True when no earlier id (in this call or a previous one) was the same.

        Nulls must be filtered out by the caller: a missing id is not an id.
        """
        count = len(ids)
        if count == 0:
            return np.zeros(0, dtype=bool)
        hashes = np.fromiter(map(hash, ids.to_pylist()), dtype=np.int64, count=count)
        # A stable sort keeps equal hashes in input order, so the first of each run is the earliest row.
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        first_in_batch = np.ones(count, dtype=bool)
        first_in_batch[1:] = ordered[1:] != ordered[:-1]
        seen_before = np.zeros(count, dtype=bool)
        if self._hashes.size:
            at = np.searchsorted(self._hashes, ordered)
            inside = at < self._hashes.size
            seen_before[inside] = self._hashes[at[inside]] == ordered[inside]
        new = first_in_batch & ~seen_before
        additions = ordered[new]  # sorted, so np.insert keeps the registry sorted in one O(n) pass
        self._hashes = np.insert(self._hashes, np.searchsorted(self._hashes, additions), additions)
        result = np.empty(count, dtype=bool)
        result[order] = new
        return result
