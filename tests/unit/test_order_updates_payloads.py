"""Graph payloads of outbox requests, their idempotency keys, and the order requests are sent in."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from fb_commerce.graph import surface
from fb_commerce.orders.updates.payloads import build_payload, graph_path, request_key
from fb_commerce.orders.updates.requests import CANCEL, REFUND, SHIP, UPDATE_TRACKING, OutboxRequest, by_order

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def req(kind, request_id="R1", order_id="O1", created_at=T0, **fields) -> OutboxRequest:
    return OutboxRequest(kind, request_id, order_id, created_at, fields=fields)


def test_shipment_payload():
    row = req(
        SHIP,
        items=[{"retailer_id": "SKU-1", "quantity": "2"}],
        carrier=" UPS ",
        tracking_number=" 1Z9 ",
        shipping_method="Express",
        external_shipment_id="SHP_1",
        fulfillment_location_id="L7",
    )
    payload = build_payload(row, "USD")
    assert payload == {
        "items": [{"retailer_id": "SKU-1", "quantity": 2}],
        "tracking_info": {"carrier": "ups", "tracking_number": "1Z9", "shipping_method_name": "Express"},
        "external_shipment_id": "SHP_1",
        "fulfillment": {"fulfillment_location_id": "L7"},
    }
    assert set(payload) <= set(surface.SHIPMENT_PARAMS)
    assert set(payload["tracking_info"]) <= set(surface.TRACKING_INFO_KEYS)
    assert graph_path(row) == "O1/shipments"


def test_shipping_everything_omits_items_and_an_address_is_sent_as_fulfillment():
    address = {"street_1": "1 Main St", "city": "Austin", "postal_code": "73301", "country": "US"}
    payload = build_payload(req(SHIP, carrier="usps", tracking_number="94", fulfillment_address=address))
    assert "items" not in payload and payload["fulfillment"] == {"fulfillment_address": address}


def test_tracking_update_payload_names_the_shipment_once():
    by_external = build_payload(
        req(UPDATE_TRACKING, external_shipment_id="SHP_1", carrier="FEDEX", tracking_number="7")
    )
    assert by_external == {
        "external_shipment_id": "SHP_1",
        "tracking_info": {"carrier": "fedex", "tracking_number": "7"},
    }
    by_id = build_payload(
        req(
            UPDATE_TRACKING,
            shipment_id="S1",
            external_shipment_id="SHP_1",
            carrier="ups",
            tracking_number="7",
        )
    )
    assert by_id["shipment_id"] == "S1" and "external_shipment_id" not in by_id
    assert set(by_id) <= set(surface.UPDATE_SHIPMENT_PARAMS)
    assert graph_path(req(UPDATE_TRACKING)) == "O1/update_shipment"


def test_cancellation_payload_defaults_the_reason():
    payload = build_payload(req(CANCEL, items=[{"item_id": "I1", "quantity": 1}], restock_items=True))
    assert payload == {
        "cancel_reason": {"reason_code": "CANCEL_REASON_OTHER"},
        "restock_items": True,
        "items": [{"item_id": "I1", "quantity": 1}],
    }
    full = build_payload(req(CANCEL, reason_code="OUT_OF_STOCK", reason_description="gone", restock_items=False))
    assert full == {
        "cancel_reason": {"reason_code": "OUT_OF_STOCK", "reason_description": "gone"},
        "restock_items": False,
    }
    assert set(full) <= set(surface.CANCELLATION_PARAMS)


def test_refund_payload_with_money_in_the_orders_currency():
    row = req(
        REFUND,
        reason_code="DAMAGED_GOODS",
        reason_text="Sorry",
        items=[{"retailer_id": "SKU-1", "quantity": 1}, {"retailer_id": "SKU-2", "amount": 2.5}],
        shipping_refund=Decimal("4.99"),
        return_shipping_deduction=Decimal(1),
        return_id="RET1",
    )
    payload = build_payload(row, "usd")
    assert payload == {
        "reason_code": "DAMAGED_GOODS",
        "reason_text": "Sorry",
        "items": [
            {"retailer_id": "SKU-1", "item_refund_quantity": 1},
            {"retailer_id": "SKU-2", "item_refund_amount": {"amount": "2.50", "currency": "USD"}},
        ],
        "shipping": {"shipping_refund": {"amount": "4.99", "currency": "USD"}},
        "deductions": [
            {"deduction_type": "RETURN_SHIPPING", "deduction_amount": {"amount": "1.00", "currency": "USD"}}
        ],
        "return_id": "RET1",
    }
    assert set(payload) <= set(surface.REFUND_PARAMS)
    assert build_payload(req(REFUND, reason_code="WRONG_ITEM")) == {"reason_code": "WRONG_ITEM"}  # a full refund


def test_keys_are_derived_from_the_row():
    row = req(SHIP, carrier="ups", tracking_number="1Z1")
    key = request_key(row, build_payload(row))
    assert key == request_key(req(SHIP, carrier="UPS", tracking_number="1Z1"), build_payload(row))
    assert len(key) <= 100 and key.isalnum() and key.startswith("ship")
    assert key != request_key(req(SHIP, request_id="R2", carrier="ups", tracking_number="1Z1"), build_payload(row))
    changed = req(SHIP, carrier="ups", tracking_number="1Z2")
    assert key != request_key(changed, build_payload(changed))
    assert key != request_key(req(CANCEL), build_payload(row))  # same id in another table


def test_requests_go_per_order_in_created_order_then_kind_then_id():
    t1 = T0 + dt.timedelta(seconds=1)
    rows = [
        req(REFUND, "F1", "O1", T0),
        req(SHIP, "S2", "O1", T0),
        req(CANCEL, "C1", "O1", T0),
        req(UPDATE_TRACKING, "U1", "O1", T0),
        req(SHIP, "S1", "O1", T0),
        req(CANCEL, "C0", "O1", t1),
        req(SHIP, "S9", "O2", T0 - dt.timedelta(seconds=1)),
    ]
    groups = by_order(rows)
    assert list(groups) == ["O2", "O1"]
    assert [r.request_id for r in groups["O1"]] == ["C1", "S1", "S2", "U1", "F1", "C0"]


@pytest.mark.parametrize("kind", [SHIP, UPDATE_TRACKING, CANCEL, REFUND])
def test_a_payload_never_carries_parameters_meta_does_not_take(kind, monkeypatch):
    from fb_commerce.orders.updates import payloads

    monkeypatch.setitem(payloads._BUILDERS, kind.name, lambda request, currency: {"unknown_param": 1})
    with pytest.raises(ValueError, match="unknown_param"):
        build_payload(req(kind))
