"""Idempotency keys for state-changing POSTs (docs/graph-api.md §1.10).

Same key + same payload: the stored first answer comes back and nothing runs again. Same key + another payload:
error 100 with the sandbox-chosen subcode ``IDEMPOTENCY_KEY_REUSED``. Keys are global, like Meta's.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import IDEMPOTENCY_KEY_REUSED, GraphError, invalid_param

# The reference says "up to 100 alphanumeric characters" and also recommends a UUID v4, which has hyphens:
# accept letters, digits, '-' and '_' so both readings work.
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_NOT_PAYLOAD = {
    "idempotency_key",
    "access_token",
    "appsecret_proof",
    "fields",
    "method",
    "format",
    "suppress_http_code",
    "pretty",
}


@dataclass
class StoredAnswer:
    fingerprint: str
    status: int
    body: dict[str, Any]


def require_key(params: dict[str, Any]) -> str:
    value = params.get("idempotency_key")
    if value in (None, ""):
        raise invalid_param("The parameter idempotency_key is required", field_name="idempotency_key")
    if not isinstance(value, str) or not _KEY_RE.match(value):
        raise invalid_param(
            "idempotency_key must be 1 to 100 letters, digits, '-' or '_'", field_name="idempotency_key"
        )
    return value


def fingerprint(route: str, params: dict[str, Any]) -> str:
    """A digest of what the call asks for: JSON strings are decoded first so form and JSON bodies compare equal."""
    payload = {k: _decoded(v) for k, v in params.items() if k not in _NOT_PAYLOAD}
    text = json.dumps([route, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _decoded(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


class IdempotencyStore:
    """First answers by key."""

    def __init__(self) -> None:
        self._answers: dict[str, StoredAnswer] = {}

    def lookup(self, key: str, print_: str) -> StoredAnswer | None:
        stored = self._answers.get(key)
        if stored is None:
            return None
        if stored.fingerprint != print_:
            raise GraphError(
                "(#100) This idempotency_key was already used for a different request. Use a new key for a new "
                "request and the same key only to retry the same request.",
                code=100,
                subcode=IDEMPOTENCY_KEY_REUSED,
                user_title="Idempotency key reused",
                user_msg="The idempotency key was already used with different parameters.",
            )
        return stored

    def store(self, key: str, print_: str, status: int, body: dict[str, Any]) -> None:
        self._answers[key] = StoredAnswer(print_, status, body)

    def __len__(self) -> int:
        return len(self._answers)
