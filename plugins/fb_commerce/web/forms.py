"""The page's forms: what the search box means, and a submitted form as cs's ``RefundForm`` / ``CancelForm`` /
``TrackingForm``.

Only the reading of what was typed is here (a quantity that is not a whole number, an amount that is not a
decimal); whether the refund or cancellation can be done is for :mod:`fb_commerce.cs.actions` to say.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from fb_commerce.cs.actions import CANCEL_REASONS, REFUND_REASONS
from fb_commerce.graph.surface import CARRIERS
from fb_commerce.orders.values import UnreadableValue, amount, whole_number

#: the choices the forms offer: cs's reason codes (Meta's, docs/graph-api.md §1.6, §1.7) with cs's words for them
CHOICES: dict[str, list[tuple[str, str]]] = {
    "refund_reason": list(REFUND_REASONS.items()),
    "cancel_reason": list(CANCEL_REASONS.items()),
    "carrier": [(code, code.upper() if len(code) <= 4 else code.replace("_", " ").capitalize()) for code in CARRIERS],
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: longer than this, or on several lines, the box holds a pasted e-mail rather than a name
_PASTE_AT = 80


class FormError(ValueError):
    """What was typed cannot be read; ``reasons`` says so in plain words, one per field."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def search_kind(text: str) -> str:
    """``key`` (one word: an order id or reference), ``email``, ``name``, or ``text`` (a pasted e-mail)."""
    if "\n" in text or len(text) > _PASTE_AT:
        return "text"
    if _EMAIL.match(text):
        return "email"
    if " " not in text and any(ch.isdigit() for ch in text):
        return "key"
    return "name"


def _amount(raw: str, what: str, reasons: list[str]) -> Decimal | None:
    if not raw.strip():
        return None
    try:
        value = amount({"amount": raw.strip()}, what)
    except UnreadableValue:
        reasons.append(f"{what}: {raw.strip()!r} is not an amount (write it like 12.50)")
        return None
    if value is not None and value < 0:
        reasons.append(f"{what}: an amount cannot be negative")
    return value


def _quantity(raw: str, what: str, reasons: list[str]) -> int | None:
    if not raw.strip():
        return None
    try:
        return whole_number(raw, what)
    except UnreadableValue:
        reasons.append(f"{what}: {raw.strip()!r} is not a whole number")
        return None


def _items(submitted: dict[str, str], reasons: list[str], *, amounts: bool) -> list[Any]:
    """``quantity.<item id>`` (and ``amount.<item id>``) fields as cs's item lines."""
    from fb_commerce.cs.actions import ItemLine

    items = []
    prefixes = ("quantity.", "amount.") if amounts else ("quantity.",)
    named = (name.split(".", 1)[1] for name in submitted if name.startswith(prefixes))
    for item_id in dict.fromkeys(named):  # each item once, in the page's order
        quantity = _quantity(submitted.get(f"quantity.{item_id}", ""), f"Quantity of item {item_id}", reasons)
        money = (
            _amount(submitted.get(f"amount.{item_id}", ""), f"Amount of item {item_id}", reasons) if amounts else None
        )
        if quantity and money:
            reasons.append(f"Item {item_id}: give a quantity or an amount, not both")
        elif quantity or money:
            items.append(ItemLine(item=item_id, quantity=quantity or None, amount=money or None))
    return items


def build(kind: str, order_id: str, submitted: dict[str, str]) -> Any:
    """The cs form for ``kind`` (refund, cancel, tracking), or :class:`FormError` naming what cannot be read.

    ``submission_id`` comes from the page the form was on: the same page submitted twice is the same request
    (cs queues it once).
    """
    from fb_commerce.cs import actions

    reasons: list[str] = []
    text = {key: value.strip() for key, value in submitted.items()}
    submission = text.get("submission_id") or None
    form: Any
    if kind == "refund":
        form = actions.RefundForm(
            order=order_id,
            reason_code=text.get("reason_code", ""),
            items=_items(submitted, reasons, amounts=True),
            full_refund=text.get("full_refund") == "yes",
            shipping_refund=_amount(text.get("shipping_refund", ""), "Shipping refund", reasons),
            return_shipping_deduction=_amount(
                text.get("return_shipping_deduction", ""), "Return-shipping deduction", reasons
            ),
            reason_text=text.get("reason_text") or None,
            return_id=text.get("return_id") or None,
            submission_id=submission,
        )
    elif kind == "cancel":
        whole = text.get("scope") == "order"
        items = [] if whole else _items(submitted, reasons, amounts=False)
        if not whole and not items and not reasons:
            reasons.append("Choose the items to cancel (a quantity for each), or cancel the whole order")
        form = actions.CancelForm(
            order=order_id,
            reason_code=text.get("reason_code", ""),
            items=items,
            whole_order=whole,
            reason_description=text.get("reason_text") or None,
            restock=text.get("restock") == "yes",
            submission_id=submission,
        )
    elif kind == "tracking":
        form = actions.TrackingForm(
            order=order_id,
            shipment=text.get("shipment_id", ""),
            carrier=text.get("carrier", ""),
            tracking_number=text.get("tracking_number", ""),
            shipping_method=text.get("shipping_method_name") or None,
            submission_id=submission,
        )
    else:
        raise ValueError(kind)
    if reasons:
        raise FormError(reasons)
    return form


#: an action's status (cs.actions.action_status) once its result has landed: the page stops reloading
FINAL = {"sent", "failed", "refused", "declined"}


def outcome(action: dict[str, Any]) -> str:
    """The action's status (pending, awaiting_approval, sent, failed, refused, declined)."""
    status = action.get("status")
    return status if isinstance(status, str) and status else "pending"
