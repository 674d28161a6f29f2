"""fb_cs_update_tracking: customer service changes a shipment's carrier and tracking number from the trigger form."""

from __future__ import annotations

from airflow.sdk import DAG

from fb_commerce.dag_defaults import DEFAULT_ARGS, GRAPH_TASK_ARGS, START_DATE
from fb_commerce.operators.cs import SendActionOperator, SubmitActionOperator, form_params
from fb_commerce.operators.retry import GraphRetryPolicy

with DAG(
    dag_id="fb_cs_update_tracking",
    description="Change a shipment's carrier and tracking number (customer service): the trigger form is the input",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["fb-commerce", "customer-service"],
    params=form_params("update_tracking"),
    doc_md="""
### fb_cs_update_tracking

**Trigger with config**: give the order (Meta's id or the merchant reference), the shipment (Meta's shipment id or
the external id the OMS gave it), the carrier code and the new tracking number.

Tasks: `submit` (the same checks as the outbox: the shipment is the order's, the number is not another
shipment's; then an `update_tracking` row in `fb_shipment_requests`) → `send` (sends the order's queue with
fb_order_updates' drain and says whether Meta took it). Every step is in `fb_cs_actions`. The same form
triggered twice is sent once. An empty form does nothing (skipped); red means not done. See
docs/customer-service.md.
""",
) as dag:
    submit = SubmitActionOperator(
        task_id="submit", action_type="update_tracking", retry_policy=GraphRetryPolicy(), **GRAPH_TASK_ARGS
    )
    send = SendActionOperator(task_id="send", retry_policy=GraphRetryPolicy(), **GRAPH_TASK_ARGS)
    submit >> send
