"""fb_inventory_sync: stock and price changes between feeds, as Catalog Batch API deltas every 15 minutes."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from fb_commerce.dag_defaults import DEFAULT_ARGS, GRAPH_TASK_ARGS, START_DATE
from fb_commerce.operators.inventory_sync import InventorySyncOperator
from fb_commerce.operators.retry import GraphRetryPolicy

with DAG(
    dag_id="fb_inventory_sync",
    description="Sends the stock and price changes since Meta last accepted them through items_batch",
    schedule="*/15 * * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,  # a run settles what the previous one sent before it computes its own delta
    default_args=DEFAULT_ARGS,
    tags=["fb-commerce", "catalog"],
    params={
        "batch_size": Param(
            3000,
            type="integer",
            minimum=1,
            maximum=5000,
            description="Changes per items_batch call (Meta allows 5000 and advises staying under 3000)",
        ),
    },
    doc_md="""
### fb_inventory_sync

Every 15 minutes, sends Meta what changed in stock and price since it last accepted them.

1. Handles an earlier run sent but did not settle (a killed or throttled task) are awaited and settled first.
   Then the products of orders whose cancellation restocked them at Meta (`fb_cancellations`, or
   `fb_cancellation_requests` sent with `restock_items`) are read back from the catalog, so the delta corrects
   the quantities Meta raised by itself.
2. The delta between `include/sql/catalog/inventory_source.sql` (quantity_to_sell_on_facebook, availability,
   price, sale_price per product) and **fb_catalog_sync_state** is computed in one SQL statement: UPDATE for changed
   products, DELETE for products gone from the source. Products Meta does not have yet are left to
   `fb_catalog_feed`, which sends them with all their fields (the log counts them). Nothing changed: no call.
   Each changed product's values are checked by the feed's rule table; a value that breaks a rule (a price with
   too many decimals, zero or text; a stock that is not a whole number; ...) is refused, never rounded: the
   product is stored as failed in **fb_batch_request_items** (handle `refused:<run id>`) with each bad column and
   its value, and the rest goes on.
3. The changes go out through `items_batch` (PRODUCT_ITEM) in calls of at most `batch_size` requests and 27 MB,
   each recorded in **fb_batch_requests** / **fb_batch_request_items** before and after it is sent.
4. The task **defers** until every handle finished (no worker held), then marks each item synced, failed with
   Meta's message (`ids_of_invalid_requests`), or not_applied when a per-item warning says a value was ignored;
   only synced items update **fb_catalog_sync_state**. The others stay different and go out again next run (the
   log lists them). A sale that ended goes out as `sale_price: null`.

Meta's Catalog Batch throttle (80014): the client backs off; when Meta asks for a long wait the task ends and Airflow
retries it after that wait. A rerun never sends twice what was settled, and re-sending an unconfirmed call is
harmless: every request carries absolute values.
""",
) as dag:
    InventorySyncOperator(
        task_id="sync_inventory",
        batch_size="{{ params.batch_size }}",
        retry_policy=GraphRetryPolicy(),
        **GRAPH_TASK_ARGS,
    )
