"""Warehouse records of feed runs: rejects, upload sessions and their errors, and a feed id the DAG created.

Every write is idempotent: rejects are keyed by run, an upload by Meta's upload id, its errors are replaced per
upload and source (``errors`` sample or full ``report``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fb_commerce.catalog.rejects import Reject
from fb_commerce.catalog.upload import FATAL, UploadError, UploadSession
from fb_commerce.warehouse import schema
from fb_commerce.warehouse.sync_state import read_extra, write_extra
from fb_commerce.warehouse.upsert import upsert

UPLOADS = schema.fb_feed_uploads
ERRORS = schema.fb_feed_upload_errors
REJECTS = schema.fb_feed_rejects
#: Report rows are numbered from here, so they never share a key with the /errors sample (numbered from 1).
REPORT_NUMBER_BASE = 1_000_000
_INSERT_CHUNK = 10_000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- rejects (feed build) -----------------------------------------------------------------------------------


def clear_rejects(engine: Engine, run_id: str) -> int:
    """Remove a run's rejects before it builds again (a rerun replaces them)."""
    with engine.begin() as connection:
        return connection.execute(sa.delete(REJECTS).where(REJECTS.c.run_id == run_id)).rowcount


def store_rejects(engine: Engine, run_id: str, rejects: Iterable[Reject]) -> int:
    """Upsert rejects of a run (one row per product and field), in chunks."""
    iterator = iter(rejects)
    written = 0
    while chunk := [r.as_row(run_id) for r in itertools.islice(iterator, _INSERT_CHUNK)]:
        written += upsert(engine, REJECTS, chunk)
    return written


class RejectSpool:
    """Rejects kept in a temporary file while a feed is built, stored once the source is closed.

    Why not write them during the build: the feed reads an SQLite source through ADBC, a second copy of the SQLite
    library in this process. When its connection closes it believes it was the file's last one and removes the WAL
    under any sqlite3 connection this process still holds (sqlite.org/howtocorrupt.html, 2.2.1), losing writes. So
    no warehouse connection is open during the build, and the rejects wait here (a file: bounded memory).
    """

    def __init__(self) -> None:
        import tempfile

        self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.count = 0

    def add(self, rejects: Iterable[Reject]) -> None:
        """Keep a batch's rejects (the build's ``on_rejects``)."""
        import dataclasses
        import json

        for reject in rejects:
            self._file.write(json.dumps(dataclasses.asdict(reject)) + "\n")
            self.count += 1

    def __iter__(self) -> Iterator[Reject]:
        import json

        self._file.seek(0)
        for line in self._file:
            yield Reject(**json.loads(line))

    def close(self) -> None:
        """Delete the file."""
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def link_rejects(engine: Engine, run_id: str, upload_id: str) -> None:
    """Note on a run's rejects which upload left them out."""
    with engine.begin() as connection:
        connection.execute(sa.update(REJECTS).where(REJECTS.c.run_id == run_id).values(upload_id=upload_id))


# --- the product feed id ------------------------------------------------------------------------------------


def _feed_state_name(catalog_id: str) -> str:
    return f"catalog_feed:{catalog_id}"


def recorded_feed_id(engine: Engine, catalog_id: str) -> str | None:
    """The feed id an earlier run created for the catalog (kept in fb_sync_state), or None."""
    extra = read_extra(engine, _feed_state_name(catalog_id))
    return str(extra["feed_id"]) if isinstance(extra, Mapping) and extra.get("feed_id") else None


def record_feed_id(engine: Engine, catalog_id: str, feed_id: str, name: str) -> None:
    """Keep the id of a feed the DAG created, until it is put into the connection."""
    extra = {"feed_id": feed_id, "feed_name": name, "catalog_id": catalog_id}
    write_extra(engine, _feed_state_name(catalog_id), extra, now=_now())


# --- upload sessions ----------------------------------------------------------------------------------------


def record_upload(engine: Engine, row: Mapping[str, Any]) -> None:
    """Insert or replace an upload's row (``upload_id``, ``feed_id`` and any other fb_feed_uploads columns)."""
    upsert(engine, UPLOADS, [{**row, "synced_at": _now()}])


