"""Feed uploads on Meta's side (reference §2.1): the product feed, the upload, its session, errors and report.

Plain functions over :class:`~fb_commerce.graph.client.GraphClient`:

- :func:`find_feed` / :func:`create_feed`: the product feed to upload to, when the connection names none;
- :func:`start_upload`: the feed file as a streamed multipart ``file``, or the ``url`` where the merchant hosts it;
- :func:`read_session`: the session's counts (finished once it has an ``end_time``);
- :func:`read_errors`: the error sample of ``/{upload_id}/errors``;
- :func:`request_error_report`, :func:`read_report_status`, :func:`read_error_report`: the full error report;
- :func:`check_invalid_share`: fail when Meta refused too many products.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fb_commerce.catalog.rejects import FeedError
from fb_commerce.graph.client import GraphClient
from fb_commerce.graph.surface import UPLOAD_ERROR_FIELDS, UPLOAD_SESSION_FIELDS

#: The upload session field holding the full error report's state (reference §2.1; not in the surface registry).
ERROR_REPORT_FIELD = "error_report"
REPORT_FINISHED = "WRITE_FINISHED"
# Report states that mean "not written yet" (Meta documents only WRITE_FINISHED; NOT_REQUESTED may be seen for a
# moment after the request). Anything else is an end state.
REPORT_PENDING = frozenset({"", "NOT_REQUESTED", "REQUESTED", "WRITE_IN_PROGRESS", "IN_PROGRESS", "PENDING"})
CONTENT_TYPES = {"csv": "text/csv", "tsv": "text/tab-separated-values", "xml": "application/xml"}
FATAL = "fatal"
_COUNTS = tuple(f for f in UPLOAD_SESSION_FIELDS if f.endswith("_count") or f.startswith("num_"))


class TooManyFeedErrors(FeedError):
    """Meta refused more of the feed's products than the configured share allows."""


# --- the product feed ---------------------------------------------------------------------------------------


def find_feed(client: GraphClient, catalog_id: str, name: str) -> str | None:
    """The id of the catalog's product feed called ``name`` (the first one), or None."""
    for feed in client.paginate(f"{catalog_id}/product_feeds", fields=("id", "name")):
        if feed.get("name") == name:
            return str(feed["id"])
    return None


def create_feed(client: GraphClient, catalog_id: str, name: str) -> str:
    """Create a product feed called ``name`` in the catalog; return its id.

    Feed creation has no idempotency key: callers look for the name with :func:`find_feed` first, so a retried
    task finds the feed its first attempt made instead of making a second one.
    """
    return str(client.post(f"{catalog_id}/product_feeds", {"name": name})["id"])


# --- the upload and its session -----------------------------------------------------------------------------


def start_upload(
    client: GraphClient,
    feed_id: str,
    *,
    file_path: str | Path | None = None,
    fmt: str = "csv",
    url: str | None = None,
    update_only: bool = False,
) -> str:
    """Start an upload session from a local file (multipart, streamed from disk) or a URL; return its id.

    A repeated upload of the same file (a retried call) only replaces the feed with the same content again.
    """
    options = {"update_only": True} if update_only else {}
    if url:
        answer = client.post(f"{feed_id}/uploads", {"url": url, **options})
    elif file_path is not None:
        answer = client.upload_file(
            f"{feed_id}/uploads", file_path, field_name="file", content_type=CONTENT_TYPES.get(fmt), data=options
        )
    else:
        raise ValueError("start_upload needs a file_path or a url")
    return str(answer["id"])


@dataclass(frozen=True)
class UploadSession:
    """An upload session as Meta reports it."""

    upload_id: str
    raw: dict[str, Any]

    @property
    def finished(self) -> bool:
        """Meta finished reading the file (the session has an end time)."""
        return bool(self.raw.get("end_time"))

    def count(self, name: str) -> int:
        """A count of the session (0 when Meta left it out)."""
        try:
            return int(self.raw.get(name) or 0)
        except (TypeError, ValueError):
            return 0

    @property
    def invalid_share(self) -> float:
        """Products Meta refused over products it found; 1.0 when it found none but reported an error (a file it
        could not read)."""
        detected = self.count("num_detected_items")
        if detected:
            return self.count("num_invalid_items") / detected
        return 1.0 if self.count("error_count") else 0.0

    def counts(self) -> dict[str, int]:
        """The session's counts by name."""
        return {name: self.count(name) for name in _COUNTS}

    def describe(self) -> str:
        """One line for a task log."""
        c = self.counts()
        return (
            f"upload {self.upload_id}: {c['num_detected_items']:,} products read, {c['num_persisted_items']:,} "
            f"saved, {c['num_invalid_items']:,} refused, {c['num_deleted_items']:,} deleted; "
            f"{c['error_count']:,} errors, {c['warning_count']:,} warnings"
        )


