"""Customer-service forms read from plain values (a DAG's params): item lines, flags, what cannot be read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fb_commerce.cs.actions import CancelForm, ItemLine, RefundForm, TrackingForm, item_lines, read_form, request_id_of


def test_item_lines_take_quantities_and_amounts() -> None:
    lines, problems = item_lines(["SKU-1 2", "SKU-2 x 1", " 3100000000000001 12.50 ", "", "SKU-3:4"])
    assert problems == []
    assert lines == [
        ItemLine("SKU-1", quantity=2),
        ItemLine("SKU-2", quantity=1),
        ItemLine("3100000000000001", amount=Decimal("12.50")),
        ItemLine("SKU-3", quantity=4),
    ]
    assert item_lines("SKU-1 1\nSKU-2 2")[0] == [ItemLine("SKU-1", quantity=1), ItemLine("SKU-2", quantity=2)]
    assert item_lines(None) == ([], [])


@pytest.mark.parametrize("bad", ["SKU-1", "SKU-1 two", "SKU-1 1,50", "SKU-1 -1"])
def test_item_lines_say_what_cannot_be_read(bad: str) -> None:
    lines, problems = item_lines([bad])
    assert lines == [] and len(problems) == 1 and "line 1" in problems[0] and "'SKU-1 2'" in problems[0]


def test_read_form_of_each_action() -> None:
    refund, problems = read_form(
        "refund", {"order": " FB-000001 ", "items": ["SKU-1 1"], "reason_code": "DAMAGED_GOODS", "full_refund": False}
    )
    assert problems == [] and isinstance(refund, RefundForm)
    assert (refund.order, refund.items, refund.full_refund) == ("FB-000001", [ItemLine("SKU-1", 1)], False)
    cancel, _ = read_form("cancel", {"order": "1", "whole_order": "true", "restock": False, "repeat_key": "again"})
    assert isinstance(cancel, CancelForm) and cancel.whole_order and not cancel.restock
    assert cancel.submission_id == "again"
    tracking, _ = read_form(
        "update_tracking", {"order": "1", "shipment": "s1", "carrier": "ups", "tracking_number": "1Z"}
    )
    assert isinstance(tracking, TrackingForm) and tracking.shipment == "s1"
    with pytest.raises(ValueError):
        read_form("ship", {})


def test_request_ids_are_deterministic() -> None:
    fields = {"items": [{"item_id": "i1", "quantity": 1}], "reason_code": "DAMAGED_GOODS"}
    first = request_id_of("refund", "1", fields, None)
    assert first == request_id_of("refund", "1", dict(fields), None)
    assert first.startswith("cs-refund-") and len(first) <= 255
    assert first != request_id_of("refund", "1", fields, "token-2")
    assert first != request_id_of("refund", "2", fields, None)
