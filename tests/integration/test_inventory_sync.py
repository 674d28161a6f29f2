"""The inventory sync against the sandbox over HTTP and a real warehouse (SQLite and PostgreSQL): the SQL delta,
items_batch calls recorded before and after, settling from the handles' status, throttling (80014), reruns after a
task was killed at each step, and the operator's deferral with its trigger."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from support import set_connections

from fb_commerce import defaults
from fb_commerce.catalog import demo_products as demo
from fb_commerce.catalog.batch_log import BatchLog
from fb_commerce.catalog.inventory_delta import DELETE, UPDATE, iter_delta, load_source
from fb_commerce.catalog.inventory_sync import InventorySync, wait_for_handles
from fb_commerce.environment import sandbox_connection
from fb_commerce.graph import GraphRateLimitWait
from fb_commerce.graph.client import GraphClient, GraphSettings
from fb_commerce.warehouse.schema import merchant_products

CATALOG = defaults.SANDBOX_CATALOG_ID
SOURCE = load_source()


def sync_state_from_source(engine: sa.Engine) -> None:
    """What a feed run leaves: the sync state equal to the source for the 60 products Meta has."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO fb_catalog_sync_state (retailer_id, availability, quantity, price, sale_price, currency, "
                "synced_at) SELECT id, availability, CAST(quantity_to_sell_on_facebook AS INTEGER), CAST(price AS "
                "NUMERIC), CAST(sale_price AS NUMERIC), currency, CURRENT_TIMESTAMP "
                f"FROM ({SOURCE}) AS src WHERE id <= 'SKU-00060'"  # the source's text as the state's types
            )
        )