def update_upload(engine: Engine, upload_id: str, **values: Any) -> None:
    """Change some columns of a recorded upload (status, counts, report state)."""
    with engine.begin() as connection:
        connection.execute(
            sa.update(UPLOADS).where(UPLOADS.c.upload_id == upload_id).values(**values, synced_at=_now())
        )


def find_upload(engine: Engine, run_id: str, feed_id: str, file_sha256: str | None) -> dict[str, Any] | None:
    """The latest upload this run made of this file to this feed, if any (a retried task follows it instead of
    uploading again)."""
    with engine.connect() as connection:
        row = (
            connection.execute(
                sa.select(UPLOADS)
                .where(UPLOADS.c.run_id == run_id, UPLOADS.c.feed_id == feed_id, UPLOADS.c.file_sha256 == file_sha256)
                .order_by(UPLOADS.c.requested_at.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


def file_sha256_of(engine: Engine, upload_id: str) -> str | None:
    """The SHA-256 of the file an upload sent, as recorded when it started."""
    with engine.connect() as connection:
        return connection.execute(sa.select(UPLOADS.c.file_sha256).where(UPLOADS.c.upload_id == upload_id)).scalar()


def record_session(engine: Engine, session: UploadSession, status: str) -> None:
    """Store the session's counts, times and answer."""
    update_upload(
        engine,
        session.upload_id,
        status=status,
        start_time=_timestamp(session.raw.get("start_time")),
        end_time=_timestamp(session.raw.get("end_time")),
        input_method=session.raw.get("input_method"),
        raw=session.raw,
        **session.counts(),
    )


def _timestamp(value: Any) -> dt.datetime | None:
    """Meta's "2026-01-31T12:00:00+0000" as an aware datetime."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value))  # 3.11 reads "+0000" and "Z"
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _first_sample(error: UploadError, key: str) -> Any:
    return error.samples[0].get(key) if error.samples else None


def store_errors(engine: Engine, upload_id: str, errors: list[UploadError]) -> int:
    """Replace the upload's ``/errors`` sample (one row per kind of error)."""
    rows = [
        {
            "upload_id": upload_id,
            "error_number": number,
            "source": "errors",
            "severity": error.severity,
            "summary": error.summary,
            "description": error.description,
            "retailer_id": _first_sample(error, "retailer_id") or None,
            "row_number": _first_sample(error, "row_number"),
            "total_count": error.total_count,
            "samples": error.samples,
            "affected_surfaces": error.raw.get("affected_surfaces"),
            "raw": error.raw,
        }
        for number, error in enumerate(errors, start=1)
    ]
    return _replace(engine, upload_id, "errors", rows)


def store_report(engine: Engine, upload_id: str, report_rows: Iterable[Mapping[str, Any]]) -> int:
    """Replace the upload's full error report (one row per row of the report), streamed in chunks."""
    rows = (
        {
            "upload_id": upload_id,
            "error_number": REPORT_NUMBER_BASE + number,
            "source": "report",
            "severity": row.get("severity"),
            "summary": row.get("summary"),
            "description": row.get("description"),
            "retailer_id": row.get("retailer_id"),
            "row_number": row.get("row_number"),
            "total_count": None,
            "samples": None,
            "affected_surfaces": None,
            "raw": row.get("raw"),
        }
        for number, row in enumerate(report_rows, start=1)
    )
    return _replace(engine, upload_id, "report", rows)


def _replace(engine: Engine, upload_id: str, source: str, rows: Iterable[dict[str, Any]]) -> int:
    written = 0
    iterator = iter(rows)
    with engine.begin() as connection:
        connection.execute(sa.delete(ERRORS).where(ERRORS.c.upload_id == upload_id, ERRORS.c.source == source))
        while chunk := list(itertools.islice(iterator, _INSERT_CHUNK)):
            connection.execute(sa.insert(ERRORS), chunk)
            written += len(chunk)
    return written


def report_refused_ids(engine: Engine, upload_id: str) -> set[str]:
    """Retailer ids the full report lists as refused (fatal)."""
    with engine.connect() as connection:
        return set(
            connection.execute(
                sa.select(ERRORS.c.retailer_id)
                .distinct()
                .where(
                    ERRORS.c.upload_id == upload_id,
                    ERRORS.c.source == "report",
                    sa.func.lower(ERRORS.c.severity) == FATAL,
                    ERRORS.c.retailer_id.is_not(None),
                )
            ).scalars()
        )
