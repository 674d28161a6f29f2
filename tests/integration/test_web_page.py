"""The customer-service page behind Airflow's own authentication: who gets in, CSRF, escaping, the returns list,
and the plugin as the API server loads it.

The app is mounted as Airflow mounts it, next to Airflow's auth manager (SimpleAuthManager, as `make airflow` runs
it); users come as JWTs that manager signs, in the ``_token`` cookie of its login or as a Bearer header.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from fb_commerce.warehouse import schema
from fb_commerce.web import URL_PREFIX
from fb_commerce.web.auth import CSRF_COOKIE, WebUser, check_csrf, csrf_token

HOSTILE = "<script>alert(1)</script>"
BROWSER = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def airflow_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fixed signing keys: Airflow would otherwise make a new one at each read when the config has none."""
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "test-jwt-secret-" + "x" * 64)
    monkeypatch.setenv("AIRFLOW__API__SECRET_KEY", "test-secret-key")


@pytest.fixture
def auth_manager(airflow_secrets: None) -> Any:
    from airflow.api_fastapi.app import init_auth_manager

    return init_auth_manager()


def token(auth_manager: Any, username: str, role: str | None) -> str:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return auth_manager.generate_jwt(SimpleAuthManagerUser(username=username, role=role))


@pytest.fixture
def client(auth_manager: Any, warehouse_engine: Any) -> Iterator[TestClient]:
    from fb_commerce.web.app import create_app

    root = FastAPI()
    root.state.auth_manager = auth_manager
    # no Graph API here: the checks that need Meta's state now are cs's to test
    root.mount(URL_PREFIX, create_app(engine=lambda: warehouse_engine, live=lambda: None))
    with TestClient(root, base_url="http://testserver") as test_client:
        yield test_client


def as_user(client: TestClient, auth_manager: Any, username: str = "agent", role: str = "user") -> TestClient:
    """The browser of a user logged in to Airflow (the ``_token`` cookie Airflow's login sets)."""
    client.cookies.set("_token", token(auth_manager, username, role))
    return client


def seed_requested_return(engine: Any, order_id: str, buyer_name: str, requested_at: dt.datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(schema.fb_orders).values(
                order_id=order_id,
                state="COMPLETED",
                buyer_name=buyer_name,
                merchant_order_reference=f"REF-{order_id}",
            )
        )
        conn.execute(
            sa.insert(schema.fb_returns).values(
                return_id=f"R{order_id}", order_id=order_id, return_status="REQUESTED", created_at=requested_at
            )
        )


# --- who gets in -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/returns", "/orders/123", "/actions/1"])
def test_anonymous_requests_are_refused(client: TestClient, path: str) -> None:
    assert client.get(URL_PREFIX + path).status_code == 401
    response = client.post(URL_PREFIX + "/orders/123/refund", data={"reason_code": "WRONG_ITEM"})
    assert response.status_code == 401


