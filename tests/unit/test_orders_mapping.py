"""Meta order JSON → warehouse rows."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

import pytest

from fb_commerce.orders.mapping import item_rows, order_row, refund_row, shipment_row
from fb_commerce.orders.values import UnreadableValue, timestamp

NOW = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
ORDER = {
    "id": "3000000000000001",
    "order_status": {"state": "CREATED"},
    "created": "2026-11-14T06:55:10+0000",
    "last_updated": "2026-11-14T19:38:00+00:00",
    "channel": "instagram",
    "ship_by_date": "2026-11-17",
    "buyer_details": {"name": "Omar", "email": "o@example.com", "email_remarketing_option": False},
    "shipping_address": {"street1": "1 Main", "city": "Seattle", "postal_code": "98101", "country": "US"},
    "estimated_payment_details": {
        "subtotal": {
            "items": {"amount": "149.96", "currency": "USD"},
            "shipping": {"amount": "9.99", "currency": "USD"},
        },
        "tax": {"amount": "15.37", "currency": "USD"},
        "total_amount": {"amount": "175.32", "currency": "USD"},
    },
    "promotion_details": {"data": [{"campaign_name": "Fall", "applied_amount": {"amount": "5.00", "currency": "USD"}}]},
    "items": {
        "data": [
            {
                "id": "31",
                "retailer_id": "SKU-1",
                "quantity": 2,
                "price_per_unit": {"amount": "33.99", "currency": "USD"},
                "tax_details": {"estimated_tax": {"amount": "6.97", "currency": "USD"}},
                "status": {"in_progress": 2, "fulfilled": 0, "cancelled": 0},
            }
        ]
    },
}


def test_order_row_money_is_exact_and_times_are_utc():
    row = order_row(ORDER, NOW)
    assert row["state"] == "CREATED" and row["total"] == Decimal("175.32") and row["currency"] == "USD"
    assert row["created_at"] == dt.datetime(2026, 11, 14, 6, 55, 10, tzinfo=dt.UTC)
    assert row["ship_by_date"] == dt.date(2026, 11, 17)
    assert row["marketing_opt_in"] is False and row["ship_to_city"] == "Seattle"
    assert row["promotion_details"][0]["campaign_name"] == "Fall"
    assert "merchant_order_reference" not in row and "acknowledged_at" not in row  # ours, never Meta's


def test_item_rows():
    (item,) = item_rows(ORDER, NOW)
    assert item["item_id"] == "31" and item["quantity"] == 2 and item["quantity_in_progress"] == 2
    assert (
        item["price_per_unit"] == Decimal("33.99") and item["tax"] == Decimal("6.97") and item["captured_tax"] is None
    )


def test_read_back_rows():
    ship = shipment_row(
        "1",
        {
            "id": "9",
            "items": {"data": [{"id": "31", "quantity": 1}]},
            "tracking_info": {"carrier": "UPS", "tracking_number": "1Z"},
        },
        NOW,
    )
    assert ship["tracking_number"] == "1Z" and ship["items"] == [{"id": "31", "quantity": 1}]
    refund = refund_row(
        "1",
        {
            "id": "8",
            "refund_reason": {"reason_code": "DAMAGED_GOODS"},
            "refund_amount": {
                "subtotal": {"amount": "10.00", "currency": "USD"},
                "total": {"amount": "10.80", "currency": "USD"},
            },
        },
        NOW,
    )
    assert refund["reason_code"] == "DAMAGED_GOODS" and refund["total"] == Decimal("10.80")


def test_timestamps_in_every_form():
    expected = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    for value in (
        "2026-01-02T03:04:05+0000",
        "2026-01-02T03:04:05Z",
        "2026-01-02T04:04:05+01:00",
        expected.timestamp(),
    ):
        assert timestamp(value) == expected


@pytest.mark.parametrize("bad", ["12,34", "1 000.00", "NaN", "Infinity", "", "abc", ["1"], True])
def test_an_amount_meta_sent_that_cannot_be_read_is_refused_with_its_field(bad):
    """Never NULL or 0 in the warehouse: the pull stops on the order, naming it and the field."""
    order = copy.deepcopy(ORDER)
    order["estimated_payment_details"]["tax"]["amount"] = bad
    if bad == "":  # an empty amount is an absent one, not a wrong one
        assert order_row(order, NOW)["tax"] is None
        return
    with pytest.raises(UnreadableValue, match=r"order 3000000000000001: estimated_payment_details\.tax\.amount"):
        order_row(order, NOW)


@pytest.mark.parametrize("bad", [None, "2.5", 2.5, "two", -1, True])
def test_an_item_quantity_that_is_not_a_whole_number_is_refused(bad):
    order = copy.deepcopy(ORDER)
    order["items"]["data"][0]["quantity"] = bad
    with pytest.raises(UnreadableValue, match=r"order 3000000000000001: items\[0\]\.quantity"):
        item_rows(order, NOW)


def test_an_item_price_that_is_not_a_money_object_is_refused():
    order = copy.deepcopy(ORDER)
    order["items"]["data"][0]["price_per_unit"] = "33.99 USD"
    with pytest.raises(UnreadableValue, match=r"items\[0\]\.price_per_unit: '33.99 USD' is not a money object"):
        item_rows(order, NOW)


def test_a_refund_amount_that_cannot_be_read_names_the_refund():
    refund = {"id": "R9", "refund_amount": {"total": {"amount": "1,00", "currency": "USD"}}}
    with pytest.raises(UnreadableValue, match=r"refund R9: refund_amount\.total\.amount: '1,00'"):
        refund_row("O1", refund, NOW)
