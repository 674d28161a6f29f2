"""The feed built from a real warehouse (SQLite and PostgreSQL) through the default mapping, by ADBC and by the
SQLAlchemy fallback, with rejects stored in fb_feed_rejects."""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from fb_commerce.catalog.build import EmptyFeedError, build_feed
from fb_commerce.catalog.feed import GOOGLE_NAMESPACE
from fb_commerce.catalog.rejects import Reject, TooManyRejectsError
from fb_commerce.catalog.validate import FeedMappingError, Reason
from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.migrate import upgrade
from fb_commerce.warehouse.schema import fb_feed_rejects, merchant_products
from fb_commerce.warehouse.upsert import upsert

UTC = dt.UTC
GOOD_IDS = ["SKU-1", "SKU-2", "SKU-3", "SKU-4", "SKU-5", "SKU-6", "SKU-7", "SKU-8"]


def product(sku: str, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "sku": sku,
        "name": f"Organic cotton shirt {sku}",
        "description": 'Soft, "breathable" cotton.\nMachine washable.',
        "price": Decimal("19.90"),
        "sale_price": None,
        "sale_price_start": None,
        "sale_price_end": None,
        "currency": "USD",
        "stock": 5,
        "brand": "Acme",
        "url": f"https://shop.example.com/p/{sku}",
        "image_url": f"https://cdn.example.com/{sku}.jpg",
        "category": "Apparel & Accessories > Clothing > Shirts & Tops",
        "condition": "new",
        "item_group_id": "G-1",
        "gtin": "4006381333931",
        "size": "M",
        "color": "navy",
        "is_active": True,
    }
    row.update(changes)
    return row


PRODUCTS = [
    product("SKU-1"),
    product("SKU-2", price=Decimal("0.07"), stock=0, condition="refurbished", gtin=None, size=None, color=None),
    product(
        "SKU-3",
        sale_price=Decimal("15.05"),
        sale_price_start=dt.datetime(2026, 1, 1, tzinfo=UTC),
        sale_price_end=dt.datetime(2026, 2, 1, 12, 30, tzinfo=UTC),
    ),
    product("SKU-4", is_active=False, price=Decimal("1234567.5"), currency="EUR"),
    product("SKU-5", description="Sizes 2 < 3, comma, and a \t tab"),
    product("SKU-6", name='Shirt, "quoted"', stock=-3),
    product("SKU-7", price=Decimal("10"), sale_price=Decimal("10")),
    product("SKU-8", category="1604"),
    product("BAD-PRICE", price=None),
    product("BAD-CURRENCY", currency="XYZ"),
    product("BAD-LINK", url="shop.example.com/p/x"),
    product("BAD-HTML", description="<p>Our <b>best</b> seller</p>"),
    product("BAD-GTIN", gtin="4006381333932"),
    product("BAD-SALE", sale_price=Decimal("25.00")),
    product("BAD-SEVERAL", name="", brand=None, url="ftp://x"),
]
EXPECTED_REJECTS = {
    ("BAD-PRICE", "price", Reason.MISSING),
    ("BAD-CURRENCY", "price", Reason.CURRENCY),
    ("BAD-LINK", "link", Reason.URL),
    ("BAD-HTML", "description", Reason.HTML),
    ("BAD-GTIN", "gtin", Reason.GTIN_CHECK_DIGIT),
    ("BAD-SALE", "sale_price", Reason.SALE_ABOVE_PRICE),
    ("BAD-SEVERAL", "title", Reason.MISSING),
    ("BAD-SEVERAL", "link", Reason.URL),
    ("BAD-SEVERAL", "brand", Reason.MISSING),
}