def test_an_anonymous_browser_is_sent_to_airflows_login_and_back(client: TestClient) -> None:
    response = client.get(URL_PREFIX + "/returns?x=1", headers=BROWSER, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == (
        "/api/v2/auth/login?next=http%3A%2F%2Ftestserver%2Ffb-commerce%2Freturns%3Fx%3D1"
    )


def test_a_forged_or_expired_token_is_refused(client: TestClient, auth_manager: Any) -> None:
    forged = token(auth_manager, "agent", "admin")[:-4] + "AAAA"
    assert client.get(URL_PREFIX + "/", headers={"Authorization": f"Bearer {forged}"}).status_code == 403
    client.cookies.set("_token", forged)
    response = client.get(URL_PREFIX + "/", headers=BROWSER, follow_redirects=False)
    assert response.status_code == 303 and "/api/v2/auth/login" in response.headers["location"]


def test_a_user_without_a_role_may_not_look_orders_up(client: TestClient, auth_manager: Any) -> None:
    bearer = {"Authorization": f"Bearer {token(auth_manager, 'nobody', None)}"}
    assert client.get(URL_PREFIX + "/returns", headers=bearer).status_code == 403
    page = client.get(URL_PREFIX + "/returns", headers={**bearer, **BROWSER})
    assert page.status_code == 403 and "Not allowed" in page.text


def test_a_viewer_reads_but_may_not_act(client: TestClient, auth_manager: Any) -> None:
    viewer = as_user(client, auth_manager, "watcher", "viewer")
    page = viewer.get(URL_PREFIX + "/returns")
    assert page.status_code == 200 and "watcher (read only)" in page.text
    # refused for the permission, before the form (and its CSRF token) is even read
    refused = viewer.post(URL_PREFIX + "/orders/123/refund", data={"reason_code": "WRONG_ITEM"})
    assert refused.status_code == 403 and refused.text == "Forbidden"


def test_a_bearer_token_works_as_well_as_the_login_cookie(client: TestClient, auth_manager: Any) -> None:
    bearer = {"Authorization": f"Bearer {token(auth_manager, 'script', 'viewer')}"}
    assert client.get(URL_PREFIX + "/returns", headers=bearer).status_code == 200


# --- CSRF ----------------------------------------------------------------------------------------------------


def test_a_form_without_its_csrf_token_is_refused(client: TestClient, auth_manager: Any) -> None:
    agent = as_user(client, auth_manager)
    agent.get(URL_PREFIX + "/returns")  # sets the nonce cookie
    for data in ({}, {"csrf_token": ""}, {"csrf_token": "forged.token"}):
        response = agent.post(URL_PREFIX + "/orders/123/refund", data={**data, "reason_code": "WRONG_ITEM"})
        assert response.status_code == 403 and "did not come from this page" in response.text


def test_a_csrf_token_only_serves_its_user_and_browser(airflow_secrets: None) -> None:
    agent, other = WebUser("agent", "t", True), WebUser("other", "t", True)

    def request(nonce: str | None) -> Request:
        cookie = [(b"cookie", f"{CSRF_COOKIE}={nonce}".encode())] if nonce else []
        return Request({"type": "http", "method": "POST", "path": "/", "headers": cookie})

    nonce = "n" * 43
    good = csrf_token(agent, nonce)
    check_csrf(request(nonce), agent, good)  # accepted
    for req, user, submitted in (
        (request(nonce), other, good),  # another user's page
        (request("m" * 43), agent, good),  # another browser's page
        (request(None), agent, good),  # no cookie at all
        (request(nonce), agent, good[:-2] + "xx"),  # tampered
    ):
        with pytest.raises(Exception) as refused:
            check_csrf(req, user, submitted)
        assert getattr(refused.value, "status_code", None) == 403


def test_the_page_sets_its_nonce_cookie_once_and_strictly(client: TestClient, auth_manager: Any) -> None:
    agent = as_user(client, auth_manager)
    first = agent.get(URL_PREFIX + "/returns")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert f"Path={URL_PREFIX}" in cookie
    assert "set-cookie" not in agent.get(URL_PREFIX + "/returns").headers
    assert first.headers["cache-control"] == "no-store"


# --- what is shown -----------------------------------------------------------------------------------------


def test_returns_awaiting_oldest_first_with_age_and_a_hostile_name_as_text(
    client: TestClient, auth_manager: Any, warehouse_engine: Any
) -> None:
    now = dt.datetime.now(dt.UTC)
    seed_requested_return(warehouse_engine, "1001", HOSTILE, now - dt.timedelta(days=3, hours=2))
    seed_requested_return(warehouse_engine, "1002", "Zoë Ångström", now - dt.timedelta(hours=5))
    with warehouse_engine.begin() as conn:  # answered already: not listed
        conn.execute(sa.insert(schema.fb_returns).values(return_id="R9", order_id="1002", return_status="APPROVED"))
    page = as_user(client, auth_manager).get(URL_PREFIX + "/returns")
    assert page.status_code == 200
    assert HOSTILE not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert page.text.index("R1001") < page.text.index("R1002") and "R9" not in page.text
    assert "3 d 2 h" in page.text and "Zoë Ångström" in page.text
    assert f'href="{URL_PREFIX}/orders/1001"' in page.text


def test_the_stylesheet_comes_from_the_app(client: TestClient) -> None:
    css = client.get(URL_PREFIX + "/static/style.css")
    assert css.status_code == 200 and "font" in css.text and "http" not in css.text


# --- the plugin in Airflow's API server ----------------------------------------------------------------------


def test_airflow_loads_the_plugin_once_and_mounts_the_page(airflow_secrets: None) -> None:
    from airflow import plugins_manager
    from airflow.api_fastapi.app import create_app, purge_cached_app

    plugins_manager._get_plugins.cache_clear()
    plugins_manager._get_ui_plugins.cache_clear()
    plugins, errors = plugins_manager._get_plugins()
    ours = [plugin for plugin in plugins if plugin.name == "fb_commerce"]
    assert len(ours) == 1 and not errors, errors
    views, _ = plugins_manager._get_ui_plugins()
    nav = [view for view in views if view.get("url_route") == "fb-commerce"]
    assert nav and nav[0]["href"] == "fb-commerce/" and nav[0]["destination"] == "nav"

    purge_cached_app()
    try:
        app = create_app(apps="core")
        mounts = {getattr(route, "path", None) for route in app.routes}
        assert URL_PREFIX in mounts
        with TestClient(app) as api:
            assert api.get(URL_PREFIX + "/").status_code == 401
            assert api.get(URL_PREFIX + "/returns", headers=BROWSER, follow_redirects=False).status_code == 303
    finally:
        purge_cached_app()


# --- the pages on cs (lookup and actions) --------------------------------------------------------------------


@pytest.fixture
def shop(client: TestClient, warehouse_engine: Any) -> TestClient:
    """Two orders from Meta (one from a buyer with a hostile name, one item shipped of two), read by cs."""
    pytest.importorskip("fb_commerce.cs.actions", reason="the cs package (lookup and actions) has not landed yet")
    from support import CS_NOW, meta_order

    from fb_commerce.orders.reference import default_reference
    from fb_commerce.orders.store import PageRows, store_page
    from fb_commerce.warehouse.upsert import upsert

    orders = [
        meta_order(
            "20001",
            HOSTILE,
            "buyer@example.com",
            items=[
                ("i1", "SKU-1", 2, "10.00", {"in_progress": 1, "fulfilled": 1, "cancelled": 0}),
                ("i2", "SKU-2", 1, "5.00", {"in_progress": 1, "fulfilled": 0, "cancelled": 0}),
            ],
        ),
        meta_order("20002", "Ana Lima", "ana@example.com"),
    ]
    store_page(warehouse_engine, PageRows.of(orders, CS_NOW), generator=default_reference)
    shipment = {"shipment_id": "s1", "order_id": "20001", "carrier": "ups", "tracking_number": "1Z1"}
    upsert(warehouse_engine, schema.fb_shipments, [{**shipment, "items": [{"id": "i1", "quantity": 1}]}])
    return client


def form_fields(html: str, form_id: str) -> dict[str, str]:
    """The hidden fields (CSRF token, submission id) of one form of the page."""
    import re

    form = html[html.index(f'id="{form_id}"') :]
    form = form[: form.index("</form>")]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))


