"""The inventory sync never coerces: a stock or price the source cannot give exactly is refused with its column and
value, by the feed's rule table, on SQLite and PostgreSQL, from text and from typed columns; the refused products
are stored as failed and the rest of the batch goes to Meta in the same run, with the values the feed would send.

The default source used to ROUND(price, 2) (9.999999 went out as 10.00, and on SQLite '9,99' as 9.00), turn any
stock it could not compare into 0 or a number, accept a zero price, and report a text price as "missing".
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from support import fast_client, migrated_engine

from fb_commerce import defaults
from fb_commerce.catalog.build import build_feed
from fb_commerce.catalog.inventory_delta import CREATE, iter_delta, load_source
from fb_commerce.catalog.inventory_sync import InventorySync, wait_for_handles
from fb_commerce.catalog.mapping import default_mapping_path
from fb_commerce.catalog.rejects import Reject
from fb_commerce.catalog.rules import Reason
from fb_commerce.graph.client import GraphClient
from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.migrate import upgrade

CATALOG = defaults.SANDBOX_CATALOG_ID
PRICE, SALE, QUANTITY, CURRENCY = "price", "sale_price", "quantity_to_sell_on_facebook", "currency"
#: The good row every case starts from, as text (the source columns the inventory reads).
BASE: dict[str, object] = {"price": "19.90", "sale_price": None, "currency": "USD", "stock": "5"}
#: What the sync state holds before the run (as after a feed): every case differs from it, so each is in the delta.
SYNCED = {"availability": "in stock", "quantity": 1, "price": Decimal("50.00"), "sale_price": None, "currency": "USD"}

Refusal = tuple[str, str, str | None]  # column, reason, value
Sent = tuple[str, str | None, int, str]  # price, sale_price, quantity, availability as Meta gets them

#: The sandbox's catalog has SKU-00001..SKU-00060: case n is SKU-000nn. Source changes -> refusal or what is sent.
CASES: dict[int, tuple[dict[str, object], Refusal | None, Sent | None]] = {
    1: ({"price": ""}, (PRICE, Reason.MISSING, None), None),
    2: ({"price": "   "}, (PRICE, Reason.MISSING, None), None),
    3: ({"price": "9,99"}, (PRICE, Reason.PRICE_FORMAT, "9,99"), None),
    4: ({"price": "1 000,00"}, (PRICE, Reason.PRICE_FORMAT, "1 000,00"), None),
    5: ({"price": "n/a"}, (PRICE, Reason.PRICE_FORMAT, "n/a"), None),
    6: ({"price": "-5"}, (PRICE, Reason.PRICE_FORMAT, "-5"), None),
    7: ({"price": "9.999999"}, (PRICE, Reason.PRICE_DECIMALS, "9.999999"), None),
    8: ({"price": "10000000000000.00"}, (PRICE, Reason.PRICE_TOO_LARGE, "10000000000000.00"), None),
    9: ({"price": "0"}, (PRICE, Reason.PRICE_ZERO, "0.00"), None),
    10: ({"price": "1e3"}, (PRICE, Reason.PRICE_FORMAT, "1e3"), None),
    11: ({"currency": None}, (CURRENCY, Reason.MISSING, None), None),
    12: ({"currency": "usd"}, (CURRENCY, Reason.CURRENCY, "usd"), None),
    13: ({"currency": "DOLLARS"}, (CURRENCY, Reason.CURRENCY, "DOLLARS"), None),
    14: ({"sale_price": "abc"}, (SALE, Reason.PRICE_FORMAT, "abc"), None),
    15: ({"sale_price": "9,99"}, (SALE, Reason.PRICE_FORMAT, "9,99"), None),
    16: ({"sale_price": "25"}, (SALE, Reason.SALE_ABOVE_PRICE, "25.00"), None),
    17: ({"sale_price": "0"}, (SALE, Reason.PRICE_ZERO, "0.00"), None),
    18: ({"stock": "lots"}, (QUANTITY, Reason.QUANTITY, "lots"), None),
    19: ({"stock": "2.5"}, (QUANTITY, Reason.QUANTITY, "2.5"), None),
    20: ({"stock": "12 units"}, (QUANTITY, Reason.QUANTITY, "12 units"), None),
    21: ({"stock": None}, (QUANTITY, Reason.MISSING, None), None),
    22: ({"stock": "99999999999"}, (QUANTITY, Reason.QUANTITY_TOO_LARGE, "99999999999"), None),
    # what must pass, exactly as meant
    31: ({"price": "19.9"}, None, ("19.90 USD", None, 5, "in stock")),
    32: ({"price": "10"}, None, ("10.00 USD", None, 5, "in stock")),
    33: ({"price": "0.07"}, None, ("0.07 USD", None, 5, "in stock")),
    34: ({"sale_price": "15.5"}, None, ("19.90 USD", "15.50 USD", 5, "in stock")),
    35: ({"stock": "-3"}, None, ("19.90 USD", None, 0, "out of stock")),  # oversold: nothing to sell
    36: ({"stock": "0"}, None, ("19.90 USD", None, 0, "out of stock")),
    37: ({"stock": "17"}, None, ("19.90 USD", None, 17, "in stock")),
    38: ({"currency": "EUR"}, None, ("19.90 EUR", None, 5, "in stock")),
    39: ({}, None, ("19.90 USD", None, 5, "in stock")),
}


def sku(number: int) -> str:
    return f"SKU-{number:05d}"


def message(refusal: Refusal) -> str:
    column, reason, value = refusal
    return f"{column}: {reason}" if value is None else f"{column}: {reason}: {value!r}"


def source_rows(cases: dict[int, tuple[dict[str, object], Refusal | None, Sent | None]]) -> list[dict[str, object]]:
    return [{"sku": sku(n), **BASE, **changes} for n, (changes, _, _) in cases.items()]


def synced_state(engine: sa.Engine, skus: list[str]) -> None:
    from fb_commerce.warehouse.schema import fb_catalog_sync_state

    with engine.begin() as connection:
        connection.execute(sa.insert(fb_catalog_sync_state), [{"retailer_id": s, **SYNCED} for s in skus])


@pytest.fixture
def client(sandbox) -> GraphClient:
    sandbox.admin.config(batch_delay_seconds=0)
    return fast_client(sandbox.url)


@pytest.fixture
def warehouse(warehouse_url: str) -> Iterator[sa.Engine]:
    engine = migrated_engine(warehouse_url)
    yield engine
    engine.dispose()


def table_source(engine: sa.Engine, name: str, types: dict[str, sa.types.TypeEngine], rows: list[dict]) -> str:
    """The default inventory source over a table of the merchant's own (``types`` per column)."""
    table = sa.Table(name, sa.MetaData(), sa.Column("sku", sa.Text()), *(sa.Column(c, t) for c, t in types.items()))
    table.create(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), rows)
    return from_table(load_source(), name)