@pytest.fixture
def warehouse(warehouse_url: str) -> str:
    """The warehouse URL, migrated, with PRODUCTS in merchant_products."""
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(merchant_products.insert(), PRODUCTS)
    engine.dispose()
    return warehouse_url


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def test_feed_from_the_warehouse_through_the_default_mapping(warehouse: str, tmp_path: Path) -> None:
    collected: list[Reject] = []
    result = build_feed(warehouse, None, tmp_path / "catalog.csv", reject_limit=None, on_rejects=collected.extend)

    assert result.method.startswith("adbc-")
    assert (result.rows_read, result.rows_written, result.rows_rejected) == (15, 8, 7)
    rows = read_csv(tmp_path / "catalog.csv")
    assert [r["id"] for r in rows] == GOOD_IDS
    by_id = {r["id"]: r for r in rows}
    assert by_id["SKU-1"] == {
        "id": "SKU-1",
        "title": "Organic cotton shirt SKU-1",
        "description": 'Soft, "breathable" cotton.\nMachine washable.',
        "availability": "in stock",
        "condition": "new",
        "price": "19.90 USD",
        "link": "https://shop.example.com/p/SKU-1",
        "image_link": "https://cdn.example.com/SKU-1.jpg",
        "brand": "Acme",
        "quantity_to_sell_on_facebook": "5",
        "google_product_category": "Apparel & Accessories > Clothing > Shirts & Tops",
        "sale_price": "",
        "sale_price_effective_date": "",
        "item_group_id": "G-1",
        "gtin": "4006381333931",
        "size": "M",
        "color": "navy",
        "status": "active",
    }
    assert (by_id["SKU-2"]["price"], by_id["SKU-2"]["availability"], by_id["SKU-2"]["condition"]) == (
        "0.07 USD",
        "out of stock",
        "refurbished",
    )
    assert by_id["SKU-3"]["sale_price"] == "15.05 USD"
    assert by_id["SKU-3"]["sale_price_effective_date"] == "2026-01-01T00:00:00+00:00/2026-02-01T12:30:00+00:00"
    assert (by_id["SKU-4"]["status"], by_id["SKU-4"]["price"]) == ("archived", "1234567.50 EUR")
    assert by_id["SKU-6"]["title"] == 'Shirt, "quoted"'
    assert by_id["SKU-6"]["quantity_to_sell_on_facebook"] == "0"  # oversold: nothing to sell

    assert {(r.retailer_id, r.field, r.reason) for r in collected} == EXPECTED_REJECTS
    assert result.summary.top_reasons[0].rows >= 1


def test_rejects_go_into_fb_feed_rejects(warehouse: str, tmp_path: Path) -> None:
    engine = create_warehouse_engine(warehouse)

    def store(rejects: list[Reject]) -> None:
        upsert(engine, fb_feed_rejects, [r.as_row("run-1") for r in rejects])

    build_feed(warehouse, None, tmp_path / "catalog.csv", reject_limit=None, on_rejects=store)
    build_feed(warehouse, None, tmp_path / "catalog.csv", reject_limit=None, on_rejects=store)  # rerun: same rows
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(fb_feed_rejects.c.retailer_id, fb_feed_rejects.c.field, fb_feed_rejects.c.reason)
        ).all()
    engine.dispose()
    assert set(map(tuple, stored)) == EXPECTED_REJECTS
    assert len(stored) == len(EXPECTED_REJECTS)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "xml"])
def test_the_sqlalchemy_fallback_writes_the_same_file(warehouse: str, tmp_path: Path, fmt: str) -> None:
    adbc = build_feed(warehouse, None, tmp_path / f"adbc.{fmt}", fmt=fmt, reject_limit=None)
    fallback = build_feed(
        warehouse, None, tmp_path / f"fallback.{fmt}", fmt=fmt, reject_limit=None, method="sqlalchemy", batch_size=4
    )
    assert adbc.method.startswith("adbc-")
    assert fallback.method.startswith("sqlalchemy-")
    assert (tmp_path / f"adbc.{fmt}").read_bytes() == (tmp_path / f"fallback.{fmt}").read_bytes()


def test_batch_size_does_not_change_the_feed(warehouse: str, tmp_path: Path) -> None:
    build_feed(warehouse, None, tmp_path / "one.csv", reject_limit=None)
    small = build_feed(warehouse, None, tmp_path / "small.csv", reject_limit=None, batch_size=2)
    assert small.rows_written == 8
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "small.csv").read_bytes()


def test_tsv_and_xml_formats(warehouse: str, tmp_path: Path) -> None:
    build_feed(warehouse, None, tmp_path / "catalog.tsv", fmt="tsv", reject_limit=None)
    assert [r["id"] for r in read_csv(tmp_path / "catalog.tsv", "\t")] == GOOD_IDS
    build_feed(warehouse, None, tmp_path / "catalog.xml", fmt="xml", reject_limit=None)
    items = ET.parse(tmp_path / "catalog.xml").getroot().findall("./channel/item")
    assert [item.find(f"{{{GOOGLE_NAMESPACE}}}id").text for item in items] == GOOD_IDS


def test_too_many_rejects_fail_and_keep_the_previous_feed(warehouse: str, tmp_path: Path) -> None:
    target = tmp_path / "feeds" / "catalog.csv"
    target.parent.mkdir()
    target.write_text("the last good feed\n")
    collected: list[Reject] = []
    with pytest.raises(TooManyRejectsError, match=r"7 of 15 products \(46.67%\)") as caught:
        build_feed(warehouse, None, target, on_rejects=collected.extend)
    assert f"link: {Reason.URL} (2 rows)" in str(caught.value)
    assert target.read_text() == "the last good feed\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["catalog.csv"]
    assert len(collected) == len(EXPECTED_REJECTS)  # rejects were handed over before the failure


def test_a_higher_limit_passes(warehouse: str, tmp_path: Path) -> None:
    assert build_feed(warehouse, None, tmp_path / "c.csv", reject_limit=0.5).rows_written == 8