def test_search_results_and_the_order_page_show_a_hostile_name_as_text(shop: TestClient, auth_manager: Any) -> None:
    agent = as_user(shop, auth_manager)
    results = agent.get(URL_PREFIX + "/", params={"q": "buyer@example.com"})
    assert results.status_code == 200 and f'href="{URL_PREFIX}/orders/20001"' in results.text
    assert HOSTILE not in results.text and "&lt;script&gt;" in results.text
    opened = agent.get(URL_PREFIX + "/", params={"q": "20001"}, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == f"{URL_PREFIX}/orders/20001"
    page = agent.get(URL_PREFIX + "/orders/20001")
    assert page.status_code == 200 and HOSTILE not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    for form in ("refund-form", "cancel-form", "tracking-form"):
        assert set(form_fields(page.text, form)) == {"csrf_token", "submission_id"}
    assert agent.get(URL_PREFIX + "/orders/99999").status_code == 404


def test_a_refused_refund_is_explained_next_to_its_form_and_queues_nothing(
    shop: TestClient, auth_manager: Any, warehouse_engine: Any
) -> None:
    agent = as_user(shop, auth_manager)
    hidden = form_fields(agent.get(URL_PREFIX + "/orders/20001").text, "refund-form")
    refused = agent.post(
        URL_PREFIX + "/orders/20001/refund", data={**hidden, "quantity.i2": "1", "reason_code": "DAMAGED_GOODS"}
    )
    assert refused.status_code == 422
    form = refused.text[refused.text.index('id="refund-form"') :]
    form = form[: form.index("</form>")]
    assert 'class="refused"' in form and "Not done" in form
    assert 'value="1"' in form  # what was typed stays in the form
    with warehouse_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.fb_refund_requests)).scalar_one() == 0
    unreadable = agent.post(
        URL_PREFIX + "/orders/20001/refund", data={**hidden, "amount.i1": "3,50", "reason_code": "DAMAGED_GOODS"}
    )
    assert unreadable.status_code == 422 and "is not an amount" in unreadable.text


def test_a_refund_is_queued_once_even_when_its_page_is_sent_twice(
    shop: TestClient, auth_manager: Any, warehouse_engine: Any
) -> None:
    agent = as_user(shop, auth_manager)
    hidden = form_fields(agent.get(URL_PREFIX + "/orders/20001").text, "refund-form")
    data = {**hidden, "quantity.i1": "1", "reason_code": "DAMAGED_GOODS", "reason_text": "Sorry"}
    first = agent.post(URL_PREFIX + "/orders/20001/refund", data=data, follow_redirects=False)
    second = agent.post(URL_PREFIX + "/orders/20001/refund", data=data, follow_redirects=False)
    for response in (first, second):
        # queued; no Airflow API answers in this test, so the page says the next scheduled run sends it
        assert response.status_code == 303 and "/actions/cs-" in response.headers["location"]
        assert response.headers["location"].endswith("?sender_error=0")
    with warehouse_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.fb_refund_requests)).scalar_one() == 1
        who = conn.execute(sa.select(schema.fb_cs_actions.c.requested_by, schema.fb_cs_actions.c.source)).all()
    assert [tuple(row) for row in who] == [("agent", "web"), ("agent", "web")]
    status = agent.get(first.headers["location"])
    assert status.status_code == 200 and 'data-outcome="pending"' in status.text
    assert '<meta http-equiv="refresh"' in status.text and "Sorry" in status.text  # reloads; shows what was asked
    assert "did not start the sender" in status.text
