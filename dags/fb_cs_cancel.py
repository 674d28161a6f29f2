"""fb_cs_cancel: customer service cancels items or a whole order from Airflow's trigger form."""

from __future__ import annotations

from airflow.sdk import DAG

from fb_commerce.dag_defaults import DEFAULT_ARGS, GRAPH_TASK_ARGS, START_DATE
from fb_commerce.operators.cs import SendActionOperator, SubmitActionOperator, form_params
from fb_commerce.operators.retry import GraphRetryPolicy

with DAG(
    dag_id="fb_cs_cancel",
    description="Cancel unshipped items or a whole order (customer service): the trigger form is the input",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["fb-commerce", "customer-service"],
    params=form_params("cancel"),
    doc_md="""
### fb_cs_cancel

**Trigger with config**: give the order (Meta's id or the merchant reference), then *Whole order* (only while
nothing shipped) or the items to cancel (one per line: `SKU-1 1`), whether to restock them, and the reason.

Tasks: `submit` (the same checks as the outbox, against Meta's state now: only unshipped units, never after
shipping; then the row in `fb_cancellation_requests`) → `send` (sends the order's queue with fb_order_updates'
drain and says whether Meta took it). Every step is in `fb_cs_actions`. The same form triggered twice is sent
once. An empty form does nothing (skipped); red means not done (refused, with the reasons in the log, or refused
by Meta). See docs/customer-service.md.
""",
) as dag:
    submit = SubmitActionOperator(
        task_id="submit", action_type="cancel", retry_policy=GraphRetryPolicy(), **GRAPH_TASK_ARGS
    )
    send = SendActionOperator(task_id="send", retry_policy=GraphRetryPolicy(), **GRAPH_TASK_ARGS)
    submit >> send
