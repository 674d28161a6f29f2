"""Catalog over HTTP: products, feed upload sessions (file and URL), errors and the error report, items_batch."""

from __future__ import annotations

import json
import time

import pytest
import requests

from fb_commerce import defaults
from fb_commerce.sandbox.client import SandboxGraph

CATALOG = defaults.SANDBOX_CATALOG_ID
FEED = defaults.SANDBOX_FEED_ID
HEADER = "id,title,description,availability,condition,price,link,image_link,brand,quantity_to_sell_on_facebook"


def row(n: int, **override: str) -> str:
    values = {
        "id": f"NEW-{n:03d}",
        "title": f"Thing {n}",
        "description": "A thing",
        "availability": "in stock",
        "condition": "new",
        "price": "9.99 USD",
        "link": f"https://shop.example.com/p/{n}",
        "image_link": f"https://cdn.example.com/{n}.jpg",
        "brand": "Acme",
        "quantity_to_sell_on_facebook": "5",
    }
    values.update(override)
    return ",".join(values[k] for k in HEADER.split(","))


@pytest.fixture
def graph(sandbox) -> SandboxGraph:
    return SandboxGraph(sandbox.url)


def wait_finished(graph: SandboxGraph, upload_id: str, timeout: float = 10.0) -> dict:
    fields = (
        "id,start_time,end_time,error_count,warning_count,num_detected_items,num_persisted_items,"
        "num_invalid_items,num_deleted_items,input_method,filename,url"
    )
    deadline = time.monotonic() + timeout
    while True:
        session = graph.get(upload_id, fields=fields).json()
        if "end_time" in session or time.monotonic() > deadline:
            return session
        time.sleep(0.05)


def upload(graph: SandboxGraph, content: str, name: str = "feed.csv", **data: str) -> str:
    response = graph.post(f"{FEED}/uploads", data=data or None, files={"file": (name, content.encode(), "text/csv")})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def test_catalog_and_products_paging(sandbox, graph) -> None:
    catalog = graph.get(CATALOG, fields="id,name,product_count").json()
    assert catalog["product_count"] == defaults.SANDBOX_PRODUCTS
    pages = graph.pages(f"{CATALOG}/products", fields="id,retailer_id,name,price,availability,inventory", limit=25)
    products = [p for page in pages for p in page["data"]]
    assert len(products) == defaults.SANDBOX_PRODUCTS == len({p["retailer_id"] for p in products})
    assert products[0]["retailer_id"] == "SKU-00001" and products[0]["price"].startswith("$")
    assert set(graph.get(f"{CATALOG}/products", limit=1).json()["data"][0]) == {"id"}


def test_feed_upload_lifecycle_with_errors_and_report(sandbox, graph) -> None:
    sandbox.admin.config(upload_delay_seconds=0.3)
    lines = [
        HEADER,
        row(1),
        row(2, price="9.99EUR"),
        row(3, availability="maybe"),
        row(4, title=""),
        row(5, quantity_to_sell_on_facebook="lots"),
        row(6),
    ]
    upload_id = upload(graph, "\n".join(lines) + "\n")
    started = graph.get(upload_id, fields="id,start_time,end_time,num_detected_items").json()
    assert "start_time" in started and "end_time" not in started  # in progress
    session = wait_finished(graph, upload_id)
    assert session["end_time"] >= session["start_time"]
    assert (session["num_detected_items"], session["num_invalid_items"], session["num_persisted_items"]) == (6, 3, 3)
    assert (session["error_count"], session["warning_count"]) == (3, 1)
    assert session["input_method"] == "Manual Upload" and session["filename"] == "feed.csv"
    assert session["num_deleted_items"] == defaults.SANDBOX_PRODUCTS  # replace: the seeded items are gone
    errors = graph.get(f"{upload_id}/errors").json()["data"]
    by_summary = {e["summary"]: e for e in errors}
    assert by_summary["Invalid price"]["severity"] == "fatal"
    assert by_summary["Invalid price"]["samples"]["data"] == [{"row_number": 3, "retailer_id": "NEW-002"}]
    assert by_summary["Missing title"]["total_count"] == 1
    assert by_summary["Invalid quantity_to_sell_on_facebook"]["severity"] == "warning"
    sample = by_summary["Invalid quantity_to_sell_on_facebook"]["samples"]["data"][0]
    assert sample["retailer_id"] == "NEW-005" and sample["id"]  # warning rows are still ingested
    assert {e["severity"] for e in graph.get(f"{upload_id}/errors", error_priority="HIGH").json()["data"]} == {"fatal"}
    assert graph.get(upload_id, fields="error_report").json()["error_report"]["report_status"] == "NOT_REQUESTED"
    assert graph.post(f"{upload_id}/error_report").json() == {"success": True}
    report = graph.get(upload_id, fields="error_report").json()["error_report"]
    assert report["report_status"] == "WRITE_FINISHED"
    csv_text = requests.get(report["file_handle"], timeout=10).text
    assert csv_text.splitlines()[0].startswith("row_number,retailer_id,severity")
    assert len(csv_text.strip().splitlines()) == 1 + 4
    ids = {p["retailer_id"] for p in sandbox.admin.state(include="products")["products"]}
    assert ids == {"NEW-001", "NEW-005", "NEW-006"}
    listed = graph.get(f"{FEED}/uploads").json()["data"]
    assert listed[0]["id"] == upload_id


