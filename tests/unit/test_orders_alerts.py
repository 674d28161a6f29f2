"""Alert rules: orders stuck in CREATED, unshipped orders near their ship-by date, returns left unanswered, and
an orders sync gone stale."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from fb_commerce.orders.alerts import (
    RETURN_UNANSWERED,
    SHIP_BY_AT_RISK,
    STUCK_CREATED,
    SYNC_STALE,
    check_orders,
    ship_by_deadline,
)
from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.schema import fb_orders, fb_returns, fb_shipments, metadata
from fb_commerce.warehouse.sync_state import ORDERS_PULLED, advance_watermark

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def engine(tmp_path):
    engine = create_warehouse_engine(f"sqlite:///{tmp_path / 'w.db'}")
    metadata.create_all(engine)
    return engine


def add(
    engine,
    order_id: str,
    state: str,
    *,
    updated: dt.datetime | None = None,
    ship_by: dt.date | None = None,
    acknowledged: bool = False,
    shipped: bool = False,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(fb_orders).values(
                order_id=order_id,
                state=state,
                updated_at=updated,
                created_at=updated,
                ship_by_date=ship_by,
                merchant_order_reference=f"FB-{order_id}",
                acknowledged_at=NOW if acknowledged else None,
            )
        )
        if shipped:
            conn.execute(sa.insert(fb_shipments).values(shipment_id=f"s{order_id}", order_id=order_id))


def flagged(engine, **thresholds) -> dict[str, str]:
    settings = {"stuck_after": dt.timedelta(minutes=60), "ship_within": dt.timedelta(hours=24), **thresholds}
    return {a.order_id: a.rule for a in check_orders(engine, now=NOW, **settings)}


def test_created_orders_alert_only_past_the_threshold(engine):
    add(engine, "old", "CREATED", updated=NOW - 61 * dt.timedelta(minutes=1))
    add(engine, "fresh", "CREATED", updated=NOW - 59 * dt.timedelta(minutes=1))
    add(engine, "acked", "CREATED", updated=NOW - 5 * HOUR, acknowledged=True)
    add(engine, "processing", "FB_PROCESSING", updated=NOW - 5 * HOUR)
    assert flagged(engine) == {"old": STUCK_CREATED}
    assert flagged(engine, stuck_after=dt.timedelta(minutes=30)) == {"old": STUCK_CREATED, "fresh": STUCK_CREATED}


def test_ship_by_day_ends_at_midnight_utc():
    assert ship_by_deadline(dt.date(2026, 11, 27)) == dt.datetime(2026, 11, 28, tzinfo=dt.UTC)


def test_unshipped_orders_near_or_past_their_ship_by_date_alert(engine):
    today, tomorrow = NOW.date(), NOW.date() + dt.timedelta(days=1)  # ends in 12 h and in 36 h
    add(engine, "due-today", "IN_PROGRESS", ship_by=today)
    add(engine, "overdue", "IN_PROGRESS", ship_by=today - dt.timedelta(days=3))
    add(engine, "due-tomorrow", "IN_PROGRESS", ship_by=tomorrow)
    add(engine, "shipped", "IN_PROGRESS", ship_by=today, shipped=True)
    add(engine, "completed", "COMPLETED", ship_by=today)
    add(engine, "no-date", "IN_PROGRESS")
    assert flagged(engine) == {"due-today": SHIP_BY_AT_RISK, "overdue": SHIP_BY_AT_RISK}
    assert set(flagged(engine, ship_within=dt.timedelta(hours=36))) == {"due-today", "overdue", "due-tomorrow"}
    assert set(flagged(engine, ship_within=dt.timedelta(hours=11))) == {"overdue"}


def test_each_alert_line_names_the_order_and_what_is_wrong(engine):
    add(engine, "o1", "IN_PROGRESS", ship_by=NOW.date() - dt.timedelta(days=1))
    (alert,) = check_orders(engine, now=NOW, stuck_after=None, ship_within=dt.timedelta(hours=24))
    assert alert.line() == (
        "ship-by date at risk: order o1 (reference FB-o1): nothing shipped, ship-by date 2026-11-26 passed 12.0 h ago"
    )


def test_rules_can_be_turned_off(engine):
    add(engine, "old", "CREATED", updated=NOW - 5 * HOUR)
    add(engine, "late", "IN_PROGRESS", ship_by=NOW.date())
    assert flagged(engine, stuck_after=None, ship_within=None) == {}
    assert flagged(engine, stuck_after=None) == {"late": SHIP_BY_AT_RISK}


def test_returns_requested_longer_than_the_threshold_alert_once_per_return(engine):
    add(engine, "o1", "COMPLETED")
    with engine.begin() as conn:
        conn.execute(
            sa.insert(fb_returns),
            [
                {"return_id": "r-old", "order_id": "o1", "return_status": "REQUESTED", "created_at": NOW - 49 * HOUR},
                {"return_id": "r-old-2", "order_id": "o1", "return_status": "REQUESTED", "created_at": NOW - 50 * HOUR},
                {"return_id": "r-new", "order_id": "o1", "return_status": "REQUESTED", "created_at": NOW - 47 * HOUR},
                {"return_id": "r-done", "order_id": "o1", "return_status": "APPROVED", "created_at": NOW - 90 * HOUR},
            ],
        )
    alerts = check_orders(engine, now=NOW, stuck_after=None, ship_within=None, return_unanswered=dt.timedelta(hours=48))
    assert {a.key for a in alerts} == {(RETURN_UNANSWERED, "r-old"), (RETURN_UNANSWERED, "r-old-2")}
    assert alerts[0].line() == (
        "return unanswered: order o1 (reference FB-o1): return r-old requested 49.0 h ago, neither approved nor refused"
    )


def test_freshness_follows_the_last_successful_pull(engine):
    def stale(now: dt.datetime) -> list[str]:
        return [
            a.line()
            for a in check_orders(
                engine, now=now, stuck_after=None, ship_within=None, freshness=dt.timedelta(minutes=60)
            )
        ]

    assert stale(NOW) == ["orders sync stale: no successful orders sync ever; threshold 1.0 h"]
    advance_watermark(engine, ORDERS_PULLED, NOW, now=NOW)
    assert stale(NOW + 59 * dt.timedelta(minutes=1)) == []
    [alert] = check_orders(
        engine, now=NOW + 3 * HOUR, stuck_after=None, ship_within=None, freshness=dt.timedelta(minutes=60)
    )
    assert alert.key == (SYNC_STALE, "orders") and alert.order_id is None
    assert alert.line() == (
        "orders sync stale: no successful orders sync since 2026-11-27T12:00:00+00:00 (3.0 h ago); threshold 1.0 h"
    )
