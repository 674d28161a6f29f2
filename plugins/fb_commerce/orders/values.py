"""Reading Graph API values: money objects, ISO timestamps, dates, nested edges."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any


def money(value: Any) -> tuple[Decimal | None, str | None]:
    """``{"amount": "12.34", "currency": "USD"}`` as (Decimal("12.34"), "USD"); (None, None) when absent."""
    if not isinstance(value, dict):
        return None, None
    amount = value.get("amount")
    try:
        parsed = Decimal(str(amount)) if amount not in (None, "") else None
    except InvalidOperation:
        parsed = None
    return parsed, value.get("currency")


def amount(value: Any) -> Decimal | None:
    return money(value)[0]


def timestamp(value: Any) -> dt.datetime | None:
    """ISO-8601 (Meta writes ``2026-11-14T06:55:10+00:00`` or ``...+0000``) or Unix seconds, as aware UTC."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
    text = str(value).replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # +0000 -> +00:00
        text = f"{text[:-2]}:{text[-2:]}"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    return dt.date.fromisoformat(str(value)[:10])


def edge(node: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """An edge expanded inline (``{"data": [...]}``) or given as a plain list."""
    value = node.get(name)
    if isinstance(value, dict):
        return list(value.get("data") or [])
    return list(value or [])


def dig(node: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node
