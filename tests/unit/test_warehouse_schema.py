"""The warehouse schema, types, paths and messages, without a database server."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fb_commerce.warehouse import migrate, paths, schema
from fb_commerce.warehouse.engine import create_warehouse_engine, describe_engine, mask_url
from fb_commerce.warehouse.types import Money, UtcDateTime, bind_processor_of, to_utc

DESIGN_TABLES = {
    "fb_orders",
    "fb_order_items",
    "fb_shipments",
    "fb_cancellations",
    "fb_refunds",
    "fb_returns",
    "fb_payouts",
    "fb_transactions",
    "fb_reconciliation_issues",
    "fb_shipment_requests",
    "fb_cancellation_requests",
    "fb_refund_requests",
    "fb_feed_uploads",
    "fb_feed_upload_errors",
    "fb_feed_rejects",
    "fb_catalog_sync_state",
    "fb_batch_requests",
    "fb_sync_state",
    "fb_cs_actions",
    "merchant_products",
}


def test_every_design_table_is_defined() -> None:
    assert set(schema.metadata.tables) >= DESIGN_TABLES


@pytest.mark.parametrize("table", sorted(schema.metadata.tables.values(), key=lambda t: t.name), ids=lambda t: t.name)
def test_table_conventions(table: sa.Table) -> None:
    assert table.primary_key.columns, "every table has a primary key (upserts need one)"
    comment = table.comment or ""
    assert "Written" in comment and re.search(r"\b(read|drained)\b", comment), "says who writes and who reads it"
    for column in table.columns:
        assert not isinstance(column.type, sa.Float), f"{column}: money and rates are NUMERIC, never float"
        if isinstance(column.type, sa.DateTime):
            pytest.fail(f"{column}: timestamps use UtcDateTime")


def test_money_and_timestamps_use_the_project_types() -> None:
    orders = schema.fb_orders
    for name in ("subtotal", "shipping", "tax", "total"):
        assert isinstance(orders.c[name].type, Money)
        assert (orders.c[name].type.precision, orders.c[name].type.scale) == (18, 2)
    for name in ("created_at", "updated_at", "acknowledged_at", "first_seen_at", "synced_at"):
        assert isinstance(orders.c[name].type, UtcDateTime)
    assert schema.fb_transaction_tax_details.c.item_tax_amount.type.scale == 4


def test_names_fit_postgres_identifier_limit() -> None:
    for table in schema.metadata.tables.values():
        names = [table.name] + [c.name for c in table.columns]
        names += [i.name for i in table.indexes] + [c.name for c in table.constraints]
        for name in names:
            assert name and len(str(name)) <= 63, f"{table.name}: {name!r}"


def test_required_columns_of_the_design() -> None:
    orders = schema.fb_orders.c
    for name in [
        "order_id",
        "state",
        "channel",
        "created_at",
        "updated_at",
        "merchant_order_reference",
        "merchant_order_id",
        "buyer_name",
        "buyer_email",
        "marketing_opt_in",
        "ship_by_date",
        "ship_to_name",
        "ship_to_street1",
        "ship_to_street2",
        "ship_to_city",
        "ship_to_state",
        "ship_to_postal_code",
        "ship_to_country",
        "currency",
        "subtotal",
        "shipping",
        "tax",
        "total",
        "is_test_order",
        "promotion_details",
        "acknowledged_at",
        "acknowledge_error_code",
        "acknowledge_error_message",
        "first_seen_at",
        "synced_at",
        "raw",
    ]:
        assert name in orders, name
    outbox = "request_id order_id items status attempts last_error_code last_error_message created_at sent_at"
    for table in schema.OUTBOX_TABLES:
        for name in outbox.split():
            assert name in table.c, f"{table.name}.{name}"
    for name in ["tax_category", "jurisdiction", "imposition", "item_tax_rate", "item_tax_amount"]:
        assert name in schema.fb_transaction_tax_details.c
    for name in [
        "processing_fee",
        "net_payment_amount",
        "payout_reference_id",
        "order_id",
        "transaction_type",
    ]:
        assert name in schema.fb_transactions.c
    assert [c.name for c in schema.fb_order_items.primary_key] == ["order_id", "item_id"]
    assert [c.name for c in schema.fb_sync_state.primary_key] == ["name"]


def test_bookkeeping_columns() -> None:
    assert schema.bookkeeping_columns(schema.fb_orders) == {"first_seen_at", "synced_at"}


# --- types --------------------------------------------------------------------------------------------------


def test_to_utc_converts_and_refuses_naive() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    assert to_utc(dt.datetime(2026, 5, 1, 12, tzinfo=paris)) == dt.datetime(2026, 5, 1, 10, tzinfo=dt.UTC)
    assert to_utc("2026-05-01T12:00:00+0200").tzinfo == dt.UTC
    assert to_utc("2026-05-01T10:00:00Z") == dt.datetime(2026, 5, 1, 10, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="naive datetime"):
        to_utc(dt.datetime(2026, 5, 1, 12))
    with pytest.raises(TypeError):
        to_utc(12345)  # type: ignore[arg-type]


def test_money_quantizes_like_postgres() -> None:
    money = Money()
    assert money.quantize("12.345") == Decimal("12.35")
    assert money.quantize(Decimal("-12.345")) == Decimal("-12.35")  # half away from zero
    assert money.quantize(0.1) == Decimal("0.10")
    assert money.quantize(7) == Decimal("7.00")
    assert money.quantize(float("nan")) is None
    assert money.quantize(None) is None
    assert Money(18, 4).quantize("1.23456") == Decimal("1.2346")
    with pytest.raises(ValueError):
        money.quantize("Infinity")


def outcome(read: Any, value: object) -> tuple[object, ...]:
    """What ``read`` returns (its type and text too), or the kind of error it raises."""
    try:
        got = read(value)
    except Exception as exc:  # compared, whatever it is
        return ("refused", type(exc))
    return (got, type(got), str(got))


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.psycopg2.dialect()])
def test_fused_result_processors_read_what_sqlalchemy_reads(dialect: sa.Dialect) -> None:
    """Money and UtcDateTime in one function each (cs.lookup's readers) against TypeDecorator's layers."""
    paris = dt.timezone(dt.timedelta(hours=2))
    cases: list[tuple[sa.types.TypeDecorator[object], list[object]]] = [
        (Money(), [None, 12.345, 40, 40.0, -0.0, Decimal("12.345"), Decimal("-1.005")]),
        (Money(18, 4), [1.23456, Decimal("7")]),
        (
            UtcDateTime(),
            [None, dt.datetime(2026, 5, 1, 12, 0, 0, 7), dt.datetime(2026, 5, 1, 12, tzinfo=paris)]
            if dialect.name == "postgresql"
            else [None, "2026-05-01 12:00:00.000007", "2026-05-01 12:00:00", "2026-05-01"],
        ),
    ]
    for column_type, values in cases:
        impl = column_type.dialect_impl(dialect)
        # psycopg2's type codes: numeric, timestamptz (SQLite's processors take none)
        coltype = (1184 if isinstance(impl, UtcDateTime) else 1700) if dialect.name == "postgresql" else None
        fused, layered = impl.fused_result_processor(dialect, coltype), impl.result_processor(dialect, coltype)  # type: ignore[attr-defined]
        assert fused is not None and layered is not None
        for value in values:
            assert outcome(fused, value) == outcome(layered, value), value
        for broken in (Decimal("NaN"), float("inf")) if isinstance(impl, Money) else ():
            assert outcome(fused, broken) == outcome(layered, broken) == ("refused", ValueError)

    class Cents(Money):
        def process_result_value(self, value: object, dialect: sa.Dialect) -> Decimal | None:
            return None

    assert Cents().dialect_impl(dialect).fused_result_processor(dialect, None) is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.psycopg2.dialect()])
def test_fused_bind_processors_write_what_sqlalchemy_writes(dialect: sa.Dialect) -> None:
    """Money and UtcDateTime bound in one function each (the page writer's and COPY's) against TypeDecorator's
    layers: the same stored values, the same refusals."""
    paris = dt.timezone(dt.timedelta(hours=2))
    times: list[object] = [
        None,
        dt.datetime(2026, 5, 1, 12, 0, 0, 7, tzinfo=dt.UTC),
        dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC),
        dt.datetime(1, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 5, 1, 12, 30, tzinfo=paris),
        dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC),
        "2026-05-01T12:00:00.5+02:00",
        dt.datetime(2026, 5, 1, 12),  # naive: refused
        dt.date(2026, 5, 1),
        17,
    ]
    amounts: list[object] = [None, 12.345, 40, 40.0, -0.0, Decimal("12.345"), Decimal("-1.005"), "7.1", True]
    amounts += [Decimal("NaN"), float("inf"), float("nan"), "x"]
    for column_type, values in ((UtcDateTime(), times), (Money(), amounts), (Money(18, 4), amounts)):
        fused = column_type.fused_bind_processor(dialect)  # type: ignore[attr-defined]
        layered = column_type.dialect_impl(dialect).bind_processor(dialect)
        assert fused is not None and layered is not None and bind_processor_of(column_type, dialect) is not None
        for value in values:
            assert outcome(fused, value) == outcome(layered, value), value

    class Stamp(UtcDateTime):
        def process_bind_param(self, value: object, dialect: sa.Dialect) -> dt.datetime | None:
            return None

    assert Stamp().fused_bind_processor(dialect) is None
    assert bind_processor_of(Stamp(), dialect) is not None  # SQLAlchemy's, which runs the subclass's


# --- paths and engines --------------------------------------------------------------------------------------


def test_data_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "nested" / "data"
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(target))
    assert paths.data_dir() == target and target.is_dir()
    assert paths.default_warehouse_url() == f"sqlite:///{target / 'warehouse.db'}"


def test_data_dir_defaults_to_repo_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)
    root = Path(__file__).resolve().parents[2]
    assert paths.repo_root() == root
    assert paths.data_dir(create=False) == root / "data"


def test_sqlite_engine_pragmas(tmp_path: Path) -> None:
    engine = create_warehouse_engine(f"sqlite:///{tmp_path / 'sub' / 'w.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    assert (tmp_path / "sub" / "w.db").exists()
    engine.dispose()


def test_postgres_engine_url_keeps_options_and_adds_utc() -> None:
    engine = create_warehouse_engine("postgresql+psycopg2://u:s3cret@db:5432/wh?options=-csearch_path%3Dwh")
    options = engine.url.query["options"]
    assert "-csearch_path=wh" in options and "timezone=UTC" in options
    assert engine.url.query["application_name"] == "fb-commerce"
    assert "s3cret" not in describe_engine(engine)
    assert describe_engine(engine).startswith("postgresql postgresql+psycopg2://u:***@db:5432/wh")
    assert mask_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"


# --- SchemaOutOfDate ----------------------------------------------------------------------------------------


def test_schema_out_of_date_message() -> None:
    head = migrate.head_revision()
    error = migrate.SchemaOutOfDate(None, head, "sqlite sqlite:///x.db")
    text = str(error)
    assert "revision: none" in text and head in text and "`fb-commerce db upgrade`" in text
    assert "sqlite:///x.db" in text
    error = migrate.SchemaOutOfDate("9999", head)
    assert "9999" in str(error) and "newer version" in str(error) and "fb-commerce db upgrade" in str(error)
    assert (error.current, error.head) == ("9999", head)


def test_one_head_on_top_of_the_initial_schema() -> None:
    assert len(migrate._script().get_heads()) == 1  # the revisions form one chain
    assert migrate.head_revision() in migrate.known_revisions()
    assert "0001" in migrate.known_revisions()
    assert (migrate.MIGRATIONS_DIR / "env.py").exists()
    assert (migrate.MIGRATIONS_DIR / "script.py.mako").exists()


def test_warehouse_package_does_not_import_airflow() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import fb_commerce.warehouse.schema, fb_commerce.warehouse.migrate, "
        "fb_commerce.warehouse.upsert, fb_commerce.warehouse.bulk, fb_commerce.warehouse.engine; "
        "print(any(m == 'airflow' or m.startswith('airflow.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
