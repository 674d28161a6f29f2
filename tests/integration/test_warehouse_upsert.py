"""Idempotent writes (upsert, insert_ignore, replace_interval, bulk_upsert) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fb_commerce.warehouse import migrate
from fb_commerce.warehouse.bulk import bulk_upsert
from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.schema import (
    fb_order_items,
    fb_orders,
    fb_reconciliation_issues,
    fb_sync_state,
    fb_transactions,
    merchant_products,
)
from fb_commerce.warehouse.upsert import insert_ignore, replace_interval, upsert

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def engine(warehouse_engine: Engine) -> Engine:
    return warehouse_engine


def _order(order_id: str, **overrides: Any) -> dict[str, Any]:
    row = {
        "order_id": order_id,
        "state": "CREATED",
        "channel": "instagram",
        "created_at": T0,
        "updated_at": T0,
        "buyer_name": "Ada Lovelace",
        "buyer_email": "ada@example.com",
        "marketing_opt_in": True,
        "ship_by_date": dt.date(2026, 3, 5),
        "currency": "USD",
        "subtotal": Decimal("19.99"),
        "shipping": Decimal("4.50"),
        "tax": Decimal("1.65"),
        "total": Decimal("26.14"),
        "promotion_details": [{"campaign_name": "spring", "applied_amount": {"amount": "1.00"}}],
        "raw": {
            "id": order_id,
            "order_status": {"state": "CREATED"},
            "nested": {"list": [1, 2, {"a": None}]},
        },
    }
    row.update(overrides)
    return row


def _all(engine: Engine, table: sa.Table) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings().all()
    return [dict(row) for row in rows]


def test_rerun_leaves_the_same_rows(engine: Engine) -> None:
    rows = [_order("1"), _order("2"), _order("3")]
    with engine.connect() as conn:
        assert upsert(conn, fb_orders, rows) == 3
        conn.commit()
    first = _all(engine, fb_orders)
    with engine.connect() as conn:
        upsert(conn, fb_orders, rows)
        conn.commit()
    assert _all(engine, fb_orders) == first
    assert [r["order_id"] for r in first] == ["1", "2", "3"]


def test_updates_apply_and_unmentioned_columns_survive(engine: Engine) -> None:
    upsert(engine, fb_orders, [_order("1", merchant_order_reference="FB-000001")])
    before = _all(engine, fb_orders)[0]
    # a later read: new state, no merchant_order_reference in the row (it must not be blanked)
    changed = _order("1", state="IN_PROGRESS", updated_at=T0 + dt.timedelta(hours=1))
    assert upsert(engine, fb_orders, [changed]) == 1
    after = _all(engine, fb_orders)[0]
    assert after["state"] == "IN_PROGRESS"
    assert after["updated_at"] == T0 + dt.timedelta(hours=1)
    assert after["merchant_order_reference"] == "FB-000001"
    assert after["first_seen_at"] == before["first_seen_at"]


def test_update_columns_limit_what_changes(engine: Engine) -> None:
    upsert(engine, fb_orders, [_order("1")])
    upsert(engine, fb_orders, [_order("1", state="COMPLETED", buyer_name="Changed")], update_columns=["state"])
    row = _all(engine, fb_orders)[0]
    assert (row["state"], row["buyer_name"]) == ("COMPLETED", "Ada Lovelace")


def test_exact_types_round_trip(engine: Engine) -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    local = dt.datetime(2026, 3, 1, 14, 30, 15, 123456, tzinfo=paris)
    upsert(
        engine,
        fb_orders,
        [_order("1", created_at=local, subtotal=Decimal("9999999999999.99"), tax="0.10", shipping=0.1)],
    )
    row = _all(engine, fb_orders)[0]
    assert (
        row["created_at"] == T0 and row["created_at"].tzinfo == UTC and row["created_at"].utcoffset() == dt.timedelta(0)
    )
    assert row["updated_at"].tzinfo == UTC
    assert row["first_seen_at"].tzinfo == UTC
    assert isinstance(row["subtotal"], Decimal)
    assert row["subtotal"] == Decimal("9999999999999.99")
    assert str(row["tax"]) == "0.10" and row["shipping"] == Decimal("0.10") and row["total"] == Decimal("26.14")
    assert row["ship_by_date"] == dt.date(2026, 3, 5)
    assert row["marketing_opt_in"] is True
    assert row["raw"] == _order("1")["raw"]
    assert row["promotion_details"] == _order("1")["promotion_details"]


def test_money_sums_exactly_in_python(engine: Engine) -> None:
    rows = [
        {
            "transaction_id": str(i),
            "currency": "USD",
            "net_payment_amount": Decimal("0.10"),
            "processing_fee": "0.01",
        }
        for i in range(30)
    ]
    upsert(engine, fb_transactions, rows)
    got = _all(engine, fb_transactions)
    assert sum(r["net_payment_amount"] for r in got) == Decimal("3.00")
    assert sum(r["processing_fee"] for r in got) == Decimal("0.30")


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        upsert(engine, fb_sync_state, [{"name": "orders", "watermark": dt.datetime(2026, 1, 1)}])


def test_json_null_is_sql_null(engine: Engine) -> None:
    upsert(engine, fb_sync_state, [{"name": "orders", "watermark": T0, "extra": None}])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(fb_sync_state.c.extra.is_(None))).scalar() == 1


def test_duplicate_keys_collapse_last_wins(engine: Engine) -> None:
    rows = [_order("1", state="CREATED"), _order("2"), _order("1", state="IN_PROGRESS")]
    upsert(engine, fb_orders, rows)
    got = _all(engine, fb_orders)
    assert [(r["order_id"], r["state"]) for r in got] == [("1", "IN_PROGRESS"), ("2", "CREATED")]


def test_rows_with_different_columns(engine: Engine) -> None:
    upsert(engine, fb_orders, [_order("1"), {"order_id": "2", "state": "FB_PROCESSING"}])
    upsert(engine, fb_orders, [{"order_id": "1", "state": "IN_PROGRESS"}])
    got = {r["order_id"]: r for r in _all(engine, fb_orders)}
    assert got["1"]["state"] == "IN_PROGRESS" and got["1"]["buyer_name"] == "Ada Lovelace"
    assert got["2"]["buyer_name"] is None


def test_skip_unchanged_counts_only_real_changes(engine: Engine) -> None:
    rows = [_order(str(i), synced_at=T0) for i in range(5)]
    assert upsert(engine, fb_orders, rows, skip_unchanged=True) == 5
    later = T0 + dt.timedelta(minutes=5)
    again = [_order(str(i), synced_at=later) for i in range(5)]
    again[3]["state"] = "IN_PROGRESS"
    assert upsert(engine, fb_orders, again, skip_unchanged=True) == 1
    got = {r["order_id"]: r for r in _all(engine, fb_orders)}
    assert got["3"]["state"] == "IN_PROGRESS" and got["3"]["synced_at"] == later
    assert got["0"]["synced_at"] == T0, "an unchanged row is not rewritten"
    # compare_columns: only synced_at compared -> every row changes
    assert upsert(engine, fb_orders, again, skip_unchanged=True, compare_columns=["synced_at"]) == 4


def test_upsert_on_another_unique_key(engine: Engine) -> None:
    upsert(engine, fb_orders, [_order("1", merchant_order_reference="FB-1")])
    upsert(
        engine,
        fb_orders,
        [{"order_id": "1", "merchant_order_reference": "FB-1", "state": "COMPLETED"}],
        key_columns=["merchant_order_reference"],
        update_columns=["state"],
    )
    assert _all(engine, fb_orders)[0]["state"] == "COMPLETED"
    # NULL references do not collide: unique only when set
    upsert(engine, fb_orders, [_order("2"), _order("3")])
    assert len(_all(engine, fb_orders)) == 3


def test_joins_the_callers_transaction(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.select(1))  # autobegin: the caller's transaction is open
        upsert(conn, fb_orders, [_order("1")])
        conn.rollback()
    assert _all(engine, fb_orders) == []


def test_errors_name_the_problem(engine: Engine) -> None:
    with pytest.raises(ValueError, match=r"no column.*not_a_column"):
        upsert(engine, fb_orders, [_order("1", not_a_column=1)])
    with pytest.raises(ValueError, match=r"row 1: key column.*order_id"):
        upsert(engine, fb_orders, [_order("1"), {"state": "CREATED"}])
    with pytest.raises(ValueError, match="no warehouse table"):
        upsert(engine, "fb_nope", [{"a": 1}])
    assert upsert(engine, "fb_orders", []) == 0


def test_many_rows_are_batched_under_the_variable_limit(engine: Engine) -> None:
    rows = [_order(str(i)) for i in range(3500)]  # ~60k bound values: several statements
    assert upsert(engine, fb_orders, rows) == 3500
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fb_orders)).scalar() == 3500


def test_insert_ignore(engine: Engine) -> None:
    assert insert_ignore(engine, fb_orders, [_order("1"), _order("2")]) == 2
    assert insert_ignore(engine, fb_orders, [_order("2", state="COMPLETED"), _order("3")]) == 1
    got = {r["order_id"]: r["state"] for r in _all(engine, fb_orders)}
    assert got == {"1": "CREATED", "2": "CREATED", "3": "CREATED"}


def test_child_rows_with_foreign_key(engine: Engine) -> None:
    upsert(engine, fb_orders, [_order("1")])
    items = [
        {
            "order_id": "1",
            "item_id": "a",
            "retailer_id": "SKU-1",
            "quantity": 2,
            "price_per_unit": "9.99",
            "currency": "USD",
        },
        {
            "order_id": "1",
            "item_id": "b",
            "retailer_id": "SKU-2",
            "quantity": 1,
            "price_per_unit": "0.01",
            "currency": "USD",
        },
    ]
    assert upsert(engine, fb_order_items, items) == 2
    assert upsert(engine, fb_order_items, items) == 2
    assert len(_all(engine, fb_order_items)) == 2
    with pytest.raises(sa.exc.IntegrityError):
        upsert(engine, fb_order_items, [{"order_id": "missing", "item_id": "x", "quantity": 1}])


def _issue(key: str, day: dt.date, **extra: Any) -> dict[str, Any]:
    seen = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
    return {
        "issue_key": key,
        "business_date": day,
        "kind": "payout_sum",
        "status": "open",
        "message": key,
        "first_seen_at": seen,
        "last_seen_at": seen,
        **extra,
    }


def test_replace_interval(engine: Engine) -> None:
    d1, d2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
    table = fb_reconciliation_issues
    replace_interval(engine, table, [_issue("a", d1), _issue("b", d1)], table.c.business_date == d1)
    replace_interval(engine, table, [_issue("c", d2)], table.c.business_date == d2)
    # a rerun of day 1 finds one issue fewer and one different
    n = replace_interval(
        engine,
        table,
        [_issue("b", d1, difference=Decimal("-0.01")), _issue("d", d1)],
        table.c.business_date == d1,
    )
    assert n == 2
    got = {r["issue_key"]: r for r in _all(engine, table)}
    assert set(got) == {"b", "c", "d"}
    assert got["b"]["difference"] == Decimal("-0.01")
    # an empty rerun empties the day, and only the day
    assert replace_interval(engine, table, [], table.c.business_date == d1) == 0
    assert {r["issue_key"] for r in _all(engine, table)} == {"c"}


def test_replace_interval_is_atomic(engine: Engine) -> None:
    table = fb_reconciliation_issues
    d1 = dt.date(2026, 3, 1)
    replace_interval(engine, table, [_issue("a", d1)], table.c.business_date == d1)
    with pytest.raises(sa.exc.IntegrityError):
        # the second row lacks the NOT NULL message: the delete is rolled back too
        replace_interval(engine, table, [_issue("x", d1), _issue("y", d1, message=None)], table.c.business_date == d1)
    assert [r["issue_key"] for r in _all(engine, table)] == ["a"]


# --- bulk ---------------------------------------------------------------------------------------------------


def _products(n: int, version: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "sku": f"SKU-{i:06d}",
            "name": f'Product "{i}", v{version}\nsecond line',
            "description": "" if i % 7 == 0 else f"Desc {i}",
            "price": Decimal(i % 1000) + Decimal("0.99"),
            "currency": "USD",
            "stock": (i * 7 + version) % 50,
            "brand": None if i % 5 == 0 else "Acme",
            "url": f"https://shop.example/p/{i}",
            "is_active": i % 3 != 0,
            "sale_price_start": T0 + dt.timedelta(seconds=i),
        }
        for i in range(n)
    ]


def test_bulk_upsert_50k_matches_upsert(engine: Engine, warehouse_url: str, tmp_path) -> None:
    rows = _products(50_000)
    assert bulk_upsert(engine, merchant_products, iter(rows), chunk_size=7_000) == 50_000
    bulk = _all(engine, merchant_products)
    assert len(bulk) == 50_000

    # the same rows through upsert() in a second, fresh warehouse
    other_url = f"sqlite:///{tmp_path / 'reference.db'}"
    reference = create_warehouse_engine(other_url)
    migrate.upgrade(reference)
    upsert(reference, merchant_products, rows)
    expected = _all(reference, merchant_products)
    reference.dispose()

    def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "updated_at"} for r in rows]

    assert strip(bulk) == strip(expected)
    assert bulk[0]["description"] == "" and bulk[5]["brand"] is None, "empty string and NULL stay distinct"

    # rerun with changes: same count of rows, new values
    changed = _products(50_000, version=1)
    bulk_upsert(engine, merchant_products, changed, chunk_size=20_000)
    after = _all(engine, merchant_products)
    assert len(after) == 50_000
    assert after[10]["name"].endswith("v1\nsecond line") and after[10]["stock"] == (70 + 1) % 50


def test_bulk_upsert_dataframe_duplicates_and_missing_values(engine: Engine) -> None:
    frame = pd.DataFrame(
        {
            "order_id": ["1", "2", "1"],
            "state": ["CREATED", "CREATED", "IN_PROGRESS"],
            "total": [Decimal("1.10"), None, Decimal("3.30")],
            "subtotal": [1.1, float("nan"), 3.3],
            "updated_at": pd.to_datetime(["2026-03-01T10:00:00Z", None, "2026-03-01T11:00:00Z"], utc=True),
            "marketing_opt_in": [True, None, False],
            "raw": [{"a": 1}, None, {"a": [1, 2]}],
        }
    )
    assert bulk_upsert(engine, fb_orders, frame, chunk_size=2) >= 2
    got = {r["order_id"]: r for r in _all(engine, fb_orders)}
    assert set(got) == {"1", "2"}
    assert got["1"]["state"] == "IN_PROGRESS", "the last duplicate wins"
    assert got["1"]["total"] == Decimal("3.30") and got["1"]["subtotal"] == Decimal("3.30")
    assert got["1"]["updated_at"] == dt.datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert got["1"]["marketing_opt_in"] is False and got["1"]["raw"] == {"a": [1, 2]}
    assert got["2"]["total"] is None and got["2"]["subtotal"] is None and got["2"]["updated_at"] is None
    assert got["2"]["raw"] is None


def test_bulk_upsert_leaves_other_columns_and_skips_unchanged(engine: Engine) -> None:
    upsert(engine, fb_orders, [_order("1", merchant_order_reference="FB-1"), _order("2")])
    frame = pd.DataFrame({"order_id": ["1", "2"], "state": ["IN_PROGRESS", "CREATED"]})
    assert bulk_upsert(engine, fb_orders, frame, skip_unchanged=True) == 1
    got = {r["order_id"]: r for r in _all(engine, fb_orders)}
    assert got["1"]["state"] == "IN_PROGRESS" and got["1"]["merchant_order_reference"] == "FB-1"
    assert got["1"]["buyer_name"] == "Ada Lovelace"


def test_bulk_upsert_refuses_ragged_rows(engine: Engine) -> None:
    with pytest.raises(ValueError, match="same columns"):
        bulk_upsert(engine, fb_sync_state, [{"name": "a"}, {"name": "b", "watermark": T0}])
    with pytest.raises(ValueError, match="lack key"):
        bulk_upsert(engine, fb_sync_state, [{"watermark": T0}])
    assert bulk_upsert(engine, fb_sync_state, []) == 0
