"""Finance extract + load against the sandbox over HTTP, on SQLite and PostgreSQL.

A window is loaded, then loaded again: the three tables hash the same (every column, bookkeeping included), the
rows agree with the sandbox's own truth, and the Graph calls made are exactly the pages read.
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
from fb_commerce.orders.values import timestamp
from fb_commerce.warehouse.schema import fb_payouts, fb_transaction_tax_details, fb_transactions

pytestmark = pytest.mark.slow

TABLES = (fb_payouts, fb_transactions, fb_transaction_tax_details)
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
    assert (second.payouts, second.transactions, second.tax_lines) == (
        first.payouts,
        first.transactions,
        first.tax_lines,
    )
    assert client.stats.calls == first.pages + second.pages == finance_calls(sandbox)

    with warehouse_engine.connect() as connection:
        stored = {r.transaction_id: r for r in connection.execute(sa.select(fb_transactions))}
        payouts = {r.payout_reference_id: r for r in connection.execute(sa.select(fb_payouts))}
        lines = connection.execute(sa.select(fb_transaction_tax_details)).all()
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
