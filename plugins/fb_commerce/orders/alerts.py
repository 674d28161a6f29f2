"""Orders that need a person: rules over what the warehouse holds, no Graph call.

- **stuck in CREATED**: an order that became CREATED (Meta's ``last_updated``) longer ago than a threshold is
  still not acknowledged; Meta keeps showing the merchant "needs to be acknowledged" and the buyer waits.
- **ship-by at risk**: an IN_PROGRESS order without any shipment whose ``ship_by_date`` ends within N hours (or
  has passed); Meta may cancel it itself when the deadline is missed.

A rule with a threshold of 0 (or None) is off.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fb_commerce.orders.states import CREATED, IN_PROGRESS
from fb_commerce.warehouse.schema import fb_orders, fb_shipments

STUCK_CREATED = "stuck in CREATED"
SHIP_BY_AT_RISK = "ship-by date at risk"
DEFAULT_STUCK_AFTER = dt.timedelta(minutes=60)
DEFAULT_SHIP_WITHIN = dt.timedelta(hours=24)


@dataclass(frozen=True)
class OrderAlert:
    """One order one rule flags, with what a person needs to find and judge it."""

    rule: str
    order_id: str
    reference: str | None
    detail: str

    def line(self) -> str:
        return f"{self.rule}: order {self.order_id} (reference {self.reference or '-'}): {self.detail}"


def _age(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if abs(hours) >= 1 else f"{delta.total_seconds() / 60:.0f} min"


def stuck_created(engine: Engine, *, now: dt.datetime, threshold: dt.timedelta) -> list[OrderAlert]:
    """CREATED orders not acknowledged for longer than ``threshold`` since they became CREATED."""
    since = sa.func.coalesce(fb_orders.c.updated_at, fb_orders.c.created_at, fb_orders.c.first_seen_at)
    query = (
        sa.select(fb_orders.c.order_id, fb_orders.c.merchant_order_reference, fb_orders.c.acknowledge_error_message,
                  fb_orders.c.updated_at, fb_orders.c.created_at)
        .where(fb_orders.c.state == CREATED, fb_orders.c.acknowledged_at.is_(None), since < now - threshold)
        .order_by(fb_orders.c.order_id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    alerts = []
    for row in rows:
        became = row.updated_at or row.created_at
        why = f"; last acknowledgement error: {row.acknowledge_error_message}" if row.acknowledge_error_message else ""
        alerts.append(OrderAlert(STUCK_CREATED, row.order_id, row.merchant_order_reference,
                                 f"CREATED for {_age(now - became) if became else 'unknown time'}, not acknowledged{why}"))
    return alerts


def ship_by_deadline(ship_by: dt.date) -> dt.datetime:
    """``ship_by_date`` is a day: the order is on time until that day ends (UTC)."""
    return dt.datetime.combine(ship_by + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)


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
        alerts.append(OrderAlert(SHIP_BY_AT_RISK, row.order_id, row.merchant_order_reference,
                                 f"nothing shipped, ship-by date {row.ship_by_date.isoformat()} {when}"))
    return alerts


def check_orders(
    engine: Engine,
    *,
    now: dt.datetime,
    stuck_after: dt.timedelta | None = DEFAULT_STUCK_AFTER,
    ship_within: dt.timedelta | None = DEFAULT_SHIP_WITHIN,
) -> list[OrderAlert]:
    """Every alert of every rule that is on."""
    alerts: list[OrderAlert] = []
    if stuck_after:
        alerts += stuck_created(engine, now=now, threshold=stuck_after)
    if ship_within:
        alerts += ship_by_at_risk(engine, now=now, within=ship_within)
    return alerts
