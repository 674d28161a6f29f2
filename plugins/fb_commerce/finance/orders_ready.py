"""Whether fb_orders_sync has stored the orders a finance run reconciles against: up to the end of its last day.

Reconciling a day whose orders are not all in the warehouse would report SALEs "without an order" that are only
late. So a run waits until the orders are stored up to ``needed`` (midnight ending its last business day, UTC),
which ``fb_sync_state`` tells in two ways (:mod:`fb_commerce.warehouse.sync_state`):

- the orders watermark (``orders``): the newest Meta ``last_updated`` stored. At or past ``needed``, every order
  changed before it has been read (Meta's clock, so no skew between the clocks);
- the last successful pull (``orders_pulled``): when a pull that stored everything Meta listed began. A pull begun
  at or after ``needed`` has read every order changed before it even when none changed since (a quiet night
  moves no watermark, and waiting for one would fail a good run).

Either at or past ``needed`` is enough.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.engine import Connection, Engine

from fb_commerce.warehouse.sync_state import ORDERS_PULLED, ORDERS_WATERMARK, read_watermark

ORDERS_DAG = "fb_orders_sync"


@dataclass(frozen=True)
class OrdersReadiness:
    """What the warehouse says about the orders stored, against the moment they are needed up to."""

    needed: dt.datetime
    watermark: dt.datetime | None
    pulled: dt.datetime | None

    @property
    def ready(self) -> bool:
        return any(seen is not None and seen >= self.needed for seen in (self.watermark, self.pulled))

    def describe(self) -> str:
        """One line for the log: what is waited for and where the orders are."""
        return (
            f"orders needed up to {_when(self.needed)} (end of the run's last business day); "
            f"{ORDERS_DAG} watermark ({ORDERS_WATERMARK!r} in fb_sync_state) is "
            f"{_when(self.watermark, 'not set (no pull has stored orders yet)')}, its last successful pull "
            f"{_when(self.pulled, 'has not happened yet', prefix='began ')}"
        )

    def timed_out(self, waited: dt.timedelta) -> str:
        """The message of a run that waited in vain: what it waited for, what it found, what to do."""
        return (
            f"Waited {waited} for {ORDERS_DAG}: {self.describe()}. Finance is not reconciled against missing "
            f"orders. Unpause or run {ORDERS_DAG} (`airflow dags unpause {ORDERS_DAG}`, or trigger it) and check "
            f"that it ends green, then clear this task; the wait is the setting orders_wait_hours."
        )


def _when(moment: dt.datetime | None, missing: str = "", *, prefix: str = "") -> str:
    return missing if moment is None else f"{prefix}{moment.isoformat()}"


def orders_readiness(bind: Engine | Connection, needed: dt.datetime) -> OrdersReadiness:
    """Read the orders watermark and the last successful pull."""
    return OrdersReadiness(needed, read_watermark(bind, ORDERS_WATERMARK), read_watermark(bind, ORDERS_PULLED))


__all__ = ["OrdersReadiness", "orders_readiness"]
