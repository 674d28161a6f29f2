"""Finance extract + load against the sandbox over HTTP, on SQLite and PostgreSQL.

A window is loaded, then loaded again: the four tables hash the same (every column, bookkeeping included), the
rows agree with the sandbox's own truth, and the Graph calls made are exactly the pages read: the payments of the
SALEs' orders come inline with the transactions (nested field expansion), at no call of their own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
import sqlalchemy as sa
from support import fast_client

from fb_commerce import defaults
from fb_commerce.finance.extract import finance_node
from fb_commerce.finance.load import load_finance
from fb_commerce.graph.client import GraphClient
from fb_commerce.orders.values import timestamp
from fb_commerce.warehouse.schema import fb_payments, fb_payouts, fb_transaction_tax_details, fb_transactions

pytestmark = pytest.mark.slow

TABLES = (fb_payouts, fb_transactions, fb_transaction_tax_details, fb_payments)
PAGE_SIZE = 7  # several pages of each edge from the seeded shop


def table_hashes(engine) -> dict[str, str]:
    out = {}
    with engine.connect() as connection:
        for table in TABLES:
            rows = connection.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
    return out


def pages_needed(objects: int) -> int:
    return max(1, -(-objects // PAGE_SIZE))


def finance_calls(sandbox) -> int:
    requests = sandbox.admin.stats()["requests"]
    return sum(
        n for endpoint, n in requests.items() if "commerce_payouts" in endpoint or "commerce_transactions" in endpoint
    )


def test_a_window_loaded_twice_leaves_identical_tables_in_as_many_calls_as_pages(sandbox, warehouse_engine):
    truth = sandbox.admin.state(include="transactions,payouts")
    assert truth["transactions"] and truth["payouts"]
    dates = [timestamp(t["transaction_date"]) for t in truth["transactions"]]
    start = min(dates).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=30)
    end = max(dates) + dt.timedelta(days=1)
    node = finance_node(defaults.SANDBOX_PAGE_ID, defaults.SANDBOX_CMS_ID)
    assert node == defaults.SANDBOX_PAGE_ID

    client = fast_client(sandbox.url)
    first = load_finance(client, warehouse_engine, node, start, end, page_size=PAGE_SIZE)
    assert first.payouts == len(truth["payouts"]) and first.transactions == len(truth["transactions"])
    # the minimum: full pages, the last one short or full (the sandbox gives no `next` once nothing is left)
    assert first.transaction_pages == pages_needed(first.transactions) > 1
    assert first.payout_pages == pages_needed(first.payouts)
    assert first.payment_pages == 0 and first.payments > 0  # inline with the transactions
    assert client.stats.calls == first.pages == finance_calls(sandbox)
    before = table_hashes(warehouse_engine)

    second = load_finance(
        client,
        warehouse_engine,
        node,
        start,
        end,
        page_size=PAGE_SIZE,
        now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    assert table_hashes(warehouse_engine) == before
    assert (second.payouts, second.transactions, second.tax_lines, second.payments) == (
        first.payouts,
        first.transactions,
        first.tax_lines,
        first.payments,
    )
    assert client.stats.calls == first.pages + second.pages == finance_calls(sandbox)

    with warehouse_engine.connect() as connection:
        stored = {r.transaction_id: r for r in connection.execute(sa.select(fb_transactions))}
        payouts = {r.payout_reference_id: r for r in connection.execute(sa.select(fb_payouts))}
        lines = connection.execute(sa.select(fb_transaction_tax_details)).all()
        payments = {r.transaction_id: r for r in connection.execute(sa.select(fb_payments))}
    for txn in truth["transactions"]:
        row = stored[txn["id"]]
        assert row.net_payment_amount == Decimal(txn["net_payment_amount"]["amount"])  # sign as sent
        assert row.processing_fee == Decimal(txn["processing_fee"]["amount"])
        assert (row.transaction_type, row.order_id, row.payout_reference_id) == (
            txn["transaction_type"],
            txn["order_id"],
            txn.get("payout_reference_id"),
        )
        assert row.raw["order_details"]["id"] == txn["order_id"]  # the order comes inline
        if txn["transaction_type"] == "SALE":  # what the SALE captured: its shipment's payment
            paid = payments[txn["id"]]
            assert (paid.order_id, paid.shipment_id, paid.currency) == (txn["order_id"], txn["shipment_id"], "USD")
            assert paid.items_amount == Decimal(txn["subtotal_amount"]["amount"])
            assert paid.shipping_amount == Decimal(txn["shipping_amount"]["amount"])
            assert paid.tax_amount == Decimal(txn["tax_amount"]["amount"])
            assert paid.total_amount == paid.captured_amount == Decimal(txn["total_amount"]["amount"])
            assert paid.capture_time is not None and paid.tax_remitted in (True, False)
    assert {r.transaction_id for r in lines} == set(stored)
    refunds = [r for r in stored.values() if r.transaction_type == "REFUND"]
    assert refunds and all(r.net_payment_amount < 0 for r in refunds)
    for payout in truth["payouts"]:
        assert payouts[payout["payout_reference_id"]].amount == Decimal(payout["amount"]["amount"])


def test_an_empty_window_takes_one_call_per_edge(sandbox, warehouse_engine):
    client = fast_client(sandbox.url)
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    result = load_finance(client, warehouse_engine, defaults.SANDBOX_PAGE_ID, start, start + dt.timedelta(days=1))
    assert (result.payouts, result.transactions, result.pages) == (0, 0, 2)
    assert client.stats.calls == 2


class WithoutPayments(GraphClient):
    """The real client, but Meta answers transactions without expanding their orders' payments."""

    def iter_pages(self, path, **kwargs):
        for page in super().iter_pages(path, **kwargs):
            if path.endswith("commerce_transactions"):
                for txn in page.get("data") or []:
                    txn.get("order_details", {}).pop("payments", None)
            yield page


def test_orders_that_come_without_payments_have_them_read_once_each(sandbox, warehouse_engine):
    truth = sandbox.admin.state(include="transactions,payouts")
    dates = [timestamp(t["transaction_date"]) for t in truth["transactions"]]
    start, end = min(dates) - dt.timedelta(days=1), max(dates) + dt.timedelta(days=1)
    inline = load_finance(fast_client(sandbox.url), warehouse_engine, defaults.SANDBOX_PAGE_ID, start, end)
    before = table_hashes(warehouse_engine)["fb_payments"]

    fast = fast_client(sandbox.url)
    client = WithoutPayments(defaults.SANDBOX_ACCESS_TOKEN, defaults.SANDBOX_APP_SECRET, fast.settings)
    read = load_finance(client, warehouse_engine, defaults.SANDBOX_PAGE_ID, start, end, page_size=PAGE_SIZE)
    sale_orders = {t["order_id"] for t in truth["transactions"] if t["transaction_type"] == "SALE"}
    assert read.payment_pages == len(sale_orders)  # one call per order, however many SALEs it has
    assert read.payments == inline.payments
    # the same payments as inline, left untouched (the transactions' raw now lacks them: those rows change)
    assert table_hashes(warehouse_engine)["fb_payments"] == before
