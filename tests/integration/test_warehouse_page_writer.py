"""The order sync's fast row writer stores exactly what it is given, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fb_commerce import defaults
from fb_commerce.graph.client import GraphClient, GraphSettings
from fb_commerce.graph.surface import ORDER_FIELDS, ORDER_STATES
from fb_commerce.orders.mapping import item_rows, order_row
from fb_commerce.warehouse.page_writer import write_rows
from fb_commerce.warehouse.schema import fb_order_items, fb_orders

NOW = dt.datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=dt.timezone.utc)


@pytest.fixture
def engine(warehouse_engine: Engine) -> Engine:
    return warehouse_engine


@pytest.fixture
def orders(sandbox) -> list[dict]:
    client = GraphClient(defaults.SANDBOX_ACCESS_TOKEN, defaults.SANDBOX_APP_SECRET, GraphSettings(base_url=sandbox.url))
    page = next(client.iter_pages(f"{defaults.SANDBOX_CMS_ID}/commerce_orders", fields=ORDER_FIELDS,
                                  params={"state": ",".join(ORDER_STATES)}, limit=100))
    return page["data"]


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
    later = {**order_row(orders[0], NOW + dt.timedelta(hours=1)), "state": "COMPLETED",
             "merchant_order_reference": "FB-999999"}
    with engine.begin() as conn:
        write_rows(conn, fb_orders, [later], keep=("merchant_order_reference",))
    (stored,) = read(engine, fb_orders).values()
    assert stored["state"] == "COMPLETED" and stored["synced_at"] == NOW + dt.timedelta(hours=1)
    assert stored["merchant_order_reference"] == "FB-000001", "kept from the insert"
    assert stored["acknowledge_error_message"] == "kept", "not carried, not written"
