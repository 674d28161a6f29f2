"""fb_catalog_feed end to end with dag.test(): demo products in a real warehouse (SQLite and PostgreSQL), the sandbox
over HTTP, the upload session followed by the trigger (dag.test runs it in-process)."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from support import set_connections

from fb_commerce import defaults
from fb_commerce.catalog.demo_products import demo_product

pytestmark = pytest.mark.slow

DAGS = Path(__file__).resolve().parents[2] / "dags"
GOOD = [f"SKU-{n:05d}" for n in range(1, 61)]


def shop_in(warehouse_url: str):
    """A migrated warehouse holding the demo products."""
    from fb_commerce.catalog.demo_products import seed_demo_products
    from fb_commerce.warehouse.engine import create_warehouse_engine
    from fb_commerce.warehouse.migrate import upgrade

    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    seed_demo_products(engine)
    return engine


def open_shop(sandbox, warehouse_url: str, tmp_path: Path, monkeypatch) -> Iterator[sa.Engine]:
    engine = shop_in(warehouse_url)
    set_connections(monkeypatch, sandbox.url, warehouse_url)
    monkeypatch.setenv("FB_COMMERCE_DATA_DIR", str(tmp_path))
    sandbox.admin.config(upload_delay_seconds=0.2)
    yield engine
    engine.dispose()


@pytest.fixture
def shop(sandbox, warehouse_url, tmp_path, monkeypatch) -> Iterator[sa.Engine]:
    """Demo products in a migrated warehouse (SQLite, PostgreSQL); both connections in the environment."""
    yield from open_shop(sandbox, warehouse_url, tmp_path, monkeypatch)


@pytest.fixture
def sqlite_shop(sandbox, tmp_path, monkeypatch) -> Iterator[sa.Engine]:
    """The same on SQLite only (for the scenarios that do not depend on the dialect)."""
    yield from open_shop(sandbox, f"sqlite:///{tmp_path / 'warehouse.db'}", tmp_path, monkeypatch)


def run_dag(
    engine: sa.Engine,
    conf: dict | None = None,
    dag_id: str = "fb_catalog_feed",
    settings: dict[str, dict] | None = None,
):
    """dag.test() of one catalog DAG, with ``engine`` (the test's own) closed first; ``settings`` sets task
    attributes (task id -> {attribute: value}), as a DAG file or a Variable could."""
    from airflow.dag_processing.dagbag import DagBag

    # The build reads SQLite through ADBC in this process: no connection of ours may be open meanwhile.
    engine.dispose()
    dag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py")).get_dag(dag_id)
    for task in dag.tasks:
        task.retries = 0  # a failure shows at once, instead of dag.test sleeping through the retry delays
    for task_id, values in (settings or {}).items():
        for name, value in values.items():
            setattr(dag.get_task(task_id), name, value)
    return dag.test(run_conf=conf or {})


def rows(engine: sa.Engine, sql: str, **params: object) -> list:
    with engine.connect() as connection:
        return connection.execute(sa.text(sql), params).all()


def task_state(run, task_id: str) -> str | None:
    return run.get_task_instance(task_id).state


def test_feed_is_built_uploaded_followed_and_stored(shop, sandbox):
    run = run_dag(shop)
    assert run.state == "success"
    rejects = rows(shop, "SELECT retailer_id, field, upload_id FROM fb_feed_rejects WHERE run_id = :r", r=run.run_id)
    assert sorted((r.retailer_id, r.field) for r in rejects) == [("SKU-00061", "price"), ("SKU-00062", "description")]
    [upload] = rows(shop, "SELECT * FROM fb_feed_uploads")
    assert {r.upload_id for r in rejects} == {upload.upload_id} and upload.feed_id == defaults.SANDBOX_FEED_ID
    assert upload.status == "finished" and upload.run_id == run.run_id and upload.file_format == "csv"
    assert upload.input_method == "Manual Upload" and upload.end_time is not None and len(upload.file_sha256) == 64
    assert (upload.rows_written, upload.rows_rejected, upload.num_detected_items) == (61, 2, 61)
    assert (upload.num_persisted_items, upload.num_invalid_items, upload.error_count) == (60, 1, 1)
    errors = rows(shop, "SELECT severity, summary, retailer_id, source, total_count FROM fb_feed_upload_errors")
    assert [tuple(e) for e in errors] == [("fatal", "Invalid link", "SKU-00063", "errors", 1)]
    catalog = {p["retailer_id"]: p for p in sandbox.admin.state(include="products")["products"]}
    assert sorted(catalog) == GOOD  # the replace feed kept the 60 SKUs; the refused row never arrived
    assert catalog["SKU-00007"]["title"] == demo_product(7)["name"]
    state = rows(
        shop, "SELECT retailer_id, last_handle, quantity, price FROM fb_catalog_sync_state ORDER BY retailer_id"
    )
    assert [s.retailer_id for s in state] == GOOD and {s.last_handle for s in state} == {f"feed:{upload.upload_id}"}
    assert (state[6].quantity, float(state[6].price)) == (demo_product(7)["stock"], float(demo_product(7)["price"]))

    again = run_dag(shop)  # a second day: same products, a new upload; the state stays the same
    assert again.state == "success"
    assert len(rows(shop, "SELECT upload_id FROM fb_feed_uploads")) == 2
    assert len(rows(shop, "SELECT retailer_id FROM fb_catalog_sync_state")) == 60


def test_tsv_feed_with_the_full_error_report(sqlite_shop, sandbox, tmp_path):
    run = run_dag(sqlite_shop, {"format": "tsv", "error_report": "always"})
    assert run.state == "success"
    [upload] = rows(sqlite_shop, "SELECT * FROM fb_feed_uploads")
    assert upload.file_format == "tsv" and upload.error_report_status == "WRITE_FINISHED"
    report = rows(
        sqlite_shop,
        "SELECT retailer_id, severity, summary, row_number FROM fb_feed_upload_errors WHERE source = 'report'",
    )
    assert [tuple(r) for r in report] == [("SKU-00063", "fatal", "Invalid link", 62)]
    assert (tmp_path / "feeds" / "error_reports" / f"{upload.upload_id}.csv").is_file()
    assert (tmp_path / "feeds" / "catalog.tsv").is_file()


def test_xml_feed_is_accepted(sqlite_shop, sandbox):
    assert run_dag(sqlite_shop, {"format": "xml"}).state == "success"
    [upload] = rows(sqlite_shop, "SELECT file_format, num_persisted_items FROM fb_feed_uploads")
    assert tuple(upload) == ("xml", 60)
    assert len(rows(sqlite_shop, "SELECT 1 FROM fb_catalog_sync_state")) == 60


@pytest.fixture
def merchant_web_server(tmp_path) -> Iterator[tuple[Path, str]]:
    """The merchant's own web server: serves tmp_path/public over HTTP (url mode fetches from it)."""
    public = tmp_path / "public"
    public.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(public))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield public, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_url_mode_gives_meta_the_merchants_url(sqlite_shop, sandbox, merchant_web_server):
    public, base = merchant_web_server
    url = f"{base}/catalog.csv"
    run = run_dag(sqlite_shop, {"upload_mode": "url", "feed_url": url, "feed_path": str(public / "catalog.csv")})
    assert run.state == "success"
    [upload] = rows(sqlite_shop, "SELECT url, input_method, num_persisted_items, status FROM fb_feed_uploads")
    assert tuple(upload) == (url, "User initiated server fetch", 60, "finished")
    [session] = sandbox.admin.state(include="uploads")["uploads"]
    assert session["url"] == url and not session.get("filename")  # fetched by Meta, not sent as a file


