"""Inventory delta pieces without a database or network: requests, value checks, packing into calls, batch status."""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace

import pytest

from fb_commerce.catalog.batch_calls import BatchStatus, already_gone, is_pending, value_not_applied
from fb_commerce.catalog.feed_readback import state_row
from fb_commerce.catalog.inventory_delta import (
    CREATE,
    DELETE,
    UPDATE,
    DeltaCounts,
    InventoryChange,
    change_from_row,
    delta_sql,
    plan_batches,
    sendable,
)
from fb_commerce.catalog.mapping import FeedMappingError, mapping_options
from fb_commerce.catalog.rules import Reason


def change(retailer_id: str = "SKU-1", method: str = UPDATE, **values: object) -> InventoryChange:
    base = {"availability": "in stock", "quantity": 3, "price": Decimal("19.90"), "currency": "USD"}
    return InventoryChange(retailer_id, method, **{**base, **values})


def test_update_request_carries_absolute_values_in_feed_style():
    assert change(sale_price=Decimal(15)).request() == {
        "method": "UPDATE",
        "data": {
            "id": "SKU-1",
            "availability": "in stock",
            "quantity_to_sell_on_facebook": 3,
            "price": "19.90 USD",
            "sale_price": "15.00 USD",
        },
    }
    assert "sale_price" not in change().request()["data"]
    assert change(synced_sale_price=Decimal(15)).request()["data"]["sale_price"] is None  # the sale ended: null


def test_delete_request_and_state_values():
    gone = InventoryChange("SKU-9", DELETE)
    assert gone.request() == {"method": "DELETE", "data": {"id": "SKU-9"}}
    assert gone.problem() is None and set(gone.state_values().values()) == {None}


def row(**values: object) -> SimpleNamespace:
    """A delta row as the source SQL gives it: text, exactly as the feed mapping writes it."""
    base = {
        "retailer_id": "SKU-1",
        "method": UPDATE,
        "availability": "in stock",
        "quantity": "3",
        "price": "19.90",
        "sale_price": None,
        "currency": "USD",
        "synced_sale_price": None,
    }
    return SimpleNamespace(**{**base, **values})


@pytest.mark.parametrize(
    ("values", "refusal"),
    [
        ({"availability": "In Stock"}, "availability: not one of: in stock, out of stock: 'In Stock'"),
        ({"availability": "preorder"}, "availability: not one of: in stock, out of stock: 'preorder'"),
        ({"availability": None}, "availability: missing (required)"),
        ({"quantity": "-1"}, "quantity_to_sell_on_facebook: not a whole number of 0 or more: '-1'"),
        ({"quantity": "2.5"}, "quantity_to_sell_on_facebook: not a whole number of 0 or more: '2.5'"),
        ({"quantity": 2.5}, "quantity_to_sell_on_facebook: not a whole number of 0 or more: '2.5'"),
        ({"quantity": "12 units"}, "quantity_to_sell_on_facebook: not a whole number of 0 or more: '12 units'"),
        ({"quantity": "2147483648"}, f"quantity_to_sell_on_facebook: {Reason.QUANTITY_TOO_LARGE}: '2147483648'"),
        ({"quantity": None}, "quantity_to_sell_on_facebook: missing (required)"),
        ({"price": None}, "price: missing (required)"),
        ({"price": "-5"}, f"price: {Reason.PRICE_FORMAT}: '-5'"),
        ({"price": "9,99"}, f"price: {Reason.PRICE_FORMAT}: '9,99'"),
        ({"price": "n/a"}, f"price: {Reason.PRICE_FORMAT}: 'n/a'"),
        ({"price": "9.999999"}, f"price: {Reason.PRICE_DECIMALS}: '9.999999'"),
        ({"price": 9.999999}, f"price: {Reason.PRICE_DECIMALS}: '9.999999'"),
        ({"price": 0.1 + 0.2}, f"price: {Reason.PRICE_DECIMALS}: '0.30000000000000004'"),
        ({"price": "10000000000000.00"}, f"price: {Reason.PRICE_TOO_LARGE}: '10000000000000.00'"),
        ({"price": "0.00"}, f"price: {Reason.PRICE_ZERO}: '0.00'"),
        ({"price": "1.235"}, f"price: {Reason.PRICE_DECIMALS}: '1.235'"),  # USD has two
        ({"currency": "usd"}, f"currency: {Reason.CURRENCY}: 'usd'"),
        ({"currency": "XXX"}, f"currency: {Reason.CURRENCY}: 'XXX'"),
        ({"currency": None}, "currency: missing (required)"),
        ({"sale_price": "25.00"}, f"sale_price: {Reason.SALE_ABOVE_PRICE}: '25.00'"),
        ({"sale_price": "abc"}, f"sale_price: {Reason.PRICE_FORMAT}: 'abc'"),
        ({"sale_price": "0.00"}, f"sale_price: {Reason.PRICE_ZERO}: '0.00'"),
        ({"retailer_id": "x" * 101}, "id: longer than 100 characters: '" + "x" * 101 + "'"),
        ({"retailer_id": "SKU\t1"}, f"id: {Reason.CONTROL}: 'SKU\\t1'"),
    ],
)
def test_each_bad_value_is_refused_with_its_column_and_value(values, refusal):
    parsed = change_from_row(row(**values))
    assert parsed.problem() == refusal
    assert (parsed.price, parsed.quantity, parsed.availability) == (None, None, None)  # nothing half-read
    assert change_from_row(row()).problem() is None


