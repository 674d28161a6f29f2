"""Customer-service lookups (fb_commerce.cs.lookup) on SQLite and PostgreSQL: by each key, and the order view."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from support import CS_NOW as NOW
from support import meta_order, set_connections

from fb_commerce import cli
from fb_commerce.cs.lookup import Batch, Statement, find_order, find_orders, mentioned_keys, order_view
from fb_commerce.orders.mapping import name_search_columns, search_text
from fb_commerce.orders.reference import default_reference
from fb_commerce.orders.store import PageRows, store_page
from fb_commerce.warehouse import schema
from fb_commerce.warehouse.upsert import upsert

ORDERS = [
    meta_order("10001", "Jean Dupont", "jean.dupont@example.com", created=NOW - dt.timedelta(days=3)),
    meta_order("10002", "Zoë Ñúñez-Ålvarez", "Zoe@Example.com", state="CREATED", created=NOW - dt.timedelta(days=2)),
    meta_order("10003", "JEAN-PIERRE MARTIN", "jp@example.org", state="COMPLETED", created=NOW - dt.timedelta(days=1)),
    meta_order("10004", "<script>alert(1)</script>", "x@example.net", created=NOW),
]


@pytest.fixture
def engine(warehouse_engine):
    store_page(warehouse_engine, PageRows.of(ORDERS, NOW), generator=default_reference)
    return warehouse_engine


def reference(engine, order_id: str) -> str:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(schema.fb_orders.c.merchant_order_reference).where(schema.fb_orders.c.order_id == order_id)
        ).scalar_one()


def ids(hits) -> list[str]:
    return [hit.order_id for hit in hits]


def test_search_text_removes_accents_and_case() -> None:
    assert search_text("  Zoë  O'Brien-Núñez ") == "zoe o brien nunez"
    assert search_text("ÅSA ØSTERGÅRD") == "asa østergard"  # Ø has no decomposition: kept, case folded
    assert name_search_columns("Jean Dupont") == ("jean dupont", "dupont jean")
    assert name_search_columns("Cher") == ("cher", "cher")
    assert name_search_columns("  --  ") == (None, None)
    assert name_search_columns(None) == (None, None)


def test_the_orders_writer_fills_the_search_columns(engine) -> None:
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.select(schema.fb_orders.c.order_id, schema.fb_orders.c.buyer_name_search)).all())
    assert rows["10002"] == "zoe nunez alvarez"


def test_show_by_order_id_and_by_reference(engine) -> None:
    by_id = order_view(engine, "10001")
    assert by_id is not None and by_id.buyer_name == "Jean Dupont"
    ref = reference(engine, "10001")
    by_ref = order_view(engine, ref)
    assert by_ref is not None and by_ref.order_id == "10001"
    assert order_view(engine, ref.lower()).order_id == "10001"  # typed in lower case by an agent
    assert order_view(engine, "nope") is None
    assert order_view(engine, "  ") is None


def test_find_one_by_id_or_reference(engine) -> None:
    hit = find_order(engine, "10003")
    assert hit is not None and hit.matched_by == ["order id"] and hit.buyer_name == "JEAN-PIERRE MARTIN"
    ref = reference(engine, "10003")
    assert find_order(engine, ref).order_id == "10003" and find_order(engine, ref).matched_by == ["reference"]
    assert find_order(engine, "999") is None


def test_find_by_email_any_case(engine) -> None:
    assert ids(find_orders(engine, email="zoe@example.com")) == ["10002"]
    assert ids(find_orders(engine, email="JEAN.DUPONT@EXAMPLE.COM")) == ["10001"]
    assert find_orders(engine, email="nobody@example.com") == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dup", ["10001"]),
        ("DUPONT", ["10001"]),
        ("jean", ["10003", "10001"]),  # newest first
        ("jean d", ["10001"]),
        ("dupont jean", ["10001"]),
        ("zoe", ["10002"]),
        ("ZOË", ["10002"]),
        ("alvarez", ["10002"]),
        ("álv", ["10002"]),
        ("martin", ["10003"]),
        ("jean-pierre", ["10003"]),
        ("<script>", ["10004"]),
        ("upont", []),  # inside a word: not a start
    ],
)
def test_find_by_name_ignores_accents_and_case(engine, query: str, expected: list[str]) -> None:
    hits = find_orders(engine, name=query)
    assert ids(hits) == expected
    assert all(hit.matched_by == ["name"] for hit in hits)


def test_find_by_state_and_dates(engine) -> None:
    assert ids(find_orders(engine, state="created")) == ["10002"]
    day = (NOW - dt.timedelta(days=2)).date()
    assert ids(find_orders(engine, created_from=day, created_to=day)) == ["10002"]
    assert ids(find_orders(engine, created_from=day)) == ["10004", "10003", "10002"]
    assert ids(find_orders(engine, state="IN_PROGRESS", created_to=day)) == ["10001"]
    assert ids(find_orders(engine, name="jean", state="COMPLETED")) == ["10003"]
    assert len(find_orders(engine, created_from=day, limit=1)) == 1


def test_find_by_a_pasted_email(engine) -> None:
    ref = reference(engine, "10003")
    text = f"""From: Zoë <ZOE@example.com>
