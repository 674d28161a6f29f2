"""The default feed mapping never coerces: a value it cannot convert exactly reaches the check as it is and is
rejected with its column and value, on SQLite and PostgreSQL, from typed and from text columns.

SQLite stores text in a NUMERIC or INTEGER column when it does not look like a number, and its arithmetic reads the
numeric prefix of text ('9,99' * 100 = 900): the mapping used to ship '9,99' as 9.00, '' as 0.00. A merchant's own
table may hold text in every column on PostgreSQL too.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from fb_commerce.catalog.build import build_feed
from fb_commerce.catalog.mapping import default_mapping_path
from fb_commerce.catalog.rejects import Reject
from fb_commerce.catalog.rules import Reason, not_in_reason
from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.migrate import upgrade

COLUMNS = (
    "sku",
    "name",
    "description",
    "price",
    "sale_price",
    "sale_price_start",
    "sale_price_end",
    "currency",
    "stock",
    "brand",
    "url",
    "image_url",
    "category",
    "condition",
    "item_group_id",
    "gtin",
    "size",
    "color",
    "is_active",
)
BASE: dict[str, object] = {
    "name": "Shirt",
    "description": "Soft shirt.",
    "price": "19.90",
    "sale_price": None,
    "sale_price_start": None,
    "sale_price_end": None,
    "currency": "USD",
    "stock": "5",
    "brand": "Acme",
    "url": "https://shop.example.com/p",
    "image_url": "https://cdn.example.com/p.jpg",
    "category": "Apparel & Accessories > Clothing",
    "condition": "new",
    "item_group_id": None,
    "gtin": None,
    "size": None,
    "color": None,
    "is_active": "1",
}
AVAILABILITY = not_in_reason(frozenset({"in stock", "out of stock"}))
STATUS = not_in_reason(frozenset({"active", "archived"}))
CONDITION = not_in_reason(frozenset({"new", "refurbished", "used"}))

#: sku -> (changed source column and its stored text, expected reject (field, reason, value) or None when the row
#: must be written, and then the value the feed must carry in that field).
CASES: dict[str, tuple[dict[str, object], tuple[str, str, str | None] | None, tuple[str, str] | None]] = {
    "EMPTY-PRICE": ({"price": ""}, ("price", Reason.MISSING, None), None),
    "BLANK-PRICE": ({"price": "   "}, ("price", Reason.MISSING, None), None),
    "COMMA-PRICE": ({"price": "9,99"}, ("price", Reason.PRICE_FORMAT, "9,99 USD"), None),
    "SPACED-PRICE": ({"price": "1 000,00"}, ("price", Reason.PRICE_FORMAT, "1 000,00 USD"), None),
    "TEXT-PRICE": ({"price": "n/a"}, ("price", Reason.PRICE_FORMAT, "n/a USD"), None),
    "NEGATIVE-PRICE": ({"price": "-5"}, ("price", Reason.PRICE_FORMAT, "-5 USD"), None),
    "SIX-DECIMALS": ({"price": "9.999999"}, ("price", Reason.PRICE_DECIMALS, "9.999999 USD"), None),
    "HUGE-PRICE": ({"price": "10000000000000.00"}, ("price", Reason.PRICE_TOO_LARGE, "10000000000000.00 USD"), None),
    "ZERO-PRICE": ({"price": "0"}, ("price", Reason.PRICE_ZERO, "0.00 USD"), None),
    "NO-CURRENCY": ({"currency": None}, ("price", Reason.PRICE_FORMAT, "19.90"), None),
    "TEXT-SALE": ({"sale_price": "abc"}, ("sale_price", Reason.PRICE_FORMAT, "abc USD"), None),
    "COMMA-SALE": ({"sale_price": "9,99"}, ("sale_price", Reason.PRICE_FORMAT, "9,99 USD"), None),
    "TEXT-STOCK": ({"stock": "lots"}, ("quantity_to_sell_on_facebook", Reason.QUANTITY, "lots"), None),
    "HALF-STOCK": ({"stock": "2.5"}, ("quantity_to_sell_on_facebook", Reason.QUANTITY, "2.5"), None),
    "NO-STOCK": ({"stock": None}, ("quantity_to_sell_on_facebook", Reason.MISSING, None), None),
    "MAYBE-ACTIVE": ({"is_active": "maybe"}, ("status", STATUS, "maybe"), None),
    "YES-ACTIVE": ({"is_active": "yes"}, ("status", STATUS, "yes"), None),
    "NO-CONDITION": ({"condition": None}, ("condition", Reason.MISSING, None), None),
    "CASED-CONDITION": ({"condition": "New"}, ("condition", CONDITION, "New"), None),
    # what must pass, exactly as meant
    "ONE-DECIMAL": ({"price": "19.9"}, None, ("price", "19.90 USD")),
    "WHOLE-PRICE": ({"price": "10"}, None, ("price", "10.00 USD")),
    "TWO-DECIMALS": ({"price": "0.07"}, None, ("price", "0.07 USD")),
    "SALE": ({"sale_price": "15.5"}, None, ("sale_price", "15.50 USD")),
    "OVERSOLD": ({"stock": "-3"}, None, ("quantity_to_sell_on_facebook", "0")),
    "INACTIVE": ({"is_active": "0"}, None, ("status", "archived")),
}


def _rows() -> list[dict[str, object]]:
    return [{**BASE, "sku": sku, **changes} for sku, (changes, _, _) in CASES.items()]


def _check(result_path: Path, rejects: list[Reject]) -> None:
    with result_path.open(newline="", encoding="utf-8") as handle:
        written = {row["id"]: row for row in csv.DictReader(handle)}
    found = {r.retailer_id: (r.field, r.reason, r.value) for r in rejects}
    for sku, (_, reject, kept) in CASES.items():
        if reject is not None:
            assert sku not in written, sku
            assert found.get(sku) == reject, sku
        else:
            assert sku not in found, (sku, found.get(sku))
            assert kept is not None
            assert written[sku][kept[0]] == kept[1], sku
    assert len(rejects) == sum(1 for _, reject, _ in CASES.values() if reject)  # one reason per bad row


def _text_table_mapping(engine: sa.Engine) -> str:
    """The default mapping over a table whose columns are all text (a merchant's own staging table)."""
    table = sa.Table("text_products", sa.MetaData(), *(sa.Column(name, sa.Text()) for name in COLUMNS))
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), _rows())
    sql = default_mapping_path().read_text(encoding="utf-8")
    assert "FROM merchant_products AS mp" in sql
    return sql.replace("FROM merchant_products AS mp", "FROM text_products AS mp")


