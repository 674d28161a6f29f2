"""fb_finance_nightly: Meta's payouts and transactions into the warehouse, reconciled to the cent, and the day's
finance reports, one run per business day."""

from __future__ import annotations

from airflow.sdk import DAG, Asset, Param
from airflow.timetables.interval import CronDataIntervalTimetable

from fb_commerce.dag_defaults import DEFAULT_ARGS, GRAPH_TASK_ARGS
from fb_commerce.finance.calendar import DEFAULT_LOOKBACK_DAYS, finance_start, merchant_timezone
from fb_commerce.operators.finance import (
    DEFAULT_ORDERS_WAIT_HOURS,
    RECONCILE_SETTINGS,
    LoadFinanceOperator,
    ReconcileOperator,
    WaitForOrdersSensor,
    WriteReportsOperator,
)
from fb_commerce.operators.retry import GraphRetryPolicy

#: produced by load_finance; reconciliation and the reports will schedule on it
STORED_TRANSACTIONS = Asset(name="fb_transactions", uri="fb_commerce://warehouse/fb_transactions")
#: environment only (no I/O at parse time): FB_COMMERCE_TIMEZONE, FB_COMMERCE_FINANCE_START
TIMEZONE = merchant_timezone()


def setting(name: str) -> str:
    """A template for one setting: the run's conf, else the Variable ``fb_finance_nightly_<name>``, else the
    param."""
    return f"{{{{ (dag_run.conf or {{}}).get('{name}', var.value.get('fb_finance_nightly_{name}', params.{name})) }}}}"


