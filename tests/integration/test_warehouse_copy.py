"""COPY (text format) stores exactly what an INSERT of the same values stores, awkward text included; PostgreSQL
only (SQLite has no COPY)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fb_commerce.warehouse.bulk import bind_processors, bulk_upsert, copy_rows
from fb_commerce.warehouse.page_writer import insert_rows
from fb_commerce.warehouse.schema import fb_orders, fb_shipments
from fb_commerce.warehouse.types import JSON_TYPE, Money, UtcDateTime

pytestmark = pytest.mark.postgres

AWKWARD = [
    "",
    "\\N",
    "\\\\N",
    "\\",
    "tab\there",
    "new\nline",
    "carriage\rreturn\r\n",
    'quotes " and \' and ""',
    "back\\slash \\t \\n \\x41 \\101",
    "comma, semicolon; pipe|",
    "é ü 漢字 😀 \u2028 \ufeff",
    "\x01\x1f\x7f",
    " leading and trailing ",
    "\\.",
    "\\.\n",
]

metadata = sa.MetaData()
copied = sa.Table(
    "copy_awkward",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("text", sa.Text),
    sa.Column("flag", sa.Boolean),
    sa.Column("amount", Money()),
    sa.Column("ratio", sa.Float),
    sa.Column("at", UtcDateTime()),
    sa.Column("day", sa.Date),
    sa.Column("doc", JSON_TYPE),
    sa.Column("data", sa.LargeBinary),
)
inserted = sa.Table(
    "insert_awkward", metadata, *(sa.Column(c.name, c.type, primary_key=c.primary_key) for c in copied.columns)
)


@pytest.fixture
def engine(postgres_url: str) -> Engine:
    engine = sa.create_engine(postgres_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _rows() -> list[dict[str, Any]]:
    rows = [
        {
            "id": i,
            "text": text,
            "flag": i % 2 == 0,
            "amount": Decimal("-12.345") if i % 3 else Decimal("1E+2"),
            "ratio": 0.1 * i,
            "at": dt.datetime(2026, 11, 27, 12, 0, 0, i, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
            "day": dt.date(2026, 12, i + 1),
            "doc": {"text": text, "list": [text, 1, 2.5, None, True], "none": None},
            "data": text.encode() + b"\x00\\\t",
        }
        for i, text in enumerate(AWKWARD)
    ]
    rows.append({"id": len(rows), **{c.name: None for c in copied.columns if c.name != "id"}})
    return rows


def test_awkward_values_are_stored_as_an_insert_stores_them(engine):
    rows = _rows()
    columns = [c.name for c in copied.columns]
    with engine.begin() as conn:
        processors = bind_processors(copied, columns, conn.dialect)
        tuples = [
            tuple(p(v) if p is not None and v is not None else v for v, p in zip(row.values(), processors, strict=True))
            for row in rows
        ]
        copy_rows(conn, "copy_awkward", columns, iter(tuples))
        conn.execute(sa.insert(inserted), rows)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(copied).order_by(copied.c.id)).mappings().all()
        # byte for byte as the server holds them, compared to the same values INSERTed
        as_text = [sa.cast(c, sa.Text) for c in copied.columns]
        copied_text = conn.execute(sa.select(*as_text).order_by(copied.c.id)).all()
        inserted_text = conn.execute(
            sa.select(*(sa.cast(c, sa.Text) for c in inserted.columns)).order_by(inserted.c.id)
        ).all()
    assert copied_text == inserted_text
    assert [row["text"] for row in stored] == [*AWKWARD, None], "the empty string is not NULL, \\N is text"
    assert [row["doc"] for row in stored] == [row["doc"] for row in rows]
    assert [row["data"] for row in stored] == [row["data"] for row in rows]


@pytest.fixture
def warehouse(postgres_url: str) -> Engine:
    from support import migrated_engine

    engine = migrated_engine(postgres_url)
    yield engine
    engine.dispose()


def _order(**overrides: Any) -> dict[str, Any]:
    now = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    return {"order_id": "1", "state": "CREATED", "created_at": now, "synced_at": now, "raw": {}, **overrides}


def test_text_holding_nul_is_refused_naming_its_column(warehouse):
    """PostgreSQL text cannot hold NUL: refused before anything is stored, naming the column (in JSONB the server
    refuses the ``\\u0000`` escape, naming it too; json keeps the escape as sent, so fb_orders.raw reads back the
    NUL it was given)."""
    with pytest.raises(ValueError, match=r"^fb_orders\.buyer_name: .*NUL"), warehouse.begin() as conn:
        insert_rows(conn, fb_orders, [_order(order_id="0"), _order(buyer_name="a\x00b")])
    with pytest.raises(ValueError, match=r"^fb_orders\.state: .*NUL"), warehouse.begin() as conn:
        bulk_upsert(conn, fb_orders, [_order(state="\x00")])
    with pytest.raises(sa.exc.DataError, match=r"column raw"), warehouse.begin() as conn:
        insert_rows(conn, fb_orders, [_order()])
        shipment = {"shipment_id": "s", "order_id": "1", "synced_at": _order()["synced_at"], "raw": {"a": "\x00"}}
        insert_rows(conn, fb_shipments, [shipment])
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fb_orders)).scalar() == 0
    with warehouse.begin() as conn:
        insert_rows(conn, fb_orders, [_order(raw={"a": "\x00"})])
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(fb_orders.c.raw)).scalar_one() == {"a": "\x00"}
