"""Request statistics for ``GET /_sandbox/stats``: what tests assert "nothing sent twice" against."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


class Stats:
    """Counters per endpoint template (``"GET /{cms_id}/commerce_orders"``) and per written order."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.throttled = 0
        self.failed = 0
        self.faults: Counter[str] = Counter()
        self.replays = 0
        self.idempotency_conflicts = 0
        self.writes: defaultdict[str, Counter[str]] = defaultdict(Counter)  # applied (replays excluded)
        self.write_requests: defaultdict[str, Counter[str]] = defaultdict(Counter)  # every attempt

    def request(self, endpoint: str, status: int) -> None:
        self.requests[endpoint] += 1
        self.statuses[str(status)] += 1
        if status >= 400:
            self.failed += 1

    def write(self, endpoint: str, target_ids: list[str], applied: bool) -> None:
        for target in target_ids:
            self.write_requests[endpoint][target] += 1
            if applied:
                self.writes[endpoint][target] += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "total_requests": sum(self.requests.values()),
            "statuses": dict(self.statuses),
            "throttled": self.throttled,
            "failed": self.failed,
            "faults": dict(self.faults),
            "timeouts": self.faults.get("timeout", 0),
            "idempotent_replays": self.replays,
            "idempotency_conflicts": self.idempotency_conflicts,
            "writes": {k: dict(v) for k, v in self.writes.items()},
            "write_requests": {k: dict(v) for k, v in self.write_requests.items()},
        }