@pytest.fixture
def shop(warehouse_url) -> Iterator[sa.Engine]:
    """Demo products, with the sync state as after a feed."""
    from fb_commerce.warehouse.engine import create_warehouse_engine
    from fb_commerce.warehouse.migrate import upgrade

    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    demo.seed_demo_products(engine)
    sync_state_from_source(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def client(sandbox) -> GraphClient:
    sandbox.admin.config(batch_delay_seconds=0)
    settings = GraphSettings(
        base_url=sandbox.url, backoff_initial=0.01, backoff_max=0.05, max_regain_wait=0, max_slowdown=0.05
    )
    return GraphClient(defaults.SANDBOX_ACCESS_TOKEN, defaults.SANDBOX_APP_SECRET, settings)


def rows(engine: sa.Engine, sql: str, **params: object) -> list:
    with engine.connect() as connection:
        return connection.execute(sa.text(sql), params).all()


def calls(sandbox) -> int:
    return sandbox.admin.stats()["requests"].get("POST /{catalog_id}/items_batch", 0)


def catalog(sandbox) -> dict[str, dict]:
    return {p["retailer_id"]: p for p in sandbox.admin.state(include="products")["products"]}


def full_sync(engine: sa.Engine, client: GraphClient, **options: object) -> InventorySync:
    sync = InventorySync(engine, client, CATALOG, run_id="test", **options)
    sync.settle(sync.prepare())
    sent = sync.send()
    sync.settle(wait_for_handles(client, CATALOG, sent.handles, poll_interval=0.05))
    return sync


def set_product(engine: sa.Engine, sku: str, **values: object) -> None:
    with engine.begin() as connection:
        connection.execute(sa.update(merchant_products).where(merchant_products.c.sku == sku).values(**values))


# --- the delta ----------------------------------------------------------------------------------------------


def test_delta_finds_each_kind_of_change_null_safely(shop):
    assert {(c.retailer_id, c.method) for c in iter_delta(shop, SOURCE)} == {
        ("SKU-00061", "CREATE"),
        ("SKU-00062", "CREATE"),
        ("SKU-00063", "CREATE"),
    }
    set_product(shop, "SKU-00001", stock=0)  # quantity and availability
    set_product(shop, "SKU-00002", price=Decimal("1.25"))
    set_product(shop, "SKU-00003", sale_price=Decimal("3.00"))  # NULL -> value
    set_product(shop, "SKU-00004", currency="EUR")
    set_product(shop, "SKU-00005", name="Renamed")  # not an inventory field: no change
    with shop.begin() as connection:
        connection.execute(sa.delete(merchant_products).where(merchant_products.c.sku == "SKU-00006"))
    delta = {c.retailer_id: c for c in iter_delta(shop, SOURCE) if c.method != "CREATE"}
    assert {k: v.method for k, v in delta.items()} == {
        "SKU-00001": UPDATE,
        "SKU-00002": UPDATE,
        "SKU-00003": UPDATE,
        "SKU-00004": UPDATE,
        "SKU-00006": DELETE,
    }
    assert (delta["SKU-00001"].quantity, delta["SKU-00001"].availability) == (0, "out of stock")
    assert delta["SKU-00002"].price == Decimal("1.25") and delta["SKU-00003"].sale_price == Decimal("3.00")
    assert delta["SKU-00004"].currency == "EUR"


# --- send, settle, rerun ------------------------------------------------------------------------------------


def test_changes_reach_meta_and_the_state_then_nothing_is_sent_again(shop, client, sandbox):
    demo.change_demo_inventory(shop)
    full_sync(shop, client)
    assert calls(sandbox) == 1
    products = catalog(sandbox)
    assert products["SKU-00005"]["quantity_to_sell_on_facebook"] == 17 and "SKU-00060" not in products
    assert [c for c in iter_delta(shop, SOURCE) if c.method != "CREATE"] == []
    full_sync(shop, client)
    assert calls(sandbox) == 1  # nothing differs: no call


def test_batch_size_sets_the_number_of_calls(shop, client, sandbox):
    demo.change_demo_inventory(shop)  # 9 changes
    full_sync(shop, client, batch_size=4)
    assert calls(sandbox) == math.ceil(9 / 4)
    assert [r.request_count for r in rows(shop, "SELECT request_count FROM fb_batch_requests ORDER BY sent_at")] == [
        4,
        4,
        1,
    ]


def test_a_long_catalog_batch_throttle_ends_the_attempt_and_the_retry_finishes_the_job(shop, client, sandbox):
    demo.change_demo_inventory(shop)  # 9 changes in calls of 2: 5 calls
    sandbox.admin.config(items_batch_per_minute=1)
    first = InventorySync(shop, client, CATALOG, run_id="try-1", batch_size=2)
    first.settle(first.prepare())
    with pytest.raises(GraphRateLimitWait) as caught:
        first.send()
    assert caught.value.code == 80014
    [sent] = rows(shop, "SELECT handle, status, request_count FROM fb_batch_requests")
    assert sent.status is None and sent.request_count == 2  # recorded and confirmed; the refused call released
    assert rows(shop, "SELECT 1 FROM fb_batch_request_items WHERE handle LIKE 'unsent:%'") == []

    sandbox.admin.config(items_batch_per_minute=30)  # Meta's wait is over: Airflow retries the task
    retry = InventorySync(shop, client, CATALOG, run_id="try-2", batch_size=2)
    assert retry.prepare() == [sent.handle]  # settled first, so its items are not sent again
    retry.settle([sent.handle])
    remaining = retry.send()
    assert remaining.requests_sent == 7 and calls(sandbox) == 1 + 1 + 4  # 1 accepted, 1 refused, then 4
    retry.settle(wait_for_handles(client, CATALOG, remaining.handles, poll_interval=0.05))
    assert rows(shop, "SELECT 1 FROM fb_batch_request_items WHERE status <> 'synced'") == []
    assert [c for c in iter_delta(shop, SOURCE) if c.method != "CREATE"] == []


def test_killed_after_the_call_before_its_handle_was_recorded(shop, client, sandbox, monkeypatch):
    demo.change_demo_inventory(shop)

    def killed(self, key, handle):
        raise KeyboardInterrupt("worker killed")

    monkeypatch.setattr(BatchLog, "confirm", killed)
    with pytest.raises(KeyboardInterrupt):
        InventorySync(shop, client, CATALOG, run_id="killed").send()
    monkeypatch.undo()
    assert [r.status for r in rows(shop, "SELECT status FROM fb_batch_requests")] == ["SENDING"]
    assert calls(sandbox) == 1

    full_sync(shop, client)  # the rerun drops the unconfirmed record and sends the same absolute values again
    assert calls(sandbox) == 2
    assert [r.status for r in rows(shop, "SELECT status FROM fb_batch_requests")] == ["FINISHED"]
    assert len(rows(shop, "SELECT 1 FROM fb_batch_request_items WHERE status = 'synced'")) == 9
    assert catalog(sandbox)["SKU-00003"]["price"] == "12.49 USD"


def test_killed_after_recording_the_handle_before_settling(shop, client, sandbox):
    demo.change_demo_inventory(shop)
    sent = InventorySync(shop, client, CATALOG, run_id="killed").send()  # the task dies here
    assert len(sent.handles) == 1
    assert (
        rows(shop, "SELECT quantity FROM fb_catalog_sync_state WHERE retailer_id = 'SKU-00005'")[0].quantity
        == demo.demo_product(5)["stock"]
    )  # not synced before Meta's word

    full_sync(shop, client)
    assert calls(sandbox) == 1  # settled, not sent again
    assert rows(shop, "SELECT quantity FROM fb_catalog_sync_state WHERE retailer_id = 'SKU-00005'")[0].quantity == 17


def test_a_delete_of_an_item_already_gone_counts_as_done(shop, client, sandbox):
    from fb_commerce.sandbox.client import SandboxGraph

    SandboxGraph(sandbox.url).post(
        f"{CATALOG}/items_batch",
        data={"item_type": "PRODUCT_ITEM", "requests": [{"method": "DELETE", "data": {"id": "SKU-00060"}}]},
    )
    with shop.begin() as connection:
        connection.execute(sa.delete(merchant_products).where(merchant_products.c.sku == "SKU-00060"))
    full_sync(shop, client)
    [item] = rows(shop, "SELECT status, error_message FROM fb_batch_request_items")
    assert item.status == "synced" and "does not exist" in item.error_message
    assert rows(shop, "SELECT 1 FROM fb_catalog_sync_state WHERE retailer_id = 'SKU-00060'") == []


def test_bad_source_values_are_skipped_and_named(shop, client, sandbox):
    set_product(shop, "SKU-00001", currency="usd")
    set_product(shop, "SKU-00002", stock=5)
    sync = InventorySync(shop, client, CATALOG, run_id="bad")
    sent = sync.send()
    assert (sent.counts.updates, sent.counts.invalid) == (1, 1)
    assert "SKU-00001" in sent.counts.invalid_examples[0] and "currency" in sent.counts.invalid_examples[0]


# --- deferral: operator and trigger -------------------------------------------------------------------------


@pytest.fixture
def connections(sandbox, shop, monkeypatch) -> sa.Engine:
    set_connections(monkeypatch, sandbox.url, shop)
    return shop


def test_operator_defers_to_the_batch_trigger_which_reports_the_handles_finished(connections, sandbox):
    from airflow.sdk.exceptions import TaskDeferred

    from fb_commerce.operators.inventory_sync import InventorySyncOperator
    from fb_commerce.triggers.catalog import BatchStatusTrigger

    demo.change_demo_inventory(connections)
    sandbox.admin.config(batch_delay_seconds=0.3)
    operator = InventorySyncOperator(task_id="sync_inventory", poll_interval=0.1)
    context = {"run_id": "deferral-test"}
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, BatchStatusTrigger) and deferred.value.method_name == "sent_finished"
    [handle] = trigger.handles
    classpath, kwargs = trigger.serialize()
    assert classpath == "fb_commerce.triggers.catalog.BatchStatusTrigger"
    assert kwargs["handles"] == [handle] and kwargs["catalog_id"] == CATALOG and kwargs["poll_interval"] == 0.1
    assert rows(connections, "SELECT 1 FROM fb_batch_request_items WHERE status = 'synced'") == []

    event = asyncio.run(BatchStatusTrigger(**kwargs).run().asend(None))
    assert event.payload["status"] == "success" and event.payload["handles"] == [handle]
    result = operator.sent_finished(context, event.payload, **(deferred.value.kwargs or {}))
    assert result == {
        "updates": 8,
        "deletes": 1,
        "new_products": 4,
        "invalid": 0,
        "calls": 1,
        "synced": 9,
        "failed": 0,
        "not_applied": 0,
        "restocks_read": 0,
        "restocks_corrected": 0,
    }


