"""The order sync's fast row writer (multi-row upsert, COPY of new rows) stores exactly what it is given, on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fb_commerce import defaults
from fb_commerce.graph.client import DATA_TEXTS, GraphClient, GraphSettings
from fb_commerce.graph.surface import ORDER_FIELDS, ORDER_STATES
from fb_commerce.orders.mapping import item_rows, order_row
from fb_commerce.orders.reference import default_reference
from fb_commerce.orders.store import PageRows, store_page
from fb_commerce.warehouse.page_writer import insert_rows, prepare, write_rows
from fb_commerce.warehouse.schema import fb_order_items, fb_orders

NOW = dt.datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=dt.UTC)


@pytest.fixture
def engine(warehouse_engine: Engine) -> Engine:
    return warehouse_engine


def first_page(sandbox, limit: int, *, texts: bool = False) -> dict:
    """The sandbox's first page of orders, every field, as the pull reads it."""
    client = GraphClient(
        defaults.SANDBOX_ACCESS_TOKEN, defaults.SANDBOX_APP_SECRET, GraphSettings(base_url=sandbox.url)
    )
    pages = client.iter_pages(
        f"{defaults.SANDBOX_CMS_ID}/commerce_orders",
        fields=ORDER_FIELDS,
        params={"state": ",".join(ORDER_STATES)},
        limit=limit,
        texts=texts,
    )
    return next(pages)


@pytest.fixture
def orders(sandbox) -> list[dict]:
    return first_page(sandbox, 100)["data"]


def read(engine: Engine, table: sa.Table) -> dict[tuple, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table)).mappings().all()
    return {tuple(row[c.name] for c in table.primary_key.columns): dict(row) for row in rows}


def test_rows_round_trip_with_every_type(engine, orders):
    rows = [order_row(o, NOW) for o in orders]
    items = [i for o in orders for i in item_rows(o, NOW)]
    assert any(r["promotion_details"] for r in rows) and any(r["ship_by_date"] for r in rows)
    with engine.begin() as conn:
        write_rows(conn, fb_orders, rows)
        write_rows(conn, fb_order_items, items)
    stored_orders, stored_items = read(engine, fb_orders), read(engine, fb_order_items)
    assert len(stored_orders) == len(rows) and len(stored_items) == len(items)
    for row in rows:
        stored = stored_orders[(row["order_id"],)]
        assert {k: stored[k] for k in row} == row, row["order_id"]  # Decimal, UTC datetimes, dates, JSON
    for item in items:
        stored = stored_items[(item["order_id"], item["item_id"])]
        assert {k: stored[k] for k in item} == item


def test_kept_columns_are_written_once_and_missing_columns_never(engine, orders):
    first = {**order_row(orders[0], NOW), "merchant_order_reference": "FB-000001"}
    with engine.begin() as conn:
        write_rows(conn, fb_orders, [first], keep=("merchant_order_reference",))
        conn.execute(sa.update(fb_orders).values(acknowledge_error_message="kept"))
    later = {
        **order_row(orders[0], NOW + dt.timedelta(hours=1)),
        "state": "COMPLETED",
        "merchant_order_reference": "FB-999999",
    }
    with engine.begin() as conn:
        write_rows(conn, fb_orders, [later], keep=("merchant_order_reference",))
    (stored,) = read(engine, fb_orders).values()
    assert stored["state"] == "COMPLETED" and stored["synced_at"] == NOW + dt.timedelta(hours=1)
    assert stored["merchant_order_reference"] == "FB-000001", "kept from the insert"
    assert stored["acknowledge_error_message"] == "kept", "not carried, not written"


# --- the statement paths: multi-row upsert (write_rows) and COPY of new rows (insert_rows) ------------------------

WRITERS = {"upsert": write_rows, "insert": insert_rows}
AWKWARD_TEXT = 'O\'Brien, "Jr."\nline two\ttab \\ back\\slash, é ü 漢字 😀'


