"""fb_orders_sync: pull orders from Meta, give them a reference, acknowledge them, read back what Meta did."""

from __future__ import annotations

from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, AssetWatcher, CronTriggerTimetable, Param

from fb_commerce.dag_defaults import DEFAULT_ARGS, GRAPH_TASK_ARGS, START_DATE
from fb_commerce.operators.orders import (
    AcknowledgeOrdersOperator,
    CheckOrderAlertsOperator,
    PullOrdersOperator,
    ReadBackOrdersOperator,
)
from fb_commerce.operators.retry import GraphRetryPolicy
from fb_commerce.operators.run_state import watch_run
from fb_commerce.triggers.orders import NewOrdersTrigger

#: produced by pull_orders; consumers (e.g. reconciliation) schedule on it
STORED_ORDERS = Asset(name="fb_orders", uri="fb_commerce://warehouse/fb_orders")
#: a new CREATED order at Meta; the watcher's trigger polls for one every 20 s
NEW_ORDERS = Asset(
    name="fb_new_created_orders",
    uri="fb_commerce://graph/commerce_orders/created",
    watchers=[AssetWatcher(name="fb_new_created_orders", trigger=NewOrdersTrigger(poll_interval=20.0))],
)


def setting(name: str) -> str:
    """A template for one setting: the run's conf, else the Variable ``fb_orders_sync_<name>``, else the param."""
    return f"{{{{ (dag_run.conf or {{}}).get('{name}', var.value.get('fb_orders_sync_{name}', params.{name})) }}}}"


WINDOW = {name: setting(name) for name in ("overlap_minutes", "lookback_days", "page_size")}