def test_url_mode_without_url_fails_before_any_call(sqlite_shop, sandbox):
    run = run_dag(sqlite_shop, {"upload_mode": "url"})
    assert run.state == "failed" and task_state(run, "upload_feed") == "failed"
    assert sandbox.admin.state(include="uploads")["uploads"] == []


def test_a_setting_that_cannot_be_read_fails_the_upload_naming_it(sqlite_shop, sandbox, capfd):
    # "maybe" is neither true nor false: it used to be read as false, replacing the whole feed
    run = run_dag(sqlite_shop, settings={"upload_feed": {"update_only": "maybe"}})
    assert run.state == "failed" and task_state(run, "upload_feed") == "failed"
    assert task_state(run, "build_feed") == "success"
    assert "setting update_only must be true or false" in "".join(capfd.readouterr())
    assert sandbox.admin.state(include="uploads")["uploads"] == []


def test_creates_the_feed_when_the_connection_names_none(sqlite_shop, sandbox, monkeypatch, tmp_path):
    set_connections(monkeypatch, sandbox.url, f"sqlite:///{tmp_path / 'warehouse.db'}", feed_id=None)
    assert run_dag(sqlite_shop).state == "success"
    feeds = {f["name"]: f for f in sandbox.admin.state(include="feeds")["feeds"]}
    created = feeds["fb-commerce product feed"]
    [upload] = rows(sqlite_shop, "SELECT feed_id FROM fb_feed_uploads")
    assert upload.feed_id == created["id"] != defaults.SANDBOX_FEED_ID and len(created["upload_ids"]) == 1
    [recorded] = rows(sqlite_shop, "SELECT name, extra FROM fb_sync_state")
    assert recorded.name == f"catalog_feed:{defaults.SANDBOX_CATALOG_ID}"
    assert json.loads(recorded.extra)["feed_id"] == created["id"]

    assert run_dag(sqlite_shop).state == "success"  # the next day uses the same feed: no second one
    feeds = [f for f in sandbox.admin.state(include="feeds")["feeds"] if f["name"] == "fb-commerce product feed"]
    assert len(feeds) == 1 and len(feeds[0]["upload_ids"]) == 2


def test_too_many_rejects_fail_the_build_and_nothing_is_uploaded(sqlite_shop, sandbox, tmp_path):
    run = run_dag(sqlite_shop, {"reject_limit": 0.01})
    assert run.state == "failed"
    assert task_state(run, "build_feed") == "failed" and task_state(run, "upload_feed") == "upstream_failed"
    assert len(rows(sqlite_shop, "SELECT 1 FROM fb_feed_rejects WHERE run_id = :r", r=run.run_id)) == 2
    assert sandbox.admin.state(include="uploads")["uploads"] == []
    assert not (tmp_path / "feeds" / "catalog.csv").exists()  # no feed replaced by a rejected build


def test_too_many_refused_products_fail_the_upload_after_storing_everything(sqlite_shop, sandbox):
    run = run_dag(sqlite_shop, {"fatal_error_limit": 0.0})
    assert run.state == "failed" and task_state(run, "upload_feed") == "failed"
    [upload] = rows(sqlite_shop, "SELECT status, num_invalid_items FROM fb_feed_uploads")
    assert tuple(upload) == ("too_many_errors", 1)
    assert len(rows(sqlite_shop, "SELECT 1 FROM fb_feed_upload_errors")) == 1
    assert len(rows(sqlite_shop, "SELECT 1 FROM fb_catalog_sync_state")) == 60
