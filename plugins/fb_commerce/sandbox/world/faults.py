"""Injected faults: errors, throttles, timeouts, latency and write conflicts, deterministic per seed.

Each Graph request gets a sequence number; whether it fails is drawn from ``random.Random(f"{seed}:{seq}")``, never
from the global RNG, so the same seed and the same sequence of requests fail the same way on every run.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any

_RATES = ("error_rate", "throttle_rate", "timeout_rate", "conflict_rate")


@dataclass
class FaultConfig:
    """What ``POST /_sandbox/faults`` sets. Rates are fractions of matching requests (0..1)."""

    error_rate: float = 0.0  # transient 1/2 errors (HTTP 500/503)
    throttle_rate: float = 0.0  # the endpoint's throttle code (or throttle_code)
    timeout_rate: float = 0.0  # sleep timeout_ms then answer 503; writes are applied first (the lost-answer case)
    latency_ms: int = 0  # added to every Graph request
    conflict_rate: float = 0.0  # writes only: 2361050 concurrent modification / 2361081 pending action
    throttle_regain_minutes: int = 0  # estimated_time_to_regain_access shown on an injected throttle
    timeout_ms: int = 1500
    throttle_code: int | None = None  # force one throttle code instead of the endpoint's own
    paths: list[str] = field(default_factory=list)  # substrings: only matching paths are faulted (empty = all)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(payload) - known
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}; known: {sorted(known)}")
        cfg = cls(**payload)
        for name in _RATES:
            value = float(getattr(cfg, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
            setattr(cfg, name, value)
        if cfg.error_rate + cfg.throttle_rate + cfg.timeout_rate > 1.0:
            raise ValueError("error_rate + throttle_rate + timeout_rate must not exceed 1")
        if isinstance(cfg.paths, str):
            cfg.paths = [cfg.paths]
        cfg.latency_ms, cfg.timeout_ms = int(cfg.latency_ms), int(cfg.timeout_ms)
        cfg.throttle_regain_minutes = int(cfg.throttle_regain_minutes)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FaultDecision:
    """What happens to one request: ``kind`` is None, "error", "throttle" or "timeout"."""

    kind: str | None = None
    conflict_code: int | None = None
    error_code: int = 2


NO_FAULT = FaultDecision()


def decide(cfg: FaultConfig, seed: int, seq: int, path: str, is_write: bool) -> FaultDecision:
    """Draw the fault for request number ``seq``; the same inputs always give the same answer."""
    if cfg.paths and not any(p in path for p in cfg.paths):
        return NO_FAULT
    if not (cfg.error_rate or cfg.throttle_rate or cfg.timeout_rate or cfg.conflict_rate):
        return NO_FAULT
    rng = random.Random(f"{seed}:{seq}")
    draw, conflict_draw, flavour = rng.random(), rng.random(), rng.random()
    kind = None
    if draw < cfg.error_rate:
        kind = "error"
    elif draw < cfg.error_rate + cfg.throttle_rate:
        kind = "throttle"
    elif draw < cfg.error_rate + cfg.throttle_rate + cfg.timeout_rate:
        kind = "timeout"
    conflict = None
    if kind is None and is_write and conflict_draw < cfg.conflict_rate:
        conflict = 2361050 if flavour < 0.5 else 2361081
    return FaultDecision(kind=kind, conflict_code=conflict, error_code=1 if flavour < 0.3 else 2)
