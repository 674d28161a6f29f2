"""What the customer-service page reads from its search box and forms, before cs checks anything."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from fb_commerce.web import forms
from fb_commerce.web.returns import AwaitingReturn


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("3000000000000001", "key"),
        ("ORD-000001-0001", "key"),
        ("ava.nguyen@example.com", "email"),
        ("Zoë Ångström", "name"),
        ("garcia", "name"),
        ("Hello,\nmy order 3000000000000001 has not arrived", "text"),
        (
            "Hi, about order ORD-000001-0001 that I placed last week: the mug arrived broken, can I get a refund?",
            "text",
        ),
    ],
)
def test_the_search_box_tells_a_key_an_email_a_name_and_a_pasted_email_apart(typed: str, kind: str) -> None:
    assert forms.search_kind(typed) == kind


def test_amounts_and_quantities_that_cannot_be_read_are_named() -> None:
    reasons: list[str] = []
    assert forms._amount("12.50", "Shipping refund", reasons) == Decimal("12.50")
    assert forms._amount("", "Shipping refund", reasons) is None
    assert forms._amount("12,50", "Shipping refund", reasons) is None
    assert forms._amount("-1", "Return-shipping deduction", reasons) == Decimal("-1")
    assert forms._quantity("2", "Quantity of item 7", reasons) == 2
    assert forms._quantity("1.5", "Quantity of item 7", reasons) is None
    assert reasons == [
        "Shipping refund: '12,50' is not an amount (write it like 12.50)",
        "Return-shipping deduction: an amount cannot be negative",
        "Quantity of item 7: '1.5' is not a whole number",
    ]


def test_the_reason_codes_offered_are_metas_in_cs_words() -> None:
    from fb_commerce.graph.surface import CANCEL_REASON_CODES, REFUND_REASON_CODES

    assert {code for code, _ in forms.CHOICES["refund_reason"]} <= set(REFUND_REASON_CODES)
    assert {code for code, _ in forms.CHOICES["cancel_reason"]} == set(CANCEL_REASON_CODES)
    assert ("CUSTOMER_REQUESTED", "Buyer asked to cancel") in forms.CHOICES["cancel_reason"]


def test_an_actions_outcome_stops_the_reloading_only_when_final() -> None:
    assert forms.outcome({"status": "pending"}) == "pending"
    assert forms.outcome({}) == "pending"
    assert {forms.outcome({"status": s}) for s in ("sent", "failed", "refused", "declined")} <= forms.FINAL
    assert forms.outcome({"status": "awaiting_approval"}) not in forms.FINAL


def test_a_returns_age_reads_in_days_and_hours() -> None:
    def waited(age: dt.timedelta | None) -> str:
        return AwaitingReturn("r", "o", None, None, None, age).age_text

    assert waited(dt.timedelta(days=3, hours=2, minutes=5)) == "3 d 2 h"
    assert waited(dt.timedelta(hours=5, minutes=7)) == "5 h 7 min"
    assert waited(None) == "unknown"
