"""Deterministic idempotency keys for Graph API writes.

Meta replays the first answer for a repeated key with the same payload (docs/graph-api.md §1.10). Deriving the
key from (operation, target, canonical payload) means a retried call, a retried task or a rerun DAG sends the same
key for the same write, so Meta applies it once. ``generation`` gives a new key on purpose, e.g. after a batch
acknowledgement answered with a coded exception, where docs/graph-api.md says to retry with a new key.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import re
from typing import Any

MAX_KEY_LENGTH = 100
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot canonicalise {type(value).__name__} for an idempotency key")


def canonical_json(payload: Any) -> str:
    """JSON with sorted keys and no spaces: equal payloads give equal text."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_default, ensure_ascii=True)


def idempotency_key(operation: str, target_id: str | int, payload: Any = None, *, generation: int = 0) -> str:
    """A key of at most 100 alphanumeric characters, the same for the same write.

    :param operation: what the write does, e.g. ``"ship"`` or ``"ack_batch"``; its letters start the key so a
        key in Meta's logs says what it was for.
    :param target_id: the node written to (order id, CMS id, catalog id).
    :param payload: the write's parameters without the key itself; dict order does not matter.
    :param generation: 0 for the first key; 1, 2, ... to take a new key deliberately.
    """
    material = canonical_json({"op": operation, "target": str(target_id), "payload": payload, "gen": generation})
    digest = hashlib.sha256(material.encode("utf-8")).hexdigest()
    prefix = _NOT_ALNUM.sub("", operation)[:24]
    return f"{prefix}{digest}"[:MAX_KEY_LENGTH]
