"""Feed uploads against the sandbox over HTTP, stored in a real warehouse (SQLite and PostgreSQL): the session and its
errors for rows missing fields, the full error report, upload by URL, finding and creating the feed, the sync state
read back from the file, and the upload operator's deferral with its trigger."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
import sqlalchemy as sa
from support import set_connections

from fb_commerce import defaults
from fb_commerce.catalog import upload, upload_store
from fb_commerce.catalog.feed_readback import read_feed_state
from fb_commerce.catalog.meta_accepted import feed_marker, replace_from_feed
from fb_commerce.environment import sandbox_connection
from fb_commerce.graph.client import GraphClient, GraphSettings

CATALOG = defaults.SANDBOX_CATALOG_ID
FEED = defaults.SANDBOX_FEED_ID
HEADER = "id,title,description,availability,condition,price,link,image_link,brand,quantity_to_sell_on_facebook"


def line(n: int, **override: str) -> str:
    values = {
        "id": f"SKU-{n:05d}",
        "title": f"Thing {n}",
        "description": "A thing",
        "availability": "in stock",
        "condition": "new",
        "price": f"{n}.50 USD",
        "link": f"https://shop.example.com/p/{n}",
        "image_link": f"https://cdn.example.com/{n}.jpg",
        "brand": "Acme",
        "quantity_to_sell_on_facebook": str(n),
    }
    values.update(override)
    return ",".join(values[k] for k in HEADER.split(","))


# Rows 4 and 5 lack a required field; row 6 has a bad price: Meta refuses those three.
FEED_TEXT = (
    "\n".join([HEADER, line(1), line(2), line(3), line(4, title=""), line(5, brand=""), line(6, price="cheap")]) + "\n"
)


@pytest.fixture
def feed_file(tmp_path) -> Path:
    path = tmp_path / "catalog.csv"
    path.write_text(FEED_TEXT)
    return path


@pytest.fixture
def client(sandbox) -> GraphClient:
    sandbox.admin.config(upload_delay_seconds=0.1)
    return GraphClient(defaults.SANDBOX_ACCESS_TOKEN, defaults.SANDBOX_APP_SECRET, GraphSettings(base_url=sandbox.url))


@pytest.fixture
def warehouse(warehouse_url) -> Iterator[sa.Engine]:
    from fb_commerce.warehouse.engine import create_warehouse_engine
    from fb_commerce.warehouse.migrate import upgrade

    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def finished(client: GraphClient, upload_id: str, timeout: float = 10) -> upload.UploadSession:
    deadline = time.monotonic() + timeout
    while not (session := upload.read_session(client, upload_id)).finished:
        assert time.monotonic() < deadline, "the session did not finish"
        time.sleep(0.05)
    return session


def rows(engine: sa.Engine, sql: str, **params: object) -> list:
    with engine.connect() as connection:
        return connection.execute(sa.text(sql), params).all()


def record(engine: sa.Engine, upload_id: str, **extra: object) -> None:
    upload_store.record_upload(engine, {"upload_id": upload_id, "feed_id": FEED, "status": "in_progress", **extra})


def test_session_errors_for_rows_missing_fields_are_stored(client, warehouse, feed_file, sandbox):
    upload_id = upload.start_upload(client, FEED, file_path=feed_file, fmt="csv")
    record(warehouse, upload_id, run_id="r1")
    assert not upload.read_session(client, upload_id).finished  # in progress at first
    session = finished(client, upload_id)
    assert session.counts() == {
        "error_count": 3,
        "warning_count": 0,
        "num_detected_items": 6,
        "num_persisted_items": 3,
        "num_invalid_items": 3,
        "num_deleted_items": defaults.SANDBOX_PRODUCTS - 6,
    }
    assert session.invalid_share == 0.5
    errors = upload.read_errors(client, upload_id)
    assert {e.summary for e in errors} == {"Missing title", "Missing brand", "Invalid price"}
    assert upload.refused_ids(errors) == {"SKU-00004", "SKU-00005", "SKU-00006"}
    assert not upload.needs_report(errors)  # every refused row is in the sample
    upload_store.record_session(warehouse, session, "finished")
    assert upload_store.store_errors(warehouse, upload_id, errors) == 3
    assert upload_store.store_errors(warehouse, upload_id, errors) == 3  # replaced, not doubled
    stored = rows(
        warehouse,
        "SELECT severity, summary, retailer_id, row_number, total_count, samples "
        "FROM fb_feed_upload_errors ORDER BY error_number",
    )
    assert len(stored) == 3 and {s.severity for s in stored} == {"fatal"}
    assert {(s.summary, s.retailer_id, s.row_number) for s in stored} == {
        ("Missing title", "SKU-00004", 5),
        ("Missing brand", "SKU-00005", 6),
        ("Invalid price", "SKU-00006", 7),
    }
    [saved] = rows(
        warehouse, "SELECT status, num_invalid_items, start_time, end_time, input_method FROM fb_feed_uploads"
    )
    assert (saved.status, saved.num_invalid_items, saved.input_method) == ("finished", 3, "Manual Upload")
    assert saved.end_time >= saved.start_time
    with pytest.raises(upload.TooManyFeedErrors, match=r"refused 3 of 6 products \(50.00%\).*Missing"):
        upload.check_invalid_share(session, errors, 0.05)
    upload.check_invalid_share(session, errors, 0.5)
    upload.check_invalid_share(session, errors, None)


def test_the_full_error_report_is_requested_downloaded_and_loaded(client, warehouse, feed_file, tmp_path):
    upload_id = upload.start_upload(client, FEED, file_path=feed_file, fmt="csv")
    record(warehouse, upload_id)
    finished(client, upload_id)
    assert upload.read_report_status(client, upload_id)[0] == "NOT_REQUESTED"
    upload.request_error_report(client, upload_id)
    status, handle = upload.read_report_status(client, upload_id)
    assert status == upload.REPORT_FINISHED and not upload.report_pending(status) and handle
    path = client.download(handle, tmp_path / "report.csv")
    assert upload_store.store_report(warehouse, upload_id, upload.read_error_report(path)) == 3
    assert upload_store.report_refused_ids(warehouse, upload_id) == {"SKU-00004", "SKU-00005", "SKU-00006"}
    numbers = [r.error_number for r in rows(warehouse, "SELECT error_number FROM fb_feed_upload_errors")]
    assert min(numbers) > upload_store.REPORT_NUMBER_BASE


def test_upload_by_url(client, sandbox):
    url = sandbox.admin.host_file("merchant-feed.csv", FEED_TEXT.encode())
    upload_id = upload.start_upload(client, FEED, url=url, update_only=True)
    session = finished(client, upload_id)
    assert session.raw["url"] == url and session.raw["input_method"] == "User initiated server fetch"
    assert (session.count("num_persisted_items"), session.count("num_deleted_items")) == (3, 0)  # update only


def test_feed_is_found_by_name_or_created(client, sandbox):
    assert upload.find_feed(client, CATALOG, "Nightly feed") is None
    created = upload.create_feed(client, CATALOG, "Nightly feed")
    assert upload.find_feed(client, CATALOG, "Nightly feed") == created
    assert upload.find_feed(client, CATALOG, "Primary feed") == FEED


def test_feed_id_recorded_in_sync_state(warehouse):
    assert upload_store.recorded_feed_id(warehouse, CATALOG) is None
    upload_store.record_feed_id(warehouse, CATALOG, "123", "fb-commerce product feed")
    upload_store.record_feed_id(warehouse, CATALOG, "123", "fb-commerce product feed")
    assert upload_store.recorded_feed_id(warehouse, CATALOG) == "123"
    assert upload_store.recorded_feed_id(warehouse, "other") is None


def test_sync_state_from_the_feed_keeps_refused_products_and_sweeps_the_rest(warehouse, feed_file):
    with warehouse.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO fb_catalog_sync_state (retailer_id, quantity, synced_at) VALUES "
                "('SKU-00004', 99, CURRENT_TIMESTAMP), ('SKU-99999', 1, CURRENT_TIMESTAMP)"
            )
        )
    refused = {"SKU-00004", "SKU-00005", "SKU-00006"}
    written = replace_from_feed(warehouse, read_feed_state(feed_file, "csv"), "U1", refused)
    assert written == 3
    state = {s.retailer_id: s for s in rows(warehouse, "SELECT * FROM fb_catalog_sync_state")}
    # SKU-99999 was not in the file: the replace feed deleted it on Meta; SKU-00004 keeps what Meta had before.
    assert sorted(state) == ["SKU-00001", "SKU-00002", "SKU-00003", "SKU-00004"]
    assert state["SKU-00004"].quantity == 99 and state["SKU-00002"].quantity == 2
    assert float(state["SKU-00002"].price) == 2.5 and state["SKU-00002"].currency == "USD"
    assert {s.last_handle for s in state.values()} == {feed_marker("U1")}

    replace_from_feed(warehouse, iter([]), "U2", replace=False)  # an update-only feed removes nothing
    assert len(rows(warehouse, "SELECT 1 FROM fb_catalog_sync_state")) == 4


# --- deferral: operator and trigger -------------------------------------------------------------------------


@pytest.fixture
def connections(sandbox, warehouse, monkeypatch, tmp_path):
    set_connections(monkeypatch, sandbox.url, warehouse)
    monkeypatch.setenv("FB_COMMERCE_DATA_DIR", str(tmp_path))
    sandbox.admin.config(upload_delay_seconds=0.3)
    return warehouse


def built(path: Path) -> dict:
    return {
        "path": str(path),
        "format": "csv",
        "bytes_written": path.stat().st_size,
        "rows_written": 6,
        "rows_rejected": 0,
    }


def test_operator_defers_to_the_session_trigger_then_to_the_report_trigger(connections, feed_file, sandbox):
    from airflow.sdk.exceptions import TaskDeferred

    from fb_commerce.operators.catalog_feed import FeedUploadOperator
    from fb_commerce.triggers.catalog import FeedUploadTrigger

    operator = FeedUploadOperator(
        task_id="upload_feed", poll_interval=0.1, error_report="always", fatal_error_limit=None
    )
    context = {"run_id": "deferral-test", "ti": mock.Mock(xcom_pull=mock.Mock(return_value=built(feed_file)))}
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, FeedUploadTrigger) and deferred.value.method_name == "session_finished"
    classpath, kwargs = trigger.serialize()
    assert classpath == "fb_commerce.triggers.catalog.FeedUploadTrigger"
    assert kwargs["wait_for"] == "session" and kwargs["fb_conn_id"] == "fb_commerce_default"
    [recorded] = rows(connections, "SELECT upload_id, status, file_sha256, run_id FROM fb_feed_uploads")
    assert (recorded.upload_id, recorded.status, recorded.run_id) == (trigger.upload_id, "in_progress", "deferral-test")

    event = asyncio.run(FeedUploadTrigger(**kwargs).run().asend(None))
    assert event.payload == {"status": "success", "upload_id": trigger.upload_id, "wait_for": "session"}

    with pytest.raises(TaskDeferred) as report_wait:  # error_report="always": a second deferral
        operator.session_finished(context, event.payload)
    report_trigger = report_wait.value.trigger
    assert report_trigger.wait_for == "error_report" and report_wait.value.method_name == "report_written"
    report_event = asyncio.run(report_trigger.run().asend(None))
    assert report_event.payload["status"] == "success" and report_event.payload["report_status"] == "WRITE_FINISHED"

    result = operator.report_written(context, report_event.payload)
    assert result["num_invalid_items"] == 3 and result["state_rows"] == 3
    assert len(rows(connections, "SELECT 1 FROM fb_feed_upload_errors WHERE source = 'report'")) == 3

    # A retried task (same run, same file) follows the same upload instead of uploading again.
    with pytest.raises(TaskDeferred) as retried:
        operator.execute(context)
    assert retried.value.trigger.upload_id == trigger.upload_id
    assert len(sandbox.admin.state(include="uploads")["uploads"]) == 1


def test_upload_trigger_reports_a_timeout(sandbox, monkeypatch, feed_file, client):
    from fb_commerce.triggers.catalog import FeedUploadTrigger

    monkeypatch.setenv("AIRFLOW_CONN_FB_COMMERCE_DEFAULT", json.dumps(sandbox_connection(sandbox.url)))
    sandbox.admin.config(upload_delay_seconds=3600)
    upload_id = upload.start_upload(client, FEED, file_path=feed_file)
    trigger = FeedUploadTrigger(upload_id, poll_interval=0.05, end_time=time.time() + 0.3)
    event = asyncio.run(trigger.run().asend(None))
    assert event.payload["status"] == "error" and event.payload["reason"] == "timeout"
    assert event.payload["upload_id"] == upload_id


def test_upload_trigger_turns_a_failed_call_into_an_error_event(sandbox, monkeypatch):
    from fb_commerce.triggers.catalog import FeedUploadTrigger

    conn = sandbox_connection(sandbox.url)
    conn["password"] = "not-the-token"
    monkeypatch.setenv("AIRFLOW_CONN_FB_COMMERCE_DEFAULT", json.dumps(conn))
    event = asyncio.run(FeedUploadTrigger("123", poll_interval=0.05).run().asend(None))
    assert event.payload["status"] == "error" and event.payload["reason"] == "GraphAuthError"
    assert "not-the-token" not in event.payload["message"]
