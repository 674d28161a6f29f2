"""fb_inventory_sync end to end with dag.test(): after a real feed run, stock and price changes go to the sandbox
through items_batch, the handles are followed by the trigger, and the sync state follows Meta's answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from support import set_connections
from test_fb_catalog_feed import rows, run_dag  # the same helpers (pytest puts this folder on sys.path)

from fb_commerce import defaults
from fb_commerce.catalog import demo_products as demo
from fb_commerce.sandbox.client import SandboxGraph

pytestmark = pytest.mark.slow

DAGS = Path(__file__).resolve().parents[2] / "dags"


def items_batch_calls(sandbox) -> int:
    return sandbox.admin.stats()["requests"].get("POST /{catalog_id}/items_batch", 0)


@pytest.fixture
def fed_shop(sandbox, warehouse_url, tmp_path, monkeypatch) -> Iterator[sa.Engine]:
    """The demo shop after one fb_catalog_feed run (SQLite and PostgreSQL)."""
    from fb_commerce.warehouse.engine import create_warehouse_engine
    from fb_commerce.warehouse.migrate import upgrade

    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    demo.seed_demo_products(engine)
    set_connections(monkeypatch, sandbox.url, warehouse_url)
    monkeypatch.setenv("FB_COMMERCE_DATA_DIR", str(tmp_path))
    sandbox.admin.config(upload_delay_seconds=0.2, batch_delay_seconds=0.2)
    assert run_dag(engine).state == "success"
    yield engine
    engine.dispose()


def test_nothing_changed_makes_no_call(fed_shop, sandbox):
    assert len(rows(fed_shop, "SELECT 1 FROM fb_catalog_sync_state")) == 60  # the feed told us what Meta has
    run = run_dag(fed_shop, dag_id="fb_inventory_sync")
    assert run.state == "success"
    assert items_batch_calls(sandbox) == 0
    assert rows(fed_shop, "SELECT 1 FROM fb_batch_requests") == []


def test_changes_go_out_and_the_state_follows_meta(fed_shop, sandbox):
    changed = demo.change_demo_inventory(fed_shop)
    assert changed == {"stock_changed": 5, "price_changed": 3, "removed": 1, "added": 1}
    run = run_dag(fed_shop, dag_id="fb_inventory_sync")
    assert run.state == "success"
    assert items_batch_calls(sandbox) == 1
    [batch] = rows(fed_shop, "SELECT * FROM fb_batch_requests")
    assert (batch.status, batch.request_count, batch.run_id, batch.errors_total_count) == ("FINISHED", 9, run.run_id, 0)
    items = {i.retailer_id: i for i in rows(fed_shop, "SELECT * FROM fb_batch_request_items")}
    assert {i.status for i in items.values()} == {"synced"}
    assert items[demo.sku(demo.REMOVED)].method == "DELETE"
    assert sum(i.method == "UPDATE" for i in items.values()) == 8
    assert demo.sku(demo.ADDED) not in items  # new products are left to the feed

    catalog = {p["retailer_id"]: p for p in sandbox.admin.state(include="products")["products"]}
    assert demo.sku(demo.REMOVED) not in catalog
    assert catalog["SKU-00002"]["quantity_to_sell_on_facebook"] == 0
    assert catalog["SKU-00002"]["availability"] == "out of stock"
    assert catalog["SKU-00003"]["price"] == "12.49 USD"
    assert catalog["SKU-00011"]["sale_price"] is not None
    state = {s.retailer_id: s for s in rows(fed_shop, "SELECT * FROM fb_catalog_sync_state")}
    assert demo.sku(demo.REMOVED) not in state and len(state) == 59
    assert state["SKU-00020"].quantity == 250 and state["SKU-00020"].last_handle == batch.handle

    again = run_dag(fed_shop, dag_id="fb_inventory_sync")  # a rerun: nothing differs any more, so no call
    assert again.state == "success" and items_batch_calls(sandbox) == 1


def test_refused_items_are_recorded_and_not_marked_synced(fed_shop, sandbox):
    # Someone deletes SKU-00005 in Commerce Manager: our UPDATE of it must fail (allow_upsert is false).
    SandboxGraph(sandbox.url).post(
        f"{defaults.SANDBOX_CATALOG_ID}/items_batch",
        data={"item_type": "PRODUCT_ITEM", "requests": [{"method": "DELETE", "data": {"id": "SKU-00005"}}]},
    ).raise_for_status()
    sandbox.admin.clock(60)  # the handle finishes
    assert "SKU-00005" not in {p["retailer_id"] for p in sandbox.admin.state(include="products")["products"]}
    demo.change_demo_inventory(fed_shop)
    run = run_dag(fed_shop, dag_id="fb_inventory_sync")
    assert run.state == "success"
    failed = rows(fed_shop, "SELECT retailer_id, error_message FROM fb_batch_request_items WHERE status = 'failed'")
    assert [f.retailer_id for f in failed] == ["SKU-00005"] and "does not exist" in failed[0].error_message
    [batch] = rows(
        fed_shop,
        "SELECT ids_of_invalid_requests, errors_total_count FROM fb_batch_requests WHERE run_id = :r",
        r=run.run_id,
    )
    assert batch.errors_total_count == 1 and "SKU-00005" in str(batch.ids_of_invalid_requests)
    [state] = rows(fed_shop, "SELECT quantity FROM fb_catalog_sync_state WHERE retailer_id = 'SKU-00005'")
    assert state.quantity == demo.demo_product(5)["stock"]  # still what Meta last accepted, not 17
    synced = rows(fed_shop, "SELECT 1 FROM fb_batch_request_items WHERE status = 'synced'")
    assert len(synced) == 8


def test_graph_tasks_run_in_the_pool_and_read_graph_errors_on_retry():
    from airflow.dag_processing.dagbag import DagBag

    from fb_commerce.defaults import POOL
    from fb_commerce.operators.retry import GraphRetryPolicy

    bag = DagBag(dag_folder=str(DAGS))
    for dag_id, task_id in (("fb_inventory_sync", "sync_inventory"), ("fb_catalog_feed", "upload_feed")):
        task = bag.get_dag(dag_id).get_task(task_id)
        assert task.pool == POOL and isinstance(task.retry_policy, GraphRetryPolicy), (dag_id, task_id)
    assert bag.get_dag("fb_catalog_feed").get_task("build_feed").pool != POOL  # no Graph call, no Graph slot


def catalog_quantities(sandbox, skus) -> dict[str, int]:
    products = {p["retailer_id"]: p for p in sandbox.admin.state(include="products")["products"]}
    return {sku: products[sku]["quantity_to_sell_on_facebook"] for sku in skus}


def test_a_value_meta_ignored_is_not_synced_and_the_next_run_sends_it_again(fed_shop, sandbox):
    sandbox.admin.config(items_batch_ignored_fields=["sale_price"])  # Meta drops it with a warning
    demo.change_demo_inventory(fed_shop)
    sale = demo.sku(next(iter(demo.SALE_CHANGES)))
    run = run_dag(fed_shop, dag_id="fb_inventory_sync")
    assert run.state == "success"
    items = {i.retailer_id: i for i in rows(fed_shop, "SELECT * FROM fb_batch_request_items")}
    assert items[sale].status == "not_applied" and "sale_price" in items[sale].error_message
    assert {i.status for r, i in items.items() if r != sale} == {"synced"}
    [state] = rows(fed_shop, "SELECT sale_price FROM fb_catalog_sync_state WHERE retailer_id = :r", r=sale)
    assert state.sale_price is None  # still what Meta last accepted

    sandbox.admin.config(items_batch_ignored_fields=[])
    again = run_dag(fed_shop, dag_id="fb_inventory_sync")
    assert again.state == "success" and items_batch_calls(sandbox) == 2
    retried = rows(
        fed_shop,
        "SELECT i.retailer_id, i.status FROM fb_batch_request_items i JOIN fb_batch_requests r "
        "ON r.handle = i.handle WHERE r.run_id = :r",
        r=again.run_id,
    )
    assert [(i.retailer_id, i.status) for i in retried] == [(sale, "synced")]
    catalog = {p["retailer_id"]: p for p in sandbox.admin.state(include="products")["products"]}
    assert catalog[sale]["sale_price"] is not None


def test_a_restock_meta_made_is_corrected_by_the_next_run(fed_shop, sandbox):
    [order_id] = sandbox.admin.create_orders(1, state="IN_PROGRESS")
    order = next(o for o in sandbox.admin.state(include="orders")["orders"] if o["id"] == order_id)
    units: dict[str, int] = {}
    for item in order["items"]["data"]:
        units[item["retailer_id"]] = units.get(item["retailer_id"], 0) + item["quantity"]
    before = catalog_quantities(sandbox, units)  # what the feed sent: the merchant's stock

    sandbox.admin.cancel_order(order_id, restock=True, reason="CUSTOMER_REQUESTED")  # buyer support, at Meta
    assert catalog_quantities(sandbox, units) == {s: q + units[s] for s, q in before.items()}
    orders = run_dag(fed_shop, dag_id="fb_orders_sync")
    assert orders.get_task_instance("read_back_orders").state == "success"

    run = run_dag(fed_shop, dag_id="fb_inventory_sync")
    assert run.state == "success"
    assert catalog_quantities(sandbox, units) == before  # Meta offers what the merchant has again
    assert items_batch_calls(sandbox) == 1
