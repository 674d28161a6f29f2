"""What remains of each order, read from the warehouse: item statuses, shipments, refunds, tracking numbers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from fb_commerce.orders.updates.remaining import load_remaining
from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.migrate import upgrade
from fb_commerce.warehouse.schema import fb_order_items, fb_orders, fb_refunds, fb_shipments

SYNCED = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(tmp_path):
    engine = create_warehouse_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(fb_orders),
            [
                {
                    "order_id": "O1",
                    "state": "COMPLETED",
                    "currency": "USD",
                    "shipping": Decimal("6.00"),
                    "acknowledged_at": SYNCED,
                    "synced_at": SYNCED,
                },
                {
                    "order_id": "O2",
                    "state": "IN_PROGRESS",
                    "currency": "USD",
                    "shipping": None,
                    "acknowledged_at": None,
                    "synced_at": SYNCED,
                },
            ],
        )
        conn.execute(
            sa.insert(fb_order_items),
            [
                {
                    "order_id": "O1",
                    "item_id": "I1",
                    "retailer_id": "SKU-1",
                    "quantity": 3,
                    "quantity_in_progress": 0,
                    "quantity_fulfilled": 2,
                    "quantity_cancelled": 1,
                    "price_per_unit": Decimal("10.00"),
                },
                {
                    "order_id": "O2",
                    "item_id": "I2",
                    "retailer_id": "SKU-2",
                    "quantity": 2,
                    "quantity_in_progress": None,
                    "quantity_fulfilled": None,
                    "quantity_cancelled": None,
                    "price_per_unit": Decimal("4.00"),
                },
            ],
        )
        conn.execute(
            sa.insert(fb_shipments),
            [
                {
                    "shipment_id": "S1",
                    "order_id": "O1",
                    "external_shipment_id": "EXT1",
                    "tracking_number": "1Z1",
                },
                {
                    "shipment_id": "S9",
                    "order_id": "O9",
                    "external_shipment_id": None,
                    "tracking_number": "1Z9",
                },
            ],
        )
        conn.execute(
            sa.insert(fb_refunds),
            [
                {
                    "refund_id": "F1",
                    "order_id": "O1",
                    "shipping": Decimal("2.00"),
                    "items": [
                        {
                            "id": "I1",
                            "retailer_id": "SKU-1",
                            "quantity": 1,
                            "refund_subtotal": {"amount": "10.00", "currency": "USD"},
                        }
                    ],
                },
                {
                    "refund_id": "F2",
                    "order_id": "O1",
                    "shipping": None,
                    "items": {
                        "data": [
                            {
                                "id": "I1",
                                "quantity": 0,
                                "refund_subtotal": {"amount": "2.50", "currency": "USD"},
                            }
                        ]
                    },
                },
            ],
        )
    yield engine
    engine.dispose()


def test_stored_orders_with_what_was_shipped_and_refunded(engine):
    with engine.connect() as conn:
        remaining = load_remaining(conn, ["O1", "O2", "O404"], ["1Z9", "1Z-UNKNOWN"])

    assert set(remaining.orders) == {"O1", "O2"}
    done = remaining.orders["O1"]
    assert (done.state, done.acknowledged, done.currency, done.synced_at) == (
        "COMPLETED",
        True,
        "USD",
        SYNCED,
    )
    item = done.items["I1"]
    assert (item.open, item.shipped, item.cancelled) == (0, 2, 1)
    assert item.refunded_quantity == 1 and item.refunded_amount == Decimal("12.50")
    assert item.refundable_quantity == 1 and item.refundable_amount == Decimal("7.50")
    assert done.shipping_refunded == Decimal("2.00") and done.shipping_charged == Decimal("6.00")
    assert done.shipment_ids == {"S1"} and done.external_shipment_ids == {"EXT1"}

    unknown_status = remaining.orders["O2"].items["I2"]  # no item status stored: nothing shipped or cancelled
    assert (unknown_status.open, unknown_status.shipped, unknown_status.cancelled) == (2, 0, 0)

    assert remaining.tracking_numbers["1Z1"].same_shipment("O1", None, "EXT1")
    assert remaining.tracking_numbers["1Z9"].label == "shipment S9 of order O9"  # another order's, asked for by number
    assert "1Z-UNKNOWN" not in remaining.tracking_numbers


def test_an_order_synced_after_a_write_already_shows_it(engine):
    with engine.connect() as conn:
        order = load_remaining(conn, ["O1"]).orders["O1"]
    assert order.reflects(SYNCED - dt.timedelta(seconds=1))
    assert not order.reflects(SYNCED + dt.timedelta(seconds=1))
    assert not order.reflects(None)
