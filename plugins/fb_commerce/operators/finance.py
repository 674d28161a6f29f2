"""Operator of the fb_finance_nightly DAG: thin glue between Airflow and :mod:`fb_commerce.finance`.

It opens the warehouse (upgrading or refusing an old schema first) and the Graph API, works out the window of the
run (its data interval in the merchant's time zone plus the look-back), calls
:func:`fb_commerce.finance.load.load_finance`, logs the counts and returns them (XCom). Heavy imports happen inside
``execute`` so the DAG file parses fast.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from fb_commerce.finance.calendar import DEFAULT_LOOKBACK_DAYS, DEFAULT_TIMEZONE
from fb_commerce.operators.base import FbCommerceOperator, releases_warehouse
from fb_commerce.settings import as_int


class LoadFinanceOperator(FbCommerceOperator):
    """Loads the payouts and transactions of the run's business days plus a look-back into fb_payouts,
    fb_transactions and fb_transaction_tax_details (idempotent: a rerun leaves the same rows).

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
        from fb_commerce.finance.calendar import last_complete_day, run_window
        from fb_commerce.finance.extract import finance_node
        from fb_commerce.finance.load import load_finance

        lookback = self.setting("lookback_days", as_int, minimum=0)
        page_size = self.setting("page_size", as_int, minimum=1, maximum=100)
        interval_start, interval_end = context.get("data_interval_start"), context.get("data_interval_end")
        if interval_start is None or interval_end is None:  # triggered with no logical date: the last whole day
            interval_start, interval_end = last_complete_day(dt.datetime.now(dt.UTC), self.timezone)
            self.log.info(
                "No data interval (a run without a logical date): the last complete day, from %s", interval_start
            )
        start, end = run_window(interval_start, interval_end, self.timezone, lookback)
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
            "Loaded %d payouts (%d pages) and %d transactions with %d tax lines (%d pages); %d pages in all",
            result.payouts,
            result.payout_pages,
            result.transactions,
            result.tax_lines,
            result.transaction_pages,
            result.pages,
        )
        return result.as_dict()
