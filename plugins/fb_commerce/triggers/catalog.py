"""Triggers that wait for Meta while no worker is held: a feed upload session (or its error report) and
``items_batch`` handles.

They only read (a trigger may run twice, so it has no side effects) and send small events; the operator's resume
method reads the full answers again and stores them. Both poll with a back-off from one second up to
``poll_interval`` and give up at ``end_time`` (epoch seconds) with an ``{"status": "error", "reason": "timeout"}``
event. When Meta asks to wait (a long throttle), the trigger sleeps that long: waiting costs nothing here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from fb_commerce.defaults import GRAPH_CONN_ID

#: Seconds between the first checks; doubled up to poll_interval, so quick answers are seen quickly.
FIRST_POLL = 1.0
SESSION = "session"
ERROR_REPORT = "error_report"


class _GraphPollTrigger(BaseTrigger):
    """Polls the Graph API until :meth:`check` says done, the deadline passes, or a call fails."""

    def __init__(self, fb_conn_id: str = GRAPH_CONN_ID, poll_interval: float = 15.0, end_time: float | None = None):
        super().__init__()
        self.fb_conn_id = fb_conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = float(end_time) if end_time is not None else time.time() + 3600.0

    def _base_kwargs(self) -> dict[str, Any]:
        return {"fb_conn_id": self.fb_conn_id, "poll_interval": self.poll_interval, "end_time": self.end_time}

    async def _client(self) -> Any:
        """A Graph client from the connection, read without blocking the triggerer's loop."""
        from airflow.sdk import BaseHook

        from fb_commerce.hooks.graph import client_from_connection

        conn = await BaseHook.aget_connection(self.fb_conn_id)
        return client_from_connection(conn)

    def check(self, client: Any) -> dict[str, Any] | None:
        """One round of checks (runs in a thread); the event's payload when done, else None."""
        raise NotImplementedError

    def describe(self) -> str:
        """What is awaited, for messages."""
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from fb_commerce.graph.errors import redact

        client = None
        try:
            client = await self._client()
            event = await self._poll(client)
        except Exception as exc:  # noqa: BLE001 - an event, not a crash: the operator decides what it means
            event = {
                "status": "error",
                "reason": type(exc).__name__,
                "message": redact(f"{self.describe()}: {exc}")[:2000],
                **self.identity(),
            }
        finally:
            if client is not None:
                client.session.close()
        yield TriggerEvent(event)

    async def _poll(self, client: Any) -> dict[str, Any]:
        """Check until done or out of time; the event's payload."""
        from fb_commerce.graph.errors import GraphRateLimitWait

        delay = FIRST_POLL
        while True:
            pause = min(delay, self.poll_interval)
            try:
                payload = await asyncio.to_thread(self.check, client)
            except GraphRateLimitWait as exc:  # Meta asks to wait: waiting here costs nothing
                payload, pause = None, exc.regain_seconds
            if payload is not None:
                return {"status": "success", **payload}
            remaining = self.end_time - time.time()
            if remaining <= 0:
                return {
                    "status": "error",
                    "reason": "timeout",
                    "message": f"{self.describe()} did not finish in time",
                    **self.identity(),
                }
            await asyncio.sleep(max(0.0, min(pause, remaining)))
            delay *= 2

    def identity(self) -> dict[str, Any]:
        """What every event names (ids awaited)."""
        return {}


class FeedUploadTrigger(_GraphPollTrigger):
    """Waits until an upload session finished (``wait_for="session"``) or its error report is written
    (``wait_for="error_report"``).

    :param upload_id: Meta's upload session id.
    :param wait_for: "session" or "error_report".
    :param fb_conn_id: the Graph API connection.
    :param poll_interval: the longest pause between checks, in seconds.
    :param end_time: when to give up (epoch seconds).
    """

    def __init__(
        self,
        upload_id: str,
        wait_for: str = SESSION,
        fb_conn_id: str = GRAPH_CONN_ID,
        poll_interval: float = 15.0,
        end_time: float | None = None,
    ) -> None:
        if wait_for not in (SESSION, ERROR_REPORT):
            raise ValueError(f"wait_for must be {SESSION!r} or {ERROR_REPORT!r}, not {wait_for!r}")
        super().__init__(fb_conn_id, poll_interval, end_time)
        self.upload_id = upload_id
        self.wait_for = wait_for

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"upload_id": self.upload_id, "wait_for": self.wait_for, **self._base_kwargs()},
        )

    def identity(self) -> dict[str, Any]:
        return {"upload_id": self.upload_id, "wait_for": self.wait_for}

    def describe(self) -> str:
        what = "the error report of upload" if self.wait_for == ERROR_REPORT else "upload session"
        return f"{what} {self.upload_id}"

    def check(self, client: Any) -> dict[str, Any] | None:
        from fb_commerce.catalog import upload

        if self.wait_for == SESSION:
            return self.identity() if upload.read_session(client, self.upload_id).finished else None
        status, _ = upload.read_report_status(client, self.upload_id)
        return None if upload.report_pending(status) else {**self.identity(), "report_status": status}


class BatchStatusTrigger(_GraphPollTrigger):
    """Waits until every ``items_batch`` handle reached an end state.

    :param catalog_id: the catalog the handles belong to.
    :param handles: the handles to wait for.
    :param fb_conn_id: the Graph API connection.
    :param poll_interval: the longest pause between checks, in seconds.
    :param end_time: when to give up (epoch seconds).
    """

    def __init__(
        self,
        catalog_id: str,
        handles: list[str],
        fb_conn_id: str = GRAPH_CONN_ID,
        poll_interval: float = 15.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__(fb_conn_id, poll_interval, end_time)
        self.catalog_id = catalog_id
        self.handles = list(handles)
        self._waiting = list(handles)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"catalog_id": self.catalog_id, "handles": list(self.handles), **self._base_kwargs()},
        )

    def identity(self) -> dict[str, Any]:
        return {"handles": list(self.handles), "waiting": list(self._waiting)}

    def describe(self) -> str:
        return f"{len(self._waiting)} of {len(self.handles)} items_batch handle(s) of catalog {self.catalog_id}"

    def check(self, client: Any) -> dict[str, Any] | None:
        from fb_commerce.catalog.batch_calls import read_status

        # Handles seen finished are not asked again (this trigger's own memory; a restart asks them all once).
        self._waiting = [h for h in self._waiting if read_status(client, self.catalog_id, h, load_ids=False).pending]
        return None if self._waiting else self.identity()