def test_every_bad_column_is_named_at_once():
    parsed = change_from_row(row(price="9,99", quantity="lots", availability="yes"))
    assert parsed.problem() == (
        "availability: not one of: in stock, out of stock: 'yes'; "
        "quantity_to_sell_on_facebook: not a whole number of 0 or more: 'lots'; "
        f"price: {Reason.PRICE_FORMAT}: '9,99'"
    )


def test_a_zero_price_passes_only_when_the_source_opts_in():
    options = mapping_options("-- fb-commerce-option: allow_zero_price\nSELECT 1")
    free = change_from_row(row(price="0.00", sale_price="0.00"), options)
    assert free.problem() is None and free.request()["data"]["price"] == "0.00 USD"
    with pytest.raises(FeedMappingError, match="allow_zero_prices"):
        mapping_options("-- fb-commerce-option: allow_zero_prices\nSELECT 1")


def test_an_overlong_id_is_a_problem_even_for_a_delete():
    assert change_from_row(row(retailer_id="x" * 101, method=DELETE)).problem().startswith("id")
    assert InventoryChange("x" * 101, DELETE).problem().startswith("id")


def test_values_are_read_exactly_never_rounded():
    parsed = change_from_row(row(retailer_id=123, quantity=4, price=19.9, sale_price="15.5", synced_sale_price=12.5))
    assert (parsed.retailer_id, parsed.quantity, parsed.price, parsed.sale_price, parsed.synced_sale_price) == (
        "123",
        4,
        Decimal("19.9"),
        Decimal("15.5"),
        Decimal("12.5"),
    )
    assert parsed.request()["data"]["price"] == "19.90 USD" and parsed.request()["data"]["sale_price"] == "15.50 USD"
    kuwait = change_from_row(row(price="1.235", currency="KWD"))  # three decimals: the KWD's minor unit
    assert kuwait.problem() is None and kuwait.request()["data"]["price"] == "1.235 KWD"
    assert change_from_row(row(price="1.2345", currency="KWD")).problem().startswith("price: more than 2 decimals")
    assert change_from_row(row(quantity=" 7 ")).quantity == 7  # blanks around a value are trimmed, as in the feed


def test_rows_of_new_products_are_left_to_the_feed_unchecked():
    assert change_from_row(row(method=CREATE, price="9,99")).problem() is None


def test_sendable_counts_new_and_bad_products_and_sends_a_repeated_id_once():
    counts = DeltaCounts()
    changes = [
        change("A"),
        change("B", CREATE),
        change("A", quantity=9),
        change("C", refused="currency: unknown"),
        InventoryChange("D", DELETE),
    ]
    sent = list(sendable(changes, counts))
    assert [(c.retailer_id, c.method) for c in sent] == [("A", UPDATE), ("D", DELETE)]
    assert (counts.updates, counts.deletes, counts.new_products, counts.invalid, counts.to_send) == (1, 1, 1, 2, 2)
    assert counts.new_examples == ["B"] and "repeated" in counts.invalid_examples[0] + counts.invalid_examples[1]
    assert "1 to update, 1 to delete" in counts.describe() and "fb_catalog_feed" in counts.describe()


def test_calls_hold_at_most_the_batch_size():
    plans = list(plan_batches([change(f"SKU-{n}") for n in range(7)], max_requests=3))
    assert [len(p.requests) for p in plans] == [3, 3, 1]
    assert [c.retailer_id for p in plans for c in p.changes] == [f"SKU-{n}" for n in range(7)]
    body = plans[0].body()
    assert body["item_type"] == "PRODUCT_ITEM" and body["allow_upsert"] is False and len(body["requests"]) == 3