def from_table(sql: str, name: str) -> str:
    """``sql`` reading the table ``name`` instead of merchant_products."""
    assert sql.count("FROM merchant_products") == 1
    return sql.replace("FROM merchant_products", f"FROM {name}")


def sync_and_check(engine: sa.Engine, client: GraphClient, sandbox, source: str | None, cases: dict) -> None:
    """One run: every bad product refused (stored as failed with its message), every good one synced with the
    exact values, in the same run; the refused ones keep their state and are refused again next time."""
    synced_state(engine, [sku(n) for n in cases])
    sync = InventorySync(engine, client, CATALOG, run_id="exact", source=source)
    sent = sync.send()
    settled = sync.settle(wait_for_handles(client, CATALOG, sent.handles, poll_interval=0.05))
    good = {sku(n): expected for n, (_, refusal, expected) in cases.items() if refusal is None}
    bad = {sku(n): message(refusal) for n, (_, refusal, _) in cases.items() if refusal is not None}
    assert (sent.counts.updates, sent.counts.invalid, settled.synced, settled.failed) == (
        len(good),
        len(bad),
        len(good),
        0,
    )
    with engine.connect() as connection:
        stored = connection.execute(
            sa.text(
                "SELECT i.retailer_id, i.status, i.error_message, r.status AS request_status"
                " FROM fb_batch_request_items AS i JOIN fb_batch_requests AS r ON r.handle = i.handle"
                " WHERE i.handle = 'refused:exact'"
            )
        ).all()
        state = {r.retailer_id: r for r in connection.execute(sa.text("SELECT * FROM fb_catalog_sync_state"))}
    assert {r.retailer_id: r.error_message for r in stored} == bad
    assert {(r.status, r.request_status) for r in stored} == {("failed", "REFUSED")}
    products = {p["retailer_id"]: p for p in sandbox.admin.state(include="products")["products"]}
    for retailer_id, (price, sale_price, quantity, availability) in good.items():
        product = products[retailer_id]
        assert (
            product["price"],
            product.get("sale_price"),
            product["quantity_to_sell_on_facebook"],
            product["availability"],
        ) == (price, sale_price, quantity, availability), retailer_id
    for retailer_id in bad:  # nothing sent: Meta and the state keep what they had
        assert Decimal(str(state[retailer_id].price)) == SYNCED["price"] and state[retailer_id].quantity == 1
    again = [c for c in iter_delta(engine, source or load_source()) if c.method != CREATE]
    assert {c.retailer_id: c.problem() for c in again} == bad  # refused again, good ones converged


