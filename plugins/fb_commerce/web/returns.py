"""Returns awaiting customer service: REQUESTED by the buyer, not yet answered, oldest first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fb_commerce.orders.alerts import REQUESTED
from fb_commerce.warehouse import schema


@dataclass(frozen=True)
class AwaitingReturn:
    """One return the buyer asked for, with how long it has waited."""

    return_id: str
    order_id: str
    merchant_order_reference: str | None
    buyer_name: str | None
    requested_at: dt.datetime | None
    age: dt.timedelta | None

    @property
    def age_text(self) -> str:
        if self.age is None:
            return "unknown"
        days, hours = self.age.days, self.age.seconds // 3600
        return f"{days} d {hours} h" if days else f"{hours} h {self.age.seconds % 3600 // 60} min"


def awaiting_returns(engine: Engine, *, now: dt.datetime, limit: int = 200) -> list[AwaitingReturn]:
    """Returns in state REQUESTED, oldest first, with their order's reference and buyer."""
    returns, orders = schema.fb_returns, schema.fb_orders
    query = (
        sa.select(
            returns.c.return_id,
            returns.c.order_id,
            orders.c.merchant_order_reference,
            orders.c.buyer_name,
            returns.c.created_at,
        )
        .select_from(returns.outerjoin(orders, orders.c.order_id == returns.c.order_id))
        .where(returns.c.return_status == REQUESTED)
        .order_by(returns.c.created_at.asc().nulls_last(), returns.c.return_id)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        AwaitingReturn(
            return_id=row.return_id,
            order_id=row.order_id,
            merchant_order_reference=row.merchant_order_reference,
            buyer_name=row.buyer_name,
            requested_at=row.created_at,
            age=(now - row.created_at) if row.created_at is not None else None,
        )
        for row in rows
    ]
