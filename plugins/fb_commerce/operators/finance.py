"""Operators of the fb_finance_nightly DAG: thin glue between Airflow and :mod:`fb_commerce.finance`.

:class:`WaitForOrdersSensor` holds the run back (rescheduling, no worker held) until fb_orders_sync has stored
the orders up to the end of the run's last business day (:mod:`fb_commerce.finance.orders_ready`).
:class:`LoadFinanceOperator` opens the warehouse (upgrading or refusing an old schema first) and the Graph API,
works out the window of the run (its data interval in the merchant's time zone plus the look-back), calls
:func:`fb_commerce.finance.load.load_finance`, logs the counts and returns them (XCom). Heavy imports happen
inside ``execute``/``poke`` so the DAG file parses fast.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator

from fb_commerce.finance.calendar import DEFAULT_LOOKBACK_DAYS, DEFAULT_TIMEZONE
from fb_commerce.operators.base import FbCommerceOperator, releases_warehouse
from fb_commerce.settings import as_int, as_number

#: how long a run waits for fb_orders_sync before it fails, by default
DEFAULT_ORDERS_WAIT_HOURS = 6
#: seconds between two looks at fb_sync_state (one small SELECT; the task is rescheduled in between)
DEFAULT_ORDERS_POKE_SECONDS = 60


def run_interval_of(context: Any, timezone: str, log: Any) -> tuple[dt.datetime, dt.datetime]:
    """The run's data interval; a run without one (no logical date) covers the last complete business day."""
    from fb_commerce.finance.calendar import run_interval

    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        start, end = run_interval(None, None, timezone, dt.datetime.now(dt.UTC))
        log.info("No data interval (a run without a logical date): the last complete day, from %s", start)
    return start, end


class WaitForOrdersSensor(FbCommerceOperator, BaseSensorOperator):
    """Waits until fb_orders_sync has stored the orders up to the end of the run's last business day (its
    watermark, or a pull begun after that midnight); fails after ``wait_hours`` saying what it waited for.

    Runs in ``reschedule`` mode: between two looks at the warehouse the task gives its worker slot back.

    :param wait_hours: how long to wait before failing (templated; 0 fails at the first look that finds the
        orders missing).
    :param timezone: the merchant's time zone, whose midnights bound the business days.
    """

    template_fields: Sequence[str] = (*FbCommerceOperator.template_fields, "wait_hours")
    ui_color = "#fdf3dc"

    def __init__(
        self,
        *,
        wait_hours: float | str = DEFAULT_ORDERS_WAIT_HOURS,
        timezone: str = DEFAULT_TIMEZONE,
        poke_interval: float = DEFAULT_ORDERS_POKE_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, mode="reschedule", **kwargs)
        self.wait_hours = wait_hours
        self.timezone = timezone

    def execute(self, context: Any) -> Any:
        from airflow.sdk.exceptions import AirflowSensorTimeout

        from fb_commerce.finance.calendar import last_day_end
        from fb_commerce.finance.orders_ready import OrdersReadiness

        self.timeout = self.setting("wait_hours", as_number, minimum=0) * 3600.0
        self._needed = last_day_end(run_interval_of(context, self.timezone, self.log)[1], self.timezone)
        try:
            return super().execute(context)
        except AirflowSensorTimeout:
            last = getattr(self, "_last", None) or OrdersReadiness(self._needed, None, None)
            raise AirflowSensorTimeout(last.timed_out(dt.timedelta(hours=self.timeout / 3600.0))) from None

    @releases_warehouse
    def poke(self, context: Any) -> bool:
        from fb_commerce.finance.orders_ready import orders_readiness

        self._last = orders_readiness(self.warehouse(), self._needed)
        self.log.info("%s: %s", "Ready" if self._last.ready else "Waiting", self._last.describe())
        return self._last.ready


class LoadFinanceOperator(FbCommerceOperator):
    """Loads the payouts and transactions of the run's business days plus a look-back into fb_payouts,
    fb_transactions and fb_transaction_tax_details, and the payments of the SALEs' orders into fb_payments
    (idempotent: a rerun leaves the same rows).

    The finance edges are read on the connection's ``page_id`` (its ``cms_id`` when it has none).

    :param lookback_days: days read again before the run's first day (templated).
    :param page_size: objects per page, at most 100 (templated).
    :param timezone: the merchant's time zone, whose midnights bound the business days.
    """

    template_fields: Sequence[str] = (*FbCommerceOperator.template_fields, "lookback_days", "page_size")
    ui_color = "#eaf7e4"

    def __init__(
        self,
        *,
        lookback_days: int | str = DEFAULT_LOOKBACK_DAYS,
        page_size: int | str = 100,
        timezone: str = DEFAULT_TIMEZONE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lookback_days = lookback_days
        self.page_size = page_size
        self.timezone = timezone

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, Any]:
        from fb_commerce.finance.calendar import run_window
        from fb_commerce.finance.extract import finance_node
        from fb_commerce.finance.load import load_finance

        lookback = self.setting("lookback_days", as_int, minimum=0)
        page_size = self.setting("page_size", as_int, minimum=1, maximum=100)
        start, end = run_window(*run_interval_of(context, self.timezone, self.log), self.timezone, lookback)
        engine = self.warehouse()
        hook = self.graph()
        node = finance_node(hook.extra("page_id"), None if hook.extra("page_id") else hook.cms_id)
        self.log.info(
            "Finance window [%s, %s) (%s, %d look-back days) on node %s", start, end, self.timezone, lookback, node
        )
        try:
            result = load_finance(hook.client, engine, node, start, end, page_size=page_size)
        finally:
            hook.log_summary()
        self.log.info(
            "Loaded %d payouts (%d pages), %d transactions with %d tax lines (%d pages) and %d payments of their "
            "orders (%d pages of their own); %d pages in all",
            result.payouts,
            result.payout_pages,
            result.transactions,
            result.tax_lines,
            result.transaction_pages,
            result.payments,
            result.payment_pages,
            result.pages,
        )
        return result.as_dict()
