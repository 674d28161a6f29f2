"""The feed build the DAG calls: mapped products → validation → feed file, streamed batch by batch.

    result = build_feed(warehouse_url, None, data_dir() / "feeds" / "catalog.csv", on_rejects=store)

reads the mapping (include/sql/catalog/feed_mapping.sql unless told otherwise) in record batches, validates each,
writes the good rows, hands the rejects of each batch to ``on_rejects`` (the DAG upserts them into fb_feed_rejects),
and finally fails with :class:`~fb_commerce.catalog.rejects.TooManyRejectsError` when the share of rejected
products passes ``reject_limit``. The feed file is replaced only by a complete, accepted feed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fb_commerce.catalog.feed import FORMATS, SUFFIXES, FeedFile, FeedFormat
from fb_commerce.catalog.mapping import load_query, mapping_options
from fb_commerce.catalog.rejects import (
    DEFAULT_REJECT_LIMIT,
    FeedError,
    Reject,
    RejectSummary,
    RejectTally,
    check_reject_share,
)
from fb_commerce.catalog.source import DEFAULT_BATCH_SIZE, Method, ProductSource
from fb_commerce.catalog.validate import FeedValidator

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

#: Log a progress line every this many batches (64k rows each by default).
PROGRESS_EVERY = 8


class EmptyFeedError(FeedError):
    """The mapping returned no products at all."""


@dataclass(frozen=True)
class FeedResult:
    """What a feed build produced: the file, its format and size, the counts, and how the source was read."""

    path: Path
    fmt: str
    columns: tuple[str, ...]
    summary: RejectSummary
    bytes_written: int
    seconds: float
    method: str

    @property
    def rows_read(self) -> int:
        """Products the mapping returned."""
        return self.summary.rows_read

    @property
    def rows_written(self) -> int:
        """Products in the feed file."""
        return self.summary.rows_written

    @property
    def rows_rejected(self) -> int:
        """Products left out (their reasons went to ``on_rejects``)."""
        return self.summary.rows_rejected

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form (XCom, reports)."""
        return {
            "path": str(self.path),
            "format": self.fmt,
            "columns": list(self.columns),
            "bytes_written": self.bytes_written,
            "seconds": round(self.seconds, 3),
            "method": self.method,
            **self.summary.as_dict(),
        }


def default_feed_path(fmt: FeedFormat = "csv") -> Path:
    """``<data dir>/feeds/catalog.<csv|tsv|xml>``."""
    from fb_commerce.warehouse.paths import data_dir

    return data_dir() / "feeds" / f"catalog{SUFFIXES[fmt]}"


