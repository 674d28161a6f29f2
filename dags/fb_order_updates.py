"""fb_order_updates: shipments, tracking updates, cancellations and refunds from the OMS outbox to Meta."""

from __future__ import annotations

from airflow.sdk import DAG, CronTriggerTimetable, Param

from fb_commerce.dag_defaults import DEFAULT_ARGS, GRAPH_TASK_ARGS, START_DATE
from fb_commerce.operators.order_updates import (
    OrderUpdatesSummaryOperator,
    SendOrderUpdatesOperator,
    ValidateOrderUpdatesOperator,
)
from fb_commerce.operators.retry import GraphRetryPolicy

with DAG(
    dag_id="fb_order_updates",
    description="Sends the OMS's shipments, tracking updates, cancellations and refunds (outbox tables) to Meta",
    schedule=CronTriggerTimetable("*/5 * * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,  # one drain at a time: writes to an order are serialised
    default_args=DEFAULT_ARGS,
    tags=["fb-commerce", "orders", "outbox"],
    params={
        "stuck_after_attempts": Param(
            12,
            type="integer",
            minimum=1,
            description="summary fails when a request is still pending after this",
        ),
    },
    doc_md="""
### fb_order_updates

Every 5 minutes, sends what the merchant's OMS queued in the **outbox tables** to Meta, and records the outcome
on each row. Tasks: `validate` (rejects invalid rows, no call) → `send` (calls Meta) → `summary` (counts; fails
when a row is stuck).

#### The outbox contract (for the OMS)

The OMS inserts one row per request into `fb_shipment_requests` (`request_type` `ship` or `update_tracking`),
`fb_cancellation_requests` or `fb_refund_requests`, with `status` left at `pending`, and reads the outcome back
from the same row (`sent`, or `failed` with the column or Meta's code named; `pending` with a reason while it
waits for a retry or for another request of its order). The columns, how each is read, the order of sending,
the statuses and how to retry a failed row: `docs/outbox-contract.md` in the project's repository.

#### Settings

Runs in the `fb_graph_api` pool. Temporary errors are retried by the Graph client (backoff, and 2361050 / 2361081
for writes on a busy order); when Meta asks to wait for minutes, `send` ends and is retried after that wait.
`summary` fails when a row is still pending after `stuck_after_attempts` attempts (param, default 12: about
an hour).
""",
) as dag:
    validate = ValidateOrderUpdatesOperator(task_id="validate")
    send = SendOrderUpdatesOperator(task_id="send", retry_policy=GraphRetryPolicy(), **GRAPH_TASK_ARGS)
    summary = OrderUpdatesSummaryOperator(
        task_id="summary", stuck_after_attempts="{{ params.stuck_after_attempts }}", retries=0
    )
    validate >> send >> summary