def read_session(client: GraphClient, upload_id: str) -> UploadSession:
    """The upload session's state and counts."""
    return UploadSession(upload_id, client.get(upload_id, fields=UPLOAD_SESSION_FIELDS))


# --- errors -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadError:
    """One kind of error of an upload session, with Meta's sample of the rows it hit."""

    severity: str | None
    summary: str | None
    description: str | None
    total_count: int
    samples: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def fatal(self) -> bool:
        """The rows were refused (a warning only drops the field)."""
        return (self.severity or "").lower() == FATAL

    @property
    def fully_sampled(self) -> bool:
        """The sample names every row the error hit."""
        return len(self.samples) >= self.total_count


def _samples(value: Any) -> list[dict[str, Any]]:
    data = value.get("data") if isinstance(value, dict) else value
    return [s for s in data or [] if isinstance(s, dict)]


def read_errors(client: GraphClient, upload_id: str) -> list[UploadError]:
    """The session's errors (``/{upload_id}/errors``): a sample of rows per kind, with the total count."""
    errors = []
    for entry in client.paginate(f"{upload_id}/errors", fields=UPLOAD_ERROR_FIELDS):
        samples = _samples(entry.get("samples"))
        try:
            total = int(entry.get("total_count") or len(samples))
        except (TypeError, ValueError):
            total = len(samples)
        errors.append(
            UploadError(entry.get("severity"), entry.get("summary"), entry.get("description"), total, samples, entry)
        )
    return errors


def refused_ids(errors: list[UploadError]) -> set[str]:
    """Retailer ids the errors name as refused (fatal)."""
    return {str(s["retailer_id"]) for e in errors if e.fatal for s in e.samples if s.get("retailer_id")}


def needs_report(errors: list[UploadError]) -> bool:
    """Whether the sample leaves refused rows unnamed (then only the full report says which products)."""
    return any(e.fatal and not e.fully_sampled for e in errors)


def request_error_report(client: GraphClient, upload_id: str) -> None:
    """Ask Meta to write the full error report of the session."""
    client.post(f"{upload_id}/error_report")


def read_report_status(client: GraphClient, upload_id: str) -> tuple[str, str | None]:
    """``(report_status, file_handle)`` of the session's error report (the handle once written)."""
    report = client.get(upload_id, fields=(ERROR_REPORT_FIELD,)).get(ERROR_REPORT_FIELD) or {}
    return str(report.get("report_status") or ""), report.get("file_handle")


def report_pending(status: str) -> bool:
    """Whether the report may still be written."""
    return status.strip().upper() in REPORT_PENDING


# Column names of the report's CSV (Meta's format is unconfirmed: the sandbox's names first, then likely others).
_REPORT_COLUMNS = {
    "row_number": ("row_number", "line", "row"),
    "retailer_id": ("retailer_id", "id", "item_id"),
    "severity": ("severity",),
    "summary": ("summary", "error", "error_type"),
    "description": ("description", "message", "error_message"),
}


def read_error_report(path: str | Path) -> Iterator[dict[str, Any]]:
    """The rows of a downloaded error report (CSV), one per refused or warned row: row_number, retailer_id,
    severity, summary, description and the row as read (``raw``). Streamed: reports can be large."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        for line in csv.DictReader(handle):
            row = {k.strip().lower(): (v or "").strip() for k, v in line.items() if k}
            out: dict[str, Any] = {"raw": row}
            for name, candidates in _REPORT_COLUMNS.items():
                out[name] = next((row[c] for c in candidates if row.get(c)), None)
            number = out["row_number"]
            out["row_number"] = int(number) if number and number.isdigit() else None
            yield out


# --- verdict ------------------------------------------------------------------------------------------------


def check_invalid_share(session: UploadSession, errors: list[UploadError], limit: float | None) -> None:
    """Raise :class:`TooManyFeedErrors` when Meta refused more than ``limit`` of the products (None: never)."""
    if limit is None or session.invalid_share <= limit:
        return
    fatal = sorted((e for e in errors if e.fatal), key=lambda e: -e.total_count)[:5]
    reasons = "; ".join(f"{e.summary} ({e.total_count:,} rows)" for e in fatal) or "none listed"
    raise TooManyFeedErrors(
        f"Meta refused {session.count('num_invalid_items'):,} of {session.count('num_detected_items'):,} products "
        f"({session.invalid_share:.2%}) in {session.describe()}, above the limit of {limit:.2%}. Top errors: "
        f"{reasons}. The refused rows are in fb_feed_upload_errors (upload_id = '{session.upload_id}'); fix the "
        f"products or include/sql/catalog/feed_mapping.sql, or raise the DAG's fatal_error_limit."
    )