def test_operator_settles_earlier_handles_before_sending(connections, client, sandbox):
    from airflow.sdk.exceptions import TaskDeferred

    from fb_commerce.operators.inventory_sync import InventorySyncOperator

    demo.change_demo_inventory(connections)
    [earlier] = InventorySync(connections, client, CATALOG, run_id="killed").send().handles
    operator = InventorySyncOperator(task_id="sync_inventory", poll_interval=0.1)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({"run_id": "next"})
    assert deferred.value.method_name == "earlier_finished" and deferred.value.trigger.handles == [earlier]
    result = operator.earlier_finished({"run_id": "next"}, {"status": "success", "handles": [earlier]})
    assert result is not None and result["calls"] == 0 and calls(sandbox) == 1  # nothing left to send


def test_trigger_times_out_with_an_error_event(sandbox, monkeypatch):
    from fb_commerce.triggers.catalog import BatchStatusTrigger

    monkeypatch.setenv("AIRFLOW_CONN_FB_COMMERCE_DEFAULT", json.dumps(sandbox_connection(sandbox.url)))
    sandbox.admin.config(batch_delay_seconds=3600)
    from fb_commerce.sandbox.client import SandboxGraph

    answer = SandboxGraph(sandbox.url).post(
        f"{CATALOG}/items_batch",
        data={"item_type": "PRODUCT_ITEM", "requests": [{"method": "DELETE", "data": {"id": "SKU-00001"}}]},
    )
    handle = answer.json()["handles"][0]
    import time

    trigger = BatchStatusTrigger(CATALOG, [handle], poll_interval=0.05, end_time=time.time() + 0.3)
    event = asyncio.run(trigger.run().asend(None))
    assert event.payload["status"] == "error" and event.payload["reason"] == "timeout"
    assert event.payload["waiting"] == [handle]


