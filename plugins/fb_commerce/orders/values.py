"""Reading Graph API values: money objects, ISO timestamps, dates, nested edges."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any


class UnreadableValue(ValueError):
    """A value from Meta that cannot be read exactly: refused with the field named, never stored as NULL or 0."""


def money(value: Any, field: str = "amount") -> tuple[Decimal | None, str | None]:
    """``{"amount": "12.34", "currency": "USD"}`` as (Decimal("12.34"), "USD"); (None, None) when absent.

    An amount that is not an exact, finite decimal (``"12,34"``, ``"NaN"``, a list) raises :class:`UnreadableValue`
    naming ``field``: a wrong amount in the warehouse is worse than a stopped sync.
    """
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise UnreadableValue(f"{field}: {str(value)[:100]!r} is not a money object")
    raw = value.get("amount")
    if raw is None or raw == "":
        return None, value.get("currency")
    try:
        # A string, Meta's form, as it is; bool is an int but never an amount.
        if raw.__class__ is str:
            parsed = Decimal(raw.strip())
        elif isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise InvalidOperation
        else:
            parsed = Decimal(str(raw).strip())
    except InvalidOperation:
        raise UnreadableValue(f"{field}.amount: {str(raw)[:100]!r} is not a decimal amount") from None
    if not parsed.is_finite():
        raise UnreadableValue(f"{field}.amount: {str(raw)[:100]!r} is not a finite amount")
    return parsed, value.get("currency")


def amount(value: Any, field: str = "amount") -> Decimal | None:
    if value is None:  # most optional amounts are absent: no tuple to build
        return None
    return money(value, field)[0]


def whole_number(value: Any, field: str) -> int:
    """A count Meta sends (``3`` or ``"3"``); anything else, missing or negative included, raises
    :class:`UnreadableValue`."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise UnreadableValue(f"{field}: {str(value)[:100]!r} is not a whole number")


def timestamp(value: Any) -> dt.datetime | None:
    """ISO-8601 (Meta writes ``2026-11-14T06:55:10+00:00`` or ``...+0000``) or Unix seconds, as aware UTC."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    text = str(value).replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # +0000 -> +00:00
        text = f"{text[:-2]}:{text[-2:]}"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


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
