"""One feed upload, step by step: upload the built file, follow Meta's session, store what Meta said.

The Airflow operator runs these steps with a deferral wherever Meta is still working: a step returns
:class:`Wait` ("wait for the session / the error report of upload X") and the operator hands that to the trigger,
then calls the next step when it fires. Nothing here imports Airflow.

    upload = FeedUpload(engine, client, catalog_id, configured_feed_id, run_id=run_id, built=built_result)
    wait = upload.start()                         # feed found or created, file uploaded (once per run and file)
    outcome = upload.session_finished(wait.upload_id)   # counts and errors stored; maybe Wait for the report
    outcome = upload.report_written(wait.upload_id, ready=True)  # report loaded; the summary

1. the product feed: the connection's ``feed_id``; without one, a feed this DAG created before (recorded in
   fb_sync_state), else one found by ``feed_name`` or created (the log says how to put its id into the connection);
2. the upload: the file itself (multipart, streamed from disk), or in url mode the ``feed_url`` where the merchant
   serves the file; a retried task follows the upload its earlier try made (same run, feed and file) instead of
   uploading again;
3. once the session finished its counts go to fb_feed_uploads and its errors to fb_feed_upload_errors; with
   ``error_report`` "always" (or "auto" when the error sample does not name every refused row) the full report is
   requested, awaited, downloaded and loaded too;
4. fb_catalog_sync_state takes the inventory values of the products Meta accepted (read back from the file), so
   the inventory sync sends only what changes after this feed;
5. :class:`FeedUploadRefused` when Meta refused more than ``fatal_error_limit`` of the products (or the feed file
   or the settings cannot be used): a data problem that a retry would not change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from fb_commerce.catalog import upload, upload_store
from fb_commerce.catalog.feed_readback import read_feed_state
from fb_commerce.catalog.meta_accepted import replace_from_feed
from fb_commerce.catalog.upload_settings import ERROR_REPORT, SESSION, FeedUploadRefused, UploadSettings, Wait
from fb_commerce.graph.client import GraphClient
from fb_commerce.warehouse.paths import data_dir

log = logging.getLogger(__name__)


class FeedUpload:
    """The upload of one built feed file of one run.

    :param engine: the warehouse (uploads, errors, rejects, the sync state, the recorded feed id).
    :param client: the Graph API client.
    :param catalog_id: the catalog the feed belongs to.
    :param feed_id: the feed the connection names (None: a recorded, found or created one).
    :param run_id: the run (a retried try of the same run follows the same upload).
    :param built: what the build step returned (path, format, bytes_written, rows_written, rows_rejected).
    :param settings: how to upload.
    :param conn_id: the Graph connection's id, named in the advice to set its ``feed_id``.
    """

    def __init__(
        self,
        engine: Engine,
        client: GraphClient,
        catalog_id: str,
        feed_id: str | None,
        *,
        run_id: str,
        built: Mapping[str, Any],
        settings: UploadSettings | None = None,
        conn_id: str = "the Graph API connection",
    ) -> None:
        if not Path(built["path"]).is_file():
            raise FeedUploadRefused(
                f"The feed file {built['path']} is not on this worker: the build and upload tasks must share the "
                f"data folder (FB_COMMERCE_DATA_DIR)"
            )
        self.engine = engine
        self.client = client
        self.catalog_id = catalog_id
        self.configured_feed_id = feed_id
        self.run_id = run_id
        self.built = built
        self.settings = settings or UploadSettings()
        self.conn_id = conn_id

    # --- steps 1 and 2 --------------------------------------------------------------------------------------

    def feed_id(self) -> str:
        """The feed to upload to: configured, recorded by an earlier run, found by name, or created."""
        if self.configured_feed_id:
            return self.configured_feed_id
        recorded = upload_store.recorded_feed_id(self.engine, self.catalog_id)
        if recorded:
            log.warning(
                "Connection %s names no feed_id; using feed %s, which an earlier run created: %s",
                self.conn_id,
                recorded,
                self._advice(recorded),
            )
            return recorded
        name = self.settings.feed_name
        feed_id = upload.find_feed(self.client, self.catalog_id, name)
        verb = "Found" if feed_id else "Created"
        feed_id = feed_id or upload.create_feed(self.client, self.catalog_id, name)
        upload_store.record_feed_id(self.engine, self.catalog_id, feed_id, name)
        log.warning(
            "Connection %s names no feed_id. %s product feed %s (%r) in catalog %s; %s",
            self.conn_id,
            verb,
            feed_id,
            name,
            self.catalog_id,
            self._advice(feed_id),
        )
        return feed_id

    def _advice(self, feed_id: str) -> str:
        return (
            f'add "feed_id": "{feed_id}" to the extra of connection {self.conn_id} so every run and tool uses it '
            "(fb_sync_state keeps it until then)"
        )

    def start(self) -> Wait:
        """Upload the file (or follow the upload an earlier try of this run made of it); wait for its session."""
        built, url = self.built, self.settings.url
        feed_id = self.feed_id()
        digest = file_sha256(Path(built["path"]))
        earlier = upload_store.find_upload(self.engine, self.run_id, feed_id, digest)
        if earlier:
            upload_id = earlier["upload_id"]
            log.info("Following upload %s that an earlier try of run %s made of the same file", upload_id, self.run_id)
        else:
            upload_id = upload.start_upload(
                self.client,
                feed_id,
                file_path=None if url else built["path"],
                fmt=built["format"],
                url=url,
                update_only=self.settings.update_only,
            )
            upload_store.record_upload(
                self.engine,
                {
                    "upload_id": upload_id,
                    "feed_id": feed_id,
                    "catalog_id": self.catalog_id,
                    "run_id": self.run_id,
                    "file_name": Path(built["path"]).name,
                    "file_format": built["format"],
                    "file_bytes": built["bytes_written"],
                    "file_sha256": digest,
                    "rows_written": built["rows_written"],
                    "rows_rejected": built["rows_rejected"],
                    "url": url,
                    "status": "in_progress",
                    "requested_at": dt.datetime.now(dt.UTC),
                },
            )
            log.info(
                "Uploaded %s (%d products, %d bytes) to feed %s %s: upload session %s",
                built["path"],
                built["rows_written"],
                built["bytes_written"],
                feed_id,
                f"by URL {url}" if url else "as a file",
                upload_id,
            )
        upload_store.link_rejects(self.engine, self.run_id, upload_id)
        return Wait(upload_id, SESSION)

    def wait_failed(self, upload_id: str | None, reason: str | None) -> None:
        """Waiting for Meta failed: a timeout is recorded on the upload (a retry follows the same upload)."""
        if upload_id and reason == "timeout":
            upload_store.update_upload(self.engine, upload_id, status="timed_out")

    # --- step 3 ---------------------------------------------------------------------------------------------

    def session_finished(self, upload_id: str) -> Wait | dict[str, Any]:
        """The session ended: store its counts and errors, then wait for the full report or finish."""
        session = upload.read_session(self.client, upload_id)
        errors = upload.read_errors(self.client, upload_id)
        upload_store.record_session(self.engine, session, "finished")
        stored = upload_store.store_errors(self.engine, upload_id, errors)
        log.info("Meta finished %s; %d kinds of error stored in fb_feed_upload_errors", session.describe(), stored)
        mode = self.settings.error_report
        if mode == "always" or (mode == "auto" and upload.needs_report(errors)):
            upload.request_error_report(self.client, upload_id)
            upload_store.update_upload(self.engine, upload_id, error_report_status="REQUESTED")
            return Wait(upload_id, ERROR_REPORT)
        return self._finish(session, errors, report_loaded=False)

    def report_written(self, upload_id: str, *, ready: bool, message: str | None = None) -> dict[str, Any]:
        """The report was written (``ready``) or the wait for it ended: load it when it is there, then finish."""
        status, handle = upload.read_report_status(self.client, upload_id)
        loaded = False
        if ready and status == upload.REPORT_FINISHED and handle:
            path = data_dir() / "feeds" / "error_reports" / f"{upload_id}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            self.client.download(handle, path)
            rows = upload_store.store_report(self.engine, upload_id, upload.read_error_report(path))
            loaded = True
            log.info(
                "Error report of upload %s: %d rows loaded into fb_feed_upload_errors (kept at %s)",
                upload_id,
                rows,
                path,
            )
        else:
            status = status or "TIMED_OUT"
            log.warning(
                "The error report of upload %s is not available (%s): %s",
                upload_id,
                status,
                message or "Meta did not write it",
            )
        upload_store.update_upload(
            self.engine, upload_id, error_report_status=status, error_report_url=handle if loaded else None
        )
        session = upload.read_session(self.client, upload_id)
        errors = upload.read_errors(self.client, upload_id)
        return self._finish(session, errors, report_loaded=loaded)

    # --- steps 4 and 5 --------------------------------------------------------------------------------------

    def _finish(
        self, session: upload.UploadSession, errors: list[upload.UploadError], *, report_loaded: bool
    ) -> dict[str, Any]:
        built, upload_id = self.built, session.upload_id
        refused = upload.refused_ids(errors)
        if report_loaded:
            refused |= upload_store.report_refused_ids(self.engine, upload_id)
        elif upload.needs_report(errors):
            log.warning(
                "Meta's error sample does not name every refused product and no full report was loaded: the sync "
                "state may count a few refused products as synced until the next feed (set error_report to "
                "'always' or 'auto')"
            )
        state_rows = 0
        if upload_store.file_sha256_of(self.engine, upload_id) != file_sha256(Path(built["path"])):
            # A later build replaced the file: its values are not what this upload sent.
            log.warning("The feed file changed since upload %s: fb_catalog_sync_state is left as it was", upload_id)
        elif session.count("num_detected_items"):
            state_rows = replace_from_feed(
                self.engine,
                read_feed_state(built["path"], built["format"]),
                upload_id,
                refused,
                replace=not self.settings.update_only,
            )
            log.info(
                "fb_catalog_sync_state: %d products set from the feed (%d refused by Meta kept as they were)",
                state_rows,
                len(refused),
            )
        summary = {
            "upload_id": upload_id,
            **session.counts(),
            "state_rows": state_rows,
            "rows_rejected": built["rows_rejected"],
        }
        try:
            upload.check_invalid_share(session, errors, self.settings.fatal_error_limit)
        except upload.TooManyFeedErrors as exc:
            upload_store.update_upload(self.engine, upload_id, status="too_many_errors")
            raise FeedUploadRefused(str(exc)) from None
        return summary


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks (bounded memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
