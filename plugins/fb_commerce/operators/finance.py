"""Operators of the fb_finance_nightly DAG: thin glue between Airflow and :mod:`fb_commerce.finance`.

:class:`LoadFinanceOperator` opens the warehouse (upgrading or refusing an old schema first) and the Graph API, works
out the window of the run (its data interval in the merchant's time zone plus the look-back), calls
:func:`fb_commerce.finance.load.load_finance`, logs the counts and returns them (XCom). Heavy imports happen inside
``execute`` so the DAG file parses fast. :class:`WriteReportsOperator` writes each business day's report folder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from fb_commerce.finance.calendar import DEFAULT_LOOKBACK_DAYS, DEFAULT_TIMEZONE
from fb_commerce.operators.base import FbCommerceOperator, fail_task, releases_warehouse
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


class WriteReportsOperator(FbCommerceOperator):
    """Writes the finance report folder (``<data folder>/reports/YYYY-MM-DD/``) of each business day of the run:
    orders, cash, payout lines, tax, balance, in-flight and issues CSVs, the spreadsheet, the payout journal and
    ``summary.html`` (:mod:`fb_commerce.finance.reports`). Each folder is replaced atomically; a rerun on the same
    warehouse rows writes the same bytes. Logs the files and each day's headline figures.

    :param accounts_file: the account mapping of the journal (templated); empty: ``include/finance/accounts.csv``.
    :param timezone: the merchant's time zone, whose midnights bound the business days.
    """

    template_fields: Sequence[str] = (*FbCommerceOperator.template_fields, "accounts_file")
    ui_color = "#e4eef7"

    def __init__(self, *, accounts_file: str = "", timezone: str = DEFAULT_TIMEZONE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.accounts_file = accounts_file
        self.timezone = timezone

    @releases_warehouse
    def execute(self, context: Any) -> list[dict[str, Any]]:
        from fb_commerce.finance.calendar import last_complete_day
        from fb_commerce.finance.journal import AccountMappingError, load_accounts
        from fb_commerce.finance.reports import HEADLINES, business_days, write_day_report
        from fb_commerce.settings import as_text

        accounts_file = self.setting("accounts_file", as_text, optional=True) or None
        try:
            load_accounts(accounts_file)  # a bad mapping fails before anything is written, naming the line
        except AccountMappingError as exc:
            fail_task(f"accounts_file: {exc}")
        interval_start, interval_end = context.get("data_interval_start"), context.get("data_interval_end")
        if interval_start is None or interval_end is None:  # triggered with no logical date: the last whole day
            interval_start, interval_end = last_complete_day(dt.datetime.now(dt.UTC), self.timezone)
        engine = self.warehouse()
        written = []
        for day in business_days(interval_start, interval_end, self.timezone):
            report = write_day_report(engine, day, self.timezone, accounts_file=accounts_file)
            self.log.info("Report of %s (%s) in %s: %s", day, self.timezone, report.folder, ", ".join(report.files))
            for currency, figure in report.figures.items():
                self.log.info(
                    "%s %s: %s", day, currency or "-", ", ".join(f"{name} {figure[name]:.2f}" for name in HEADLINES)
                )
            self.log.info("%s: %d open reconciliation issues", day, len(report.open_issues))
            written.append(report.as_dict())
        return written