def build_feed(
    source_url: str,
    query: str | Path | None,
    out_path: str | Path,
    *,
    fmt: FeedFormat = "csv",
    reject_limit: float | None = DEFAULT_REJECT_LIMIT,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_rejects: Callable[[list[Reject]], None] | None = None,
    method: Method = "auto",
    accept_sdk_values: bool = False,
    allow_empty: bool = False,
) -> FeedResult:
    """Build the validated feed file at ``out_path`` from the products that ``query`` maps out of ``source_url``.

    ``query`` is SQL text, a path to a .sql file, or None for include/sql/catalog/feed_mapping.sql. ``fmt`` is
    "csv", "tsv" or "xml" (RSS 2.0, g: namespace). ``on_rejects`` receives the rejects of each batch as they are
    found. Raises :class:`TooManyRejectsError` when more than ``reject_limit`` (a share, None for no limit) of the
    products are rejected, :class:`EmptyFeedError` when the mapping returns no product (an empty replace-feed would
    delete the whole catalog on Meta) unless ``allow_empty``, and
    :class:`~fb_commerce.catalog.validate.FeedMappingError` when a required column is absent. In every failure the
    previous file at ``out_path`` is left as it was.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown feed format {fmt!r}; use one of {', '.join(FORMATS)}")
    if reject_limit is not None and not 0 <= reject_limit <= 1:
        raise ValueError(f"reject_limit is a share between 0 and 1 (0.05 = 5%), not {reject_limit!r}")
    sql = load_query(query)
    options = mapping_options(sql)
    out = Path(out_path)
    started = time.monotonic()
    tally = RejectTally()
    with ProductSource(source_url, sql, batch_size=batch_size, method=method) as source:
        validator = FeedValidator(
            source.info.columns, accept_sdk_values=accept_sdk_values, allow_zero_price=options.allow_zero_price
        )
        log.info(
            "Building %s feed %s from %s (%d columns, read by %s)",
            fmt,
            out,
            _masked(source_url),
            len(validator.columns),
            source.info.method,
        )
        with FeedFile(out, validator.columns, fmt) as feed:
            number = 0
            # Not enumerate(): its reused result tuple would keep the previous batch alive during the next read.
            for batch in source:
                number += 1  # noqa: SIM113 - see above
                checked = validator.validate(batch)
                feed.write_all(checked.good_pieces())
                tally.add(checked.rows_read, checked.rows_good, checked.rejects)
                if checked.rejects and on_rejects is not None:
                    on_rejects(checked.rejects)
                if number % PROGRESS_EVERY == 0:
                    log.info(
                        "Feed progress: %d batches, %d products read, %d written, %d rejected (%.1f s)",
                        number,
                        tally.rows_read,
                        tally.rows_written,
                        tally.rows_rejected,
                        time.monotonic() - started,
                    )
                # Drop this batch before the source reads the next: two batches alive at once double peak memory.
                del batch, checked
            summary = tally.summary()
            if summary.rows_read == 0 and not allow_empty:
                raise EmptyFeedError(
                    "the feed mapping returned no products; an empty feed would delete every product of the catalog "
                    "on Meta, so none was written (check the source table and the mapping's WHERE clause)"
                )
            # Raising here, inside the FeedFile block, discards the new file and keeps the previous feed.
            check_reject_share(summary, reject_limit)
    result = FeedResult(
        out, fmt, validator.columns, summary, feed.bytes_written, time.monotonic() - started, source.info.method
    )
    # A warning when products were left out, so the run's log shows it among the task's other lines.
    log.log(
        logging.WARNING if summary.rows_rejected else logging.INFO,
        "Feed %s written in %.1f s, %d bytes: %s",
        out,
        result.seconds,
        result.bytes_written,
        summary.describe(),
    )
    return result


def _masked(url: str) -> str:
    from fb_commerce.warehouse.engine import mask_url

    return mask_url(url)


def build_recording_rejects(
    engine: Engine,
    run_id: str,
    source_url: str,
    query: str | Path | None,
    out_path: str | Path,
    *,
    fmt: FeedFormat = "csv",
    reject_limit: float | None = DEFAULT_REJECT_LIMIT,
) -> dict[str, Any]:
    """The build step of fb_catalog_feed: :func:`build_feed` with its rejects replacing those of ``run_id`` in
    fb_feed_rejects (also when the build fails: the rejects say why), and the build's counts returned.

    The engine's connections are closed before the build reads the source and after the rejects are stored
    (see :class:`~fb_commerce.catalog.upload_store.RejectSpool` for why). Raises what :func:`build_feed` raises.
    """
    from fb_commerce.catalog import upload_store

    cleared = upload_store.clear_rejects(engine, run_id)
    if cleared:
        log.info("Replacing the %d rejects an earlier try of run %s recorded", cleared, run_id)
    # No warehouse connection may stay open while the build reads an SQLite source (see RejectSpool).
    engine.dispose()
    failure: Exception | None = None
    with upload_store.RejectSpool() as spool:
        try:
            result = build_feed(source_url, query, out_path, fmt=fmt, reject_limit=reject_limit, on_rejects=spool.add)
        except (FeedError, ValueError) as exc:
            failure = exc
        stored = upload_store.store_rejects(engine, run_id, spool)
        engine.dispose()
    if stored:
        log.info("%d rejects stored in fb_feed_rejects (run_id = %s)", stored, run_id)
    if failure is not None:
        raise failure
    log.info("Feed built: %s (%s, %d bytes); %s", result.path, fmt, result.bytes_written, result.summary.describe())
    return {**result.as_dict(), "run_id": run_id}
