"""FbCommerceHook over real HTTP against the sandbox: auth, paging, writes, uploads, and faults."""

from __future__ import annotations

import json
import logging

import pytest
from support import set_connections

from fb_commerce import defaults
from fb_commerce.environment import sandbox_connection
from fb_commerce.graph import GraphAuthError, GraphCommerceError, GraphRateLimitWait
from fb_commerce.graph.idempotency import idempotency_key
from fb_commerce.hooks.graph import FbCommerceHook

CMS = defaults.SANDBOX_CMS_ID
ALL_STATES = "FB_PROCESSING,CREATED,IN_PROGRESS,COMPLETED"


def connect(monkeypatch, url: str, **extra) -> FbCommerceHook:
    # a short read timeout so timeout faults cost little
    set_connections(monkeypatch, url, fast=True, timeout=[2, 0.5], **extra)
    return FbCommerceHook()


@pytest.fixture
def hook(sandbox, monkeypatch) -> FbCommerceHook:
    return connect(monkeypatch, sandbox.url)


def truth(sandbox) -> dict[str, dict]:
    return {o["id"]: o for o in sandbox.admin.state(include="orders")["orders"]}


def test_reads_ids_and_settings_from_the_connection(hook, sandbox):
    assert hook.cms_id == CMS and hook.catalog_id == defaults.SANDBOX_CATALOG_ID
    assert hook.client.settings.base_url == sandbox.url
    assert hook.test_connection()[0] is True


def test_every_order_in_every_state_is_paged(hook, sandbox):
    seen = [
        o["id"]
        for o in hook.client.paginate(
            f"{CMS}/commerce_orders", fields="id,order_status", params={"state": ALL_STATES}, limit=7
        )
    ]
    assert sorted(seen) == sorted(truth(sandbox)) and len(seen) == len(set(seen))


def test_nested_fields_come_back(hook):
    order = next(
        hook.client.paginate(
            f"{CMS}/commerce_orders",
            fields=["id", {"items": ["retailer_id", "quantity"]}],
            params={"state": ALL_STATES},
        )
    )
    item = order["items"]["data"][0]
    assert set(item) <= {"id", "retailer_id", "quantity"} and "retailer_id" in item


def test_wrong_token_is_an_auth_error_without_the_token(sandbox, monkeypatch):
    conn = sandbox_connection(sandbox.url)
    conn["password"] = "not-the-token"
    monkeypatch.setenv("AIRFLOW_CONN_FB_COMMERCE_DEFAULT", json.dumps(conn))
    with pytest.raises(GraphAuthError) as info:
        FbCommerceHook().client.get("me")
    assert "not-the-token" not in str(info.value)


def test_wrong_app_secret_fails_the_proof(sandbox, monkeypatch):
    hook = connect(monkeypatch, sandbox.url, app_secret="wrong-secret")
    with pytest.raises(Exception) as info:
        hook.client.get("me")
    assert "appsecret_proof" in str(info.value) and "wrong-secret" not in str(info.value)


def test_commerce_rule_errors_are_typed(hook, sandbox):
    order = next(o for o in truth(sandbox).values() if o["order_status"]["state"] == "IN_PROGRESS")
    body = {"tracking_info": {"carrier": "UPS", "tracking_number": "1Z-DUP-1"}}
    hook.client.post(
        f"{order['id']}/shipments",
        {
            **body,
            "items": [{"retailer_id": order["items"]["data"][0]["retailer_id"], "quantity": 1}],
            "idempotency_key": idempotency_key("ship", order["id"], 1),
        },
    )
    with pytest.raises(GraphCommerceError) as info:
        hook.client.post(
            f"{order['id']}/shipments", {**body, "idempotency_key": idempotency_key("ship", order["id"], 2)}
        )
    assert info.value.commerce_code == 2382045


def test_long_throttle_ends_the_attempt(sandbox, monkeypatch):
    hook = connect(monkeypatch, sandbox.url)
    sandbox.admin.faults(throttle_rate=1.0, throttle_regain_minutes=30)
    with pytest.raises(GraphRateLimitWait) as info:
        hook.client.get(f"{CMS}/commerce_orders")
    assert info.value.regain_seconds == 1800
    assert sandbox.admin.stats()["graph_requests"] == 1


def test_with_faults_every_page_arrives_and_no_write_is_applied_twice(sandbox, monkeypatch, caplog):
    hook = connect(monkeypatch, sandbox.url)
    expected = truth(sandbox)
    sandbox.admin.faults(error_rate=0.3, throttle_rate=0.2, timeout_rate=0.05, timeout_ms=700)
    caplog.set_level(logging.DEBUG)

    seen = [o["id"] for o in hook.client.paginate(f"{CMS}/commerce_orders", params={"state": ALL_STATES}, limit=5)]
    assert sorted(seen) == sorted(expected)

    created = [oid for oid, o in expected.items() if o["order_status"]["state"] == "CREATED"]
    for oid in created:
        payload = {"merchant_order_reference": f"REF-{oid[-6:]}"}
        hook.client.post(
            f"{oid}/acknowledge_order", {**payload, "idempotency_key": idempotency_key("ack", oid, payload)}
        )

    sandbox.admin.faults()
    after = truth(sandbox)
    stats = sandbox.admin.stats()
    assert stats["faults"] and stats["throttled"] > 0
    for oid in created:
        assert after[oid]["order_status"]["state"] == "IN_PROGRESS"
        assert after[oid]["acknowledged_count"] == 1, f"{oid} acknowledged {after[oid]['acknowledged']} times"
    assert hook.client.stats.retries > 0
    token, secret = defaults.SANDBOX_ACCESS_TOKEN, defaults.SANDBOX_APP_SECRET
    assert token not in caplog.text and secret not in caplog.text


def test_upload_streams_a_feed_file(hook, sandbox, tmp_path):
    feed = tmp_path / "feed.csv"
    feed.write_text(
        "id,title,description,availability,condition,price,link,image_link,brand\n"
        "SKU-NEW-1,Mug,A mug,in stock,new,9.99 USD,https://shop.example/m,https://shop.example/m.jpg,Acme\n"
        "SKU-NEW-2,,No title,in stock,new,9.99 USD,https://shop.example/n,https://shop.example/n.jpg,Acme\n"
    )
    upload = hook.client.upload_file(
        f"{defaults.SANDBOX_FEED_ID}/uploads", feed, content_type="text/csv", data={"update_only": True}
    )
    assert upload["id"]
    sandbox.admin.clock(advance_seconds=5)
    session = hook.client.get(upload["id"], fields="id,end_time,num_detected_items,num_invalid_items,error_count")
    assert session["num_detected_items"] == 2 and session["num_invalid_items"] == 1
