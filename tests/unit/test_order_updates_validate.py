"""Validation of outbox requests against a stored order: every rule, its message, and the effect it yields."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from fb_commerce.orders.updates.remaining import ItemRemaining, OrderRemaining, Remaining, ShipmentRef
from fb_commerce.orders.updates.requests import CANCEL, REFUND, SHIP, UPDATE_TRACKING, OutboxRequest, kind_of
from fb_commerce.orders.updates.validate import rejection_message, validate

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def make_remaining(state: str = "IN_PROGRESS", *, shipped: int = 0, acknowledged: bool = True) -> Remaining:
    """Order O1: line I1 (SKU-1, 3 units at 10.00, `shipped` of them shipped), line I2 (SKU-2, 1 unit at 5.00)."""
    order = OrderRemaining("O1", state, acknowledged, "USD", Decimal("4.99"), NOW)
    order.items = {
        "I1": ItemRemaining("I1", "SKU-1", 3, 3 - shipped, shipped, 0, Decimal("10.00")),
        "I2": ItemRemaining("I2", "SKU-2", 1, 1, 0, 0, Decimal("5.00")),
    }
    order.external_shipment_ids.add("SHP_OLD")
    order.shipment_ids.add("S-OLD")
    remaining = Remaining(orders={"O1": order})
    remaining.tracking_numbers["1ZTAKEN"] = ShipmentRef("O9", "shipment S9 of order O9", "S9", "X9")
    remaining.tracking_numbers["1ZOLD"] = ShipmentRef("O1", "shipment S-OLD of order O1", "S-OLD", "SHP_OLD")
    return remaining


def request(kind, request_id: str = "R1", order_id: str = "O1", **fields) -> OutboxRequest:
    if kind.table == SHIP.table:
        fields.setdefault("request_type", kind.name)
    return OutboxRequest(kind, request_id, order_id, NOW, fields=fields)


def ship(**fields) -> OutboxRequest:
    fields.setdefault("carrier", "UPS")
    fields.setdefault("tracking_number", "1ZNEW")
    return request(SHIP, **fields)


def refund(**fields) -> OutboxRequest:
    fields.setdefault("reason_code", "DAMAGED_GOODS")
    return request(REFUND, **fields)


def problems(req: OutboxRequest, remaining: Remaining | None = None) -> str:
    verdict = validate(req, remaining or make_remaining())
    return "; ".join(verdict.problems)


# --- shipments ----------------------------------------------------------------------------------------------


def test_a_valid_partial_shipment_passes_with_its_effect():
    verdict = validate(
        ship(items=[{"retailer_id": "SKU-1", "quantity": 2}], external_shipment_id="SHP_1"), make_remaining()
    )
    assert verdict.ok, verdict.problems
    assert verdict.effect.shipped == {"I1": 2}
    assert verdict.effect.tracking_number == "1ZNEW"


def test_a_shipment_without_items_ships_everything_left():
    verdict = validate(ship(), make_remaining(shipped=1))
    assert verdict.ok and verdict.effect.shipped == {"I1": 2, "I2": 1}


@pytest.mark.parametrize(
    ("state", "acknowledged", "expected"),
    [
        ("FB_PROCESSING", False, "is FB_PROCESSING"),
        ("CREATED", False, "not acknowledged yet"),
        ("COMPLETED", True, "nothing left to ship"),
    ],
)
def test_shipments_need_an_in_progress_order(state, acknowledged, expected):
    assert expected in problems(ship(), make_remaining(state, acknowledged=acknowledged))


def test_an_acknowledged_order_stored_as_created_may_ship():
    # Acknowledged since the last sync: Meta has it IN_PROGRESS already.
    assert validate(ship(), make_remaining("CREATED", acknowledged=True)).ok


def test_an_unknown_order_is_rejected():
    assert "order_id: order O404 is not in fb_orders" in problems(ship(order_id="O404"))


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (
            [{"retailer_id": "SKU-1", "quantity": 4}],
            "items[0] (retailer_id SKU-1).quantity: 4 is more than the 3 left to ship",
        ),
        (
            [{"retailer_id": "SKU-9", "quantity": 1}],
            "items[0] (retailer_id SKU-9): order O1 has no item with retailer_id SKU-9",
        ),
        ([{"item_id": "I9", "quantity": 1}], "order O1 has no item with item_id I9"),
        (
            [{"retailer_id": "SKU-1", "item_id": "I1", "quantity": 1}],
            "items[0]: give retailer_id or item_id (exactly one",
        ),
        ([{"quantity": 1}], "items[0]: give retailer_id or item_id"),
        (
            [{"retailer_id": "SKU-1", "quantity": 0}],
            "items[0] (retailer_id SKU-1).quantity: must be a positive whole number, not 0",
        ),
        ([{"retailer_id": "SKU-1", "quantity": 1.5}], "must be a positive whole number, not 1.5"),
        ([{"retailer_id": "SKU-1", "quantity": True}], "must be a positive whole number, not True"),
        ([{"retailer_id": "SKU-1", "qty": 1}], "items[0]: unknown key(s) qty"),
        ([{"retailer_id": "SKU-1", "quantity": 1}, {"item_id": "I2", "quantity": 1}], "not a mix"),
        (
            [{"retailer_id": "SKU-1", "quantity": 1}, {"retailer_id": "SKU-1", "quantity": 1}],
            "the same item as items[0]",
        ),
        ([], "items: empty"),
        ({"retailer_id": "SKU-1"}, "items: must be a list"),
        (["SKU-1"], "items[0]: must be an object"),
    ],
)
def test_shipment_items_are_checked(items, expected):
    assert expected in problems(ship(items=items))


def test_a_retailer_id_on_two_lines_needs_item_ids():
    remaining = make_remaining()
    remaining.orders["O1"].items["I2"].retailer_id = "SKU-1"
    assert "2 lines of order O1 have this retailer_id; use item_id" in problems(
        ship(items=[{"retailer_id": "SKU-1", "quantity": 1}]), remaining
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"carrier": None}, "carrier: required"),
        ({"carrier": "carrier pigeon!"}, "carrier: 'carrier pigeon!' is not a carrier code"),
        ({"tracking_number": None}, "tracking_number: required"),
        ({"tracking_number": "1ZA, 1ZB"}, "looks like several numbers"),
        (
            {"tracking_number": "1ZTAKEN"},
            "tracking_number: 1ZTAKEN is already used by shipment S9 of order O9",
        ),
        ({"tracking_number": "1ZOLD"}, "already used by shipment S-OLD of order O1"),
        (
            {"external_shipment_id": "SHP-1"},
            "external_shipment_id: 'SHP-1' may only hold letters, digits and '_'",
        ),
        (
            {"external_shipment_id": "SHP_OLD"},
            "external_shipment_id: SHP_OLD is already a shipment of order O1",
        ),
        ({"shipment_id": "S1"}, "shipment_id: not used by a shipment"),
        (
            {"fulfillment_location_id": "L1", "fulfillment_address": {"street_1": "x"}},
            "give one of them, not both",
        ),
        (
            {"fulfillment_address": {"street_1": "1 Main", "zip": "1"}},
            "fulfillment_address: unknown key(s) zip",
        ),
        (
            {"fulfillment_address": {"street_1": "1 Main"}},
            "fulfillment_address: city, postal_code, country missing",
        ),
        ({"request_type": "return"}, "request_type: 'return' is not one of ship, update_tracking"),
    ],
)
def test_shipment_fields_are_checked(fields, expected):
    assert expected in problems(ship(**fields))


def test_carrier_codes_compare_in_any_case_and_other_is_allowed():
    for carrier in ("UPS", "fedex", "Dhl_Ecommerce_US", "OTHER", "canada_post", "royal_mail"):
        assert validate(ship(carrier=carrier), make_remaining()).ok, carrier


def test_malformed_json_is_reported_by_column():
    req = ship()
    req.column_errors["items"] = "not valid JSON: '[{'"
    assert "items: not valid JSON" in problems(req)


def test_every_problem_is_reported_and_the_message_names_the_row():
    req = ship(carrier="?", tracking_number=None, items=[{"retailer_id": "SKU-1", "quantity": 9}])
    found = validate(req, make_remaining()).problems
    assert len(found) == 3
    message = rejection_message(req, found)
    assert message.startswith("Rejected before sending: fb_shipment_requests request 'R1' (order O1): ")
    assert "carrier" in message and "tracking_number" in message and "items[0]" in message


# --- tracking updates ---------------------------------------------------------------------------------------


def test_a_tracking_update_names_a_known_shipment():
    ok = request(UPDATE_TRACKING, external_shipment_id="SHP_OLD", carrier="usps", tracking_number="9400NEW")
    assert validate(ok, make_remaining()).ok
    by_id = request(UPDATE_TRACKING, shipment_id="S-OLD", carrier="usps", tracking_number="9400NEW")
    assert validate(by_id, make_remaining()).ok
    unknown = request(UPDATE_TRACKING, external_shipment_id="SHP_X", carrier="usps", tracking_number="9400NEW")
    assert "order O1 has no shipment SHP_X" in problems(unknown)
    unnamed = request(UPDATE_TRACKING, carrier="usps", tracking_number="9400NEW")
    assert "external_shipment_id or shipment_id: required" in problems(unnamed)


def test_a_tracking_update_may_keep_its_own_number_but_not_take_another():
    own = request(UPDATE_TRACKING, external_shipment_id="SHP_OLD", carrier="ups", tracking_number="1ZOLD")
    assert validate(own, make_remaining()).ok
    other = request(UPDATE_TRACKING, external_shipment_id="SHP_OLD", carrier="ups", tracking_number="1ZTAKEN")
    assert "1ZTAKEN is already used" in problems(other)


def test_a_tracking_update_takes_no_items():
    req = request(
        UPDATE_TRACKING,
        external_shipment_id="SHP_OLD",
        carrier="ups",
        tracking_number="1ZN",
        items=[{"retailer_id": "SKU-1", "quantity": 1}],
    )
    assert "items: not used by a tracking update" in problems(req)


# --- cancellations ------------------------------------------------------------------------------------------


def test_cancellations_of_unshipped_units():
    verdict = validate(
        request(CANCEL, items=[{"item_id": "I2", "quantity": 1}], reason_code="OUT_OF_STOCK"), make_remaining()
    )
    assert verdict.ok and verdict.effect.cancelled == {"I2": 1}
    assert validate(request(CANCEL), make_remaining("CREATED", acknowledged=False)).ok  # left FB_PROCESSING: allowed


def test_cancellation_rules():
    shipped = make_remaining(shipped=2)
    assert "1 unshipped and not cancelled (the rest is shipped: refund it instead)" in problems(
        request(CANCEL, items=[{"retailer_id": "SKU-1", "quantity": 2}]), shipped
    )
    assert "has shipped items; list the unshipped items" in problems(request(CANCEL), shipped)
    assert "is FB_PROCESSING" in problems(request(CANCEL), make_remaining("FB_PROCESSING", acknowledged=False))
    assert "reason_code: 'CHANGED_MIND' is not one of CUSTOMER_REQUESTED" in problems(
        request(CANCEL, reason_code="CHANGED_MIND")
    )


# --- refunds ------------------------------------------------------------------------------------------------


def test_refunds_of_shipped_units_by_quantity_or_amount():
    remaining = make_remaining(shipped=2)
    verdict = validate(
        refund(items=[{"retailer_id": "SKU-1", "quantity": 2}], shipping_refund=Decimal("4.99")), remaining
    )
    assert verdict.ok, verdict.problems
    assert verdict.effect.refunded_quantity == {"I1": 2} and verdict.effect.shipping_refund == Decimal("4.99")
    by_amount = validate(refund(items=[{"item_id": "I1", "amount": "12.50"}], currency="usd"), remaining)
    assert by_amount.ok and by_amount.effect.refunded_amount == {"I1": Decimal("12.50")}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"reason_code": None}, "reason_code: required"),
        ({"reason_code": "CHANGED_MIND"}, "reason_code: 'CHANGED_MIND' is not one of BUYERS_REMORSE"),
        (
            {"items": [{"retailer_id": "SKU-1", "quantity": 3}]},
            "quantity: 3 is more than the 2 shipped and not refunded",
        ),
        (
            {"items": [{"retailer_id": "SKU-2", "quantity": 1}]},
            "items[0] (retailer_id SKU-2): not shipped, so not charged",
        ),
        (
            {"items": [{"retailer_id": "SKU-1", "amount": "20.01"}]},
            "amount: 20.01 is more than the 20.00 charged and not refunded",
        ),
        ({"items": [{"retailer_id": "SKU-1", "amount": "-1"}]}, "amount: must be a positive amount"),
        ({"items": [{"retailer_id": "SKU-1", "amount": "1.005"}]}, "has more than two decimals"),
        (
            {"items": [{"retailer_id": "SKU-1", "amount": "1", "quantity": 1}]},
            "give quantity or amount (exactly one",
        ),
        (
            {"currency": "EUR", "items": [{"retailer_id": "SKU-1", "amount": "1"}]},
            "currency: EUR differs from the order's currency USD",
        ),
        (
            {"shipping_refund": Decimal("5.00")},
            "shipping_refund: 5.00 is more than the 4.99 shipping charged",
        ),
        ({"shipping_refund": Decimal(0)}, "shipping_refund: must be a positive amount"),
        (
            {
                "items": [{"retailer_id": "SKU-1", "quantity": 1}],
                "return_shipping_deduction": Decimal("10.00"),
            },
            "return_shipping_deduction: 10.00 leaves nothing of the 10.00 refunded",
        ),
        ({"items": []}, "items: empty"),
    ],
)
def test_refund_rules(fields, expected):
    assert expected in problems(refund(**fields), make_remaining(shipped=2))


def test_a_refund_needs_something_shipped_and_not_yet_refunded():
    assert "has no shipped items" in problems(refund(), make_remaining())
    remaining = make_remaining(shipped=2)
    remaining.orders["O1"].items["I1"].refunded_quantity = 2
    remaining.orders["O1"].items["I1"].refunded_amount = Decimal("20.00")
    assert "already refunded in full" in problems(refund(), remaining)


def test_a_shipping_only_refund_is_allowed():
    assert validate(refund(items=[], shipping_refund=Decimal("2.00")), make_remaining(shipped=1)).ok


# --- what remains moves forward -------------------------------------------------------------------------------


def test_earlier_requests_of_the_run_count():
    """Two shipments of the same units: the second is rejected once the first is counted."""
    remaining = make_remaining()
    first = validate(ship(items=[{"retailer_id": "SKU-1", "quantity": 2}], external_shipment_id="A"), remaining)
    remaining.apply("O1", first.effect)
    second = ship(request_id="R2", tracking_number="1ZSECOND", items=[{"retailer_id": "SKU-1", "quantity": 2}])
    assert "2 is more than the 1 left to ship" in problems(second, remaining)
    reused = ship(request_id="R3", tracking_number="1ZNEW", items=[{"retailer_id": "SKU-1", "quantity": 1}])
    assert "1ZNEW is already used by fb_shipment_requests request 'R1'" in problems(reused, remaining)
    # ...and a refund of what the first shipment will have shipped passes.
    assert validate(refund(items=[{"retailer_id": "SKU-1", "quantity": 2}]), remaining).ok
    assert "external_shipment_id: A is already a shipment" in problems(
        ship(request_id="R4", tracking_number="1ZX", external_shipment_id="A"), remaining
    )


def test_shipping_everything_completes_the_order():
    remaining = make_remaining()
    remaining.apply("O1", validate(ship(), remaining).effect)
    assert remaining.orders["O1"].state == "COMPLETED"
    assert "nothing left to ship" in problems(ship(request_id="R2", tracking_number="1ZB"), remaining)
    assert "has shipped items" in problems(request(CANCEL), remaining)


def test_kinds_of_rows():
    assert kind_of("fb_shipment_requests", "ship") is SHIP
    assert kind_of("fb_shipment_requests", "update_tracking") is UPDATE_TRACKING
    assert kind_of("fb_cancellation_requests") is CANCEL and kind_of("fb_refund_requests") is REFUND
    with pytest.raises(ValueError):
        kind_of("fb_orders")


# --- reading a column as the OMS wrote it -------------------------------------------------------------------

from fb_commerce.orders.updates.outbox import parse_value  # noqa: E402
from fb_commerce.orders.updates.requests import BOOLEAN, COLUMNS, INTEGER, JSON, MONEY, TIMESTAMP, Column  # noqa: E402


def rule(table: str, name: str) -> Column:
    return next(column for column in COLUMNS[table] if column.name == name)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(b"1", True), (b"0", False), ("true", True), ("FALSE", False), (b"True", True), (None, None)],
)
def test_booleans_take_the_documented_spellings(raw, expected):
    assert parse_value(raw, Column("restock_items", BOOLEAN)) is expected


@pytest.mark.parametrize("raw", [b"maybe", b"2", b"yes", b"t", b"", b"1.0", b"-1"])
def test_other_booleans_are_refused(raw):
    with pytest.raises(ValueError, match="is not one of true, false, 1, 0"):
        parse_value(raw, Column("restock_items", BOOLEAN))


@pytest.mark.parametrize(
    ("raw", "expected"), [(b"12.5", Decimal("12.5")), (b"12", Decimal("12")), ("0.10", Decimal("0.10"))]
)
def test_amounts_are_read_exactly(raw, expected):
    assert parse_value(raw, Column("shipping_refund", MONEY)) == expected


@pytest.mark.parametrize("raw", [b"12,50", b"abc", b"NaN", b"Infinity", b"1e3", b" 12.50", b"1 000.00", b""])
def test_amounts_that_are_not_plain_decimals_are_refused(raw):
    with pytest.raises(ValueError, match="is not a decimal number"):
        parse_value(raw, Column("shipping_refund", MONEY))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"2026-11-20 12:00:00", NOW),  # SQLite's own format: UTC
        (b"2026-11-20 12:00:00.000000", NOW),
        ("2026-11-20T13:00:00+01:00", NOW),
        ("2026-11-20T12:00:00.000000", NOW),  # PostgreSQL's, read in UTC
    ],
)
def test_timestamps_are_iso_and_utc(raw, expected):
    assert parse_value(raw, Column("created_at", TIMESTAMP)) == expected


@pytest.mark.parametrize("raw", [b"yesterday", b"1767225600", "infinity", b"2026-13-01"])
def test_other_timestamps_are_refused(raw):
    with pytest.raises(ValueError, match="is not an ISO-8601 timestamp"):
        parse_value(raw, Column("created_at", TIMESTAMP))


def test_integers_are_whole_numbers():
    assert parse_value(b"3", Column("attempts", INTEGER)) == 3
    with pytest.raises(ValueError, match="'many' is not a whole number"):
        parse_value(b"many", Column("attempts", INTEGER))


def test_text_is_utf8_without_control_characters_and_within_its_length():
    number = rule("fb_shipment_requests", "tracking_number")
    assert parse_value(b"1Z999", number) == "1Z999"
    with pytest.raises(ValueError, match=r"not valid UTF-8 \(byte 0xff at position 2\)"):
        parse_value(b"1Z\xff", number)
    with pytest.raises(ValueError, match="10000 characters, at most 100"):
        parse_value(b"9" * 10_000, number)
    for character in ("\x00", "\n", "\t", "\x7f", "\x9b"):
        with pytest.raises(ValueError, match=f"control character U\\+{ord(character):04X}"):
            parse_value(f"1Z{character}9", number)


def test_free_text_may_hold_tabs_and_newlines_only():
    text = rule("fb_refund_requests", "reason_text")
    assert parse_value("Broken.\n\tSorry", text) == "Broken.\n\tSorry"
    with pytest.raises(ValueError, match="control character U\\+000D"):
        parse_value("Broken\r\n", text)
    with pytest.raises(ValueError, match="1001 characters, at most 1000"):
        parse_value("x" * 1001, text)


def test_every_text_column_has_a_documented_limit():
    readme = (Path(__file__).resolve().parents[2] / "docs" / "outbox-contract.md").read_text()
    for table, columns in COLUMNS.items():
        for column in columns:
            if column.max_length is not None and column.name not in ("status", "idempotency_key"):
                assert f"`{column.name}` ≤ {column.max_length}" in readme, (table, column.name)


def test_json_is_exact_and_unambiguous():
    items = Column("items", JSON)
    assert parse_value(b'[{"item_id": "I1", "amount": 1.10}]', items) == [{"item_id": "I1", "amount": Decimal("1.10")}]
    with pytest.raises(ValueError, match="key 'quantity' given twice"):
        parse_value(b'[{"item_id": "I1", "quantity": 1, "quantity": 2}]', items)
    with pytest.raises(ValueError, match="NaN is not a number"):
        parse_value(b'[{"item_id": "I1", "amount": NaN}]', items)
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_value(b"[{", items)


def test_an_amount_with_a_float_tail_is_refused_not_rounded():
    req = refund(items=[{"retailer_id": "SKU-1", "amount": Decimal("1.0000000000000001")}])
    assert "has more than two decimals" in problems(req, make_remaining(shipped=1))


def test_address_lines_are_text_of_bounded_length():
    address = {"street_1": "1 Main St\n", "city": 7, "postal_code": "1" * 300, "country": "US"}
    found = problems(ship(fulfillment_address=address))
    assert "fulfillment_address.street_1: one line" in found
    assert "fulfillment_address.city: must be text, not 7" in found
    assert "fulfillment_address.postal_code: one line of at most 255" in found
