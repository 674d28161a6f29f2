"""Operators of the fb_order_updates DAG: thin glue between Airflow and the outbox drain
(:mod:`fb_commerce.orders.updates.send`). Heavy imports happen inside ``execute`` so DAG files parse fast."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fb_commerce.operators.base import releases_warehouse
from fb_commerce.operators.orders import OrdersOperator
from fb_commerce.settings import as_int

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from fb_commerce.orders.updates.send import DrainResult


def _log_counts(operator: OrdersOperator, result: DrainResult, engine: Engine) -> None:
    """One info line per request kind, then what is left in each outbox table."""
    from fb_commerce.orders.updates.outbox import describe_status_counts, status_counts

    for line in result.lines():
        operator.log.info("%s", line)
    with engine.connect() as conn:
        for line in describe_status_counts(status_counts(conn)):
            operator.log.info("%s", line)


class ValidateOrderUpdatesOperator(OrdersOperator):
    """Checks every pending outbox request against its stored order and marks the invalid ones failed, with a
    message naming the row and the column, without calling Meta. Returns the counts per request kind."""

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, Any]:
        from fb_commerce.orders.updates.send import reject_invalid

        engine = self.warehouse()
        result = reject_invalid(engine)
        _log_counts(self, result, engine)
        return result.as_dict()


class SendOrderUpdatesOperator(OrdersOperator):
    """Drains the outbox: each order in turn, its shipments, tracking updates, cancellations and refunds in
    queue order, each checked again and then sent with its idempotency key (:mod:`fb_commerce.orders.updates.send`).

    Rule errors fail their row, not the task; temporary errors leave the row pending for the next run. When
    Meta asks to wait for minutes, the counts are logged and the task ends with that error, so that the retry
    policy retries it once access is back.
    """

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, Any]:
        from fb_commerce.orders.updates.send import drain

        engine = self.warehouse()
        hook = self.graph()
        try:
            result = drain(engine, hook.client.post)
            _log_counts(self, result, engine)
        finally:
            hook.log_summary()
        if result.stopped_by is not None:
            raise result.stopped_by
        return result.as_dict()


class OrderUpdatesSummaryOperator(OrdersOperator):
    """Logs the outbox rows per table and status, and fails (so Airflow alerts) when a request is still
    pending after ``stuck_after_attempts`` attempts, listing those rows.

    :param stuck_after_attempts: attempts after which a pending request counts as stuck (templated).
    """

    template_fields: Sequence[str] = (*OrdersOperator.template_fields, "stuck_after_attempts")

    def __init__(self, *, stuck_after_attempts: int | str = 12, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stuck_after_attempts = stuck_after_attempts

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, dict[str, int]]:
        from fb_commerce.orders.updates.outbox import describe_status_counts, status_counts, stuck_requests

        engine = self.warehouse()
        limit = self.setting("stuck_after_attempts", as_int)
        with engine.connect() as conn:
            counts = status_counts(conn)
            stuck = stuck_requests(conn, limit)
        for line in describe_status_counts(counts):
            self.log.info("%s", line)
        if stuck:
            from airflow.sdk.exceptions import AirflowFailException

            for request in stuck:
                self.log.error(
                    "%s (order %s): still pending after %d attempts: %s",
                    request.name,
                    request.order_id,
                    request.attempts,
                    request.last_error_message,
                )
            raise AirflowFailException(
                f"{len(stuck)} outbox request(s) still pending after {limit} attempts or more (see above); "
                "Meta keeps answering with a temporary error: check the connection and metastatus.com"
            )
        return counts