@pytest.mark.parametrize("method", ["auto", "sqlalchemy"])
def test_text_columns_are_never_coerced(warehouse_url: str, tmp_path: Path, method: str) -> None:
    engine = create_warehouse_engine(warehouse_url)
    try:
        query = _text_table_mapping(engine)
    finally:
        engine.dispose()
    rejects: list[Reject] = []
    out = tmp_path / "feed.csv"
    build_feed(warehouse_url, query, out, reject_limit=None, on_rejects=rejects.extend, method=method)  # type: ignore[arg-type]
    _check(out, rejects)


def test_sqlite_typed_columns_holding_text_are_never_coerced(tmp_path: Path) -> None:
    """merchant_products itself on SQLite: NUMERIC/INTEGER/BOOLEAN columns keep text that is not a number."""
    path = tmp_path / "warehouse.db"
    url = f"sqlite:///{path}"
    engine = create_warehouse_engine(url)
    upgrade(engine)
    engine.dispose()
    with sqlite3.connect(path) as conn:  # raw inserts: the warehouse's Money type would refuse these values
        placeholders = ", ".join("?" for _ in COLUMNS)
        conn.executemany(
            f"INSERT INTO merchant_products ({', '.join(COLUMNS)}) VALUES ({placeholders})",
            [tuple(row[name] for name in COLUMNS) for row in _rows()],
        )
    rejects: list[Reject] = []
    build_feed(url, None, tmp_path / "feed.csv", reject_limit=None, on_rejects=rejects.extend)
    _check(tmp_path / "feed.csv", rejects)


@pytest.mark.postgres
def test_postgres_numeric_nan_and_zero(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL's NUMERIC holds NaN; the mapping passes it on (rejected), and never fails the whole read."""
    engine = create_warehouse_engine(postgres_url)
    upgrade(engine)
    with engine.begin() as conn:
        rows = [
            {**BASE, "sku": sku, "price": price, "stock": 5, "is_active": True}
            for sku, price in (("NAN", "NaN"), ("ZERO", "0"), ("GOOD", "19.9"))
        ]
        conn.execute(
            sa.text(
                "INSERT INTO merchant_products (sku, name, description, price, currency, stock, brand, url, image_url,"
                " category, condition, is_active) VALUES (:sku, :name, :description, CAST(:price AS NUMERIC),"
                " :currency, :stock, :brand, :url, :image_url, :category, :condition, :is_active)"
            ),
            rows,
        )
    engine.dispose()
    rejects: list[Reject] = []
    build_feed(postgres_url, None, tmp_path / "feed.csv", reject_limit=None, on_rejects=rejects.extend)
    assert {(r.retailer_id, r.field, r.reason, r.value) for r in rejects} == {
        ("NAN", "price", Reason.PRICE_FORMAT, "NaN USD"),
        ("ZERO", "price", Reason.PRICE_ZERO, "0.00 USD"),
    }
    with (tmp_path / "feed.csv").open(newline="") as handle:
        assert [(r["id"], r["price"], r["status"]) for r in csv.DictReader(handle)] == [("GOOD", "19.90 USD", "active")]
