"""fb_setup_check: is everything in place to run the fb-commerce pipelines?"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from fb_commerce.dag_defaults import DEFAULT_ARGS, GRAPH_TASK_ARGS, START_DATE
from fb_commerce.operators.orders import CheckOrderAlertsOperator
from fb_commerce.operators.retry import GraphRetryPolicy
from fb_commerce.operators.setup_check import SetupCheckOperator

with DAG(
    dag_id="fb_setup_check",
    description="Checks connection, token, commerce account, order-management app, catalog, pool and warehouse",
    schedule="@daily",  # daily, so an expired token or a disabled shop alerts before the syncs fail
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["fb-commerce", "setup"],
    params={
        "register_order_management_app": Param(
            False, type="boolean", description="Register this app as the shop's order-management app if it is not"
        ),
        "freshness_minutes": Param(
            60,
            type="number",
            minimum=0,
            description="Alert when no orders pull succeeded for this long (0 = off); "
            "the Variable fb_orders_sync_freshness_minutes wins",
        ),
    },
    doc_md="""
### fb_setup_check

Runs every setup check and logs one line per check: **OK**, **WARN**, **FAIL** (with what to do) or **SKIP**.
Fails when a check fails, so Airflow alerts. The same checks run from a shell with `fb-commerce check`.

| check | what it looks at |
|---|---|
| connection | `fb_commerce_default` exists and has token, app secret, API version, CMS id and catalog id |
| token | `GET /me` answers, and `/me/permissions` has the commerce, catalog and business permissions |
| commerce account | `GET /{cms_id}`, its merchant status and setup status |
| order management app | `GET /{cms_id}/order_management_apps` is not empty (trigger with `register_order_management_app` to register) |
| catalog and feed | `GET /{catalog_id}` and, if set, `GET /{feed_id}` |
| pool | `fb_graph_api` exists (this task runs in it) |
| warehouse | `fb_commerce_warehouse` answers and its schema is at the latest migration (`fb-commerce db upgrade`) |

`check_sync_freshness` (after the checks passed) alerts (log line and notification through `fb_commerce_alerts`,
once, kept in `fb_alerts`) when no orders pull succeeded for `freshness_minutes` (the Variable
`fb_orders_sync_freshness_minutes` wins, as in `fb_orders_sync`), so a paused or never-run orders sync is noticed
daily; `fb_orders_sync`'s own alert task checks it on every run, even when its pull failed. Green when it
notified.
""",
) as dag:
    checks = SetupCheckOperator(
        task_id="run_checks",
        register_order_management_app="{{ params.register_order_management_app }}",
        retries=0,
        retry_policy=GraphRetryPolicy(),
        **GRAPH_TASK_ARGS,
    )
    freshness = CheckOrderAlertsOperator(
        task_id="check_sync_freshness",
        rules=["orders_sync_stale"],  # the order rules belong to fb_orders_sync's alert task
        retries=0,
        freshness_minutes="{{ var.value.get('fb_orders_sync_freshness_minutes', params.freshness_minutes) }}",
    )
    # After the checks, and only when they passed: the task opens (and may upgrade) the warehouse, which the
    # warehouse check must see as it is. fb_orders_sync's alert task checks freshness every run, failed or not.
    checks >> freshness