def test_update_only_upload_keeps_other_items_and_tsv_is_read(sandbox, graph) -> None:
    sandbox.admin.config(upload_delay_seconds=0)
    content = (
        "\n".join([HEADER.replace(",", "\t"), row(1).replace(",", "\t"), row(1, title="Replaced").replace(",", "\t")])
        + "\n"
    )
    session = wait_finished(graph, upload(graph, content, name="feed.tsv", update_only="true"))
    assert (session["num_persisted_items"], session["num_deleted_items"], session["warning_count"]) == (1, 0, 1)
    products = {p["retailer_id"]: p for p in sandbox.admin.state(include="products")["products"]}
    assert len(products) == defaults.SANDBOX_PRODUCTS + 1 and products["NEW-001"]["title"] == "Replaced"


def test_clock_advance_finishes_a_session(sandbox, graph) -> None:
    sandbox.admin.config(upload_delay_seconds=3600)
    upload_id = upload(graph, HEADER + "\n" + row(1) + "\n")
    assert "end_time" not in graph.get(upload_id, fields="end_time").json()
    sandbox.admin.clock(3601)
    assert "end_time" in wait_finished(graph, upload_id, timeout=5)


def test_url_upload_and_rss_xml(sandbox, graph) -> None:
    sandbox.admin.config(upload_delay_seconds=0)
    xml = """<?xml version="1.0"?>
<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0"><channel><title>t</title>
<item><g:id>XML-1</g:id><g:title>Xml thing</g:title><g:description>d</g:description>
<g:availability>in stock</g:availability><g:condition>new</g:condition><g:price>12.00 USD</g:price>
<g:link>https://shop.example.com/x1</g:link><g:image_link>https://cdn.example.com/x1.jpg</g:image_link>
<g:brand>Acme</g:brand></item>
<item><g:id>XML-2</g:id><g:title>No price</g:title></item>
</channel></rss>"""
    url = sandbox.admin.host_file("feed.xml", xml.encode())
    response = graph.post(f"{FEED}/uploads", data={"url": url, "update_only": "true"})
    session = wait_finished(graph, response.json()["id"])
    assert session["input_method"] == "User initiated server fetch" and session["url"] == url
    assert (session["num_detected_items"], session["num_persisted_items"], session["num_invalid_items"]) == (2, 1, 1)
    broken = graph.post(f"{FEED}/uploads", data={"url": f"{sandbox.url}/_sandbox/files/missing.csv"})
    failed = wait_finished(graph, broken.json()["id"])
    assert failed["error_count"] == 1 and failed["num_persisted_items"] == 0
    assert graph.post(f"{FEED}/uploads", data={}).json()["error"]["code"] == 100


def test_create_feed(sandbox, graph) -> None:
    created = graph.post(f"{CATALOG}/product_feeds", data={"name": "Daily feed"}).json()
    feeds = graph.get(f"{CATALOG}/product_feeds", fields="id,name").json()["data"]
    assert {"id": created["id"], "name": "Daily feed"} in feeds
    assert graph.get(created["id"], fields="name").json()["name"] == "Daily feed"
    assert graph.post(f"{CATALOG}/product_feeds", data={}).json()["error"]["code"] == 100


