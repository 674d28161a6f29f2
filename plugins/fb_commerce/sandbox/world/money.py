"""Money as Decimal internally and as Graph renders it: ``{"amount": "12.34", "currency": "USD"}``."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Feed style: "9.99 USD" or "14 GBP" (period as decimal point, one space, ISO-4217, no symbol).
_PRICE_RE = re.compile(r"^(\d{1,12})(\.\d{1,2})? ([A-Z]{3})$")


def cents(value: Decimal | int | str) -> Decimal:
    """Round half-up to cents; every stored amount goes through here so sums stay exact."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def money(amount: Decimal, currency: str) -> dict[str, str]:
    # Stored amounts are already cents (see ``cents``); formatting is much cheaper than quantize per render.
    return {"amount": f"{amount:.2f}", "currency": currency}


def parse_price(text: str) -> tuple[Decimal, str] | None:
    """``"9.99 USD"`` -> (Decimal("9.99"), "USD"); None when malformed."""
    match = _PRICE_RE.match(text.strip()) if isinstance(text, str) else None
    if not match:
        return None
    return cents(match.group(1) + (match.group(2) or "")), match.group(3)


def parse_amount(value: object) -> Decimal | None:
    """An amount sent by a client: ``"12.34"``, ``12.34`` or ``{"amount": "12.34", ...}``; None when malformed."""
    if isinstance(value, dict):
        value = value.get("amount")
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    return cents(amount)


def prorate(total: Decimal, part: Decimal | int, whole: Decimal | int) -> Decimal:
    """``total * part / whole`` in cents; callers prorate cumulatively so that rounding never drifts."""
    if not whole:
        return ZERO
    return cents(Decimal(total) * Decimal(part) / Decimal(whole))
