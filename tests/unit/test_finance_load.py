"""Mapping Meta's payouts, transactions and payments to warehouse rows: exact money, signs as sent, tax lines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from fb_commerce.finance.calendar import finance_start, merchant_timezone, run_window
from fb_commerce.finance.extract import finance_node, window_params
from fb_commerce.finance.load import payment_row, payout_row, rate, sale_payments, transaction_rows
from fb_commerce.orders.values import UnreadableValue

NOW = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def sale(**changes):
    txn = {
        "id": "39001",
        "transaction_type": "SALE",
        "transaction_date": "2026-03-01T10:00:00+0000",
        "order_details": {"id": "30001", "merchant_order_id": "FB-000001", "created": "2026-02-27T09:00:00+00:00"},
        "processing_fee": usd("-0.33"),
        "net_payment_amount": usd("0.67"),
        "tax_rate": "7.25%",
        "payout_reference_id": "40001",
        "transfer_id": "po_123",
        "items": {
            "data": [
                {
                    "id": "shirt-1",
                    "product_id": "36001",
                    "quantity": 1,
                    "price_per_unit": usd("1.00"),
                    "tax_details": {
                        "data": [
                            {
                                "tax_category": "FB_GENERAL",
                                "jurisdiction": "CA",
                                "imposition": "SALES_TAX",
                                "item_tax_rate": "6%",
                                "item_tax_amount": usd("0.0600"),
                            },
                            {
                                "tax_category": "FB_GENERAL",
                                "jurisdiction": "LOS ANGELES",
                                "imposition": "SALES_TAX",
                                "item_tax_rate": "1.25%",
                                "item_tax_amount": usd("0.0125"),
                            },
                        ]
                    },
                }
            ]
        },
    }
    txn.update(changes)
    return txn


def test_a_sale_keeps_meta_signs_and_exact_amounts():
    row, _ = transaction_rows(sale(), synced_at=NOW)
    assert row["processing_fee"] == Decimal("-0.33") and row["net_payment_amount"] == Decimal("0.67")
    assert isinstance(row["processing_fee"], Decimal)
    assert row["currency"] == "USD"
    assert row["order_id"] == "30001" and row["merchant_order_id"] == "FB-000001"
    assert row["order_created_at"] == dt.datetime(2026, 2, 27, 9, tzinfo=dt.UTC)
    assert row["transaction_date"] == dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    assert row["payout_reference_id"] == "40001" and row["transfer_id"] == "po_123"
    assert row["tax_amount"] == Decimal("0.0725")
    assert row["raw"]["id"] == "39001" and row["items"][0]["id"] == "shirt-1"


def test_a_refund_keeps_both_flipped_signs():
    row, _ = transaction_rows(
        sale(transaction_type="REFUND", processing_fee=usd("0.33"), net_payment_amount=usd("-0.67")),
        synced_at=NOW,
    )
    assert (row["processing_fee"], row["net_payment_amount"]) == (Decimal("0.33"), Decimal("-0.67"))


def test_item_tax_lines_one_per_jurisdiction_with_the_retailer_id():
    _, lines = transaction_rows(sale(), synced_at=NOW)
    assert [(x["line_number"], x["retailer_id"], x["jurisdiction"]) for x in lines] == [
        (1, "shirt-1", "CA"),
        (2, "shirt-1", "LOS ANGELES"),
    ]
    assert [x["item_tax_rate"] for x in lines] == [Decimal("0.06"), Decimal("0.0125")]
    assert [x["item_tax_amount"] for x in lines] == [Decimal("0.0600"), Decimal("0.0125")]
    assert {x["transaction_id"] for x in lines} == {"39001"} and {x["currency"] for x in lines} == {"USD"}


@pytest.mark.parametrize(
    "tax_details",
    [
        {
            "tax_category": "FB_GENERAL",
            "jurisdiction": "IL",
            "item_tax_rate": "10.25%",
            "item_tax_amount": usd("-1.54"),
        },
        [
            {
                "tax_category": "FB_GENERAL",
                "jurisdiction": "IL",
                "item_tax_rate": "10.25%",
                "item_tax_amount": usd("-1.54"),
            }
        ],
        {"data": [{"jurisdiction": "IL", "item_tax_rate": "10.25%", "item_tax_amount": "-1.54"}]},
    ],
    ids=["one-object", "list", "wrapped-bare-amount"],
)
def test_transaction_level_tax_details_however_wrapped(tax_details):
    txn = sale(tax_details=tax_details, items={"data": [{"id": "shirt-1", "quantity": 1}]})
    row, lines = transaction_rows(txn, synced_at=NOW)
    assert len(lines) == 1 and lines[0]["retailer_id"] is None and lines[0]["jurisdiction"] == "IL"
    assert lines[0]["item_tax_amount"] == Decimal("-1.54") and lines[0]["item_tax_rate"] == Decimal("0.1025")
    assert row["tax_amount"] == Decimal("-1.54") and row["tax_details"][0]["jurisdiction"] == "IL"


def test_no_tax_details_no_lines():
    row, lines = transaction_rows(sale(items=None), synced_at=NOW)
    assert lines == [] and row["tax_amount"] is None


@pytest.mark.parametrize("bad", ["0,67", "NaN", "Infinity", ["0.67"], True])
def test_an_unreadable_amount_raises_naming_the_field(bad):
    with pytest.raises(UnreadableValue, match="39001 net_payment_amount"):
        transaction_rows(sale(net_payment_amount={"amount": bad, "currency": "USD"}), synced_at=NOW)


def test_an_unreadable_tax_amount_or_rate_raises_naming_the_line():
    txn = sale()
    txn["items"]["data"][0]["tax_details"]["data"][1]["item_tax_amount"] = usd("1.2.3")
    with pytest.raises(UnreadableValue, match=r"tax_details\[2\]\.item_tax_amount"):
        transaction_rows(txn, synced_at=NOW)
    with pytest.raises(UnreadableValue, match="item_tax_rate"):
        rate("six percent", "item_tax_rate")


def test_two_currencies_in_one_transaction_are_refused():
    with pytest.raises(UnreadableValue, match="more than one currency"):
        transaction_rows(sale(processing_fee={"amount": "-0.33", "currency": "EUR"}), synced_at=NOW)


def test_payout_row():
    payout = {
        "amount": usd("707.83"),
        "payout_date": "2026-11-29",
        "payout_reference_id": "4000000000000006",
        "status": "COMPLETED",
        "transfer_id": "po_41",
    }
    row = payout_row(payout, synced_at=NOW)
    assert row["amount"] == Decimal("707.83") and row["currency"] == "USD" and row["status"] == "COMPLETED"
    assert row["payout_date"] == dt.datetime(2026, 11, 29, tzinfo=dt.UTC) and row["raw"] == payout
    unpaid = payout_row({**payout, "payout_date": ""}, synced_at=NOW)
    assert unpaid["payout_date"] is None
    old = payout_row({"amount": usd("1.00"), "transfer_id": "po_1"}, synced_at=NOW)
    assert old["payout_reference_id"] == "po_1"  # before 2019-05-15 there is no payout_reference_id
    with pytest.raises(UnreadableValue, match=r"payout\.amount"):
        payout_row({**payout, "amount": usd("7,07")}, synced_at=NOW)


def test_finance_node_is_the_page_then_the_commerce_account():
    assert finance_node("111", "222") == "111"
    assert finance_node(None, "222") == "222" and finance_node("  ", "222") == "222"
    with pytest.raises(ValueError, match="page_id"):
        finance_node(None, None)


def test_window_params_and_an_empty_window():
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert window_params(start, start + dt.timedelta(days=1)) == {"start_time": 1772323200, "end_time": 1772409600}
    with pytest.raises(ValueError):
        window_params(start, start)


def test_run_window_is_the_business_day_in_the_merchant_time_zone_plus_the_look_back():
    ny = "America/New_York"
    interval = (dt.datetime(2026, 3, 1, 5, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, 5, tzinfo=dt.UTC))
    start, end = run_window(*interval, ny, 5)
    assert start == dt.datetime(2026, 2, 24, 5, tzinfo=dt.UTC) and end == dt.datetime(2026, 3, 2, 5, tzinfo=dt.UTC)
    utc = run_window(dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, tzinfo=dt.UTC), "UTC", 0)
    assert utc == (dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, tzinfo=dt.UTC))


def test_calendar_settings_from_the_environment():
    assert merchant_timezone({}) == "UTC" and merchant_timezone({"FB_COMMERCE_TIMEZONE": "Europe/Paris"})
    with pytest.raises(ValueError, match="FB_COMMERCE_TIMEZONE"):
        merchant_timezone({"FB_COMMERCE_TIMEZONE": "Mars/Olympus"})
    assert finance_start({}) == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    paris = finance_start({"FB_COMMERCE_FINANCE_START": "2026-06-01", "FB_COMMERCE_TIMEZONE": "Europe/Paris"})
    assert paris.isoformat() == "2026-06-01T00:00:00+02:00"
    with pytest.raises(ValueError, match="FB_COMMERCE_FINANCE_START"):
        finance_start({"FB_COMMERCE_FINANCE_START": "June"})


def test_a_run_without_a_data_interval_covers_the_last_complete_day_in_the_merchants_time_zone():
    from fb_commerce.finance.calendar import last_complete_day

    now = dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC)  # still 9 March in Los Angeles
    start, end = last_complete_day(now, "America/Los_Angeles")
    assert (start, end) == (
        dt.datetime(2026, 3, 8, 8, 0, tzinfo=dt.UTC),  # 8 March 00:00 PST
        dt.datetime(2026, 3, 9, 7, 0, tzinfo=dt.UTC),  # 9 March 00:00 PDT (the clocks moved on 8 March)
    )
    assert last_complete_day(now, "UTC") == (
        dt.datetime(2026, 3, 9, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 10, tzinfo=dt.UTC),
    )


def payment(**changes):
    paid = {
        "id": "50001",
        "subtotal": {"items": usd("1.00"), "shipping": usd("0.50")},
        "tax": usd("0.07"),
        "tax_remitted": True,
        "total_amount": usd("1.57"),
        "shipments": {"data": [{"id": "31001", "external_shipment_id": "SHIP-1"}, {"id": "31002"}]},
        "transaction_details": {
            "transaction_id": "39001",
            "processor": "PAYPAL",
            "captured_amount": usd("1.57"),
            "capture_time": "2026-03-01T09:59:00+0000",
        },
    }
    paid.update(changes)
    return paid


def test_a_payment_row_is_what_its_shipment_captured_exactly():
    row = payment_row(payment(), "30001", synced_at=NOW)
    assert {k: v for k, v in row.items() if k not in ("raw", "synced_at")} == {
        "payment_id": "50001",
        "order_id": "30001",
        "shipment_id": "31001",  # the first of shipments.data
        "external_shipment_id": "SHIP-1",
        "transaction_id": "39001",
        "currency": "USD",
        "items_amount": Decimal("1.00"),
        "shipping_amount": Decimal("0.50"),
        "tax_amount": Decimal("0.07"),
        "total_amount": Decimal("1.57"),
        "captured_amount": Decimal("1.57"),
        "tax_remitted": True,
        "capture_time": dt.datetime(2026, 3, 1, 9, 59, tzinfo=dt.UTC),
    }


def test_a_payment_whose_capture_failed_has_no_transaction_nor_captured_amount():
    row = payment_row(payment(transaction_details=None), "30001", synced_at=NOW)
    assert (row["transaction_id"], row["captured_amount"], row["capture_time"]) == (None, None, None)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"tax": {"amount": "0,07", "currency": "USD"}}, "payment 50001 tax"),
        ({"subtotal": {"items": usd("1.00"), "shipping": {"amount": "x"}}}, "payment 50001 subtotal.shipping"),
        ({"tax_remitted": "maybe"}, "payment 50001 tax_remitted"),
        ({"tax": {"amount": "0.07", "currency": "EUR"}}, "more than one currency"),
        ({"id": None}, "payment of order 30001 without id"),
    ],
)
def test_an_unreadable_payment_is_refused_naming_the_field(changes, named):
    with pytest.raises(UnreadableValue, match=named):
        payment_row(payment(**changes), "30001", synced_at=NOW)


def test_sale_payments_come_from_the_orders_inline_and_name_the_orders_without_them():
    with_payments = sale(order_details={"id": "30001", "payments": {"data": [payment()]}})
    without = sale(id="39002", order_details={"id": "30002"})
    twice = sale(id="39003", order_details={"id": "30002"})
    refund = sale(id="39004", transaction_type="REFUND", order_details={"id": "30003"})
    paged = {"data": [payment(id="50005")], "paging": {"next": "https://graph.facebook.com/next"}}
    first_page_only = sale(id="39005", order_details={"id": "30005", "payments": paged})
    found, missing = sale_payments([with_payments, without, twice, refund, first_page_only])
    assert [(order, p["id"]) for order, p in found] == [("30001", "50001")]
    assert missing == ["30002", "30005"]  # once, however many SALEs name it; a REFUND needs no payments


def test_orders_are_ready_when_the_watermark_or_a_later_pull_reaches_the_end_of_the_day():
    from fb_commerce.finance.orders_ready import OrdersReadiness

    needed = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    before, after = needed - dt.timedelta(minutes=1), needed + dt.timedelta(minutes=1)
    assert not OrdersReadiness(needed, None, None).ready
    assert not OrdersReadiness(needed, before, before).ready  # waiting
    assert OrdersReadiness(needed, needed, None).ready
    assert OrdersReadiness(needed, before, after).ready  # a quiet night: a pull begun after midnight is enough
    message = OrdersReadiness(needed, before, None).timed_out(dt.timedelta(hours=6))
    assert "2026-03-02T00:00:00+00:00" in message and before.isoformat() in message  # needed, and where it is
    assert "fb_orders_sync" in message and "unpause" in message.lower() and "orders_wait_hours" in message


def test_the_orders_are_needed_up_to_the_midnight_ending_the_runs_last_day():
    from fb_commerce.finance.calendar import last_day_end, run_interval

    assert last_day_end(dt.datetime(2026, 3, 2, 5, tzinfo=dt.UTC), "America/New_York") == dt.datetime(
        2026, 3, 2, 5, tzinfo=dt.UTC
    )
    assert last_day_end(dt.datetime(2026, 3, 2, 7, tzinfo=dt.UTC), "America/New_York") == dt.datetime(
        2026, 3, 3, 5, tzinfo=dt.UTC
    )
    # no logical date: the last complete day, so the orders are needed up to today's midnight
    now = dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC)
    assert run_interval(None, None, "UTC", now)[1] == dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
