"""Alert state in fb_alerts (SQLite and PostgreSQL): each alert notified once, a digest once a day, a failed
notification sent again, a condition that comes back notified again."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from fb_commerce.orders.alert_state import DIGEST, notify_round
from fb_commerce.orders.alerts import RULES, SHIP_BY_AT_RISK, STUCK_CREATED, SYNC_STALE, OrderAlert
from fb_commerce.warehouse.schema import fb_alerts

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def stuck(order_id: str) -> OrderAlert:
    return OrderAlert(STUCK_CREATED, order_id, f"FB-{order_id}", "CREATED for 2.0 h, not acknowledged")


def late(order_id: str) -> OrderAlert:
    return OrderAlert(SHIP_BY_AT_RISK, order_id, None, "nothing shipped")


class Outbox:
    """A ``send`` that keeps what it was given, and can be told to fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = False

    def __call__(self, title: str, body: str) -> None:
        if self.fail:
            raise RuntimeError("webhook down")
        self.sent.append((title, body))


def rows(engine) -> dict[tuple[str, str], sa.Row]:
    with engine.connect() as conn:
        return {(r.condition, r.subject): r for r in conn.execute(sa.select(fb_alerts))}


def test_each_alert_is_notified_once_across_reruns(warehouse_engine):
    outbox = Outbox()
    first = notify_round(warehouse_engine, [stuck("o1"), late("o2")], rules=RULES, now=NOW, send=outbox)
    assert [a.key for a in first.new] == [(SHIP_BY_AT_RISK, "o2"), (STUCK_CREATED, "o1")]
    again = notify_round(warehouse_engine, [stuck("o1"), late("o2")], rules=RULES, now=NOW + HOUR, send=outbox)
    assert again.new == [] and again.open == 2
    [(title, body)] = outbox.sent
    assert title == "fb-commerce: 2 new alerts"
    assert "- stuck in CREATED: order o1 (reference FB-o1): CREATED for 2.0 h, not acknowledged" in body
    assert "- ship-by date at risk: order o2 (reference -): nothing shipped" in body
    stored = rows(warehouse_engine)[(STUCK_CREATED, "o1")]
    assert (stored.first_seen_at, stored.last_seen_at, stored.notified_at) == (NOW, NOW + HOUR, NOW)


def test_resolved_alerts_close_and_a_condition_back_is_notified_again(warehouse_engine):
    outbox = Outbox()
    notify_round(warehouse_engine, [stuck("o1"), stuck("o2")], rules=RULES, now=NOW, send=outbox)
    done = notify_round(warehouse_engine, [stuck("o2")], rules=RULES, now=NOW + HOUR, send=outbox)
    assert done.resolved == 1 and rows(warehouse_engine)[(STUCK_CREATED, "o1")].resolved_at == NOW + HOUR
    back = notify_round(warehouse_engine, [stuck("o1"), stuck("o2")], rules=RULES, now=NOW + 2 * HOUR, send=outbox)
    assert [a.key for a in back.new] == [(STUCK_CREATED, "o1")]
    assert rows(warehouse_engine)[(STUCK_CREATED, "o1")].resolved_at is None


def test_only_the_rules_a_task_looks_after_are_resolved(warehouse_engine):
    outbox = Outbox()
    notify_round(warehouse_engine, [stuck("o1")], rules=RULES, now=NOW, send=outbox)
    freshness_only = notify_round(warehouse_engine, [], rules=[SYNC_STALE], now=NOW + HOUR, send=outbox)
    assert freshness_only.resolved == 0 and rows(warehouse_engine)[(STUCK_CREATED, "o1")].resolved_at is None


def test_a_failed_notification_is_sent_by_the_next_round(warehouse_engine):
    outbox = Outbox()
    outbox.fail = True
    with pytest.raises(RuntimeError, match="webhook down"):
        notify_round(warehouse_engine, [stuck("o1")], rules=RULES, now=NOW, send=outbox)
    assert rows(warehouse_engine)[(STUCK_CREATED, "o1")].notified_at is None
    outbox.fail = False
    retried = notify_round(warehouse_engine, [stuck("o1")], rules=RULES, now=NOW + HOUR, send=outbox)
    assert [a.key for a in retried.new] == [(STUCK_CREATED, "o1")] and len(outbox.sent) == 1


def test_daily_digest_lists_what_is_still_open_once_a_day(warehouse_engine):
    outbox = Outbox()
    notify_round(warehouse_engine, [stuck("o1"), late("o2")], rules=RULES, now=NOW, send=outbox)
    assert len(outbox.sent) == 1  # the day the alerts are new, their notification is all
    next_day = NOW + 13 * HOUR  # 01:00 UTC
    outbox.fail = True
    with pytest.raises(RuntimeError):
        notify_round(warehouse_engine, [stuck("o1")], rules=RULES, now=next_day, send=outbox)
    outbox.fail = False
    sent = notify_round(warehouse_engine, [stuck("o1")], rules=RULES, now=next_day + HOUR, send=outbox)
    assert sent.digest_day == dt.date(2026, 11, 28)
    title, body = outbox.sent[-1]
    assert title == "fb-commerce daily digest 2026-11-28: 1 alert still open"
    assert "stuck in CREATED: order o1" in body and "order o2" not in body
    for hours in (2, 5, 10):
        notify_round(warehouse_engine, [stuck("o1")], rules=RULES, now=next_day + hours * HOUR, send=outbox)
    assert len(outbox.sent) == 2
    assert (DIGEST, "2026-11-28") in rows(warehouse_engine)
    notify_round(warehouse_engine, [stuck("o1")], rules=RULES, now=next_day + 24 * HOUR, send=outbox)
    assert outbox.sent[-1][0] == "fb-commerce daily digest 2026-11-29: 1 alert still open"