# --- items_batch ----------------------------------------------------------------------------------------------


def send_batch(graph: SandboxGraph, requests_: list, **data) -> requests.Response:
    return graph.post(f"{CATALOG}/items_batch", data={"item_type": "PRODUCT_ITEM", "requests": requests_, **data})


def batch_status(graph: SandboxGraph, handle: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = graph.get(
            f"{CATALOG}/check_batch_request_status", handle=handle, load_ids_of_invalid_requests="true"
        ).json()["data"][0]
        if status["status"] == "FINISHED" or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_items_batch_validates_and_applies(sandbox, graph) -> None:
    sandbox.admin.config(batch_delay_seconds=0.3)
    full = {
        "id": "BATCH-1",
        "title": "Batch item",
        "description": "d",
        "availability": "in stock",
        "condition": "new",
        "price": "14.00 USD",
        "link": "https://shop.example.com/b1",
        "image_link": "https://cdn.example.com/b1.jpg",
        "brand": "Acme",
    }
    reqs = [
        {"method": "UPDATE", "data": {"id": "SKU-00001", "quantity_to_sell_on_facebook": 7, "price": "3.50 USD"}},
        {"method": "UPDATE", "data": {"id": "SKU-00002", "price": "3,50"}},
        {"method": "UPDATE", "data": {"id": "SKU-00003", "availability": "sometimes"}},
        {"method": "UPDATE", "data": {"id": "SKU-00004", "quantity_to_sell_on_facebook": -1}},
        {"method": "DELETE", "data": {"id": "NOPE-1"}},
        {"method": "DELETE", "data": {"id": "SKU-00005"}},
        {"method": "CREATE", "data": full},
        {"method": "UPDATE", "data": {"id": "SKU-00006", "color": "red", "unknown_thing": "x"}},
    ]
    handles = send_batch(graph, reqs).json()["handles"]
    assert len(handles) == 1
    first = graph.get(f"{CATALOG}/check_batch_request_status", handle=handles[0]).json()["data"][0]
    assert first["status"] == "IN_PROGRESS"
    status = batch_status(graph, handles[0])
    assert status["status"] == "FINISHED" and status["errors_total_count"] == 4
    assert sorted(status["ids_of_invalid_requests"]) == ["NOPE-1", "SKU-00002", "SKU-00003", "SKU-00004"]
    assert {e["line"] for e in status["errors"]} == {1, 2, 3, 4}
    assert status["warnings_total_count"] == 1
    products = {p["retailer_id"]: p for p in sandbox.admin.state(include="products")["products"]}
    assert products["SKU-00001"]["quantity_to_sell_on_facebook"] == 7 and products["SKU-00001"]["price"] == "3.50 USD"
    assert "SKU-00005" not in products and "BATCH-1" in products
    assert products["SKU-00006"]["extra"]["color"] == "red"


def test_items_batch_upsert_rules(sandbox, graph) -> None:
    sandbox.admin.config(batch_delay_seconds=0)
    partial = [{"method": "UPDATE", "data": {"id": "GHOST", "price": "1.00 USD"}}]
    status = batch_status(graph, send_batch(graph, partial, allow_upsert="false").json()["handles"][0])
    assert status["ids_of_invalid_requests"] == ["GHOST"] and "allow_upsert" in status["errors"][0]["message"]
    status = batch_status(graph, send_batch(graph, partial).json()["handles"][0])
    assert status["ids_of_invalid_requests"] == ["GHOST"] and "required" in status["errors"][0]["message"]


def test_items_batch_null_clears_an_optional_field_and_an_empty_one_is_ignored(sandbox, graph) -> None:
    sandbox.admin.config(batch_delay_seconds=0)
    on_sale = [
        {
            "method": "UPDATE",
            "data": {
                "id": f"SKU-0000{n}",
                "sale_price": "1.00 USD",
                "sale_price_effective_date": "2030-01-01T00:00+00:00/2030-02-01T00:00+00:00",
            },
        }
        for n in (1, 2)
    ]
    batch_status(graph, send_batch(graph, on_sale).json()["handles"][0])
    ended = [
        {"method": "UPDATE", "data": {"id": "SKU-00001", "sale_price": None, "sale_price_effective_date": None}},
        {"method": "UPDATE", "data": {"id": "SKU-00002", "sale_price": ""}},
        {"method": "UPDATE", "data": {"id": "SKU-00003", "price": None}},
    ]
    status = batch_status(graph, send_batch(graph, ended).json()["handles"][0])
    products = {p["retailer_id"]: p for p in sandbox.admin.state(include="products")["products"]}
    assert products["SKU-00001"]["sale_price"] is None
    assert "sale_price_effective_date" not in products["SKU-00001"]["extra"]
    assert products["SKU-00002"]["sale_price"] == "1.00 USD" and products["SKU-00003"]["price"] is not None
    assert status["errors_total_count"] == 0
    assert [(w["id"], "ignored" in w["message"]) for w in status["warnings"]] == [
        ("SKU-00002", True),
        ("SKU-00003", True),
    ]


def test_items_batch_ignored_fields_knob(sandbox, graph) -> None:
    sandbox.admin.config(batch_delay_seconds=0, items_batch_ignored_fields=["price"])
    update = [{"method": "UPDATE", "data": {"id": "SKU-00001", "price": "2.22 USD", "quantity_to_sell_on_facebook": 5}}]
    status = batch_status(graph, send_batch(graph, update).json()["handles"][0])
    product = next(p for p in sandbox.admin.state(include="products")["products"] if p["retailer_id"] == "SKU-00001")
    assert product["price"] != "2.22 USD" and product["quantity_to_sell_on_facebook"] == 5
    [warning] = status["warnings"]
    assert warning["id"] == "SKU-00001" and "price" in warning["message"] and "ignored" in warning["message"]


def test_products_filter_by_retailer_id(sandbox, graph) -> None:
    wanted = graph.get(
        f"{CATALOG}/products",
        fields="retailer_id,quantity_to_sell_on_facebook",
        filter=json.dumps({"retailer_id": {"is_any": ["SKU-00002", "SKU-00001", "GONE"]}}),
    ).json()
    assert [p["retailer_id"] for p in wanted["data"]] == ["SKU-00001", "SKU-00002"]
    one = graph.get(f"{CATALOG}/products", filter=json.dumps({"retailer_id": {"eq": "SKU-00003"}})).json()
    assert len(one["data"]) == 1
    other = graph.get(f"{CATALOG}/products", filter=json.dumps({"brand": {"i_contains": "acme"}}))
    assert other.status_code == 400 and other.json()["error"]["code"] == 100


def test_items_batch_limits(sandbox, graph) -> None:
    one = [{"method": "UPDATE", "data": {"id": "SKU-00001", "quantity_to_sell_on_facebook": 1}}]
    no_type = graph.post(f"{CATALOG}/items_batch", data={"requests": one})
    assert no_type.json()["error"]["code"] == 100
    too_many = one * 5001
    assert send_batch(graph, too_many).json()["error"]["code"] == 100
    assert len(send_batch(graph, one * 5000).json()["handles"]) == 1
    as_json = graph.post(f"{CATALOG}/items_batch", json={"item_type": "PRODUCT_ITEM", "requests": one})
    assert as_json.status_code == 200
    bad_handle = graph.get(f"{CATALOG}/check_batch_request_status", handle="nope")
    assert bad_handle.json()["error"]["code"] == 100


def test_catalog_batch_throttle_80014(sandbox, graph) -> None:
    sandbox.admin.config(items_batch_per_minute=3)
    one = [{"method": "UPDATE", "data": {"id": "SKU-00001", "quantity_to_sell_on_facebook": 1}}]
    answers = [send_batch(graph, one) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    throttled = answers[3]
    assert throttled.status_code == 429 and throttled.json()["error"]["code"] == 80014
    buc = json.loads(throttled.headers["X-Business-Use-Case-Usage"])[defaults.SANDBOX_BUSINESS_ID][0]
    assert buc["type"] == "catalog_batch" and buc["estimated_time_to_regain_access"] >= 1
    assert sandbox.admin.stats()["throttled"] == 1