# --- a sale that ends, values Meta ignored, restocks Meta made ----------------------------------------------


def state_row(engine: sa.Engine, sku: str):
    from fb_commerce.warehouse.schema import fb_catalog_sync_state as state

    with engine.connect() as connection:  # through the table, so money comes back as Decimal on SQLite too
        return connection.execute(sa.select(state).where(state.c.retailer_id == sku)).one()


def test_a_sale_that_ends_in_the_source_ends_on_meta(shop, client, sandbox):
    set_product(shop, "SKU-00003", sale_price=Decimal("2.00"))
    full_sync(shop, client)
    assert catalog(sandbox)["SKU-00003"]["sale_price"] == "2.00 USD"

    set_product(shop, "SKU-00003", sale_price=None)  # the sale is over
    full_sync(shop, client)
    assert catalog(sandbox)["SKU-00003"]["sale_price"] is None
    assert [b["warnings"] for b in sandbox.admin.state(include="batches")["batches"]] == [[], []]
    assert state_row(shop, "SKU-00003").sale_price is None
    assert [c for c in iter_delta(shop, SOURCE) if c.method != "CREATE"] == []


def test_a_value_meta_ignored_with_a_warning_is_not_synced_and_goes_again(shop, client, sandbox):
    sandbox.admin.config(items_batch_ignored_fields=["price"])  # Meta keeps its price, warns, applies the rest
    set_product(shop, "SKU-00002", price=Decimal("1.25"), stock=9)
    sync = InventorySync(shop, client, CATALOG, run_id="warned")
    sent = sync.send()
    settled = sync.settle(wait_for_handles(client, CATALOG, sent.handles, poll_interval=0.05))
    assert (settled.synced, settled.failed, settled.not_applied) == (0, 0, 1)
    assert "SKU-00002" in settled.failures[0] and "price" in settled.failures[0]
    [item] = rows(shop, "SELECT status, error_message FROM fb_batch_request_items")
    assert item.status == "not_applied" and "price" in item.error_message
    assert state_row(shop, "SKU-00002").price == demo.demo_product(2)["price"]  # not what Meta ignored
    assert catalog(sandbox)["SKU-00002"]["quantity_to_sell_on_facebook"] == 9  # the rest did apply

    sandbox.admin.config(items_batch_ignored_fields=[])
    full_sync(shop, client)  # the next run sends it again
    assert calls(sandbox) == 2
    assert catalog(sandbox)["SKU-00002"]["price"] == "1.25 USD"
    assert state_row(shop, "SKU-00002").price == Decimal("1.25")
    assert [c for c in iter_delta(shop, SOURCE) if c.method != "CREATE"] == []


def order_with_products(sandbox) -> tuple[str, dict[str, int]]:
    """A live IN_PROGRESS order whose products are all in the catalog: its id and {retailer_id: quantity}."""
    [order_id] = sandbox.admin.create_orders(1, state="IN_PROGRESS")
    order = next(o for o in sandbox.admin.state(include="orders")["orders"] if o["id"] == order_id)
    lines: dict[str, int] = {}
    for item in order["items"]["data"]:
        lines[item["retailer_id"]] = lines.get(item["retailer_id"], 0) + item["quantity"]
    return order_id, lines