To: shop@merchant.example
Subject: my orders

Hello, order 10001 never arrived and {ref.lower()} is broken. Call me on 555-0100.
"""
    keys = mentioned_keys(text)
    assert keys.sender == "zoe@example.com"
    assert "10001" in keys.tokens
    hits = {hit.order_id: hit for hit in find_orders(engine, text=text)}
    assert set(hits) == {"10001", "10002", "10003"}
    assert hits["10001"].matched_by == ["order id in the text"]
    assert hits["10002"].matched_by == ["sender's e-mail"]
    assert hits["10003"].matched_by == ["reference in the text"]
    assert find_orders(engine, text="no numbers here") == []


def test_find_needs_a_criterion(engine) -> None:
    with pytest.raises(ValueError, match="at least one"):
        find_orders(engine)
    with pytest.raises(ValueError, match="no letter or digit"):
        find_orders(engine, name=" - ")


def test_order_view_items_and_what_can_still_be_done(engine) -> None:
    with engine.begin() as conn:
        upsert(
            conn,
            schema.fb_shipments,
            [
                {
                    "shipment_id": "s1",
                    "order_id": "10001",
                    "carrier": "ups",
                    "tracking_number": "1Z1",
                    "items": [{"id": "i1", "retailer_id": "SKU-1", "quantity": 1}],
                }
            ],
        )
        upsert(
            conn,
            schema.fb_returns,
            [
                {
                    "return_id": "r1",
                    "order_id": "10001",
                    "return_status": "REQUESTED",
                    "item_return_quantities": [{"key": "i1", "value": 1}],
                }
            ],
        )
    view = order_view(engine, "10001")
    assert view is not None
    (item,) = view.items
    assert (item.ordered, item.shipped, item.cancelled, item.returned) == (2, 1, 0, 1)
    assert (item.can_ship, item.can_cancel, item.can_refund) == (1, 1, 1)
    assert item.can_refund_amount == Decimal("10.00")
    assert view.can_refund_shipping == Decimal("4.00")
    data = view.as_dict()
    json.dumps(data)  # JSON-friendly
    assert data["total"] == "24.00" and data["items"][0]["can_refund_amount"] == "10.00"
    assert data["marketing_opt_in"] is True
    assert [e["what"] for e in data["timeline"]][:1] == ["ordered"]
    assert any(e["what"] == "shipped" for e in data["timeline"])


def test_cli_show_and_find(engine, monkeypatch, capsys) -> None:
    set_connections(monkeypatch, "http://127.0.0.1:9", engine)
    assert cli.main(["orders", "show", "10002"]) == 0
    out = capsys.readouterr().out
    assert "Zoë Ñúñez-Ålvarez <Zoe@Example.com>" in out and "Timeline:" in out
    assert cli.main(["orders", "show", "10002", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["order_id"] == "10002"
    assert cli.main(["orders", "show", "missing"]) == 1
    assert cli.main(["orders", "find", "--name", "dup", "--json"]) == 0
    assert [h["order_id"] for h in json.loads(capsys.readouterr().out)] == ["10001"]
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("From: jp@example.org\nwhere is my parcel?"))
    assert cli.main(["orders", "find", "--text", "-"]) == 0
    out = capsys.readouterr().out
    assert "10003" in out and "sender jp@example.org" in out
    assert cli.main(["orders", "find", "--email", "nobody@example.com"]) == 1


def test_order_view_shows_payments_transactions_and_their_payouts_only(engine) -> None:
    day = NOW - dt.timedelta(days=1)
    with engine.begin() as conn:
        upsert(
            conn,
            schema.fb_payments,
            [{"payment_id": "pay1", "order_id": "10001", "total_amount": Decimal("24.00"), "raw": {"id": "pay1"}}],
        )
        upsert(
            conn,
            schema.fb_transactions,
            [
                {
                    "transaction_id": "t1",
                    "transaction_type": "SALE",
                    "transaction_date": day,
                    "order_id": "10001",
                    "payout_reference_id": "P1",
                    "items": [{"id": "i1"}],
                },
                {"transaction_id": "t2", "transaction_type": "REFUND", "order_id": "10001", "transaction_date": NOW},
                {"transaction_id": "t3", "order_id": "10002", "payout_reference_id": "P2", "transaction_date": NOW},
            ],
        )
        upsert(
            conn,
            schema.fb_payouts,
            [
                {"payout_reference_id": ref, "amount": Decimal("20.00"), "payout_date": NOW, "raw": {}}
                for ref in ("P1", "P2")
            ],
        )
    view = order_view(engine, "10001")
    assert view is not None
    assert [p["payment_id"] for p in view.payments] == ["pay1"] and "raw" not in view.payments[0]
    assert [t["transaction_id"] for t in view.transactions] == ["t1", "t2"]
    assert not {"items", "tax_details", "raw", "order_id"} & set(view.transactions[0])
    assert [(p["payout_reference_id"], p["amount"]) for p in view.payouts] == [("P1", Decimal("20.00"))]
    assert ("paid out", "P1") in [(e.what, e.detail) for e in view.timeline]
    assert order_view(engine, "10003").payouts == []


def test_a_statement_reads_what_sqlalchemy_reads_and_its_events_see_it(engine) -> None:
    orders = schema.fb_orders
    query = sa.select(orders).where(orders.c.state == sa.bindparam("state")).order_by(orders.c.order_id)
    seen: list[str] = []
    with engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute", lambda _c, _k, sql, *_: seen.append(sql))
        rows = Statement(query).rows(conn, {"state": "IN_PROGRESS"})
        assert rows == [dict(r) for r in conn.execute(query, {"state": "IN_PROGRESS"}).mappings()]
        assert [r["order_id"] for r in rows] == ["10001", "10004"] and len(seen) == 2
        assert isinstance(rows[0]["created_at"], dt.datetime) and rows[0]["total"] == Decimal("24.00")
        broken = Statement(sa.select(orders.c.order_id).where(sa.literal_column("no_such_column") == 1))
        with pytest.raises(sa.exc.DBAPIError):  # wrapped as SQLAlchemy wraps it
            broken.rows(conn, {})
    with engine.connect() as conn:  # no listener: run by the driver directly, errors wrapped all the same
        with pytest.raises(sa.exc.DBAPIError):
            broken.rows(conn, {})
        expected = [tuple(r) for r in conn.execute(query, {"state": "IN_PROGRESS"})]
        assert Statement(query).tuples(conn, {"state": "IN_PROGRESS"}) == expected


def test_a_batch_reads_what_each_of_its_statements_reads(engine) -> None:
    """One cursor for all on the driver directly; each statement its own way when something listens."""
    orders, items = schema.fb_orders, schema.fb_order_items
    statements = [
        Statement(sa.select(orders).where(orders.c.order_id == sa.bindparam("order_id"))),
        Statement(
            sa.select(items).where(items.c.order_id == sa.bindparam("order_id")).order_by(items.c.item_id.desc())
        ),
        Statement(sa.select(schema.fb_refunds).where(schema.fb_refunds.c.order_id == sa.bindparam("order_id"))),
    ]
    batch, at = Batch(*statements), {"order_id": "10001"}
    with engine.connect() as conn:
        expected = [statement.rows(conn, at) for statement in statements]
        assert [len(rows) for rows in expected] == [1, 1, 0]
        assert batch.rows(conn, at) == expected
        assert batch.rows(conn, {"order_id": "nothing"}) == [[], [], []]
        broken = Batch(
            statements[0], Statement(sa.select(orders.c.order_id).where(sa.literal_column("no_such_column") == 1))
        )
        with pytest.raises(sa.exc.DBAPIError):  # wrapped as SQLAlchemy wraps it
            broken.rows(conn, at)
    seen: list[str] = []
    with engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute", lambda _c, _k, sql, *_: seen.append(sql))
        assert batch.rows(conn, at) == expected and len(seen) == 3
        with pytest.raises(sa.exc.DBAPIError):
            broken.rows(conn, at)


def test_the_order_view_is_the_same_read_on_the_driver_or_through_events(engine) -> None:
    with engine.begin() as conn:
        upsert(conn, schema.fb_shipments, [{"shipment_id": "s1", "order_id": "10001", "tracking_number": "1Z1"}])
        upsert(conn, schema.fb_refunds, [{"refund_id": "f1", "order_id": "10001", "shipping": Decimal("1.00")}])
    with engine.connect() as conn:
        direct = order_view(conn, "10001")
    seen: list[str] = []
    with engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute", lambda _c, _k, sql, *_: seen.append(sql))
        listened = order_view(conn, "10001")
    assert direct is not None and direct == listened and len(seen) >= 12
    assert [s["shipment_id"] for s in direct.shipments] == ["s1"] and direct.shipping_refunded == Decimal("1.00")
    assert not {"raw", "order_id", "synced_at"} & {
        k for rows in (direct.shipments, direct.refunds) for r in rows for k in r
    }


def _store_as_is(conn: sa.Connection, rows: list[dict[str, object]]) -> None:
    """Orders written by SQL with these values as they are, not through the column types (values the types
    would never write: offsets, no microseconds, a date alone)."""
    conn.execute(
        sa.text(
            "INSERT INTO fb_orders (order_id, state, created_at, acknowledged_at, subtotal, total, raw,"
            " acknowledge_attempts, first_seen_at, synced_at)"
            " VALUES (:order_id, 'CREATED', :created_at, :acknowledged_at, :subtotal, :total, :raw, 0, :seen, :seen)"
        ),
        [
            {"acknowledged_at": None, "subtotal": None, "raw": None, "seen": "2026-01-01 00:00:00", **row}
            for row in rows
        ],
    )


def test_a_statement_reads_times_and_amounts_as_sqlalchemy_does(warehouse_engine) -> None:
    """The fused readers of UtcDateTime and Money (cs.lookup._result_processor) against SQLAlchemy's."""
    sqlite = warehouse_engine.dialect.name == "sqlite"
    big = "1234567890123.45" if sqlite else "9999999999999999.99"  # SQLite keeps a double: 15 digits
    with warehouse_engine.begin() as conn:
        _store_as_is(
            conn,
            [
                {"order_id": "e1", "created_at": "2025-12-01 10:00:00.123456", "total": float(big) if sqlite else big},
                {"order_id": "e2", "created_at": "2025-12-01 10:00:00", "total": -0.01, "subtotal": 0},
                {"order_id": "e3", "created_at": "2025-12-01T10:00:00+02:00", "total": 20},
                {"order_id": "e4", "created_at": "2025-12-01 23:59:59.999999-05:30", "total": 19.99},
                {"order_id": "e5", "created_at": None, "total": None},
                {"order_id": "e6", "created_at": "2025-12-01", "acknowledged_at": "0001-01-01 00:00:00", "total": 0.5},
            ],
        )
    orders = schema.fb_orders
    query = sa.select(orders).where(orders.c.order_id.like("e%")).order_by(orders.c.order_id)
    with warehouse_engine.connect() as conn:
        if not sqlite:  # the driver's times in another zone than UTC
            conn.exec_driver_sql("SET TIME ZONE 'Asia/Kolkata'")
        rows = Statement(query).rows(conn, {})
        assert rows == [dict(r) for r in conn.execute(query).mappings()]
        assert Statement(query).tuples(conn, {}) == [tuple(r) for r in conn.execute(query)]
    by_id = {row["order_id"]: row for row in rows}
    assert by_id["e1"]["created_at"] == dt.datetime(2025, 12, 1, 10, 0, 0, 123456, tzinfo=dt.UTC)
    assert by_id["e1"]["total"] == Decimal(big) and str(by_id["e2"]["total"]) == "-0.01"
    assert str(by_id["e2"]["subtotal"]) == "0.00" and str(by_id["e3"]["total"]) == "20.00"
    assert by_id["e3"]["created_at"] == dt.datetime(2025, 12, 1, 8, tzinfo=dt.UTC)
    assert by_id["e4"]["created_at"] == dt.datetime(2025, 12, 2, 5, 29, 59, 999999, tzinfo=dt.UTC)
    assert by_id["e5"]["created_at"] is None and by_id["e5"]["total"] is None
    assert by_id["e6"]["created_at"] == dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
    assert by_id["e6"]["acknowledged_at"] == dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    assert all(row["created_at"] is None or row["created_at"].tzinfo is dt.UTC for row in rows)