with DAG(
    dag_id="fb_orders_sync",
    description="Orders from Meta into the warehouse, referenced and acknowledged; Meta's own changes read back",
    # Every 5 minutes (Meta's advice is to poll every 5-15 min), and also whenever the trigger sees a new order.
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("*/5 * * * *", timezone="UTC"), assets=[NEW_ORDERS]),
    start_date=START_DATE,
    catchup=False,  # a run reads everything since the watermark: past intervals have nothing of their own
    max_active_runs=1,  # runs must not race on the watermark, the reference counter or acknowledgements
    default_args=DEFAULT_ARGS,
    tags=["fb-commerce", "orders"],
    params={
        "overlap_minutes": Param(15, type="number", minimum=0, description="Minutes read again before the watermark"),
        "lookback_days": Param(30, type="number", minimum=0, description="How far back the first pull reads"),
        "page_size": Param(100, type="integer", minimum=1, maximum=100, description="Orders per page (Meta: 100)"),
        "reference_generator": Param(
            None,
            type=["null", "string"],
            description="Dotted path of a (order_row, number) -> str callable; empty gives FB-000123",
        ),
        "stuck_created_minutes": Param(60, type="number", minimum=0, description="Alert: CREATED longer (0 = off)"),
        "ship_by_warning_hours": Param(
            24, type="number", minimum=0, description="Alert: unshipped within this of ship-by (0 = off)"
        ),
        "return_unanswered_hours": Param(
            48, type="number", minimum=0, description="Alert: return REQUESTED longer (0 = off)"
        ),
        "freshness_minutes": Param(
            60, type="number", minimum=0, description="Alert: no successful orders pull for this long (0 = off)"
        ),
    },
    doc_md="""
### fb_orders_sync

Brings Meta's orders (Facebook and Instagram checkout) into the warehouse and hands them to the OMS. Nothing is lost
and nothing is done twice: reads are upserts behind a watermark with an overlap, writes carry deterministic
idempotency keys, and only orders already stored are acknowledged.

| task | what it does |
|---|---|
| `pull_orders` | `commerce_orders` in all four states (FB_PROCESSING is stored, never acted on), every field, 100 per page, `updated_after` = watermark - overlap (first run: now - lookback). Each page is upserted into `fb_orders` + `fb_order_items` in one transaction, where new orders also get their `merchant_order_reference` (Meta's if it has one, else the generator's). The watermark (`fb_sync_state.orders`, Meta's newest `last_updated` stored) moves only after the last page is committed. Emits the asset `fb_commerce://warehouse/fb_orders`. |
| `acknowledge_orders` | Stored CREATED orders with a reference and no `acknowledged_at`, ≤100 per `acknowledge_orders` call, key = hash of the batch (ids, references, stored `last_updated`) + generation, so a retry or rerun replays. Per-order results: `acknowledged_at` and the new state, or the error code and message (`acknowledge_error_*`). When an order is still FB_PROCESSING Meta refuses the whole call: the rest is sent again with a new key (generation + 1). |
| `read_back_orders` | Orders with `filters=has_cancellations` and `has_refunds` (all their edges) and acknowledged orders that changed (shipments, returns), edges read inline, upserted into `fb_cancellations`, `fb_refunds`, `fb_shipments`, `fb_returns`; own watermark `fb_sync_state.orders_read_back`. Once an hour the two filtered listings sweep the last 30 days instead, because a refund or partial cancellation need not change an order's status (what `updated_after` follows). Runs even if acknowledging failed. |
| `check_order_alerts` | Alerts when an order stayed CREATED unacknowledged longer than `stuck_created_minutes`, an IN_PROGRESS order with no shipment is within `ship_by_warning_hours` of the end of its ship-by day, a return stayed REQUESTED longer than `return_unanswered_hours`, or no orders pull succeeded for `freshness_minutes`. Each alert is a log line and a notification through the connection `fb_commerce_alerts` (Apprise: e-mail, Slack, webhooks; absent: log lines only), sent **once** (kept in `fb_alerts`), plus one daily digest of those still open. Green when it notified; fails only when it could not. Runs after the others whatever they did; never retried. |
| `watcher` | Skipped when every task succeeded; fails, and so fails the run, when any task failed (the tasks above that run anyway do not hide a failed sync). |

**Schedule**: every 5 minutes (cron, UTC) **or** when the asset `fb_commerce://graph/commerce_orders/created` gets an
event: its `AssetWatcher` runs `NewOrdersTrigger` in the triggerer, which asks Meta every 20 s for one CREATED order
updated since the last it saw, so a new order is acknowledged within about a minute. No catchup, one active run.

**Settings** (a run's conf wins, then the Variable `fb_orders_sync_<name>`, then the default):

| name | default | what |
|---|---|---|
| `overlap_minutes` | 15 | minutes read again before the watermark (orders Meta lists late) |
| `lookback_days` | 30 | how far back the first run reads |
| `page_size` | 100 | orders per page (Meta's maximum) |
| `reference_generator` | not set (`FB-000123`) | dotted path of a `(order_row, number) -> str` function of an installed package; only the Variable or this param's default in the DAG file, never a run's conf (a run asking for another one fails) |
| `stuck_created_minutes` | 60 | alert threshold for CREATED orders (0 = off) |
| `ship_by_warning_hours` | 24 | alert threshold before the ship-by day ends (0 = off) |
| `return_unanswered_hours` | 48 | alert threshold for returns still REQUESTED (0 = off) |
| `freshness_minutes` | 60 | alert when no orders pull succeeded for this long (0 = off); `fb_setup_check` checks it daily too |

Graph tasks run in the `fb_graph_api` pool and retry with back-off; when Meta asks to wait minutes the attempt ends
and the retry waits that long (`GraphRetryPolicy`). Connections: `fb_commerce_default`, `fb_commerce_warehouse`.
""",
) as dag:
    pull = PullOrdersOperator(
        task_id="pull_orders",
        outlets=[STORED_ORDERS],
        retry_policy=GraphRetryPolicy(),
        **WINDOW,
        **GRAPH_TASK_ARGS,
    )
    acknowledge = AcknowledgeOrdersOperator(
        task_id="acknowledge_orders", retry_policy=GraphRetryPolicy(), **GRAPH_TASK_ARGS
    )
    read_back = ReadBackOrdersOperator(
        task_id="read_back_orders",
        trigger_rule="all_done",  # Meta's own cancellations and refunds matter even when acknowledging failed
        retry_policy=GraphRetryPolicy(),
        **WINDOW,
        **GRAPH_TASK_ARGS,
    )
    alerts = CheckOrderAlertsOperator(
        task_id="check_order_alerts",
        trigger_rule="all_done",  # stuck orders are most worth knowing about when something upstream failed
        retries=0,
        stuck_created_minutes=setting("stuck_created_minutes"),
        ship_by_warning_hours=setting("ship_by_warning_hours"),
        return_unanswered_hours=setting("return_unanswered_hours"),
        freshness_minutes=setting("freshness_minutes"),
    )
    pull >> acknowledge >> read_back >> alerts
    watch_run(dag)  # the all_done tasks above must not make a failed run look green
