"""Operators of the fb_finance_nightly DAG: thin glue between Airflow and :mod:`fb_commerce.finance`.

:class:`WaitForOrdersSensor` holds the run back (rescheduling, no worker held) until fb_orders_sync has stored
the orders up to the end of the run's last business day (:mod:`fb_commerce.finance.orders_ready`).
:class:`LoadFinanceOperator` opens the warehouse (upgrading or refusing an old schema first) and the Graph API,
works out the window of the run (its data interval in the merchant's time zone plus the look-back), calls
:func:`fb_commerce.finance.load.load_finance`, logs the counts and returns them (XCom). Heavy imports happen
inside ``execute``/``poke`` so the DAG file parses fast.
:class:`ReconcileOperator` brings fb_reconciliation_issues up to date and :class:`WriteReportsOperator`
writes each business day's report folder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator

from fb_commerce.defaults import ALERTS_CONN_ID
from fb_commerce.finance.calendar import DEFAULT_LOOKBACK_DAYS, DEFAULT_TIMEZONE
from fb_commerce.operators.base import FbCommerceOperator, fail_task, releases_warehouse
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
        from fb_commerce.finance.extract import finance_node
        from fb_commerce.finance.load import load_finance

        lookback = self.setting("lookback_days", as_int, minimum=0)
        page_size = self.setting("page_size", as_int, minimum=1, maximum=100)
        start, end = run_window_of(context, self.timezone, lookback, self.log)
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


#: the reconcile task's settings besides the look-back (DAG params of the same names)
RECONCILE_SETTINGS = (
    "sale_business_days",
    "refund_business_days",
    "payout_window_days",
    "tolerance",
    "fee_rate",
    "flat_fee",
    "flat_fee_max",
)


class ReconcileOperator(FbCommerceOperator):
    """Runs every reconciliation rule (include/sql/finance/reconcile/*.sql) over the run's business days plus the
    look-back and brings fb_reconciliation_issues up to date: new issues open, issues seen again refreshed (a
    resolved one reopens), open issues of those days found matched resolved; never deleted.

    The task is green whenever reconciliation ran, issues or not: issues are data for finance, not a failure. It
    logs the counts per rule and the open issues' headline, returns the counts (XCom) and, when the alerts
    connection exists, sends one notification for the issues this run found first.

    :param lookback_days: days checked before the run's day (templated; the load's look-back).
    :param sale_business_days: business days a captured shipment may wait for its SALE (templated).
    :param refund_business_days: business days a refund may wait for its REFUND transaction (templated).
    :param payout_window_days: days a transaction may wait for its payout (templated).
    :param tolerance: the largest difference accepted, e.g. ``"0.00"`` (templated).
    :param fee_rate: the processing fee's share of the gross, e.g. ``"0.05"`` (templated).
    :param flat_fee: the fee at or below ``flat_fee_max`` (templated).
    :param flat_fee_max: the gross at or below which the flat fee applies (templated).
    :param timezone: the merchant's time zone, whose midnights bound the business days.
    :param alerts_conn_id: the Apprise connection new issues are sent through, when it exists.
    """

    template_fields: Sequence[str] = (*FbCommerceOperator.template_fields, "lookback_days", *RECONCILE_SETTINGS)
    ui_color = "#fdf3dc"

    def __init__(
        self,
        *,
        lookback_days: int | str = DEFAULT_LOOKBACK_DAYS,
        sale_business_days: int | str = 3,
        refund_business_days: int | str = 3,
        payout_window_days: int | str = 7,
        tolerance: str = "0.00",
        fee_rate: str = "0.05",
        flat_fee: str = "0.40",
        flat_fee_max: str = "8.00",
        timezone: str = DEFAULT_TIMEZONE,
        alerts_conn_id: str = ALERTS_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lookback_days = lookback_days
        self.sale_business_days = sale_business_days
        self.refund_business_days = refund_business_days
        self.payout_window_days = payout_window_days
        self.tolerance = tolerance
        self.fee_rate = fee_rate
        self.flat_fee = flat_fee
        self.flat_fee_max = flat_fee_max
        self.timezone = timezone
        self.alerts_conn_id = alerts_conn_id

    def settings(self) -> Any:
        """The rules' settings, each read exactly or refused naming it."""
        from fb_commerce.finance.reconcile import ReconcileSettings
        from fb_commerce.settings import as_decimal

        return ReconcileSettings(
            sale_business_days=self.setting("sale_business_days", as_int, minimum=0),
            refund_business_days=self.setting("refund_business_days", as_int, minimum=0),
            payout_window_days=self.setting("payout_window_days", as_int, minimum=0),
            tolerance=self.setting("tolerance", as_decimal, places=2, minimum=0),
            fee_rate=self.setting("fee_rate", as_decimal, places=6, minimum=0, maximum=1),
            flat_fee=self.setting("flat_fee", as_decimal, places=2, minimum=0),
            flat_fee_max=self.setting("flat_fee_max", as_decimal, places=2, minimum=0),
        )

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, Any]:
        from fb_commerce.finance.reconcile import issue_line, open_issues, reconcile

        lookback = self.setting("lookback_days", as_int, minimum=0)
        settings = self.settings()
        start, end = run_window_of(context, self.timezone, lookback, self.log)
        run_id = str(context.get("run_id") or "")
        engine = self.warehouse()
        self.log.info(
            "Reconciling [%s, %s) (%s, %d look-back days) with %s", start, end, self.timezone, lookback, settings
        )
        result = reconcile(
            engine, window_start=start, window_end=end, timezone=self.timezone, run_id=run_id, settings=settings
        )
        for kind, counts in sorted(result.kinds.items()):
            self.log.info(
                "%-26s found %d (new %d), resolved %d, open %d",
                kind,
                counts.found,
                counts.new,
                counts.resolved,
                counts.open,
            )
        totals = result.totals()
        self.log.info(
            "Reconciliation of %s..%s: %d issues found (%d new), %d resolved; %d open in all",
            result.first_day,
            result.last_day,
            totals.found,
            totals.new,
            totals.resolved,
            totals.open,
        )
        headline = open_issues(engine, limit=HEADLINE_ISSUES)
        for issue in headline:
            self.log.info("Open: %s", issue_line(issue))
        if totals.new:
            self._notify(result, open_issues(engine, limit=HEADLINE_ISSUES, first_run_id=run_id))
        return result.as_dict()

    def _notify(self, result: Any, new_issues: list[dict[str, Any]]) -> None:
        """One notification for this run's new issues, when the alerts connection exists (else the log says it)."""
        from fb_commerce.finance.reconcile import issue_line
        from fb_commerce.notify import NotificationFailed, alerts_connection_exists, send_alert

        totals = result.totals()
        title = f"Finance reconciliation: {totals.new} new issue(s), {totals.open} open"
        if not alerts_connection_exists(self.alerts_conn_id):
            self.log.info("No notifier configured (connection %s): %s", self.alerts_conn_id, title)
            return
        body = "\n".join(issue_line(issue) for issue in new_issues) or "See fb_reconciliation_issues."
        try:
            send_alert(title, body, conn_id=self.alerts_conn_id)
        except NotificationFailed as exc:  # the issues are stored; the notification is a convenience
            self.log.warning("Could not send the reconciliation notification: %s", exc)


#: open issues the task log lists (largest difference first)
HEADLINE_ISSUES = 20


def run_window_of(context: Any, timezone: str, lookback: int, log: Any) -> tuple[dt.datetime, dt.datetime]:
    """The UTC window a run reads or checks: its data interval (the last complete day when it has none) in the
    merchant's time zone, plus the look-back."""
    from fb_commerce.finance.calendar import run_window

    return run_window(*run_interval_of(context, timezone, log), timezone, lookback)


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
        from fb_commerce.finance.journal import AccountMappingError, load_accounts
        from fb_commerce.finance.reports import HEADLINES, business_days, write_day_report
        from fb_commerce.settings import as_text

        accounts_file = self.setting("accounts_file", as_text, optional=True) or None
        try:
            load_accounts(accounts_file)  # a bad mapping fails before anything is written, naming the line
        except AccountMappingError as exc:
            fail_task(f"accounts_file: {exc}")
        interval_start, interval_end = run_interval_of(context, self.timezone, self.log)
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
