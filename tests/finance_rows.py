"""Hand-built warehouse rows for the finance views and reports, with the totals worked out by hand.

Business day 2026-11-20 in America/New_York (05:00 UTC to 05:00 UTC the next day):

- order O1 (the merchant remits its tax), O2 (Meta remits it, marketplace facilitator), O3;
- T1 SALE of O1: items 20.00 + shipping 5.00 + tax 2.00 (state 1.50, county 0.50) = 27.00; fee -1.35, net 25.65;
- T2 SALE of O2: items 10.00 + tax 0.80 (state) = 10.80; fee -0.54; Meta keeps the tax: net 9.46;
- T3 REFUND of O1: item 10.00 + tax 1.00 (state 0.75, county 0.25) back: gross -11.00; fee +0.50, net -10.50;
- P1 (COMPLETED, the day) pays T1 + T2 + T3 = 24.61;
- T4 SALE of O3: 12.00 (no tax), fee -0.60, net 11.40, paid by P2 (COMPLETED, the day) with 11.00: 0.40 short;
- T5 SALE of O3: 6.00, fee -0.40, net 5.60: in flight (no payout);
- T0 SALE of O3 the day before (net 3.00) paid by P0 the day before: the opening balance is 0.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import sqlalchemy as sa

from fb_commerce.warehouse import schema

DAY = dt.date(2026, 11, 20)
TIMEZONE = "America/New_York"
UTC = dt.UTC


def at(hour: int, day: int = 20) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, 0, tzinfo=UTC)


ORDERS = [
    {
        "order_id": "O1",
        "state": "COMPLETED",
        "created_at": at(14),
        "buyer_name": "Ann <b>Buyer</b>",
        "merchant_order_reference": "M-1",
        "currency": "USD",
        "subtotal": D("20.00"),
        "shipping": D("5.00"),
        "tax": D("2.00"),
        "total": D("27.00"),
        "tax_remitted": False,
    },
    {
        "order_id": "O2",
        "state": "COMPLETED",
        "created_at": at(15),
        "buyer_name": "<script>alert('x')</script>",
        "merchant_order_reference": "M-2",
        "currency": "USD",
        "subtotal": D("10.00"),
        "shipping": D("0.00"),
        "tax": D("0.80"),
        "total": D("10.80"),
        "tax_remitted": True,
    },
    {
        "order_id": "O3",
        "state": "COMPLETED",
        "created_at": at(3),
        "buyer_name": "Bo",
        "merchant_order_reference": "M-3",
        "currency": "USD",
        "subtotal": D("21.00"),
        "shipping": D("0.00"),
        "tax": D("0.00"),
        "total": D("21.00"),
        "tax_remitted": False,
    },
]
ITEMS = [
    {
        "order_id": "O1",
        "item_id": "i1",
        "retailer_id": "SKU-1",
        "product_name": "Mug",
        "quantity": 2,
        "price_per_unit": D("10.00"),
        "tax": D("2.00"),
        "currency": "USD",
    },
    {
        "order_id": "O2",
        "item_id": "i2",
        "retailer_id": "SKU-2",
        "product_name": "Cap",
        "quantity": 1,
        "price_per_unit": D("10.00"),
        "tax": D("0.80"),
        "currency": "USD",
    },
    {
        "order_id": "O3",
        "item_id": "i3",
        "retailer_id": "SKU-3",
        "product_name": "Pin",
        "quantity": 1,
        "price_per_unit": D("12.00"),
        "tax": D("0.00"),
        "currency": "USD",
    },
    {
        "order_id": "O3",
        "item_id": "i4",
        "retailer_id": "SKU-4",
        "product_name": "Pen",
        "quantity": 1,
        "price_per_unit": D("9.00"),
        "tax": D("0.00"),
        "currency": "USD",
    },
]
PAYMENTS = [
    {
        "payment_id": "pay1",
        "order_id": "O1",
        "shipment_id": "s1",
        "transaction_id": "T1",
        "currency": "USD",
        "items_amount": D("20.00"),
        "shipping_amount": D("5.00"),
        "tax_amount": D("2.00"),
        "total_amount": D("27.00"),
        "tax_remitted": False,
    },
    {
        "payment_id": "pay2",
        "order_id": "O2",
        "shipment_id": "s2",
        "transaction_id": "T2",
        "currency": "USD",
        "items_amount": D("10.00"),
        "shipping_amount": D("0.00"),
        "tax_amount": D("0.80"),
        "total_amount": D("10.80"),
        "tax_remitted": True,
    },
]


def _txn(
    tid: str, kind: str, when: dt.datetime, order: str, payout: str | None, fee: str, net: str, tax: str | None
) -> dict:
    return {
        "transaction_id": tid,
        "transaction_type": kind,
        "transaction_date": when,
        "order_id": order,
        "payout_reference_id": payout,
        "currency": "USD",
        "processing_fee": D(fee),
        "net_payment_amount": D(net),
        "tax_amount": None if tax is None else D(tax),
    }


TRANSACTIONS = [
    _txn("T0", "SALE", at(12, 19), "O3", "P0", "-0.40", "3.00", None),
    _txn("T1", "SALE", at(14), "O1", "P1", "-1.35", "25.65", "2.00"),
    _txn("T2", "SALE", at(15), "O2", "P1", "-0.54", "9.46", "0.80"),
    _txn("T3", "REFUND", at(16), "O1", "P1", "0.50", "-10.50", "-1.00"),
    _txn("T4", "SALE", at(17), "O3", "P2", "-0.60", "11.40", None),
    _txn("T5", "SALE", at(18), "O3", None, "-0.40", "5.60", None),
]


def _tax(tid: str, n: int, jurisdiction: str, amount: str) -> dict:
    return {
        "transaction_id": tid,
        "line_number": n,
        "retailer_id": "SKU",
        "tax_category": "GENERAL",
        "jurisdiction": jurisdiction,
        "imposition": "SALES",
        "item_tax_rate": D("0.06"),
        "item_tax_amount": D(amount),
        "currency": "USD",
    }


TAX_LINES = [
    _tax("T1", 1, "NY", "1.5000"),
    _tax("T1", 2, "KINGS COUNTY", "0.5000"),
    _tax("T2", 1, "NY", "0.8000"),
    _tax("T3", 1, "NY", "-0.7500"),
    _tax("T3", 2, "KINGS COUNTY", "-0.2500"),
]
PAYOUTS = [
    {
        "payout_reference_id": "P0",
        "status": "COMPLETED",
        "amount": D("3.00"),
        "currency": "USD",
        "payout_date": at(20, 19),
    },
    {
        "payout_reference_id": "P1",
        "status": "COMPLETED",
        "amount": D("24.61"),
        "currency": "USD",
        "payout_date": at(20),
    },
    {
        "payout_reference_id": "P2",
        "status": "COMPLETED",
        "amount": D("11.00"),
        "currency": "USD",
        "payout_date": at(21),
    },
]
ISSUES = [
    {
        "issue_key": "payout_mismatch:P2",
        "kind": "payout_mismatch",
        "business_date": DAY,
        "status": "open",
        "payout_reference_id": "P2",
        "currency": "USD",
        "expected_amount": D("11.40"),
        "actual_amount": D("11.00"),
        "difference": D("-0.40"),
        "message": "Payout P2 is 0.40 short <img src=x onerror=alert(1)>",
        "first_seen_at": at(23),
        "last_seen_at": at(23),
    },
    {
        "issue_key": "old:1",
        "kind": "missing_sale",
        "business_date": dt.date(2026, 11, 18),
        "status": "resolved",
        "order_id": "O9",
        "currency": "USD",
        "message": "resolved long ago",
        "first_seen_at": at(1, 18),
        "last_seen_at": at(1, 18),
        "resolved_at": at(1, 19),
    },
]

#: P1's per-category totals, worked out by hand (see the module's docstring)
P1_CASH = {
    "amount": D("24.61"),
    "transactions": 3,
    "sales": D("30.00"),
    "shipping": D("5.00"),
    "tax": D("1.80"),
    "refunds": D("-10.00"),
    "fees": D("-1.39"),
    "tax_withheld": D("-0.80"),
    "net": D("24.61"),
    "difference": D("0.00"),
}


def insert_rows(engine: sa.engine.Engine) -> None:
    """Write the rows above (each table's rows one by one: they do not all have the same columns)."""
    with engine.begin() as connection:
        for table, rows in (
            (schema.fb_orders, ORDERS),
            (schema.fb_order_items, ITEMS),
            (schema.fb_payments, PAYMENTS),
            (schema.fb_payouts, PAYOUTS),
            (schema.fb_transactions, TRANSACTIONS),
            (schema.fb_transaction_tax_details, TAX_LINES),
            (schema.fb_reconciliation_issues, ISSUES),
        ):
            for row in rows:
                connection.execute(sa.insert(table).values(**row))