def test_text_columns_are_refused_never_coerced(warehouse, client, sandbox):
    source = table_source(warehouse, "text_products", {c: sa.Text() for c in BASE}, source_rows(CASES))
    sync_and_check(warehouse, client, sandbox, source, CASES)


def test_sqlite_typed_columns_holding_text_are_refused_never_coerced(tmp_path: Path, client, sandbox):
    """merchant_products itself on SQLite: its NUMERIC/INTEGER columns keep text that is not a number."""
    # '1e3' is a number to SQLite: a NUMERIC column stores it as 1000 (the database's reading, exact), not as text.
    cases = {n: case for n, case in CASES.items() if n != 10}
    path = tmp_path / "warehouse.db"
    engine = create_warehouse_engine(f"sqlite:///{path}")
    upgrade(engine)
    with sqlite3.connect(path) as conn:  # raw inserts: the warehouse's Money type would refuse these values
        conn.executemany(
            "INSERT INTO merchant_products (sku, price, sale_price, currency, stock) VALUES (?, ?, ?, ?, ?)",
            [(r["sku"], r["price"], r["sale_price"], r["currency"], r["stock"]) for r in source_rows(cases)],
        )
    try:
        sync_and_check(engine, client, sandbox, None, cases)
    finally:
        engine.dispose()


#: Typed numeric columns without a scale hold what the merchant stored, exactly (PostgreSQL NUMERIC, SQLite
#: NUMERIC affinity): numbers, never text.
NUMERIC_CASES: dict[int, tuple[dict[str, object], Refusal | None, Sent | None]] = {
    1: ({"price": Decimal("9.999999")}, (PRICE, Reason.PRICE_DECIMALS, "9.999999"), None),
    2: ({"price": Decimal("-5.5")}, (PRICE, Reason.PRICE_FORMAT, "-5.5"), None),
    3: ({"price": Decimal("0")}, (PRICE, Reason.PRICE_ZERO, "0.00"), None),
    4: ({"price": Decimal("10000000000000")}, (PRICE, Reason.PRICE_TOO_LARGE, "10000000000000.00"), None),
    5: ({"sale_price": Decimal("19.999")}, (SALE, Reason.PRICE_DECIMALS, "19.999"), None),
    6: ({"stock": Decimal("2.5")}, (QUANTITY, Reason.QUANTITY, "2.5"), None),
    7: ({"price": None}, (PRICE, Reason.MISSING, None), None),
    11: ({"price": Decimal("19.9")}, None, ("19.90 USD", None, 5, "in stock")),
    12: ({"price": Decimal("10")}, None, ("10.00 USD", None, 5, "in stock")),
    13: ({"stock": Decimal("-3")}, None, ("19.90 USD", None, 0, "out of stock")),
    14: ({"stock": Decimal("17"), "sale_price": Decimal("12.5")}, None, ("19.90 USD", "12.50 USD", 17, "in stock")),
}


def test_typed_numeric_columns_are_read_exactly(warehouse, client, sandbox):
    rows = [
        {
            **row,
            "price": row["price"] if "price" in changes else Decimal("19.90"),
            "stock": row["stock"] if "stock" in changes else Decimal(5),
        }
        for row, (changes, _, _) in zip(source_rows(NUMERIC_CASES), NUMERIC_CASES.values(), strict=True)
    ]
    types = {
        "price": sa.Numeric(asdecimal=True),
        "sale_price": sa.Numeric(asdecimal=True),
        "currency": sa.String(16),
        "stock": sa.Numeric(asdecimal=True),
    }
    source = table_source(warehouse, "numeric_products", types, rows)
    sync_and_check(warehouse, client, sandbox, source, NUMERIC_CASES)