def test_an_empty_source(warehouse: str, tmp_path: Path) -> None:
    query = (
        "SELECT * FROM (\n"
        + Path(__file__).parents[2].joinpath("include/sql/catalog/feed_mapping.sql").read_text()
        + "\n) AS everything WHERE 1 = 0"
    )
    with pytest.raises(EmptyFeedError, match="returned no products"):
        build_feed(warehouse, query, tmp_path / "c.csv")
    assert not (tmp_path / "c.csv").exists()
    result = build_feed(warehouse, query, tmp_path / "c.csv", allow_empty=True)
    assert result.rows_read == 0
    assert read_csv(tmp_path / "c.csv") == []
    assert (tmp_path / "c.csv").read_text().startswith('"id","title"')


def test_a_mapping_without_a_required_column(warehouse: str, tmp_path: Path) -> None:
    query = "SELECT sku AS id, name AS title FROM merchant_products"
    with pytest.raises(FeedMappingError, match="description, availability"):
        build_feed(warehouse, query, tmp_path / "c.csv")
    assert not (tmp_path / "c.csv").exists()


def test_a_custom_mapping_with_cte_comments_percent_and_semicolon(warehouse: str, tmp_path: Path) -> None:
    query = """
        -- 100% of the active products; ':00' literals must not be taken for parameters
        WITH active AS (SELECT * FROM merchant_products WHERE is_active)
        SELECT sku AS "ID", name AS Title, 'Plain text:00' AS description, 'in stock' AS availability,
               'new' AS condition, '5.00 USD' AS price, url AS link, image_url AS image_link, 'Acme' AS brand,
               3 AS quantity_to_sell_on_facebook, 'A > B' AS google_product_category, 'x' AS custom_label_0
        FROM active WHERE sku LIKE 'SKU-%'; -- trailing comment
    """
    for method in ("auto", "sqlalchemy"):
        result = build_feed(warehouse, query, tmp_path / f"{method}.csv", method=method)  # type: ignore[arg-type]
        assert result.rows_written == 7  # SKU-4 is inactive
        assert result.columns[:2] == ("id", "title")
        assert read_csv(tmp_path / f"{method}.csv")[0]["custom_label_0"] == "x"


def test_sqlite_columns_whose_type_changes_after_the_first_batch(tmp_path: Path) -> None:
    """ADBC's SQLite driver infers types from the first batch; the text wrapper makes a later change harmless."""
    path = tmp_path / "source.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE p (sku, qty, gtin, price REAL)")
        rows = [(f"S{i}", i if i < 50 else "lots", None if i < 60 else "4006381333931", 1.5) for i in range(70)]
        conn.executemany("INSERT INTO p VALUES (?, ?, ?, ?)", rows)
    query = """SELECT sku AS id, 't' AS title, 'd' AS description, 'in stock' AS availability, 'new' AS condition,
                      printf('%.2f', price) || ' USD' AS price, 'https://x.example/' || sku AS link,
                      'https://x.example/i.jpg' AS image_link, 'b' AS brand, qty AS quantity_to_sell_on_facebook,
                      '1604' AS google_product_category, gtin FROM p"""
    collected: list[Reject] = []
    result = build_feed(
        f"sqlite:///{path}", query, tmp_path / "f.csv", batch_size=8, reject_limit=None, on_rejects=collected.extend
    )
    assert (result.rows_read, result.rows_written) == (70, 50)
    assert {(r.field, r.value) for r in collected} == {("quantity_to_sell_on_facebook", "lots")}
    assert read_csv(tmp_path / "f.csv")[-1]["price"] == "1.50 USD"


def test_rejects_are_handed_over_batch_by_batch(warehouse: str, tmp_path: Path) -> None:
    calls: list[list[Reject]] = []
    build_feed(warehouse, None, tmp_path / "c.csv", reject_limit=None, batch_size=3, on_rejects=calls.append)
    assert len(calls) > 1 and all(calls)
    assert {(r.retailer_id, r.field, r.reason) for call in calls for r in call} == EXPECTED_REJECTS
    numbers = [r.row_number for call in calls for r in call]
    assert numbers == sorted(numbers)


def test_bad_arguments_fail_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown feed format"):
        build_feed("sqlite:///absent.db", None, tmp_path / "c.json", fmt="json")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="share between 0 and 1"):
        build_feed("sqlite:///absent.db", None, tmp_path / "c.csv", reject_limit=5)


@pytest.mark.parametrize("method", ["auto", "sqlalchemy"])
def test_a_mapping_with_a_repeated_column(warehouse: str, tmp_path: Path, method: str) -> None:
    query = "SELECT sku AS id, name AS title, brand AS Title FROM merchant_products"
    with pytest.raises(FeedMappingError, match="more than once: title"):
        build_feed(warehouse, query, tmp_path / "c.csv", method=method)  # type: ignore[arg-type]
