"""Operators of the catalog DAGs: build the feed, upload it and follow its session, sync inventory deltas.

Airflow glue only: the work is done by :mod:`fb_commerce.catalog`. Heavy imports happen inside ``execute``, so
DAG files that import these classes stay cheap to parse. Waiting for Meta (an upload session, an error report,
batch handles) is deferred to the triggers of :mod:`fb_commerce.triggers.catalog`: no worker slot is held.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from fb_commerce.catalog.rejects import DEFAULT_REJECT_LIMIT
from fb_commerce.defaults import GRAPH_CONN_ID, WAREHOUSE_CONN_ID
from fb_commerce.operators.base import open_warehouse, releases_warehouse

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from fb_commerce.catalog.inventory_sync import InventorySync
    from fb_commerce.catalog.upload import UploadError, UploadSession
    from fb_commerce.hooks.graph import FbCommerceHook

DEFAULT_FEED_NAME = "fb-commerce product feed"
#: Share of the uploaded products Meta may refuse before the upload task fails.
DEFAULT_FATAL_ERROR_LIMIT = 0.05
UPLOAD_MODES = ("file", "url")
ERROR_REPORT_MODES = ("auto", "always", "never")


def _flag(value: Any) -> bool:
    """A boolean from a param or a rendered template ("True", "false", 1...)."""
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes", "on")


def _share(value: Any, name: str) -> float | None:
    """A share between 0 and 1 from a param (empty or None: no limit)."""
    if value is None or str(value).strip() in ("", "None", "none"):
        return None
    share = float(value)
    if not 0 <= share <= 1:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{name} is a share between 0 and 1 (0.05 = 5%), not {value!r}")
    return share


def _fail(message: str) -> None:
    """Fail the task without retries (a data or configuration problem: a retry would fail the same way)."""
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException(message)


def _end_time(timeout: dt.timedelta) -> float:
    return time.time() + timeout.total_seconds()


class FeedBuildOperator(BaseOperator):
    """Builds the validated feed file from the product source; rejects go to ``fb_feed_rejects`` (keyed by run).

    Fails without retrying when more than ``reject_limit`` of the products are rejected (the log names the top
    reasons), when the mapping lacks a required column, or when it returns no product.

    :param warehouse_conn_id: the warehouse (rejects; and the product source unless ``source_url`` is given).
    :param fmt: "csv", "tsv" or "xml" (templated).
    :param feed_path: where to write the file (templated); default ``<data dir>/feeds/catalog.<fmt>``.
    :param reject_limit: the share of rejected products that fails the build (templated; empty: no limit).
    :param mapping: the mapping SQL or a .sql path; default include/sql/catalog/feed_mapping.sql.
    :param source_url: a SQLAlchemy URL of another product database (templated; never logged with its password).
    :return: the build's counts (path, format, rows read, written, rejected, top reasons) for the upload task.
    """

    template_fields: Sequence[str] = (
        "warehouse_conn_id", "fmt", "feed_path", "reject_limit", "mapping", "source_url",
    )

    def __init__(
        self,
        *,
        warehouse_conn_id: str = WAREHOUSE_CONN_ID,
        fmt: str = "csv",
        feed_path: str | None = None,
        reject_limit: float | str | None = DEFAULT_REJECT_LIMIT,
        mapping: str | None = None,
        source_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id
        self.fmt = fmt
        self.feed_path = feed_path
        self.reject_limit = reject_limit
        self.mapping = mapping
        self.source_url = source_url

    def execute(self, context: Any) -> dict[str, Any]:
        from fb_commerce.catalog import upload_store
        from fb_commerce.catalog.build import build_feed, default_feed_path
        from fb_commerce.catalog.rejects import FeedError
        from fb_commerce.hooks.warehouse import WarehouseHook

        fmt = str(self.fmt).strip().lower()
        limit = _share(self.reject_limit, "reject_limit")
        hook = WarehouseHook(self.warehouse_conn_id)
        hook.ensure_schema()
        run_id = context["run_id"]
        cleared = upload_store.clear_rejects(hook.get_engine(), run_id)
        if cleared:
            self.log.info("Replacing the %d rejects an earlier try of run %s recorded", cleared, run_id)
        source = self.source_url or hook.get_url().render_as_string(hide_password=False)
        path = Path(self.feed_path) if self.feed_path else default_feed_path(fmt)  # type: ignore[arg-type]
        # No warehouse connection may stay open while the build reads an SQLite source (see RejectSpool).
        hook.dispose()
        failure: Exception | None = None
        with upload_store.RejectSpool() as spool:
            try:
                result = build_feed(
                    source, self.mapping or None, path, fmt=fmt,  # type: ignore[arg-type]
                    reject_limit=limit, on_rejects=spool.add,
                )
            except (FeedError, ValueError) as exc:
                failure = exc
            stored = upload_store.store_rejects(hook.get_engine(), run_id, spool)
            hook.dispose()
        if stored:
            self.log.info("%d rejects stored in fb_feed_rejects (run_id = %s)", stored, run_id)
        if failure is not None:
            self.log.error("%s", failure)
            _fail(str(failure))
        self.log.info(
            "Feed built: %s (%s, %d bytes); %s",
            result.path, fmt, result.bytes_written, result.summary.describe(),
        )
        return {**result.as_dict(), "run_id": run_id}


class FeedUploadOperator(BaseOperator):
    """Uploads the feed the build task wrote, follows the upload session to its end and stores what Meta said.

    1. the product feed: the connection's ``feed_id``; without one, a feed this DAG created before (recorded in
       fb_sync_state), else one found by ``feed_name`` or created (the log says how to put its id into the
       connection);
    2. the upload: the file itself (multipart, streamed from disk), or with ``upload_mode="url"`` the ``feed_url``
       where the merchant serves the file; a retried task follows the upload its earlier try made (same run,
       feed and file) instead of uploading again;
    3. deferral until the session finished; then its counts go to fb_feed_uploads and its errors to
       fb_feed_upload_errors; with ``error_report`` "always" (or "auto" when the error sample does not name
       every refused row) the full report is requested, awaited (deferred), downloaded and loaded too;
    4. fb_catalog_sync_state takes the inventory values of the products Meta accepted (read back from the file),
       so the inventory sync sends only what changes after this feed;
    5. the task fails when Meta refused more than ``fatal_error_limit`` of the products.

    :param build_task_id: the task whose return value describes the feed file.
    :param fb_conn_id: the Graph API connection (templated).
    :param warehouse_conn_id: the warehouse connection (templated).
    :param upload_mode: "file" or "url" (templated).
    :param feed_url: the URL Meta fetches in url mode (templated).
    :param fatal_error_limit: the share of refused products that fails the task (templated; empty: no limit).
    :param error_report: "auto", "always" or "never" (templated).
    :param update_only: upload as an update (products missing from the file stay on Meta) (templated).
    :param feed_name: the name of a feed this task creates (templated).
    :param poll_interval: longest pause between two checks of the session, in seconds.
    :param timeout: how long to wait for the session, and then for the report.
    """

    template_fields: Sequence[str] = (
        "fb_conn_id", "warehouse_conn_id", "upload_mode", "feed_url", "fatal_error_limit", "error_report",
        "update_only", "feed_name",
    )

    def __init__(
        self,
        *,
        build_task_id: str = "build_feed",
        fb_conn_id: str = GRAPH_CONN_ID,
        warehouse_conn_id: str = WAREHOUSE_CONN_ID,
        upload_mode: str = "file",
        feed_url: str | None = None,
        fatal_error_limit: float | str | None = DEFAULT_FATAL_ERROR_LIMIT,
        error_report: str = "auto",
        update_only: bool | str = False,
        feed_name: str = DEFAULT_FEED_NAME,
        poll_interval: float = 15.0,
        timeout: dt.timedelta = dt.timedelta(hours=6),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.build_task_id = build_task_id
        self.fb_conn_id = fb_conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.upload_mode = upload_mode
        self.feed_url = feed_url
        self.fatal_error_limit = fatal_error_limit
        self.error_report = error_report
        self.update_only = update_only
        self.feed_name = feed_name
        self.poll_interval = poll_interval
        self.timeout = timeout

    # --- step 1 and 2 ---------------------------------------------------------------------------------------

    def _built(self, context: Any) -> dict[str, Any]:
        built = context["ti"].xcom_pull(task_ids=self.build_task_id)
        if not built or not built.get("path"):
            _fail(f"Task {self.build_task_id} left no feed description: run it first")
        if not Path(built["path"]).is_file():
            _fail(
                f"The feed file {built['path']} is not on this worker: the build and upload tasks must share the "
                f"data folder (FB_COMMERCE_DATA_DIR)"
            )
        return built

    def _settings(self) -> tuple[str, str | None, str]:
        mode = str(self.upload_mode).strip().lower()
        report = str(self.error_report).strip().lower()
        url = (str(self.feed_url).strip() if self.feed_url else "") or None
        if mode not in UPLOAD_MODES:
            _fail(f"upload_mode must be one of {', '.join(UPLOAD_MODES)}, not {self.upload_mode!r}")
        if mode == "url" and not (url and url.startswith(("http://", "https://"))):
            _fail("upload_mode 'url' needs feed_url: the http(s) address where Meta can fetch the feed file")
        if report not in ERROR_REPORT_MODES:
            _fail(f"error_report must be one of {', '.join(ERROR_REPORT_MODES)}, not {self.error_report!r}")
        return mode, url if mode == "url" else None, report

    def _feed_id(self, graph: FbCommerceHook, engine: Engine) -> str:
        from fb_commerce.catalog import upload, upload_store

        if graph.feed_id:
            return graph.feed_id
        catalog_id = graph.catalog_id
        advice = (
            'add "feed_id": "%s" to the extra of connection %s so every run and tool uses it (fb_sync_state '
            "keeps it until then)"
        )
        recorded = upload_store.recorded_feed_id(engine, catalog_id)
        if recorded:
            self.log.warning(
                "Connection %s names no feed_id; using feed %s, which an earlier run created: " + advice,
                self.fb_conn_id, recorded, recorded, self.fb_conn_id,
            )
            return recorded
        feed_id = upload.find_feed(graph.client, catalog_id, self.feed_name)
        verb = "Found" if feed_id else "Created"
        feed_id = feed_id or upload.create_feed(graph.client, catalog_id, self.feed_name)
        upload_store.record_feed_id(engine, catalog_id, feed_id, self.feed_name)
        self.log.warning("Connection %s names no feed_id. %s product feed %s (%r) in catalog %s; " + advice,
                         self.fb_conn_id, verb, feed_id, self.feed_name, catalog_id, feed_id, self.fb_conn_id)
        return feed_id

    @releases_warehouse
    def execute(self, context: Any) -> None:
        from fb_commerce.catalog import upload, upload_store
        from fb_commerce.hooks.graph import FbCommerceHook

        built = self._built(context)
        _, url, _ = self._settings()
        engine = open_warehouse(self, self.warehouse_conn_id)
        graph = FbCommerceHook(self.fb_conn_id)
        run_id = context["run_id"]
        feed_id = self._feed_id(graph, engine)
        digest = _sha256(Path(built["path"]))
        earlier = upload_store.find_upload(engine, run_id, feed_id, digest)
        if earlier:
            upload_id = earlier["upload_id"]
            self.log.info("Following upload %s that an earlier try of run %s made of the same file",
                          upload_id, run_id)
        else:
            upload_id = upload.start_upload(
                graph.client, feed_id, file_path=None if url else built["path"], fmt=built["format"], url=url,
                update_only=_flag(self.update_only),
            )
            upload_store.record_upload(engine, {
                "upload_id": upload_id,
                "feed_id": feed_id,
                "catalog_id": graph.catalog_id,
                "run_id": run_id,
                "file_name": Path(built["path"]).name,
                "file_format": built["format"],
                "file_bytes": built["bytes_written"],
                "file_sha256": digest,
                "rows_written": built["rows_written"],
                "rows_rejected": built["rows_rejected"],
                "url": url,
                "status": "in_progress",
                "requested_at": _now(),
            })
            self.log.info(
                "Uploaded %s (%d products, %d bytes) to feed %s %s: upload session %s",
                built["path"], built["rows_written"], built["bytes_written"], feed_id,
                f"by URL {url}" if url else "as a file", upload_id,
            )
        upload_store.link_rejects(engine, run_id, upload_id)
        graph.log_summary()
        self._wait(upload_id, "session", "session_finished")

    def _wait(self, upload_id: str, wait_for: str, method_name: str) -> None:
        from fb_commerce.triggers.catalog import FeedUploadTrigger

        self.log.info("Waiting for the %s of upload %s (deferred: no worker held)", wait_for.replace("_", " "),
                      upload_id)
        self.defer(
            trigger=FeedUploadTrigger(
                upload_id, wait_for, fb_conn_id=self.fb_conn_id, poll_interval=self.poll_interval,
                end_time=_end_time(self.timeout),
            ),
            method_name=method_name,
            timeout=self.timeout + dt.timedelta(minutes=5),
        )

    # --- step 3 ---------------------------------------------------------------------------------------------

    @releases_warehouse
    def session_finished(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """Resumed when the session ended (or the wait failed): store counts and errors, then the report."""
        from fb_commerce.catalog import upload, upload_store
        from fb_commerce.hooks.graph import FbCommerceHook

        engine = open_warehouse(self, self.warehouse_conn_id)
        upload_id = event.get("upload_id")
        if event.get("status") != "success":
            from airflow.sdk.exceptions import AirflowException

            if upload_id and event.get("reason") == "timeout":
                upload_store.update_upload(engine, upload_id, status="timed_out")
            # Retried: the next try follows the same upload again.
            raise AirflowException(f"Following the feed upload failed: {event.get('message')}")
        _, _, report_mode = self._settings()
        graph = FbCommerceHook(self.fb_conn_id)
        session = upload.read_session(graph.client, upload_id)
        errors = upload.read_errors(graph.client, upload_id)
        upload_store.record_session(engine, session, "finished")
        stored = upload_store.store_errors(engine, upload_id, errors)
        self.log.info("Meta finished %s; %d kinds of error stored in fb_feed_upload_errors", session.describe(),
                      stored)
        if report_mode == "always" or (report_mode == "auto" and upload.needs_report(errors)):
            upload.request_error_report(graph.client, upload_id)
            upload_store.update_upload(engine, upload_id, error_report_status="REQUESTED")
            graph.log_summary()
            self._wait(upload_id, "error_report", "report_written")
        return self._finish(context, engine, graph, session, errors, report_loaded=False)

    @releases_warehouse
    def report_written(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """Resumed when the error report is written (or the wait failed): download and load it, then finish."""
        from fb_commerce.catalog import upload, upload_store
        from fb_commerce.warehouse.paths import data_dir
        from fb_commerce.hooks.graph import FbCommerceHook

        engine = open_warehouse(self, self.warehouse_conn_id)
        graph = FbCommerceHook(self.fb_conn_id)
        upload_id = event["upload_id"]
        status, handle = upload.read_report_status(graph.client, upload_id)
        loaded = False
        if event.get("status") == "success" and status == upload.REPORT_FINISHED and handle:
            path = data_dir() / "feeds" / "error_reports" / f"{upload_id}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            graph.download(handle, path)
            rows = upload_store.store_report(engine, upload_id, upload.read_error_report(path))
            loaded = True
            self.log.info("Error report of upload %s: %d rows loaded into fb_feed_upload_errors (kept at %s)",
                          upload_id, rows, path)
        else:
            status = status or "TIMED_OUT"
            self.log.warning("The error report of upload %s is not available (%s): %s", upload_id, status,
                             event.get("message") or "Meta did not write it")
        upload_store.update_upload(engine, upload_id, error_report_status=status,
                                   error_report_url=handle if loaded else None)
        session = upload.read_session(graph.client, upload_id)
        errors = upload.read_errors(graph.client, upload_id)
        return self._finish(context, engine, graph, session, errors, report_loaded=loaded)

    # --- step 4 and 5 ---------------------------------------------------------------------------------------

    def _finish(
        self,
        context: Any,
        engine: Engine,
        graph: FbCommerceHook,
        session: UploadSession,
        errors: list[UploadError],
        *,
        report_loaded: bool,
    ) -> dict[str, Any]:
        from fb_commerce.catalog import upload, upload_store
        from fb_commerce.catalog.feed_readback import read_feed_state
        from fb_commerce.catalog.meta_accepted import replace_from_feed

        built = self._built(context)
        upload_id = session.upload_id
        refused = upload.refused_ids(errors)
        if report_loaded:
            refused |= upload_store.report_refused_ids(engine, upload_id)
        elif upload.needs_report(errors):
            self.log.warning(
                "Meta's error sample does not name every refused product and no full report was loaded: the sync "
                "state may count a few refused products as synced until the next feed (set error_report to "
                "'always' or 'auto')"
            )
        state_rows = 0
        if upload_store.file_sha256_of(engine, upload_id) != _sha256(Path(built["path"])):
            # A later build replaced the file: its values are not what this upload sent.
            self.log.warning("The feed file changed since upload %s: fb_catalog_sync_state is left as it was",
                             upload_id)
        elif session.count("num_detected_items"):
            state_rows = replace_from_feed(
                engine, read_feed_state(built["path"], built["format"]), upload_id, refused,
                replace=not _flag(self.update_only),
            )
            self.log.info("fb_catalog_sync_state: %d products set from the feed (%d refused by Meta kept as they "
                          "were)", state_rows, len(refused))
        graph.log_summary()
        summary = {"upload_id": upload_id, **session.counts(), "state_rows": state_rows,
                   "rows_rejected": built["rows_rejected"]}
        try:
            upload.check_invalid_share(session, errors, _share(self.fatal_error_limit, "fatal_error_limit"))
        except upload.TooManyFeedErrors as exc:
            upload_store.update_upload(engine, upload_id, status="too_many_errors")
            self.log.error("%s", exc)
            _fail(str(exc))
        return summary


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class InventorySyncOperator(BaseOperator):
    """Sends the inventory delta through ``items_batch`` and marks products synced once Meta accepted them.

    1. handles that earlier runs sent but did not settle (a killed task, a throttled retry) are awaited
       (deferred) and settled first, so nothing sent is sent again;
    2. the delta between the inventory source and fb_catalog_sync_state is computed in SQL; UPDATEs and DELETEs
       go out in calls of at most ``batch_size`` requests (and 27 MB), each recorded before and after the call;
       nothing changed means no call at all;
    3. deferral until every handle finished; then each item is marked synced, failed (Meta's message) or
       not_applied (a per-item warning said a value was ignored) in fb_batch_request_items, and only the synced
       ones update fb_catalog_sync_state; the others go out again next run.

    Before the delta, products of orders whose cancellation restocked them at Meta are read back from the
    catalog, so the delta corrects what Meta raised by itself.

    When Meta throttles the Catalog Batch API (80014) the client backs off; when it asks for a long wait the
    task ends with GraphRateLimitWait and Airflow retries it after that wait (the calls already made are settled
    by the retry).

    :param fb_conn_id: the Graph API connection (templated).
    :param warehouse_conn_id: the warehouse connection (templated).
    :param batch_size: requests per ``items_batch`` call, at most 5000 (templated).
    :param source: the inventory source SQL or .sql path; default include/sql/catalog/inventory_source.sql.
    :param poll_interval: longest pause between two status checks, in seconds.
    :param timeout: how long to wait for the handles of one run.
    :param abandon_after: handles without a final status after this long are given up (their changes go again).
    """

    template_fields: Sequence[str] = ("fb_conn_id", "warehouse_conn_id", "batch_size", "source")

    def __init__(
        self,
        *,
        fb_conn_id: str = GRAPH_CONN_ID,
        warehouse_conn_id: str = WAREHOUSE_CONN_ID,
        batch_size: int | str = 3000,
        source: str | None = None,
        poll_interval: float = 15.0,
        timeout: dt.timedelta = dt.timedelta(hours=1),
        abandon_after: dt.timedelta = dt.timedelta(hours=24),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fb_conn_id = fb_conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.batch_size = batch_size
        self.source = source
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.abandon_after = abandon_after

    def _sync(self, context: Any) -> tuple[InventorySync, FbCommerceHook]:
        from fb_commerce.catalog.inventory_sync import InventorySync
        from fb_commerce.graph.surface import ITEMS_BATCH_MAX_REQUESTS
        from fb_commerce.hooks.graph import FbCommerceHook

        size = int(self.batch_size)
        if not 1 <= size <= ITEMS_BATCH_MAX_REQUESTS:
            _fail(f"batch_size must be between 1 and {ITEMS_BATCH_MAX_REQUESTS}, not {self.batch_size!r}")
        graph = FbCommerceHook(self.fb_conn_id)
        sync = InventorySync(
            open_warehouse(self, self.warehouse_conn_id), graph.client, graph.catalog_id, run_id=context["run_id"],
            source=self.source or None, batch_size=size, abandon_after=self.abandon_after,
        )
        return sync, graph

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, Any] | None:
        sync, graph = self._sync(context)
        earlier = sync.prepare()
        if earlier:
            self.log.info("Settling %d batch handle(s) earlier runs sent before computing a new delta",
                          len(earlier))
            self._wait(sync.catalog_id, earlier, "earlier_finished")
        return self._send(sync, graph)

    def _wait(self, catalog_id: str, handles: list[str], method_name: str, **kwargs: Any) -> None:
        from fb_commerce.triggers.catalog import BatchStatusTrigger

        self.defer(
            trigger=BatchStatusTrigger(
                catalog_id, handles, fb_conn_id=self.fb_conn_id, poll_interval=self.poll_interval,
                end_time=_end_time(self.timeout),
            ),
            method_name=method_name,
            kwargs=kwargs or None,
            timeout=self.timeout + dt.timedelta(minutes=5),
        )

    def _settle(self, sync: InventorySync, event: dict[str, Any], method_name: str, **kwargs: Any) -> Any:
        from fb_commerce.catalog.inventory_sync import describe_settled

        if event.get("status") != "success":
            from airflow.sdk.exceptions import AirflowException

            # Retried: the next try settles the same handles first.
            raise AirflowException(f"Waiting for the batch handles failed: {event.get('message')}")
        settled = sync.settle(event["handles"])
        self.log.info("Batch handles settled: %s", describe_settled(settled))
        if settled.pending_handles:
            self._wait(sync.catalog_id, settled.pending_handles, method_name, **kwargs)
        return settled

    @releases_warehouse
    def earlier_finished(self, context: Any, event: dict[str, Any]) -> dict[str, Any] | None:
        """Resumed when the earlier runs' handles finished: settle them, then send this run's delta."""
        sync, graph = self._sync(context)
        self._settle(sync, event, "earlier_finished")
        return self._send(sync, graph)

    def _send(self, sync: InventorySync, graph: FbCommerceHook) -> dict[str, Any] | None:
        sent = sync.send()
        self.log.info("%s", sent.describe())
        graph.log_summary()
        counts = {
            "updates": sent.counts.updates,
            "deletes": sent.counts.deletes,
            "new_products": sent.counts.new_products,
            "invalid": sent.counts.invalid,
            "calls": len(sent.handles),
            "restocks_read": sent.restocks.read,
            "restocks_corrected": sent.restocks.corrected,
        }
        if not sent.handles:
            return {**counts, "synced": 0, "failed": 0, "not_applied": 0}
        self._wait(sync.catalog_id, sent.handles, "sent_finished", counts=counts)
        return None

    @releases_warehouse
    def sent_finished(
        self, context: Any, event: dict[str, Any], counts: dict[str, int] | None = None
    ) -> dict[str, Any]:
        """Resumed when this run's handles finished: mark items synced or failed and update the sync state."""
        sync, graph = self._sync(context)
        settled = self._settle(sync, event, "sent_finished", counts=counts)
        graph.log_summary()
        result = {**(counts or {}), "synced": settled.synced, "failed": settled.failed,
                  "not_applied": settled.not_applied}
        if settled.failed:
            self.log.warning(
                "%d changes were refused by Meta; they stay different and go out again next run. Messages are in "
                "fb_batch_request_items (status 'failed')", settled.failed,
            )
        if settled.not_applied:
            self.log.warning(
                "%d changes were taken by Meta with a warning that a value was not applied (e.g. %s); they are "
                "not marked synced and go out again next run. Warnings are in fb_batch_request_items (status "
                "'not_applied')", settled.not_applied, "; ".join(settled.failures[:3]),
            )
        return result
