"""Usage headers (X-App-Usage, X-Business-Use-Case-Usage) from the recent request rate.

Meta reports percentages of a rolling budget; the sandbox uses a rolling window of ``window`` seconds and a budget
of calls per window, so a burst of requests drives the numbers up and they fall again once the burst leaves the
window. CPU and total time are estimated from the measured handler time against a per-call allowance.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from dataclasses import dataclass, field

# Per-call allowances that make total_cputime / total_time percentages move with the call count (sandbox choice).
_CPU_MS_PER_CALL = 20.0
_TIME_MS_PER_CALL = 50.0


@dataclass
class _Window:
    calls: deque[tuple[float, float]] = field(default_factory=deque)  # (monotonic ts, handler ms)
    busy_ms: float = 0.0

    def trim(self, now: float, window: float) -> None:
        while self.calls and self.calls[0][0] <= now - window:
            self.busy_ms -= self.calls.popleft()[1]

    def add(self, now: float, ms: float) -> None:
        self.calls.append((now, ms))
        self.busy_ms += ms


class UsageMeter:
    """Rolling counts per app and per Business Use Case type (pages, catalog_management, catalog_batch)."""

    def __init__(self, calls_per_window: int, window: float = 60.0) -> None:
        self.budget = max(1, calls_per_window)
        self.window = window
        self._app = _Window()
        self._buc: dict[str, _Window] = {}

    def record(self, buc_type: str, handler_ms: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for w in (self._app, self._buc.setdefault(buc_type, _Window())):
            w.trim(now, self.window)
            w.add(now, handler_ms)

    def _percent(self, w: _Window, now: float) -> dict[str, int]:
        w.trim(now, self.window)
        n = len(w.calls)
        return {
            "call_count": int(100 * n / self.budget),
            "total_cputime": int(100 * w.busy_ms / (self.budget * _CPU_MS_PER_CALL)),
            "total_time": int(100 * (w.busy_ms + n) / (self.budget * _TIME_MS_PER_CALL)),
        }

    def app_percent(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        return max(self._percent(self._app, now).values())

    def regain_minutes(self, now: float | None = None) -> int:
        """Minutes until the oldest call leaves the window (what a throttled client must wait)."""
        now = time.monotonic() if now is None else now
        if not self._app.calls:
            return 0
        return max(1, math.ceil((self._app.calls[0][0] + self.window - now) / 60.0))

    def headers(self, buc_type: str, business_id: str, throttled_minutes: int | None = None) -> dict[str, str]:
        now = time.monotonic()
        app = self._percent(self._app, now)
        buc = dict(self._percent(self._buc.setdefault(buc_type, _Window()), now))
        if throttled_minutes is not None:
            # A throttled answer says so in the headers too: some value at 100 or more.
            app["call_count"] = max(app["call_count"], 100)
            buc["call_count"] = max(buc["call_count"], 100)
        buc_entry = {"type": buc_type, **buc, "estimated_time_to_regain_access": throttled_minutes or 0}
        return {
            "X-App-Usage": json.dumps(app, separators=(",", ":")),
            "X-Business-Use-Case-Usage": json.dumps({business_id: [buc_entry]}, separators=(",", ":")),
        }