def test_calls_stay_under_the_byte_budget():
    changes = [change(f"SKU-{n:03d}") for n in range(50)]
    one = len(json.dumps(changes[0].request(), separators=(",", ":"))) + 1
    budget = 200 + one * 10
    plans = list(plan_batches(changes, max_requests=5000, max_bytes=budget))
    assert all(len(json.dumps(p.body())) <= budget for p in plans)
    assert [len(p.requests) for p in plans] == [10] * 5


@pytest.mark.parametrize("size", [0, 5001])
def test_batch_size_is_bounded(size):
    with pytest.raises(ValueError, match="between 1 and 5000"):
        list(plan_batches([change()], max_requests=size))


def test_nothing_to_send_makes_no_call():
    assert list(plan_batches([])) == []


def test_delta_sql_is_null_safe_on_each_dialect():
    sqlite = delta_sql("SELECT 1 AS id;", "sqlite")
    postgres = delta_sql("SELECT 1 AS id", "postgresql")
    assert "IS NOT st.price" in sqlite and "IS DISTINCT FROM st.price" in postgres
    assert sqlite.count("SELECT 1 AS id") == 2 and ";" not in sqlite  # the source, twice, without its semicolon


def test_feed_and_batch_agree_on_the_state_hash():
    from_feed = state_row(
        {
            "id": "SKU-1",
            "availability": "in stock",
            "quantity_to_sell_on_facebook": "3",
            "price": "19.90 USD",
            "sale_price": "",
        }
    )
    assert from_feed["row_hash"] == change().state_values()["row_hash"]
    assert from_feed["row_hash"] != change(quantity=4).state_values()["row_hash"]


def test_batch_status_helpers():
    assert is_pending(None) and is_pending("IN_PROGRESS") and not is_pending("FINISHED") and not is_pending("ERROR")
    status = BatchStatus(
        "h",
        "FINISHED",
        errors=[{"id": "A", "message": "bad price"}, {"id": "A", "message": "x"}, {"line": 3}],
        invalid_ids=["A"],
    )
    assert status.succeeded and not status.pending
    assert status.messages_by_id() == {"A": "bad price; x"}
    assert status.summary()["invalid_requests"] == 1
    assert already_gone("Item SKU-1 does not exist in the catalog") and not already_gone("price is invalid")


@pytest.mark.parametrize(
    "message, not_applied",
    [
        # Meta's own examples (items_batch reference; check_batch_request_status diagnostics)
        (
            "Unrecognised field: A request for item batch_api_product_123 contains unrecognised field: 'unknown_field'",
            True,
        ),
        (
            "These fields have missing information: Make items easier to discover by providing google_product_category "
            "information.",
            False,
        ),
        # the sandbox's
        ("sale_price '' is not like '9.99 USD' (amount, space, ISO 4217 code): the value was ignored", True),
        ("price could not be applied: the value was ignored", True),
        # a field the sync sends, named: whatever the wording, its value is in doubt
        ("The sale_price must be lower than the price", True),
        ("quantity_to_sell_on_facebook is higher than recommended", True),
        # advisory, about fields the sync never sends
        ("Images smaller than 500 x 500 pixels may look blurry", False),
        ("sale_price_effective_date is missing: the sale has no end", False),
        ("", False),
    ],
)
def test_a_warning_is_a_value_not_applied_when_it_names_our_field_or_says_so(message, not_applied):
    assert value_not_applied(message) is not_applied


def test_warnings_by_item():
    status = BatchStatus(
        "h",
        "FINISHED",
        warnings=[
            {"line": 0, "id": "A", "message": "price: the value was ignored"},
            {"line": 0, "id": "A", "message": "Unknown field colour: the value was ignored"},
            {"line": 1, "id": "B", "message": "These fields have missing information: google_product_category"},
        ],
    )
    assert status.not_applied_by_id() == {
        "A": "price: the value was ignored; Unknown field colour: the value was ignored"
    }
    assert status.advisories() == ["B: These fields have missing information: google_product_category"]
    no_id = BatchStatus("h", "FINISHED", warnings=[{"line": 4, "message": "a value was dropped"}])
    assert no_id.not_applied_by_id() == {"": "a value was dropped"}  # stands for every item of the handle
