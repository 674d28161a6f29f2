"""Reading Meta's usage headers and deciding how long to slow down.

``X-App-Usage`` gives the app's rolling-hour budget used, in percent; ``X-Business-Use-Case-Usage`` gives per-business
budgets and ``estimated_time_to_regain_access`` in minutes (docs/graph-api.md §4). Throttling can start when any
value reaches 100, so the client slows down above a threshold instead of running into the wall.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_USAGE_KEYS = ("call_count", "total_cputime", "total_time")


@dataclass(frozen=True)
class Usage:
    """What one response's headers say: the highest budget share used, and the wait Meta asks for."""

    peak_percent: float = 0.0
    regain_seconds: float = 0.0

    @property
    def is_empty(self) -> bool:
        return self.peak_percent == 0.0 and self.regain_seconds == 0.0


def _load(value: str | None) -> object:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        log.debug("Unreadable usage header %r", value[:200])
        return None


def _peak(entry: Mapping[str, object]) -> float:
    values = []
    for key in _USAGE_KEYS:
        try:
            value: Any = entry.get(key) or 0  # any JSON value: float() refuses what is not a number
            values.append(float(value))
        except (TypeError, ValueError):
            continue
    return max(values, default=0.0)


def parse_usage(headers: Mapping[str, str]) -> Usage:
    """Combine X-App-Usage and X-Business-Use-Case-Usage into the worst figures they report."""
    peak = 0.0
    regain_minutes = 0.0
    app = _load(headers.get("X-App-Usage") or headers.get("x-app-usage"))
    if isinstance(app, Mapping):
        peak = max(peak, _peak(app))
    buc = _load(headers.get("X-Business-Use-Case-Usage") or headers.get("x-business-use-case-usage"))
    if isinstance(buc, Mapping):
        for entries in buc.values():
            for entry in entries if isinstance(entries, list) else [entries]:
                if not isinstance(entry, Mapping):
                    continue
                peak = max(peak, _peak(entry))
                with contextlib.suppress(TypeError, ValueError):  # an unreadable wait is no wait
                    regain_minutes = max(regain_minutes, float(entry.get("estimated_time_to_regain_access") or 0))
    return Usage(peak_percent=peak, regain_seconds=regain_minutes * 60.0)


def slowdown_seconds(usage: Usage, threshold: float, max_delay: float) -> float:
    """Pause before the next call: zero below the threshold, growing to ``max_delay`` as usage nears 100%."""
    if usage.peak_percent < threshold:
        return 0.0
    span = max(100.0 - threshold, 1.0)
    share = min((usage.peak_percent - threshold) / span, 1.0)
    return round(max_delay * share * share + 0.05, 3)
