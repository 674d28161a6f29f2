"""Operators of the fb_catalog_feed DAG: build the feed file, then upload it and follow its session.

Thin glue between Airflow and :mod:`fb_commerce.catalog.build` / :mod:`fb_commerce.catalog.feed_upload`. Heavy
imports happen inside the methods, so DAG files that import these classes stay cheap to parse. Waiting for Meta
(an upload session, an error report) is deferred to :class:`~fb_commerce.triggers.catalog.FeedUploadTrigger`: no
worker slot is held.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from fb_commerce.catalog.rejects import DEFAULT_REJECT_LIMIT
from fb_commerce.catalog.upload_settings import (
    DEFAULT_FATAL_ERROR_LIMIT,
    DEFAULT_FEED_NAME,
    ERROR_REPORT,
    ERROR_REPORT_MODES,
    SESSION,
    UPLOAD_MODES,
)
from fb_commerce.operators.base import FbCommerceOperator, fail_task, releases_warehouse
from fb_commerce.settings import as_bool, as_choice, as_number, as_text

if TYPE_CHECKING:
    from fb_commerce.catalog.feed_upload import FeedUpload
    from fb_commerce.catalog.upload_settings import Wait
    from fb_commerce.hooks.graph import FbCommerceHook


class FeedBuildOperator(FbCommerceOperator):
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
        *FbCommerceOperator.template_fields,
        "fmt",
        "feed_path",
        "reject_limit",
        "mapping",
        "source_url",
    )

    def __init__(
        self,
        *,
        fmt: str = "csv",
        feed_path: str | None = None,
        reject_limit: float | str | None = DEFAULT_REJECT_LIMIT,
        mapping: str | None = None,
        source_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fmt = fmt
        self.feed_path = feed_path
        self.reject_limit = reject_limit
        self.mapping = mapping
        self.source_url = source_url

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, Any]:
        from fb_commerce.catalog.build import build_recording_rejects, default_feed_path
        from fb_commerce.catalog.feed import FORMATS
        from fb_commerce.catalog.rejects import FeedError

        fmt = self.setting("fmt", as_choice, choices=FORMATS)
        limit = self.setting("reject_limit", as_number, minimum=0, maximum=1, optional=True)
        feed_path = self.setting("feed_path", as_text, optional=True)
        source_url = self.setting("source_url", as_text, optional=True)
        hook = self.warehouse_hook()
        try:
            return build_recording_rejects(
                hook.get_engine(),
                context["run_id"],
                source_url or hook.get_url().render_as_string(hide_password=False),
                self.mapping or None,
                feed_path or default_feed_path(fmt),
                fmt=fmt,
                reject_limit=limit,
            )
        except (FeedError, ValueError) as exc:
            self.log.error("%s", exc)
            fail_task(str(exc))


class FeedUploadOperator(FbCommerceOperator):
    """Uploads the feed the build task wrote, follows the upload session to its end and stores what Meta said
    (the steps: :mod:`fb_commerce.catalog.feed_upload`), deferring while Meta works.

    Fails without retrying when the feed file is missing, a setting is wrong, or Meta refused more than
    ``fatal_error_limit`` of the products; a failed wait is retried (the retry follows the same upload).

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
        *FbCommerceOperator.template_fields,
        "upload_mode",
        "feed_url",
        "fatal_error_limit",
        "error_report",
        "update_only",
        "feed_name",
    )
    #: the method the operator resumes in, per thing waited for
    RESUME = {SESSION: "session_finished", ERROR_REPORT: "report_written"}

    def __init__(
        self,
        *,
        build_task_id: str = "build_feed",
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
        self.upload_mode = upload_mode
        self.feed_url = feed_url
        self.fatal_error_limit = fatal_error_limit
        self.error_report = error_report
        self.update_only = update_only
        self.feed_name = feed_name
        self.poll_interval = poll_interval
        self.timeout = timeout

    def _upload(self, context: Any) -> tuple[FeedUpload, FbCommerceHook]:
        """The upload of this run's feed file, its settings read first (a bad one fails before any call)."""
        from fb_commerce.catalog.feed_upload import FeedUpload
        from fb_commerce.catalog.upload_settings import FeedUploadRefused, UploadSettings

        built = context["ti"].xcom_pull(task_ids=self.build_task_id)
        if not built or not built.get("path"):
            fail_task(f"Task {self.build_task_id} left no feed description: run it first")
        try:
            settings = UploadSettings(
                upload_mode=self.setting("upload_mode", as_choice, choices=UPLOAD_MODES),
                feed_url=self.setting("feed_url", as_text, optional=True),
                error_report=self.setting("error_report", as_choice, choices=ERROR_REPORT_MODES),
                update_only=self.setting("update_only", as_bool),
                fatal_error_limit=self.setting("fatal_error_limit", as_number, minimum=0, maximum=1, optional=True),
                feed_name=self.setting("feed_name", as_text),
            )
            hook = self.graph()
            upload = FeedUpload(
                self.warehouse(),
                hook.client,
                hook.catalog_id,
                hook.feed_id,
                run_id=context["run_id"],
                built=built,
                settings=settings,
                conn_id=self.fb_conn_id,
            )
        except FeedUploadRefused as exc:
            fail_task(str(exc))
        return upload, hook

    def _step(self, hook: FbCommerceHook, step: Callable[[], Any]) -> Any:
        """Run one step; defer when it says to wait, fail (no retry) when it refuses, log the calls made."""
        from fb_commerce.catalog.upload_settings import FeedUploadRefused, Wait

        try:
            outcome = step()
        except FeedUploadRefused as exc:
            self.log.error("%s", exc)
            fail_task(str(exc))
        finally:
            hook.log_summary()
        if isinstance(outcome, Wait):
            self._wait(outcome)
        return outcome

    def _wait(self, wait: Wait) -> None:
        from fb_commerce.triggers.catalog import FeedUploadTrigger

        self.log.info(
            "Waiting for the %s of upload %s (deferred: no worker held)",
            wait.wait_for.replace("_", " "),
            wait.upload_id,
        )
        self.defer(
            trigger=FeedUploadTrigger(
                wait.upload_id,
                wait.wait_for,
                fb_conn_id=self.fb_conn_id,
                poll_interval=self.poll_interval,
                end_time=time.time() + self.timeout.total_seconds(),
            ),
            method_name=self.RESUME[wait.wait_for],
            timeout=self.timeout + dt.timedelta(minutes=5),
        )

    @releases_warehouse
    def execute(self, context: Any) -> None:
        upload, hook = self._upload(context)
        self._step(hook, upload.start)

    @releases_warehouse
    def session_finished(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """Resumed when the session ended (or the wait failed): store counts and errors, then the report."""
        upload, hook = self._upload(context)
        if event.get("status") != "success":
            from airflow.sdk.exceptions import AirflowException

            upload.wait_failed(event.get("upload_id"), event.get("reason"))
            # Retried: the next try follows the same upload again.
            raise AirflowException(f"Following the feed upload failed: {event.get('message')}")
        return self._step(hook, lambda: upload.session_finished(event["upload_id"]))

    @releases_warehouse
    def report_written(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """Resumed when the error report is written (or the wait failed): download and load it, then finish."""
        upload, hook = self._upload(context)
        return self._step(
            hook,
            lambda: upload.report_written(
                event["upload_id"],
                ready=event.get("status") == "success",
                message=event.get("message"),
            ),
        )
