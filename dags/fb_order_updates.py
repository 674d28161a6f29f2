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

Insert one row per request, with `status` left to its default `pending`:

| table | one row is | columns the OMS fills |
|---|---|---|
| `fb_shipment_requests`, `request_type = 'ship'` | a shipment | `request_id`, `order_id`, `items` (JSON `[{"retailer_id" or "item_id", "quantity"}]`, or NULL for everything left to ship), `carrier` (Meta's carrier code, any case, `other` allowed), `tracking_number` (one per shipment, never reused), `shipping_method`, `external_shipment_id` (`[A-Za-z0-9_]`), optional `fulfillment_location_id` **or** `fulfillment_address` (JSON `{street_1, street_2, city, state, country, postal_code}`) |
| `fb_shipment_requests`, `request_type = 'update_tracking'` | new tracking for a shipment | `request_id`, `order_id`, `external_shipment_id` or `shipment_id` (Meta's), `carrier`, `tracking_number`, `shipping_method` |
| `fb_cancellation_requests` | a cancellation of unshipped units | `request_id`, `order_id`, `items` (as above, NULL = the whole order, only while nothing shipped), `reason_code` (`CUSTOMER_REQUESTED`, `OUT_OF_STOCK`, `INVALID_ADDRESS`, `SUSPICIOUS_ORDER`, `CANCEL_REASON_OTHER`; NULL sends `CANCEL_REASON_OTHER`), `reason_description`, `restock_items` |
| `fb_refund_requests` | a refund of shipped units | `request_id`, `order_id`, `items` (JSON `[{"retailer_id" or "item_id", "quantity" or "amount"}]`, amounts before tax; NULL = everything shipped and not refunded, with the shipping), `currency` (the order's; NULL = the order's), `shipping_refund`, `return_shipping_deduction`, `reason_code` (`BUYERS_REMORSE`, `DAMAGED_GOODS`, `NOT_AS_DESCRIBED`, `QUALITY_ISSUE`, `REFUND_REASON_OTHER`, `WRONG_ITEM`, `FACEBOOK_INITIATED`; required), `reason_text` (shown to the buyer), `return_id` |

- **`request_id`** is the OMS's own id for the request, unique in its table. Meta's idempotency key is derived
  from it and the payload, so a retried or rerun task replays the first answer instead of shipping twice.
- **Order of sending**: per order, every pending request of the three tables goes in `created_at` order, one at a
  time; requests with the same `created_at` (one transaction on PostgreSQL) go cancellations, then shipments,
  then tracking updates, then refunds, then by `request_id`. Give rows distinct `created_at` when their order
  matters otherwise.

**Columns are read one by one** (SQLite keeps any type and length): a value that cannot be read exactly (text in
an amount, an unparseable timestamp, bytes that are not UTF-8, a control character, a text longer than its limit,
`restock_items` other than `true`/`false`/`1`/`0`) fails its row with the column named; the other rows go on.
Limits: `tracking_number` and `external_shipment_id` 100, `carrier`, `reason_code` and `request_type` 64,
`currency` 3, `reason_text` and `reason_description` 1000, other text columns 255 (see the README's table).

**Requests that need another one**: a request refused as things stand that would pass once another request of
its order is applied (a tracking update of a shipment still queued or retrying, a refund of units whose shipment
is) waits for it: it stays `pending` with the reason in `last_error_message`, and goes in the same run as soon as
that one is sent. It fails only when what it needs failed, and its message names that row.

What the pipeline writes back:

| `status` | meaning | columns |
|---|---|---|
| `pending` | not sent yet, or sent and answered with a temporary error (`attempts` > 0, `last_error_*` set): the next run sends it again with the same key. A later request of the same order waits behind it (`attempts` = 0, `last_error_message` says what it waits for). | `attempts`, `idempotency_key`, `last_error_code`, `last_error_message`, `updated_at` |
| `sent` | Meta accepted it | `sent_at`, `response` (Meta's answer), `attempts`, `idempotency_key` |
| `failed` | final. `attempts = 0` and no `last_error_code`: rejected by the checks before any call (the message names the row and the column, e.g. `items[1].quantity`). Otherwise Meta refused it: `last_error_code` is Meta's commerce code (e.g. 2382045 duplicate tracking number) and `last_error_message` its message. | `last_error_code`, `last_error_message`, `response` |

**Retrying a failed row: queue a new row with a new `request_id`** and the corrected values; the failed row stays
as the record of what happened. Never set a failed row back to `pending`: its idempotency key would replay Meta's
refusal, or, with edited values, be refused as a reused key. Do not edit or delete a row once `attempts` > 0
(Meta may have applied it); rows with `attempts = 0` may still be changed or deleted.

#### Checks before any call

The order is in `fb_orders` and its state allows the request (ship: IN_PROGRESS; cancel: not FB_PROCESSING,
unshipped units only; refund: shipped units only); quantities are not above what is left to ship, cancel or
refund, counting what Meta applied since the last orders sync and the earlier requests of this run; items exist
in the order, by `retailer_id` or `item_id` (one kind per request, each item once); reason codes and carriers are
Meta's; the tracking number is one number not used by another shipment or request; `external_shipment_id` is
`[A-Za-z0-9_]` and new on the order; amounts are positive, in the order's currency, and a shipping refund is not
above the shipping charged and not refunded.

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
