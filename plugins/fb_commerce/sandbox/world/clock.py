"""Virtual time: real wall-clock time plus an offset that the admin API can advance."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class VirtualClock:
    """Wall-clock time shifted by ``offset`` seconds.

    Real time keeps flowing so that clients computing ``updated_after`` from their own clock see sensible data;
    ``advance`` jumps forward to make time-based transitions (FB_PROCESSING windows, payouts) happen at once.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self.offset += seconds
        return self.now()

    def reset(self) -> None:
        self.offset = 0.0


def iso(ts: float | None) -> str | None:
    """ISO-8601 with an explicit UTC offset, the way Graph renders ``created`` / ``last_updated``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), tz=UTC).isoformat()


def day(ts: float) -> str:
    """A ``Y-m-d`` date (``ship_by_date``, ``payout_date``)."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


def day_start(ts: float) -> float:
    """The UTC midnight at or before ``ts``."""
    return float(int(ts) - int(ts) % 86400)
