"""Behaviour knobs of the sandbox (``GET``/``POST /_sandbox/config``); ``reset`` restores these defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from fb_commerce import defaults

# What a system-user token set up as the docs/graph-api.md §1.1 says would carry.
DEFAULT_PERMISSIONS = (
    "commerce_manage_accounts",
    "commerce_account_read_settings",
    "commerce_account_manage_orders",
    "commerce_account_read_orders",
    "commerce_account_read_reports",
    "catalog_management",
    "business_management",
    "pages_read_engagement",
)


@dataclass
class SandboxConfig:
    """Credentials the sandbox accepts and the delays, limits and fees it applies."""

    access_token: str = defaults.SANDBOX_ACCESS_TOKEN
    app_secret: str = defaults.SANDBOX_APP_SECRET
    require_appsecret_proof: bool = True  # like an app with "Require App Secret" on
    expired_tokens: list[str] = field(default_factory=list)  # answered with 190/463 "session has expired"
    permissions: list[str] = field(default_factory=lambda: list(DEFAULT_PERMISSIONS))
    fb_processing_minutes: float = 30.0  # how long a live order stays FB_PROCESSING (reference: usually <= ~30 min)
    payout_delay_days: float = 5.0  # standard payout: 5 days after capture (docs/graph-api.md §3)
    # share of payouts marked FAILED at random (deterministic per seed and payout); 0: a failed payout is planted
    payout_failure_rate: float = 0.0
    upload_delay_seconds: float = 1.0  # a feed upload session finishes this long after it started (or on clock)
    batch_delay_seconds: float = 1.0  # an items_batch handle finishes this long after it was sent
    items_batch_per_minute: int = 30  # Catalog Batch calls per catalog per rolling minute before 80014
    # fields an items_batch UPDATE leaves as they were, with a per-item warning that the value was ignored (the
    # rest of the request applies): how Meta answers a value it cannot use, on demand for tests
    items_batch_ignored_fields: list[str] = field(default_factory=list)
    app_calls_per_minute: int = 3000  # the budget behind X-App-Usage; at 100% calls get code 4
    page_scan_budget: int = 1000  # keys a list page examines before it returns (possibly empty) with next
    processing_fee_rate: str = "0.05"  # 5% of the shipment total ...
    flat_fee: str = "0.40"  # ... or a flat 0.40 at or below flat_fee_threshold
    flat_fee_threshold: str = "8.00"

    def update(self, payload: dict[str, Any]) -> None:
        known = {f.name: f for f in fields(self)}
        unknown = set(payload) - set(known)
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}; known: {sorted(known)}")
        for name, value in payload.items():
            current = getattr(self, name)
            if isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, int):
                value = int(value)
            elif isinstance(current, float):
                value = float(value)
            elif isinstance(current, list):
                value = list(value)
            else:
                value = str(value)
            setattr(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
