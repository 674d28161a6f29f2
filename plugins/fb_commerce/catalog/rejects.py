"""Rejected products: one record per bad field, a running tally, and the check that fails a feed with too many.

A product with several problems yields several :class:`Reject` records (the first problem of each field) but counts
as one rejected row. Records are shaped for the ``fb_feed_rejects`` table (:meth:`Reject.as_row`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

#: How much of an offending value a reject keeps: enough to recognise it, never a whole description.
MAX_VALUE_CHARS = 120
DEFAULT_REJECT_LIMIT = 0.05

# Control characters are shown escaped: PostgreSQL text cannot hold NUL, and a reader cannot see the others.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0B-\x1F\x7F]")


def shorten(value: str | None, limit: int = MAX_VALUE_CHARS) -> str | None:
    """``value`` cut to ``limit`` characters (with "…" when cut) and its control characters escaped as ``\\xNN``."""
    if value is None:
        return None
    cut = value if len(value) <= limit else value[: limit - 1] + "…"
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", cut)


@dataclass(frozen=True)
class Reject:
    """One bad field of one product.

    ``row_number`` is the 1-based position of the product in the mapping's result; ``retailer_id`` is the product's
    id when the id itself is usable (None when the id is missing or invalid: then the row number identifies it).
    ``reason`` is a stable, human-readable sentence without the value (so rejects can be counted by reason);
    ``value`` is the offending value, shortened.
    """

    row_number: int
    retailer_id: str | None
    field: str
    reason: str
    value: str | None

    def as_row(self, run_id: str | None = None) -> dict[str, object]:
        """The record as a ``fb_feed_rejects`` row (``run_id`` added when given)."""
        row: dict[str, object] = asdict(self)
        if run_id is not None:
            row["run_id"] = run_id
        return row

    def __str__(self) -> str:
        who = f"id {self.retailer_id!r}" if self.retailer_id is not None else "bad id"
        shown = "" if self.value is None else f": {self.value!r}"
        return f"row {self.row_number} ({who}) {self.field}: {self.reason}{shown}"


@dataclass(frozen=True)
class ReasonCount:
    """How many rows were rejected for one reason of one field."""

    field: str
    reason: str
    rows: int

    def __str__(self) -> str:
        return f"{self.field}: {self.reason} ({self.rows:,} rows)"


@dataclass(frozen=True)
class RejectSummary:
    """Counts of a feed build: rows read, written and rejected, and the most frequent reasons."""

    rows_read: int
    rows_written: int
    rows_rejected: int
    top_reasons: tuple[ReasonCount, ...] = field(default_factory=tuple)

    @property
    def share_rejected(self) -> float:
        """Rejected rows over rows read (0 for an empty source)."""
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0

    def describe(self) -> str:
        """One line for a task log: counts, share and the top reasons."""
        text = (
            f"{self.rows_read:,} products read, {self.rows_written:,} written, {self.rows_rejected:,} rejected "
            f"({self.share_rejected:.2%})"
        )
        if self.top_reasons:
            text += "; top reasons: " + "; ".join(str(r) for r in self.top_reasons)
        return text

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form (for XCom and reports)."""
        return {
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "rows_rejected": self.rows_rejected,
            "share_rejected": round(self.share_rejected, 6),
            "top_reasons": [asdict(r) for r in self.top_reasons],
        }


class FeedError(Exception):
    """A feed could not be built; the message says why and what to do."""


class TooManyRejectsError(FeedError):
    """More products were rejected than the configured share allows. ``summary`` has the counts."""

    def __init__(self, summary: RejectSummary, limit: float) -> None:
        self.summary = summary
        self.limit = limit
        reasons = "; ".join(str(r) for r in summary.top_reasons) or "none recorded"
        super().__init__(
            f"{summary.rows_rejected:,} of {summary.rows_read:,} products ({summary.share_rejected:.2%}) were "
            f"rejected, above the limit of {limit:.2%}. Top reasons: {reasons}. Fix the products or the feed "
            f"mapping (include/sql/catalog/feed_mapping.sql); every reject is listed with its row, field and value "
            f"in fb_feed_rejects. The feed file was not replaced."
        )


class RejectTally:
    """Running counts over the batches of one feed build, in constant memory (counts per reason, not records)."""

    def __init__(self) -> None:
        self.rows_read = 0
        self.rows_written = 0
        self.rows_rejected = 0
        self._reasons: Counter[tuple[str, str]] = Counter()

    def add(self, rows_read: int, rows_written: int, rejects: Iterable[Reject]) -> None:
        """Count one batch. Each (row, field, reason) counts once, so ``_reasons`` counts rows per reason."""
        self.rows_read += rows_read
        self.rows_written += rows_written
        self.rows_rejected += rows_read - rows_written
        self._reasons.update((r.field, r.reason) for r in rejects)

    def summary(self, top: int = 5) -> RejectSummary:
        """The counts so far, with the ``top`` most frequent reasons."""
        reasons = tuple(ReasonCount(f, r, n) for (f, r), n in self._reasons.most_common(top))
        return RejectSummary(self.rows_read, self.rows_written, self.rows_rejected, reasons)


def check_reject_share(summary: RejectSummary, limit: float | None = DEFAULT_REJECT_LIMIT) -> None:
    """Raise :class:`TooManyRejectsError` when the share of rejected rows is above ``limit`` (None: never)."""
    if limit is not None and summary.share_rejected > limit:
        raise TooManyRejectsError(summary, limit)
