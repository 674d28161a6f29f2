"""Orders that need a person: rules over what the warehouse holds, no Graph call.

- **stuck in CREATED**: an order that became CREATED (Meta's ``last_updated``) longer ago than a threshold is
  still not acknowledged; Meta keeps showing the merchant "needs to be acknowledged" and the buyer waits.
- **ship-by at risk**: an IN_PROGRESS order without any shipment whose ``ship_by_date`` ends within N hours (or
  has passed); Meta may cancel it itself when the deadline is missed.
- **return unanswered**: a return the buyer requested (``REQUESTED`` in ``fb_returns``) longer ago than a
  threshold, neither approved nor refused.
- **orders sync stale**: no orders pull succeeded for longer than a threshold (or none ever did), whatever the
  reason (token, Meta, the warehouse, a paused DAG): every other rule then works on old data.

A rule with a threshold of 0 (or None) is off. These are conditions of the business, not failures of a task:
:mod:`fb_commerce.orders.alert_state` records them and notifies each once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fb_commerce.orders.states import CREATED, IN_PROGRESS
from fb_commerce.warehouse.schema import fb_orders, fb_returns, fb_shipments
from fb_commerce.warehouse.sync_state import ORDERS_PULLED, read_watermark

#: the rules (the ``condition`` column of fb_alerts)
STUCK_CREATED = "stuck_created"
SHIP_BY_AT_RISK = "ship_by_at_risk"
RETURN_UNANSWERED = "return_unanswered"
SYNC_STALE = "orders_sync_stale"
ORDER_RULES = (STUCK_CREATED, SHIP_BY_AT_RISK, RETURN_UNANSWERED)
RULES = (*ORDER_RULES, SYNC_STALE)
#: how each rule reads in a log line or a notification
LABELS = {
    STUCK_CREATED: "stuck in CREATED",
    SHIP_BY_AT_RISK: "ship-by date at risk",
    RETURN_UNANSWERED: "return unanswered",
    SYNC_STALE: "orders sync stale",
}
#: the subject of the freshness alert (there is one orders sync)
SYNC_SUBJECT = "orders"
REQUESTED = "REQUESTED"
DEFAULT_STUCK_AFTER = dt.timedelta(minutes=60)
DEFAULT_SHIP_WITHIN = dt.timedelta(hours=24)
DEFAULT_RETURN_UNANSWERED = dt.timedelta(hours=48)
DEFAULT_FRESHNESS = dt.timedelta(minutes=60)


@dataclass(frozen=True)
class OrderAlert:
    """One thing one rule flags, with what a person needs to find and judge it.

    ``(rule, subject)`` identifies it across runs: the order id, the return id, or ``orders`` for freshness.
    """

    rule: str
    order_id: str | None
    reference: str | None
    detail: str
    subject: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """What fb_alerts keys it by: the rule and the subject (the order id unless said otherwise)."""
        return self.rule, self.subject or self.order_id or ""

    def line(self) -> str:
        label = LABELS.get(self.rule, self.rule)
        if self.order_id is None:
            return f"{label}: {self.detail}"
        return f"{label}: order {self.order_id} (reference {self.reference or '-'}): {self.detail}"


def _age(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if abs(hours) >= 1 else f"{delta.total_seconds() / 60:.0f} min"


def stuck_created(engine: Engine, *, now: dt.datetime, threshold: dt.timedelta) -> list[OrderAlert]:
    """CREATED orders not acknowledged for longer than ``threshold`` since they became CREATED."""
    since = sa.func.coalesce(fb_orders.c.updated_at, fb_orders.c.created_at, fb_orders.c.first_seen_at)
    query = (
        sa.select(
            fb_orders.c.order_id,
            fb_orders.c.merchant_order_reference,
            fb_orders.c.acknowledge_error_message,
            fb_orders.c.updated_at,
            fb_orders.c.created_at,
        )
        .where(fb_orders.c.state == CREATED, fb_orders.c.acknowledged_at.is_(None), since < now - threshold)
        .order_by(fb_orders.c.order_id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    alerts = []
    for row in rows:
        became = row.updated_at or row.created_at
        why = f"; last acknowledgement error: {row.acknowledge_error_message}" if row.acknowledge_error_message else ""
        alerts.append(
            OrderAlert(
                STUCK_CREATED,
                row.order_id,
                row.merchant_order_reference,
                f"CREATED for {_age(now - became) if became else 'unknown time'}, not acknowledged{why}",
            )
        )
    return alerts


def ship_by_deadline(ship_by: dt.date) -> dt.datetime:
    """``ship_by_date`` is a day: the order is on time until that day ends (UTC)."""
    return dt.datetime.combine(ship_by + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def ship_by_at_risk(engine: Engine, *, now: dt.datetime, within: dt.timedelta) -> list[OrderAlert]:
    """IN_PROGRESS orders with no shipment whose ship-by day ends within ``within`` (or already ended)."""
    shipped = sa.exists().where(fb_shipments.c.order_id == fb_orders.c.order_id)
    query = (
        sa.select(fb_orders.c.order_id, fb_orders.c.merchant_order_reference, fb_orders.c.ship_by_date)
        .where(
            fb_orders.c.state == IN_PROGRESS,
            fb_orders.c.ship_by_date.is_not(None),
            fb_orders.c.ship_by_date <= (now + within).date(),
            ~shipped,
        )
        .order_by(fb_orders.c.ship_by_date, fb_orders.c.order_id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    alerts = []
    for row in rows:
        left = ship_by_deadline(row.ship_by_date) - now
        if left > within:
            continue
        when = f"ends in {_age(left)}" if left > dt.timedelta(0) else f"passed {_age(-left)} ago"
        alerts.append(
            OrderAlert(
                SHIP_BY_AT_RISK,
                row.order_id,
                row.merchant_order_reference,
                f"nothing shipped, ship-by date {row.ship_by_date.isoformat()} {when}",
            )
        )
    return alerts


def returns_unanswered(engine: Engine, *, now: dt.datetime, threshold: dt.timedelta) -> list[OrderAlert]:
    """Returns still REQUESTED longer than ``threshold`` after the buyer asked (Meta's ``created_at``)."""
    since = sa.func.coalesce(fb_returns.c.created_at, fb_returns.c.first_seen_at)
    query = (
        sa.select(
            fb_returns.c.return_id,
            fb_returns.c.order_id,
            fb_returns.c.created_at,
            fb_returns.c.first_seen_at,
            fb_orders.c.merchant_order_reference,
        )
        .select_from(fb_returns.outerjoin(fb_orders, fb_orders.c.order_id == fb_returns.c.order_id))
        .where(fb_returns.c.return_status == REQUESTED, since < now - threshold)
        .order_by(fb_returns.c.order_id, fb_returns.c.return_id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        OrderAlert(
            RETURN_UNANSWERED,
            row.order_id,
            row.merchant_order_reference,
            f"return {row.return_id} requested {_age(now - (row.created_at or row.first_seen_at))} ago, "
            "neither approved nor refused",
            subject=row.return_id,
        )
        for row in rows
    ]


def sync_stale(engine: Engine, *, now: dt.datetime, threshold: dt.timedelta) -> list[OrderAlert]:
    """The freshness alert: no orders pull succeeded within ``threshold`` (or none ever did)."""
    last = read_watermark(engine, ORDERS_PULLED)
    if last is not None and now - last <= threshold:
        return []
    when = f"since {last.isoformat(timespec='seconds')} ({_age(now - last)} ago)" if last else "ever"
    return [
        OrderAlert(
            SYNC_STALE,
            None,
            None,
            f"no successful orders sync {when}; threshold {_age(threshold)}",
            subject=SYNC_SUBJECT,
        )
    ]


def check_orders(
    engine: Engine,
    *,
    now: dt.datetime,
    stuck_after: dt.timedelta | None = DEFAULT_STUCK_AFTER,
    ship_within: dt.timedelta | None = DEFAULT_SHIP_WITHIN,
    return_unanswered: dt.timedelta | None = None,
    freshness: dt.timedelta | None = None,
) -> list[OrderAlert]:
    """Every alert of every rule that is on."""
    alerts: list[OrderAlert] = []
    if stuck_after:
        alerts += stuck_created(engine, now=now, threshold=stuck_after)
    if ship_within:
        alerts += ship_by_at_risk(engine, now=now, within=ship_within)
    if return_unanswered:
        alerts += returns_unanswered(engine, now=now, threshold=return_unanswered)
    if freshness:
        alerts += sync_stale(engine, now=now, threshold=freshness)
    return alerts