def align(shop: sa.Engine, client: GraphClient, sandbox, skus: dict[str, int]) -> None:
    """Give the order's products a known stock in the source and on Meta."""
    for n, sku in enumerate(sorted(skus)):
        set_product(shop, sku, stock=40 + n)
    full_sync(shop, client)
    assert {s: catalog(sandbox)[s]["quantity_to_sell_on_facebook"] for s in skus} == {
        s: 40 + n for n, s in enumerate(sorted(skus))
    }


def products_reads(sandbox) -> int:
    return sandbox.admin.stats()["requests"].get("GET /{catalog_id}/products", 0)


def test_a_restock_meta_made_on_a_cancellation_is_read_back_and_corrected(shop, client, sandbox):
    from fb_commerce.orders.pull import pull_orders
    from fb_commerce.orders.readback import read_back

    order_id, lines = order_with_products(sandbox)
    align(shop, client, sandbox, lines)
    pull_orders(client, shop, defaults.SANDBOX_CMS_ID)
    sandbox.admin.cancel_order(order_id, restock=True, reason="CUSTOMER_REQUESTED")  # buyer support, at Meta
    meta = catalog(sandbox)
    assert {s: meta[s]["quantity_to_sell_on_facebook"] for s in lines} == {
        s: 40 + n + lines[s] for n, s in enumerate(sorted(lines))
    }  # Meta raised the stock by itself

    read_back(client, shop, defaults.SANDBOX_CMS_ID)  # fb_orders_sync stores the cancellation
    full_sync(shop, client)
    meta = catalog(sandbox)
    assert {s: meta[s]["quantity_to_sell_on_facebook"] for s in lines} == {
        s: 40 + n for n, s in enumerate(sorted(lines))
    }  # back to what the merchant has
    reads = products_reads(sandbox)
    assert reads == 1  # only the affected items were read, in one call
    full_sync(shop, client)
    assert calls(sandbox) == 2 and products_reads(sandbox) in (reads, reads + 1)  # settled: nothing to send


def test_a_restock_the_oms_asked_for_is_read_back_and_corrected(shop, client, sandbox):
    from fb_commerce.orders.pull import pull_orders
    from fb_commerce.orders.updates.send import drain
    from fb_commerce.warehouse.schema import fb_cancellation_requests

    order_id, lines = order_with_products(sandbox)
    align(shop, client, sandbox, lines)
    pull_orders(client, shop, defaults.SANDBOX_CMS_ID)
    with shop.begin() as connection:
        connection.execute(
            sa.insert(fb_cancellation_requests).values(
                request_id="oms-cancel-1", order_id=order_id, reason_code="OUT_OF_STOCK", restock_items=True
            )
        )
    assert drain(shop, client.post).total("sent") == 1  # fb_order_updates; no read-back of orders since
    full_sync(shop, client)
    meta = catalog(sandbox)
    assert {s: meta[s]["quantity_to_sell_on_facebook"] for s in lines} == {
        s: 40 + n for n, s in enumerate(sorted(lines))
    }


def test_advisory_warnings_hold_nothing_back_and_an_unattributed_one_holds_back_the_whole_handle(shop):
    from fb_commerce.catalog.batch_calls import BatchStatus
    from fb_commerce.catalog.inventory_delta import InventoryChange, plan_batches

    changes = [InventoryChange(f"SKU-0000{n}", UPDATE, "in stock", 5, Decimal("9.99"), None, "USD") for n in (1, 2)]
    batch_log = BatchLog(shop, CATALOG)
    [plan] = plan_batches(changes)
    for handle in ("advised", "unattributed"):
        batch_log.confirm(batch_log.reserve(plan, "t"), handle)
    # Meta's example of an advisory warning (catalog diagnostics): a field the sync never sends
    advised = batch_log.settle(
        BatchStatus(
            "advised",
            "FINISHED",
            warnings=[
                {
                    "line": 0,
                    "id": "SKU-00001",
                    "message": "These fields have missing information: Make items easier to "
                    "discover by providing google_product_category information.",
                }
            ],
        )
    )
    assert (advised.synced, advised.not_applied) == (2, 0) and "google_product_category" in advised.advisories[0]
    unattributed = batch_log.settle(
        BatchStatus("unattributed", "FINISHED", warnings=[{"line": 1, "message": "A value was dropped"}])
    )
    assert (unattributed.synced, unattributed.not_applied) == (0, 2)