def test_values_read_again_and_json_read_as_sqlalchemy_does(warehouse_engine) -> None:
    """Amounts and times remembered per stored value, and JSON decoded by msgspec, read to the same objects as
    SQLAlchemy's (compared by repr: ``Decimal("-0.00") == Decimal("0.00")``), twice over."""
    sqlite = warehouse_engine.dialect.name == "sqlite"
    same = "2025-12-01 10:00:00.000000"
    json_texts = ['[{"id":"1","quantity":2}]', "123456789012345678901234567890", '"\\u00e9"', "1e400", "NaN"]
    totals: list[object] = [0.0, -0.0, 40, 40.0, 19.99, 0, -0.01] if sqlite else ["0.00", "-0.00", "40", "40.00"]
    with warehouse_engine.begin() as conn:
        _store_as_is(
            conn,
            [
                {
                    "order_id": f"m{n}",
                    "created_at": same,
                    "acknowledged_at": same,
                    "total": total,
                    "raw": json_texts[n % len(json_texts)] if sqlite else json_texts[0],
                }
                for n, total in enumerate(totals)
            ],
        )
    orders = schema.fb_orders
    query = sa.select(orders.c.order_id, orders.c.created_at, orders.c.acknowledged_at, orders.c.total, orders.c.raw)
    query = query.where(orders.c.order_id.like("m%")).order_by(orders.c.order_id)
    with warehouse_engine.connect() as conn:
        expected = repr([dict(r) for r in conn.execute(query).mappings()])
        statement = Statement(query)
        assert repr(statement.rows(conn, {})) == expected
        assert repr(statement.rows(conn, {})) == expected


def test_a_statement_refuses_what_sqlalchemy_refuses_naming_the_column(warehouse_engine) -> None:
    sqlite = warehouse_engine.dialect.name == "sqlite"
    with warehouse_engine.begin() as conn:
        _store_as_is(conn, [{"order_id": "bad", "created_at": None, "total": float("inf") if sqlite else "NaN"}])
    orders = schema.fb_orders
    query = sa.select(orders.c.order_id, orders.c.total).where(orders.c.order_id == "bad")
    with warehouse_engine.connect() as conn:
        with pytest.raises(ValueError, match="not a finite number"):
            conn.execute(query).all()
        with pytest.raises(ValueError, match=r"^total: cannot read .* exactly .*not a finite number"):
            Statement(query).rows(conn, {})
        with pytest.raises(ValueError, match=r"^total: "):
            Statement(query).tuples(conn, {})