@pytest.mark.postgres
def test_postgres_numeric_nan_is_refused(postgres_url: str, client, sandbox):
    """PostgreSQL's NUMERIC holds NaN: refused with its value, never a failed statement for the whole batch."""
    engine = create_warehouse_engine(postgres_url)
    upgrade(engine)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO merchant_products (sku, price, currency, stock) VALUES "
                    "('SKU-00001', 'NaN', 'USD', 5), ('SKU-00002', 19.9, 'USD', -4), ('SKU-00003', 0, 'USD', 5)"
                )
            )
        cases = {
            1: ({}, (PRICE, Reason.PRICE_FORMAT, "NaN"), None),
            2: ({}, None, ("19.90 USD", None, 0, "out of stock")),
            3: ({}, (PRICE, Reason.PRICE_ZERO, "0.00"), None),
        }
        sync_and_check(engine, client, sandbox, None, cases)
    finally:
        engine.dispose()


def test_a_zero_price_goes_out_when_the_source_opts_in(warehouse, client, sandbox):
    cases = {
        1: ({"price": "0"}, None, ("0.00 USD", None, 5, "in stock")),
        2: ({"price": "0.00", "sale_price": "0"}, None, ("0.00 USD", "0.00 USD", 5, "in stock")),
        3: ({"price": "-1"}, (PRICE, Reason.PRICE_FORMAT, "-1"), None),
    }
    source = table_source(warehouse, "free_products", {c: sa.Text() for c in BASE}, source_rows(cases))
    sync_and_check(warehouse, client, sandbox, "-- fb-commerce-option: allow_zero_price\n" + source, cases)


# --- the feed and the inventory sync send the same values and refuse the same products ----------------------


FEED_BASE: dict[str, object] = {
    "name": "Shirt",
    "description": "Soft shirt.",
    "brand": "Acme",
    "url": "https://shop.example.com/p",
    "image_url": "https://cdn.example.com/p.jpg",
    "category": "Apparel & Accessories > Clothing",
    "condition": "new",
    "is_active": "1",
    "sale_price_start": None,
    "sale_price_end": None,
    "item_group_id": None,
    "gtin": None,
    "size": None,
    "color": None,
}


def test_feed_and_inventory_agree_on_every_value(warehouse, warehouse_url: str, tmp_path: Path):
    rows = [{**FEED_BASE, **row} for row in source_rows(CASES)]
    table = sa.Table("all_products", sa.MetaData(), *(sa.Column(c, sa.Text()) for c in rows[0]))
    table.create(warehouse)
    with warehouse.begin() as connection:
        connection.execute(table.insert(), rows)
    feed_sql = from_table(default_mapping_path().read_text(encoding="utf-8"), "all_products")
    inventory_sql = from_table(load_source(), "all_products")
    rejects: list[Reject] = []
    out = tmp_path / "feed.csv"
    build_feed(warehouse_url, feed_sql, out, reject_limit=None, on_rejects=rejects.extend)
    with out.open(newline="", encoding="utf-8") as handle:
        feed = {row["id"]: row for row in csv.DictReader(handle)}
    synced_state(warehouse, [r["sku"] for r in rows])
    changes = {c.retailer_id: c for c in iter_delta(warehouse, inventory_sql)}
    assert {r.retailer_id for r in rejects} == {k for k, c in changes.items() if c.problem() is not None}
    assert set(feed) == {k for k, c in changes.items() if c.problem() is None}
    for retailer_id, row in feed.items():
        data = changes[retailer_id].request()["data"]
        assert (
            data["price"],
            data.get("sale_price") or "",
            str(data["quantity_to_sell_on_facebook"]),
            data["availability"],
        ) == (row["price"], row["sale_price"], row["quantity_to_sell_on_facebook"], row["availability"]), retailer_id
    # each refusal names the same column as the feed's reject, or currency where the feed says price
    feed_fields = {r.retailer_id: r.field for r in rejects}
    for n, (_, refusal, _) in CASES.items():
        if refusal is not None:
            assert feed_fields[sku(n)] == (PRICE if refusal[0] == CURRENCY else refusal[0]), n
