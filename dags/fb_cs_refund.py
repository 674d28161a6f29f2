"""fb_cs_refund: customer service refunds an order from Airflow's trigger form (checked, approved, sent, audited)."""

from __future__ import annotations

from airflow.sdk import DAG

from fb_commerce.dag_defaults import DEFAULT_ARGS, GRAPH_TASK_ARGS, START_DATE
from fb_commerce.operators.cs import (
    CheckRefundOperator,
    RefundApprovalOperator,
    SendActionOperator,
    SubmitActionOperator,
    form_params,
)
from fb_commerce.operators.retry import GraphRetryPolicy

with DAG(
    dag_id="fb_cs_refund",
    description="Refund shipped items or shipping of an order (customer service): the trigger form is the input",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["fb-commerce", "customer-service"],
    params=form_params("refund"),
    doc_md="""
### fb_cs_refund

**Trigger with config**: the form is the refund. Give the order (Meta's id or the merchant reference), then either
*Full refund*, or the items (one per line: `SKU-1 2` for two units, `SKU-1 12.50` for an amount before tax) and/or a
shipping refund; a return-shipping deduction, the reason, a message to the buyer and the return it settles.

Tasks: `check_refund` (the same checks as the outbox, against Meta's state now: only shipped units, never more than
was paid; nothing is queued) → `approve` (refunds above the Airflow Variable `fb_cs_refund_approval_amount`,
default 100.00 in the order's currency, wait in *Required actions* for a second person; below it, passes at once)
→ `submit` (checks again, queues the row in `fb_refund_requests`) → `send` (sends the order's queue with
fb_order_updates' drain and says whether Meta took it).

Every step is in `fb_cs_actions` (who triggered, who approved, the form, the outbox row, Meta's answer).
The same form triggered twice is sent once; to repeat a refund on purpose, write a new *Repeat key*.
An empty form does nothing (skipped). Red means not done: refused (the reasons are in the log), refused by Meta,
or still pending after retries (fb_order_updates keeps sending it). A declined refund ends green, with the
decision recorded. See docs/customer-service.md.
""",
) as dag:
    check = CheckRefundOperator(
        task_id="check_refund",
        approval_amount="{{ var.value.get('fb_cs_refund_approval_amount', '100.00') }}",
        retry_policy=GraphRetryPolicy(),
        **GRAPH_TASK_ARGS,
    )
    approve = RefundApprovalOperator(
        task_id="approve",
        subject="Approve a refund of {{ ti.xcom_pull(task_ids='check_refund')['amount'] }}",
        body="{{ ti.xcom_pull(task_ids='check_refund')['summary'] }}",
        retries=0,
    )
    submit = SubmitActionOperator(
        task_id="submit", action_type="refund", retry_policy=GraphRetryPolicy(), **GRAPH_TASK_ARGS
    )
    send = SendActionOperator(task_id="send", retry_policy=GraphRetryPolicy(), **GRAPH_TASK_ARGS)
    check >> approve >> submit >> send