def _row(order_id: str, **overrides) -> dict:
    row = {
        "order_id": order_id,
        "state": "CREATED",
        "channel": "instagram",
        "created_at": NOW,
        "updated_at": NOW,
        "buyer_name": AWKWARD_TEXT,
        "buyer_email": "",
        "marketing_opt_in": False,
        "ship_by_date": dt.date(2026, 12, 1),
        "ship_to_street2": None,
        "currency": "USD",
        "subtotal": Decimal("9999999999999.99"),
        "shipping": Decimal("0.005"),
        "tax": Decimal("-0.015"),
        "total": Decimal("0.10"),
        "tax_remitted": None,
        "promotion_details": None,
        "synced_at": NOW,
        "raw": {
            "id": order_id,
            "text": AWKWARD_TEXT,
            "amount": "12.34",
            "null": None,
            "nested": {"list": [1, 2.5, True]},
            "csv": 'a,"b",\n',
            "empty": "",
        },
    }
    return {**row, **overrides}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_values_arrive_exactly_through_each_path(engine, writer):
    with engine.begin() as conn:
        WRITERS[writer](conn, fb_orders, [_row("1")])
    stored = read(engine, fb_orders)[("1",)]
    assert stored["subtotal"] == Decimal("9999999999999.99"), "every digit, no float on the way"
    assert (stored["shipping"], stored["tax"], stored["total"]) == (
        Decimal("0.01"),
        Decimal("-0.02"),
        Decimal("0.10"),
    ), "rounded half away from zero to the column's scale, like an INSERT"
    assert stored["buyer_name"] == AWKWARD_TEXT and stored["buyer_email"] == "", "the empty string is not NULL"
    assert stored["ship_to_street2"] is None and stored["tax_remitted"] is None and stored["promotion_details"] is None
    assert stored["marketing_opt_in"] is False and stored["ship_by_date"] == dt.date(2026, 12, 1)
    assert stored["created_at"] == NOW and stored["created_at"].utcoffset() == dt.timedelta(0)
    assert stored["raw"] == _row("1")["raw"], "JSON raw kept whole: text, nulls, numbers, nesting"


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_duplicate_ids_in_a_page_collapse_to_the_last(engine, writer):
    rows = [_row("1", state="CREATED"), _row("2"), _row("1", state="IN_PROGRESS")]
    with engine.begin() as conn:
        WRITERS[writer](conn, fb_orders, rows)
    assert {key: row["state"] for key, row in read(engine, fb_orders).items()} == {
        ("1",): "IN_PROGRESS",
        ("2",): "CREATED",
    }


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_refused_value_names_its_column(engine, writer):
    with pytest.raises(ValueError, match=r"fb_orders\.created_at: naive datetime"), engine.begin() as conn:
        WRITERS[writer](conn, fb_orders, [_row("1", created_at=dt.datetime(2026, 1, 1))])
    with pytest.raises(ValueError, match=r"fb_orders\.total: .*not a finite number"), engine.begin() as conn:
        WRITERS[writer](conn, fb_orders, [_row("1", total="NaN")])
    assert read(engine, fb_orders) == {}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_repeated_values_are_processed_alike_and_refused_alike(engine, writer):
    """Each distinct timestamp and amount is processed once per statement: equal values store equal results,
    and a value of another class that compares equal (True == 1) is still refused."""
    later = NOW.astimezone(dt.timezone(dt.timedelta(hours=-5)))  # the same instant in another zone
    rows = [_row("1", total=Decimal("1.5")), _row("2", total=Decimal("1.50"), created_at=later)]
    with engine.begin() as conn:
        WRITERS[writer](conn, fb_orders, rows)
    stored = read(engine, fb_orders)
    assert stored[("1",)]["total"] == stored[("2",)]["total"] == Decimal("1.50")
    assert stored[("2",)]["created_at"] == NOW and stored[("2",)]["created_at"].utcoffset() == dt.timedelta(0)
    with pytest.raises(ValueError, match=r"fb_orders\.total"), engine.begin() as conn:
        WRITERS[writer](conn, fb_orders, [_row("3", total=Decimal("1")), _row("4", total=True)])
    with pytest.raises(ValueError, match=r"fb_orders\.total"), engine.begin() as conn:
        WRITERS[writer](conn, fb_orders, [_row("3", total=Decimal("sNaN"))])
    assert set(read(engine, fb_orders)) == {("1",), ("2",)}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_values_processed_ahead_store_the_same_rows_and_refuse_the_same(engine, writer, orders):
    """``prepare`` (the pull's fetching thread) only does the writer's work earlier: the same rows are stored,
    and a value it could not process is still refused by the write, naming its column."""
    rows = [order_row(o, NOW) for o in orders]
    with engine.begin() as conn:
        WRITERS[writer](conn, fb_orders, rows)

    def stored() -> dict:  # but first_seen_at, the time of the insert
        return {key: {**row, "first_seen_at": None} for key, row in read(engine, fb_orders).items()}

    plain = stored()
    with engine.begin() as conn:
        conn.execute(sa.delete(fb_orders))
    memos = prepare(engine.dialect, fb_orders, rows)
    assert memos["raw"] and memos["synced_at"] and memos["total"]
    with engine.begin() as conn:
        WRITERS[writer](conn, fb_orders, rows, memos=memos)
    assert stored() == plain
    refused = [_row("9", created_at=dt.datetime(2026, 1, 1))]
    with pytest.raises(ValueError, match=r"fb_orders\.created_at: naive datetime"), engine.begin() as conn:
        WRITERS[writer](conn, fb_orders, refused, memos=prepare(engine.dialect, fb_orders, refused))


