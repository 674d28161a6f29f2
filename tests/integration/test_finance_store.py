"""Storing pages of transactions and payments (``store_transactions``), on SQLite and PostgreSQL: new rows go in as
they are mapped, a refused value stores nothing of its page, a page stored again leaves identical rows, and the
key lookups batch past their statement size."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa
from unit.test_finance_load import payment, sale

from fb_commerce.finance import load
from fb_commerce.finance.load import make_durable, sale_payments, store_transactions
from fb_commerce.orders.values import UnreadableValue
from fb_commerce.warehouse.schema import fb_payments, fb_transaction_tax_details, fb_transactions

NOW = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
TABLES = (fb_transactions, fb_transaction_tax_details, fb_payments)


def page(count: int, first: int = 0) -> list[dict]:
    txns = []
    for number in range(first, first + count):
        order = str(30_000 + number)
        paid = payment(id=f"5{number:04d}", transaction_details={"transaction_id": str(39_000 + number)})
        txns.append(sale(id=str(39_000 + number), order_details={"id": order, "payments": {"data": [paid]}}))
    return txns


def hashes(engine) -> dict[str, str]:
    with engine.connect() as connection:
        return {
            table.name: hashlib.sha256(
                repr(connection.execute(sa.select(table).order_by(*table.primary_key.columns)).all()).encode()
            ).hexdigest()
            for table in TABLES
        }


def counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {t.name: connection.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in TABLES}


def store(engine, txns, **kwargs):
    return store_transactions(engine, txns, synced_at=NOW, payments=sale_payments(txns)[0], **kwargs)


def test_a_page_stored_again_leaves_identical_rows(warehouse_engine):
    txns = page(5)
    assert store(warehouse_engine, txns, durable=False) == (5, 10, 5)
    make_durable(warehouse_engine)
    before = hashes(warehouse_engine)
    later = store_transactions(
        warehouse_engine, txns, synced_at=NOW + dt.timedelta(hours=1), payments=sale_payments(txns)[0]
    )
    assert later == (5, 10, 5) and hashes(warehouse_engine) == before  # synced_at included: unchanged rows stay
    assert counts(warehouse_engine) == {"fb_transactions": 5, "fb_transaction_tax_details": 10, "fb_payments": 5}


def test_a_page_of_new_and_stored_transactions_replaces_the_lines_of_the_stored(warehouse_engine):
    store(warehouse_engine, page(3))
    changed = page(5)  # 0..2 stored already, 3..4 new
    changed[1]["items"]["data"][0]["tax_details"]["data"].pop()  # one line fewer on a stored one
    assert store(warehouse_engine, changed) == (5, 9, 5)
    with warehouse_engine.connect() as connection:
        lines = connection.execute(
            sa.select(fb_transaction_tax_details.c.transaction_id, sa.func.count()).group_by("transaction_id")
        ).all()
    assert dict(lines) == {"39000": 2, "39001": 1, "39002": 2, "39003": 2, "39004": 2}


def test_an_id_given_twice_in_a_page_is_stored_once_the_last_winning(warehouse_engine):
    txns = page(2)
    again = copy.deepcopy(txns[0])
    again["transaction_type"] = "REFUND"
    store_transactions(warehouse_engine, [*txns, again], synced_at=NOW)
    with warehouse_engine.connect() as connection:
        stored = dict(
            connection.execute(sa.select(fb_transactions.c.transaction_id, fb_transactions.c.transaction_type)).all()
        )
    assert stored == {"39000": "REFUND", "39001": "SALE"}


@pytest.mark.parametrize("which", ["first", "last"])
def test_an_unreadable_value_anywhere_in_a_page_stores_nothing_of_it_naming_the_field(warehouse_engine, which):
    txns = page(4)
    bad = txns[0 if which == "first" else -1]
    bad["net_payment_amount"] = {"amount": "0,67", "currency": "USD"}
    with pytest.raises(UnreadableValue, match=f"transaction {bad['id']} net_payment_amount"):
        store(warehouse_engine, txns)
    assert counts(warehouse_engine) == {"fb_transactions": 0, "fb_transaction_tax_details": 0, "fb_payments": 0}


def test_key_lookups_batch_past_their_statement_size(warehouse_engine, monkeypatch):
    store(warehouse_engine, page(4))
    monkeypatch.setattr(load, "KEYS_PER_STATEMENT", 3)
    assert store(warehouse_engine, page(7)) == (7, 14, 7)  # 4 stored and 3 new, looked up 3 keys at a time
    assert counts(warehouse_engine) == {"fb_transactions": 7, "fb_transaction_tax_details": 14, "fb_payments": 7}
    before = hashes(warehouse_engine)
    store(warehouse_engine, page(7))
    assert hashes(warehouse_engine) == before
