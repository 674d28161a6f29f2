"""Operators of the fb_orders_sync DAG: thin glue between Airflow and :mod:`fb_commerce.orders`.

Each one opens the warehouse (upgrading or refusing an old schema first), calls one domain function, logs what it
did in counts and returns the counts (XCom). Heavy imports happen inside ``execute`` so DAG files parse fast.
Numeric settings are template fields, so a DAG can take them from params, run conf or Variables (the reference
generator, which is code, is not: see ``PullOrdersOperator``).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any

from fb_commerce.defaults import ALERTS_CONN_ID
from fb_commerce.operators.base import FbCommerceOperator, releases_warehouse
from fb_commerce.settings import as_int, as_number


class OrdersOperator(FbCommerceOperator):
    """Shared by the order operators (fb_orders_sync and fb_order_updates)."""

    ui_color = "#e7f0fd"


class _PullSettingsOperator(OrdersOperator):
    """An operator that reads an incremental window: overlap, first-run lookback and page size."""

    template_fields: Sequence[str] = (*OrdersOperator.template_fields, "overlap_minutes", "lookback_days", "page_size")

    def __init__(
        self,
        *,
        overlap_minutes: float | str = 15,
        lookback_days: float | str = 30,
        page_size: int | str = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.overlap_minutes = overlap_minutes
        self.lookback_days = lookback_days
        self.page_size = page_size

    def window(self) -> dict[str, Any]:
        """The keyword arguments of the domain function: overlap, lookback and page size."""
        return {
            "overlap": dt.timedelta(minutes=self.setting("overlap_minutes", as_number)),
            "lookback": dt.timedelta(days=self.setting("lookback_days", as_number)),
            "page_size": self.setting("page_size", as_int),
        }


#: the DAG param whose declared default names the reference generator
REFERENCE_GENERATOR_PARAM = "reference_generator"


def _declared_default(dag: Any, name: str) -> str | None:
    """The default a DAG file declares for param ``name`` (None when there is none)."""
    params = getattr(dag, "params", None)
    if params is None or name not in params:
        return None
    value = params.get_param(name).value
    return value if isinstance(value, str) else None


class PullOrdersOperator(_PullSettingsOperator):
    """Pulls every order changed since the watermark into fb_orders and fb_order_items, giving new orders their
    merchant_order_reference in the same transaction, then moves the watermark.

    The reference generator is code run in the worker, so whoever triggers a run does not choose it: it is the
    Airflow Variable ``reference_generator_variable`` when set, else the default the DAG file declares for its
    ``reference_generator`` param, read when the DAG is parsed (at run time Airflow writes a run's conf into the
    same params, so neither ``{{ params... }}`` nor ``context["params"]`` can be trusted for it). A run whose conf
    asks for another generator fails before anything is pulled. See
    :func:`fb_commerce.orders.reference.load_generator` for which functions are accepted.

    :param overlap_minutes: minutes read again before the watermark (templated).
    :param lookback_days: how far back the first pull reads (templated).
    :param page_size: orders per page, at most 100 (templated).
    :param reference_generator_variable: the Variable that may name the generator.
    """

    def __init__(
        self, *, reference_generator_variable: str = "fb_orders_sync_reference_generator", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.reference_generator_variable = reference_generator_variable
        # Taken now, when the DAG file is parsed: later the Param object holds the run's conf.
        self.declared_reference_generator = _declared_default(self.dag, REFERENCE_GENERATOR_PARAM)

    def reference_generator(self, context: Any) -> Any:
        """The configured generator; fails the task (no retry) when the run asks for another or it is refused."""
        from airflow.sdk import Variable
        from airflow.sdk.exceptions import AirflowFailException

        from fb_commerce.orders.reference import ReferenceGeneratorError, load_generator

        declared = (self.declared_reference_generator or "").strip()
        conf = getattr(context.get("dag_run"), "conf", None) or {}
        asked = conf.get(REFERENCE_GENERATOR_PARAM)
        if asked is not None and str(asked).strip() != declared:
            raise AirflowFailException(
                f"this run's conf sets {REFERENCE_GENERATOR_PARAM}={str(asked)[:100]!r}: the reference generator "
                "is not chosen per run; set the Variable "
                f"{self.reference_generator_variable!r} or the DAG's param default instead"
            )
        path = (Variable.get(self.reference_generator_variable, default=None) or "").strip() or declared
        try:
            generator = load_generator(path)
        except ReferenceGeneratorError as exc:
            raise AirflowFailException(str(exc)) from None
        self.log.info("Reference generator: %s", path or "the default (FB-000123)")
        return generator

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, Any]:
        from fb_commerce.orders.pull import pull_orders

        generator = self.reference_generator(context)
        engine = self.warehouse()
        hook = self.graph()
        try:
            result = pull_orders(hook.client, engine, hook.cms_id, generator=generator, **self.window())
        finally:
            hook.log_summary()
        self.log.info(
            "Pulled %d pages: %d orders (%d new, %d updated at Meta), %d items; %d new references, %d taken from "
            "Meta; %d earlier acknowledgements found applied at Meta",
            result.pages,
            result.orders,
            result.new,
            result.updated,
            result.items,
            result.references,
            result.adopted,
            result.confirmed,
        )
        self.log.info("Window: updated after %s; watermark now %s", result.updated_after, result.watermark)
        return result.as_dict()


class AcknowledgeOrdersOperator(OrdersOperator):
    """Acknowledges the stored CREATED orders that have a reference, in batches of at most 100, recording
    acknowledged_at or the error per order."""

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, Any]:
        from fb_commerce.orders.acknowledge import acknowledge_orders

        engine = self.warehouse()
        hook = self.graph()
        try:
            result = acknowledge_orders(hook.client, engine, hook.cms_id)
        finally:
            hook.log_summary()
        self.log.info(
            "Acknowledged %d of %d waiting orders in %d calls; %d failed",
            result.acknowledged,
            result.pending,
            result.calls,
            result.failed,
        )
        for code, count in sorted(result.errors.items()):
            self.log.warning("%d orders not acknowledged: error %s (recorded on each order)", count, code)
        return result.as_dict()


class ReadBackOrdersOperator(_PullSettingsOperator):
    """Reads back the cancellations, refunds, shipments and returns of changed orders, including what Meta did
    itself, into fb_cancellations, fb_refunds, fb_shipments and fb_returns."""

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, Any]:
        from fb_commerce.orders.readback import read_back

        engine = self.warehouse()
        hook = self.graph()
        try:
            result = read_back(hook.client, engine, hook.cms_id, **self.window())
        finally:
            hook.log_summary()
        for listing, count in result.orders.items():
            self.log.info("Orders %s: %d", listing, count)
        self.log.info(
            "Read back in %d pages (+%d edge calls): %s",
            result.pages,
            result.edge_calls,
            ", ".join(f"{n} rows {t}" for t, n in result.rows.items()),
        )
        return result.as_dict()


class CheckOrderAlertsOperator(OrdersOperator):
    """Finds what needs a person (orders stuck in CREATED, ship-by dates at risk, returns unanswered, an orders
    sync gone stale), records it in fb_alerts and notifies each alert once through the alerts connection, with a
    daily digest of those still open. Alerts are log lines and notifications: the task is green when it told
    someone, and fails only when it could not (warehouse, notifier).

    :param stuck_created_minutes: alert on orders CREATED for longer than this; 0 turns the rule off (templated).
    :param ship_by_warning_hours: alert on unshipped orders whose ship-by day ends within this; 0 turns the rule
        off (templated).
    :param return_unanswered_hours: alert on returns REQUESTED for longer than this; 0 turns it off (templated).
    :param freshness_minutes: alert when no orders pull succeeded for this long; 0 turns it off (templated).
    :param rules: the rules this task looks after (default: all); open alerts of other rules are left alone.
    :param alerts_conn_id: the Apprise connection alerts go to; absent: log lines only (templated).
    """

    template_fields: Sequence[str] = (
        *OrdersOperator.template_fields,
        "stuck_created_minutes",
        "ship_by_warning_hours",
        "return_unanswered_hours",
        "freshness_minutes",
        "alerts_conn_id",
    )

    def __init__(
        self,
        *,
        stuck_created_minutes: float | str = 60,
        ship_by_warning_hours: float | str = 24,
        return_unanswered_hours: float | str = 48,
        freshness_minutes: float | str = 60,
        rules: Sequence[str] | None = None,
        alerts_conn_id: str = ALERTS_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.stuck_created_minutes = stuck_created_minutes
        self.ship_by_warning_hours = ship_by_warning_hours
        self.return_unanswered_hours = return_unanswered_hours
        self.freshness_minutes = freshness_minutes
        self.rules = tuple(rules) if rules else None
        self.alerts_conn_id = alerts_conn_id

    def thresholds(self) -> dict[str, dt.timedelta | None]:
        """Each rule's threshold (None: off), from the settings."""
        from fb_commerce.orders import alerts

        def threshold(name: str, unit: str) -> dt.timedelta | None:
            value = self.setting(name, as_number)
            return dt.timedelta(**{unit: value}) if value > 0 else None

        return {
            alerts.STUCK_CREATED: threshold("stuck_created_minutes", "minutes"),
            alerts.SHIP_BY_AT_RISK: threshold("ship_by_warning_hours", "hours"),
            alerts.RETURN_UNANSWERED: threshold("return_unanswered_hours", "hours"),
            alerts.SYNC_STALE: threshold("freshness_minutes", "minutes"),
        }

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, int]:
        from fb_commerce.orders import alerts
        from fb_commerce.orders.alert_state import notify_round

        rules = self.rules or alerts.RULES
        thresholds = {rule: value for rule, value in self.thresholds().items() if rule in rules}
        engine = self.warehouse()
        now = dt.datetime.now(dt.UTC)
        found = alerts.check_orders(
            engine,
            now=now,
            stuck_after=thresholds.get(alerts.STUCK_CREATED),
            ship_within=thresholds.get(alerts.SHIP_BY_AT_RISK),
            return_unanswered=thresholds.get(alerts.RETURN_UNANSWERED),
            freshness=thresholds.get(alerts.SYNC_STALE),
        )
        # a rule turned off is checked all the same, finding nothing: its open alerts are resolved
        result = notify_round(engine, found, rules=rules, now=now, send=self._sender())
        for alert in result.new:
            self.log.warning("New alert: %s", alert.line())
        if result.digest:
            self.log.info("Daily digest sent: %d alerts still open", len(result.digest))
        self.log.info(
            "%d alerts open (%s), %d new, %d resolved",
            result.open,
            ", ".join(f"{sum(a.rule == r for a in found)} {alerts.LABELS[r]}" for r in rules),
            len(result.new),
            result.resolved,
        )
        return {"open": result.open, "new": len(result.new), "resolved": result.resolved, "digest": len(result.digest)}

    def _sender(self) -> Callable[[str, str], None]:
        """Sends through the alerts connection; without it, the log is the only notification."""
        from fb_commerce.notify import alerts_connection_exists, send_alert

        if alerts_connection_exists(self.alerts_conn_id):
            return functools.partial(send_alert, conn_id=self.alerts_conn_id)

        def log_only(title: str, body: str) -> None:
            self.log.warning(
                "No notifier configured (connection %s): alerts are log lines only. %s", self.alerts_conn_id, title
            )

        return log_only