def test_orders_raw_is_compressed_with_lz4_on_postgresql(engine):
    """0009_orders: fb_orders.raw (a few kB an order) uses lz4 rather than pglz where the server has it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite does not compress values")
    with engine.connect() as conn:
        methods = conn.execute(
            sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
        ).scalar_one()
        method = conn.execute(
            sa.text(
                "SELECT attcompression FROM pg_attribute WHERE attrelid = 'fb_orders'::regclass AND attname = 'raw'"
            )
        ).scalar_one()
    assert method == ("l" if "lz4" in methods else "")


def test_insert_and_upsert_store_the_same_rows_and_a_rerun_changes_nothing(engine, orders):
    rows, items = [order_row(o, NOW) for o in orders], [i for o in orders for i in item_rows(o, NOW)]
    with engine.begin() as conn:
        insert_rows(conn, fb_orders, rows)
        insert_rows(conn, fb_order_items, items)
    inserted = read(engine, fb_orders), read(engine, fb_order_items)
    with engine.begin() as conn:  # the rerun: every key exists, so the multi-row upsert path
        write_rows(conn, fb_orders, rows)
        write_rows(conn, fb_order_items, items)
    assert (read(engine, fb_orders), read(engine, fb_order_items)) == inserted


def test_insert_of_a_row_stored_meanwhile_is_refused_whole_on_postgresql(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite upserts it: its writers are serialised, so a key cannot appear meanwhile")
    with engine.begin() as conn:
        write_rows(conn, fb_orders, [_row("1", state="IN_PROGRESS")])
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        insert_rows(conn, fb_orders, [_row("2"), _row("1")])
    assert {key: row["state"] for key, row in read(engine, fb_orders).items()} == {("1",): "IN_PROGRESS"}


def test_a_page_stored_twice_gives_identical_rows(engine, orders):
    page = PageRows.of(orders + orders[:3], NOW)  # three orders listed twice in the page
    first = store_page(engine, page, generator=default_reference)
    before = read(engine, fb_orders), read(engine, fb_order_items)
    second = store_page(engine, PageRows.of(orders, NOW), generator=default_reference)
    assert (first.new, second.new, second.references) == (len(orders), 0, 0)
    assert (read(engine, fb_orders), read(engine, fb_order_items)) == before


def test_an_orders_raw_is_stored_as_the_text_meta_sent(engine, sandbox):
    """A page read with ``texts=True`` carries each order's JSON text; store_page stores that text as ``raw``
    (not the order encoded again), and it reads back as the same order."""
    page = first_page(sandbox, 20, texts=True)
    orders, texts = page["data"], page[DATA_TEXTS]
    assert len(texts) == len(orders) == 20
    assert [json.loads(text) for text in texts] == orders
    # Spaced out, so that the text stored can only be the one given, not the order encoded again.
    spaced = [json.dumps(json.loads(text), indent=1) for text in texts]
    rows = PageRows.of(
        orders, NOW, dialect=engine.dialect if engine.dialect.name == "postgresql" else None, texts=spaced
    )
    with engine.connect() as connection:
        store_page(connection, rows, generator=default_reference)
        stored = dict(connection.exec_driver_sql("SELECT order_id, CAST(raw AS TEXT) FROM fb_orders").all())
    assert [stored[o["id"]] for o in orders] == spaced
    assert {key: row["raw"] for key, row in read(engine, fb_orders).items()} == {(o["id"],): o for o in orders}
    # Without texts (or with a count that does not match), the order is encoded as before.
    assert PageRows.of(orders, NOW, texts=spaced[:-1]).memos[fb_orders.name] == {}
