"""What the feed upload is told and what it answers: its settings, "wait for Meta", and its refusal.

Cheap to import (the DAG file's operator module reads these names at parse time); the upload itself is
:mod:`fb_commerce.catalog.feed_upload`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fb_commerce.catalog.rejects import FeedError

DEFAULT_FEED_NAME = "fb-commerce product feed"
#: Share of the uploaded products Meta may refuse before the upload fails.
DEFAULT_FATAL_ERROR_LIMIT = 0.05
UPLOAD_MODES = ("file", "url")
ERROR_REPORT_MODES = ("auto", "always", "never")
#: what a :class:`Wait` waits for (the trigger's names)
SESSION, ERROR_REPORT = "session", "error_report"


class FeedUploadRefused(FeedError):
    """The upload cannot go on: a missing feed file, unusable settings, or too many products refused by Meta."""


@dataclass(frozen=True)
class Wait:
    """Meta is still working: wait until ``wait_for`` (:data:`SESSION` or :data:`ERROR_REPORT`) of ``upload_id``
    is done, then call the next step."""

    upload_id: str
    wait_for: str


@dataclass(frozen=True)
class UploadSettings:
    """How to upload: the parsed settings of the upload task.

    :param upload_mode: "file" (the file itself) or "url" (Meta fetches ``feed_url``).
    :param feed_url: the http(s) URL Meta fetches in url mode.
    :param error_report: "auto", "always" or "never": when to load Meta's full error report.
    :param update_only: upload as an update (products missing from the file stay on Meta).
    :param fatal_error_limit: the share of refused products that fails the upload (None: no limit).
    :param feed_name: the name of a feed the upload creates when the connection names none.
    """

    upload_mode: str = "file"
    feed_url: str | None = None
    error_report: str = "auto"
    update_only: bool = False
    fatal_error_limit: float | None = DEFAULT_FATAL_ERROR_LIMIT
    feed_name: str = DEFAULT_FEED_NAME

    def __post_init__(self) -> None:
        if self.upload_mode == "url" and not (self.feed_url and self.feed_url.startswith(("http://", "https://"))):
            raise FeedUploadRefused(
                "upload_mode 'url' needs feed_url: the http(s) address where Meta can fetch the feed file"
            )

    @property
    def url(self) -> str | None:
        """The URL Meta fetches (url mode), else None (the file is sent)."""
        return self.feed_url if self.upload_mode == "url" else None