with DAG(
    dag_id="fb_finance_nightly",
    description="Meta's payouts and transactions into the warehouse, reconciled to the cent, and the day's finance "
    "reports, one business day per run",
    # The data interval is the merchant's business day (midnight to midnight in its time zone); the run starts
    # once that day is over.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=TIMEZONE),
    start_date=finance_start(),
    catchup=True,  # one run per past day since FB_COMMERCE_FINANCE_START; `airflow backfill create` works too
    max_active_runs=1,  # runs write the same rows (the look-back overlaps): one at a time
    default_args=DEFAULT_ARGS,
    tags=["fb-commerce", "finance"],
    params={
        "lookback_days": Param(
            DEFAULT_LOOKBACK_DAYS,
            type="integer",
            minimum=0,
            description="Days read again before the run's day (transactions change for up to 3 business days)",
        ),
        "page_size": Param(100, type="integer", minimum=1, maximum=100, description="Objects per page (100)"),
        "orders_wait_hours": Param(
            DEFAULT_ORDERS_WAIT_HOURS,
            type="number",
            minimum=0,
            description="Hours to wait for fb_orders_sync to store the day's orders before failing",
        ),
        "sale_business_days": Param(
            3, type="integer", minimum=0, description="Business days a captured shipment may wait for its SALE"
        ),
        "refund_business_days": Param(
            3, type="integer", minimum=0, description="Business days a refund may wait for its REFUND transaction"
        ),
        "payout_window_days": Param(
            7, type="integer", minimum=0, description="Days a transaction may wait for its payout"
        ),
        # Money and rates as text: read exactly (a JSON number would be a float)
        "tolerance": Param(
            "0.00", type="string", description="Largest difference accepted per issue (0.00: to the cent)"
        ),
        "fee_rate": Param("0.05", type="string", description="Processing fee as a share of the gross (0.05 = 5 %)"),
        "flat_fee": Param("0.40", type="string", description="Flat processing fee on small sales"),
        "flat_fee_max": Param("8.00", type="string", description="Gross at or below which the flat fee applies"),
        "accounts_file": Param(
            "",
            type=["null", "string"],
            description="Account mapping of the payout journal (a CSV path); empty: include/finance/accounts.csv",
        ),
    },
    doc_md=f"""
### fb_finance_nightly

Brings Meta's finance records into the warehouse once per business day, so finance can close its books on Meta's
payouts: waiting for the orders, extract and load, reconciliation to the cent, and the day's reports.

| task | what it does |
|---|---|
| `wait_for_orders` | Holds the run until `fb_orders_sync` has stored the orders up to midnight ending the run's last business day (UTC): its watermark (`orders` in `fb_sync_state`, Meta's newest `last_updated` stored) is at or past that midnight, or a pull begun after it succeeded (`orders_pulled`: a quiet night moves no watermark). Looks once a minute in `reschedule` mode (no worker held in between). After `orders_wait_hours` it fails, saying which moment it waited for, where the watermark and the last pull are, and to unpause or run `fb_orders_sync`. A run without a logical date covers the last complete day, so it needs the orders up to today's midnight. |
| `load_finance` | `commerce_payouts` (by payout date) and `commerce_transactions` (by transaction date) for the run's day plus `lookback_days` before it, every field (items, tax details, fees, net, payout reference, the order), paged to the end, on the connection's `page_id` (its `cms_id` when it has none). Upserts `fb_payouts` by `payout_reference_id` and `fb_transactions` by `transaction_id` (unchanged rows left as they are) and replaces each transaction's lines in `fb_transaction_tax_details`, one transaction per page: a rerun or backfill of the same days leaves identical rows. Each SALE's order comes with its `payments` edge expanded inline (nested field expansion: no call of its own; `/{{order_id}}/payments` is read once only for an order that comes without it), upserted into `fb_payments` by `payment_id` (shipment, SALE transaction, items, shipping, tax, total, tax remitted, captured amount and time) in the page's transaction. On PostgreSQL the rows go by COPY (new ones straight in, stored ones through a staging table). Money exact (an amount that cannot be read exactly fails the task naming the field), signs as Meta sends them. Logs payouts, transactions, tax lines, payments and pages. Emits the asset `fb_commerce://warehouse/fb_transactions`. |
| `reconcile` | Runs every rule in `include/sql/finance/reconcile/` (one editable SQL file each, documented in its README: payout ≠ its transactions' net, failed payout, captured shipment without SALE, SALE amount, refund without or with another REFUND, transaction without order, tax, fee off the schedule, transaction not paid out) over the same days, to the cent and per currency. Upserts `fb_reconciliation_issues` by a key made of the rule and its ids: new issues open, issues seen again refreshed (a resolved one reopens), open issues of those days found matched resolved; never deleted; a rerun leaves identical rows. Money younger than its in-flight days is not an issue. Green whenever it ran: issues are data. Logs per-rule counts and the open issues (largest first); notifies the new ones through `fb_commerce_alerts` when that connection exists. |
| `write_reports` | For each business day of the run, the folder `<data folder>/reports/YYYY-MM-DD/` (data folder: `FB_COMMERCE_DATA_DIR`), replaced atomically and the same bytes on a rerun: `orders.csv`, `cash.csv` (each payout with sales, shipping, tax, refunds, fees, tax withheld by Meta, net), `payout_lines.csv` (payout → transaction → order → item), `tax.csv` (jurisdiction, category, who remits it), `balance.csv` (what Meta owes at the start and end of the day), `in_flight.csv` (not yet paid out, with its age), `issues.csv`, `journal.csv` (a balanced entry per payout, accounts from `accounts_file`), `finance_YYYY-MM-DD.xlsx` (a sheet each) and `summary.html`. Reads the views of `include/sql/finance/views/`. Logs the files and the day's gross sales, refunds, fees, tax, payouts, net and open issues. |

**Schedule**: daily after midnight in the merchant's time zone (`FB_COMMERCE_TIMEZONE`, now `{TIMEZONE}`, default
UTC; read from the environment when the file is parsed). `catchup` from `FB_COMMERCE_FINANCE_START`
(`YYYY-MM-DD`, default 2026-01-01); `airflow backfill create --dag-id fb_finance_nightly --from-date ...
--to-date ...` reloads any past range. One active run.

**Settings** (a run's conf wins, then the Variable `fb_finance_nightly_<name>`, then the default):

| name | default | what |
|---|---|---|
| `lookback_days` | {DEFAULT_LOOKBACK_DAYS} | days read again before the run's day (Meta updates transactions for up to 3 business days) |
| `page_size` | 100 | objects per page |
| `orders_wait_hours` | {DEFAULT_ORDERS_WAIT_HOURS} | hours `wait_for_orders` waits for `fb_orders_sync` before failing |
| `sale_business_days` | 3 | business days (Monday to Friday, merchant time) a captured shipment may wait for its SALE |
| `refund_business_days` | 3 | business days a refund may wait for its REFUND transaction |
| `payout_window_days` | 7 | days a transaction may wait for its payout |
| `tolerance` | 0.00 | largest difference accepted per issue |
| `fee_rate`, `flat_fee`, `flat_fee_max` | 0.05, 0.40, 8.00 | the published fee: 5 % of the gross, or 0.40 at or below 8.00 |
| `accounts_file` | empty | the journal's account mapping (CSV); empty: the shipped `include/finance/accounts.csv` |

`load_finance` runs in the `fb_graph_api` pool and retries with back-off; when Meta asks to wait minutes the attempt ends and the
retry waits that long (`GraphRetryPolicy`). Connections: `fb_commerce_default`, `fb_commerce_warehouse`.
""",
) as dag:
    wait_for_orders = WaitForOrdersSensor(
        task_id="wait_for_orders", timezone=TIMEZONE, wait_hours=setting("orders_wait_hours")
    )
    load_finance = LoadFinanceOperator(
        task_id="load_finance",
        outlets=[STORED_TRANSACTIONS],
        retry_policy=GraphRetryPolicy(),
        timezone=TIMEZONE,
        lookback_days=setting("lookback_days"),
        page_size=setting("page_size"),
        **GRAPH_TASK_ARGS,
    )
    reconcile = ReconcileOperator(
        task_id="reconcile",
        timezone=TIMEZONE,
        lookback_days=setting("lookback_days"),
        **{name: setting(name) for name in RECONCILE_SETTINGS},
    )
    write_reports = WriteReportsOperator(
        task_id="write_reports", timezone=TIMEZONE, accounts_file=setting("accounts_file")
    )
    wait_for_orders >> load_finance >> reconcile >> write_reports
