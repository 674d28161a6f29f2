"""The sandbox's Graph basics over real HTTP: credentials, errors, field selection, paging."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from fb_commerce import defaults
from fb_commerce.sandbox.client import SandboxGraph

CMS = defaults.SANDBOX_CMS_ID
ALL_STATES = "FB_PROCESSING,CREATED,IN_PROGRESS,COMPLETED"


@pytest.fixture
def graph(sandbox) -> SandboxGraph:
    return SandboxGraph(sandbox.url)


def _error(response: requests.Response) -> dict:
    body = response.json()
    assert "error" in body, body
    return body["error"]


def _orders(sandbox, state: str | None = None) -> list[dict]:
    orders = sandbox.admin.state(include="orders")["orders"]
    return [o for o in orders if state is None or o["state"] == state]


# --- credentials ----------------------------------------------------------------------------------------------


def test_missing_token_is_code_104(sandbox) -> None:
    response = requests.get(f"{sandbox.url}/v25.0/me", timeout=10)
    assert response.status_code == 400
    assert _error(response)["code"] == 104


def test_wrong_token_is_oauth_190(sandbox) -> None:
    response = SandboxGraph(sandbox.url, access_token="not-the-token").get("me")
    error = _error(response)
    assert response.status_code == 400
    assert (error["code"], error["type"]) == (190, "OAuthException")
    for key in ("message", "error_subcode", "error_user_title", "error_user_msg", "fbtrace_id", "is_transient"):
        assert key in error or key == "error_subcode"


def test_expired_token_has_subcode_463(sandbox) -> None:
    sandbox.admin.config(expired_tokens=[defaults.SANDBOX_ACCESS_TOKEN])
    error = _error(SandboxGraph(sandbox.url).get("me"))
    assert (error["code"], error["error_subcode"]) == (190, 463)


def test_appsecret_proof_is_required_and_checked(sandbox) -> None:
    url = f"{sandbox.url}/v25.0/me"
    missing = requests.get(url, params={"access_token": defaults.SANDBOX_ACCESS_TOKEN}, timeout=10)
    assert missing.status_code == 400 and "appsecret_proof" in _error(missing)["message"]
    wrong = requests.get(
        url, params={"access_token": defaults.SANDBOX_ACCESS_TOKEN, "appsecret_proof": "00" * 32}, timeout=10
    )
    assert wrong.status_code == 400 and "Invalid appsecret_proof" in _error(wrong)["message"]


def test_token_in_authorization_header_and_in_form(sandbox, graph) -> None:
    proof = graph.credentials["appsecret_proof"]
    for scheme in ("Bearer", "OAuth"):
        response = requests.get(
            f"{sandbox.url}/v25.0/me",
            params={"appsecret_proof": proof},
            headers={"Authorization": f"{scheme} {defaults.SANDBOX_ACCESS_TOKEN}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
    # POST with the credentials as form fields instead of the query string
    response = requests.post(f"{sandbox.url}/v25.0/{CMS}/order_management_apps", data=graph.credentials, timeout=10)
    assert response.json() == {"success": True}


def test_missing_permission_is_403_code_200(sandbox, graph) -> None:
    sandbox.admin.config(permissions=["catalog_management"])
    response = graph.get(f"{CMS}/commerce_orders")
    assert response.status_code == 403
    assert _error(response)["code"] == 200
    assert graph.get(f"{defaults.SANDBOX_CATALOG_ID}").status_code == 200
    granted = graph.get("me/permissions").json()["data"]
    assert granted == [{"permission": "catalog_management", "status": "granted"}]


def test_unknown_object_edge_and_field(graph) -> None:
    unknown = _error(graph.get("999999999"))
    assert (unknown["code"], unknown["error_subcode"]) == (100, 33)
    assert _error(graph.get(f"{CMS}/not_an_edge"))["code"] == 100
    bad_field = graph.get(f"{CMS}/commerce_orders", fields="id,no_such_field")
    assert bad_field.status_code == 400 and "no_such_field" in _error(bad_field)["message"]


def test_versioned_and_unversioned_paths(sandbox, graph) -> None:
    assert graph.get("me").json()["id"]
    unversioned = requests.get(f"{sandbox.url}/me", params=graph.credentials, timeout=10)
    assert unversioned.status_code == 200 and unversioned.json() == graph.get("me").json()


# --- setup reads ----------------------------------------------------------------------------------------------


def test_page_cms_setup_status_and_apps(graph) -> None:
    page = graph.get(defaults.SANDBOX_PAGE_ID, fields="commerce_merchant_settings").json()
    assert page["commerce_merchant_settings"]["data"][0]["id"] == CMS
    cms = graph.get(CMS, fields="id,display_name,merchant_page").json()
    assert cms["display_name"] and cms["merchant_page"]["id"] == defaults.SANDBOX_PAGE_ID
    status = graph.get(f"{CMS}/setup_status").json()["data"][0]
    assert status["shop_setup"] == "SETUP" and status["payment_setup"] == "SETUP"
    apps = graph.get(f"{CMS}/order_management_apps").json()["data"]
    assert [a["id"] for a in apps] == [defaults.SANDBOX_APP_ID]
    assert graph.delete(f"{CMS}/order_management_apps").json() == {"success": True}
    assert graph.get(f"{CMS}/order_management_apps").json()["data"] == []


# --- fields ---------------------------------------------------------------------------------------------------


def test_default_fields_of_an_order_and_its_items(sandbox, graph) -> None:
    order = _orders(sandbox, "CREATED")[0]
    assert set(graph.get(order["id"]).json()) == {"id", "order_status", "created", "last_updated"}
    items = graph.get(f"{order['id']}/items").json()["data"]
    assert set(items[0]) == {"id", "retailer_id", "product_id", "quantity", "price_per_unit"}
    assert set(items[0]["price_per_unit"]) == {"amount", "currency"}
    created = graph.get(order["id"]).json()["created"]
    assert created.endswith("+00:00") and "T" in created


def test_nested_field_selection(sandbox, graph) -> None:
    order = _orders(sandbox, "IN_PROGRESS")[0]
    body = graph.get(
        order["id"],
        fields="id,items{retailer_id,quantity,tax_details{captured_tax}},"
        "estimated_payment_details{subtotal{items},total_amount},"
        "buyer_details{email_remarketing_option}",
    ).json()
    assert set(body) == {"id", "items", "estimated_payment_details", "buyer_details"}
    assert set(body["items"]["data"][0]) == {"retailer_id", "quantity", "tax_details"}
    assert set(body["items"]["data"][0]["tax_details"]) == {"captured_tax"}
    assert set(body["estimated_payment_details"]) == {"subtotal", "total_amount"}
    assert set(body["estimated_payment_details"]["subtotal"]) == {"items"}
    assert set(body["buyer_details"]) == {"email_remarketing_option"}
    items = graph.get(f"{order['id']}/items", fields="id,status,product_name,selected_shipping_option").json()
    status = items["data"][0]["status"]
    assert set(status) == {"in_progress", "fulfilled", "cancelled"}
    assert graph.get(order["id"], fields="id,items{").status_code == 400


def test_buyer_pii_hidden_while_fb_processing(sandbox, graph) -> None:
    order = _orders(sandbox, "FB_PROCESSING")[0]
    body = graph.get(order["id"], fields="id,buyer_details,shipping_address,items{retailer_id}").json()
    assert "buyer_details" not in body and "shipping_address" not in body
    assert body["items"]["data"]


def test_order_money_ids_and_channels(sandbox, graph) -> None:
    pages = graph.pages(
        f"{CMS}/commerce_orders",
        state=ALL_STATES,
        limit=100,
        fields="id,channel,buyer_details,estimated_payment_details,ship_by_date,is_test_order",
    )
    orders = [o for p in pages for o in p["data"]]
    assert all(isinstance(o["id"], str) for o in orders)
    assert {o["channel"] for o in orders} == {"facebook", "instagram"}
    opt_ins = {o["buyer_details"]["email_remarketing_option"] for o in orders if "buyer_details" in o}
    assert opt_ins == {True, False}
    total = orders[0]["estimated_payment_details"]["total_amount"]
    assert total["currency"] == "USD" and isinstance(total["amount"], str) and "." in total["amount"]


# --- paging ---------------------------------------------------------------------------------------------------


def test_default_state_is_created_and_paging_reaches_every_order(sandbox, graph) -> None:
    created = {o["id"] for o in _orders(sandbox, "CREATED")}
    default = graph.pages(f"{CMS}/commerce_orders", limit=3)
    assert {o["id"] for p in default for o in p["data"]} == created
    assert all(len(p["data"]) <= 3 for p in default) and len(default) >= 2
    assert "next" not in default[-1].get("paging", {})
    everything = graph.pages(f"{CMS}/commerce_orders", state=ALL_STATES, limit=7)
    ids = [o["id"] for p in everything for o in p["data"]]
    assert len(ids) == len(set(ids)) == len(_orders(sandbox))


def test_next_keeps_params_and_credentials(graph) -> None:
    first = graph.get(f"{CMS}/commerce_orders", state=ALL_STATES, limit=5, fields="id,channel").json()
    nxt = first["paging"]["next"]
    assert "access_token=" in nxt and "appsecret_proof=" in nxt and "fields=id%2Cchannel" in nxt
    second = requests.get(nxt, timeout=10).json()
    assert set(second["data"][0]) == {"id", "channel"}
    assert not {o["id"] for o in first["data"]} & {o["id"] for o in second["data"]}
    cursor = first["paging"]["cursors"]["after"]
    by_cursor = graph.get(f"{CMS}/commerce_orders", state=ALL_STATES, limit=5, fields="id,channel", after=cursor).json()
    assert by_cursor["data"] == second["data"]
    back = graph.get(
        f"{CMS}/commerce_orders",
        state=ALL_STATES,
        limit=5,
        fields="id,channel",
        before=second["paging"]["cursors"]["before"],
    ).json()
    assert back["data"] == first["data"]


def test_limit_is_capped_and_validated(sandbox, graph) -> None:
    sandbox.admin.seed(orders=300)
    page = graph.get(f"{CMS}/commerce_orders", state=ALL_STATES, limit=1000).json()
    assert len(page["data"]) == 100  # the unconfirmed, conservative cap
    assert _error(graph.get(f"{CMS}/commerce_orders", limit="abc"))["code"] == 100
    assert _error(graph.get(f"{CMS}/commerce_orders", limit=0))["code"] == 100
    assert _error(graph.get(f"{CMS}/commerce_orders", after="!!notacursor"))["code"] == 100
    forged = base64.urlsafe_b64encode(json.dumps({"x": 1}).encode()).decode()
    assert _error(graph.get(f"{CMS}/commerce_orders", after=forged))["code"] == 100


def test_filtered_scan_returns_empty_pages_with_next(sandbox, graph) -> None:
    sandbox.admin.config(page_scan_budget=4)
    truth = {o["id"] for o in _orders(sandbox) if o["refunds"]["data"]}
    pages = graph.pages(f"{CMS}/commerce_orders", state=ALL_STATES, filters="has_refunds", limit=25)
    found = [o["id"] for p in pages for o in p["data"]]
    assert sorted(found) == sorted(truth) and truth
    assert any(not p["data"] and "next" in p.get("paging", {}) for p in pages), "expected an empty page with next"


def test_filters_and_updated_window(sandbox, graph) -> None:
    orders = _orders(sandbox)
    shipped = graph.pages(f"{CMS}/commerce_orders", state=ALL_STATES, filters="has_fulfillments,no_refunds", limit=50)
    expected = {o["id"] for o in orders if o["shipments"]["data"] and not o["refunds"]["data"]}
    assert {o["id"] for p in shipped for o in p["data"]} == expected
    assert _error(graph.get(f"{CMS}/commerce_orders", filters="bogus"))["code"] == 100
    assert _error(graph.get(f"{CMS}/commerce_orders", state="SHIPPED"))["code"] == 100
    pivot = sorted(o["last_updated"] for o in orders)[len(orders) // 2]
    from datetime import datetime

    ts = int(datetime.fromisoformat(pivot).timestamp())
    recent = graph.pages(
        f"{CMS}/commerce_orders", state=ALL_STATES, updated_after=ts, limit=50, fields="id,last_updated"
    )
    got = [o for p in recent for o in p["data"]]
    assert got and all(int(datetime.fromisoformat(o["last_updated"]).timestamp()) > ts for o in got)
    assert {o["id"] for o in got} == {
        o["id"] for o in orders if int(datetime.fromisoformat(o["last_updated"]).timestamp()) > ts
    }
