"""GraphClient against a mocked transport: errors, paging, retries, usage headers, secrets."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from fb_commerce.graph import (
    GraphAuthError,
    GraphClient,
    GraphCommerceError,
    GraphConnectionError,
    GraphInvalidParameterError,
    GraphRateLimitWait,
    GraphSettings,
    GraphThrottledError,
    GraphTransientError,
)
from fb_commerce.graph.client import appsecret_proof, endpoint_of, form_encode

BASE = "https://graph.example.test"
ROOT = f"{BASE}/v25.0"
TOKEN = "EAAB-secret-token-value"
SECRET = "app-secret-value"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sleeps: Sleeps) -> GraphClient:
    settings = GraphSettings(base_url=BASE, max_attempts=4, backoff_initial=0.5, backoff_max=4)
    return GraphClient(TOKEN, SECRET, settings, sleep=sleeps)


def query(request) -> dict[str, list[str]]:
    """The query string as sent (requests_mock's .qs lower-cases values)."""
    return parse_qs(urlsplit(request.url).query)


def graph_error(code: int, subcode: int | None = None, message: str = "boom", **extra) -> dict:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "TRACE123", **extra}
    if subcode:
        error["error_subcode"] = subcode
    return {"error": error}


def test_every_call_carries_token_header_proof_user_agent_and_timeout(client, requests_mock):
    requests_mock.get(f"{ROOT}/me", json={"id": "1"})
    assert client.get("me", fields=["id", {"items": ["retailer_id", "quantity"]}]) == {"id": "1"}
    sent = requests_mock.last_request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.qs["appsecret_proof"] == [appsecret_proof(TOKEN, SECRET)]
    assert sent.qs["fields"] == ["id,items{retailer_id,quantity}"]
    assert "access_token" not in sent.qs
    assert sent.headers["User-Agent"].startswith("fb-commerce-pipelines/")
    assert sent.timeout == 60.0 or sent.timeout == (10.0, 60.0)
    assert sent.verify  # True or a CA bundle path: never off


def test_paging_follows_next_to_the_end_through_an_empty_page(client, requests_mock):
    url = f"{ROOT}/42/commerce_orders"
    requests_mock.get(
        url,
        [
            {"json": {"data": [{"id": "1"}, {"id": "2"}], "paging": {"next": f"{url}?after=A&access_token=LEAK"}}},
            {"json": {"data": [], "paging": {"next": f"{url}?after=B"}}},
            {"json": {"data": [{"id": "3"}], "paging": {"cursors": {"after": "C"}}}},
        ],
    )
    ids = [o["id"] for o in client.paginate("42/commerce_orders", params={"state": "CREATED"})]
    assert ids == ["1", "2", "3"]
    first, second, third = requests_mock.request_history
    assert query(first) == {"limit": ["100"], "state": ["CREATED"], "appsecret_proof": [appsecret_proof(TOKEN, SECRET)]}
    # the token found in a next URL is dropped; auth stays in the header
    assert "access_token" not in query(second) and query(second)["after"] == ["A"]
    assert query(third)["after"] == ["B"]


def test_next_url_is_rebased_on_the_configured_host(client, requests_mock):
    requests_mock.get(
        f"{ROOT}/1/items",
        json={"data": [{"id": "a"}], "paging": {"next": "https://graph.facebook.com/v25.0/1/items?after=X"}},
    )
    requests_mock.get(f"{ROOT}/1/items?after=X", json={"data": [{"id": "b"}]})
    assert [i["id"] for i in client.paginate("1/items")] == ["a", "b"]


def test_paging_loop_is_detected(client, requests_mock):
    url = f"{ROOT}/1/items"
    requests_mock.get(url, json={"data": [{"id": "a"}], "paging": {"next": f"{url}?after=SAME"}})
    with pytest.raises(Exception, match="Paging loop"):
        list(client.paginate("1/items"))


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, graph_error(190, 463, "Error validating access token"), GraphAuthError),
        (403, graph_error(200, message="Permissions error"), GraphAuthError),
        (400, graph_error(100, message="Invalid parameter"), GraphInvalidParameterError),
        (400, graph_error(100, 2382045, "Duplicate tracking number"), GraphCommerceError),
        (400, graph_error(1818111, message="Cancelled order can't ship"), GraphCommerceError),
    ],
)
def test_non_retryable_errors_fail_at_once_with_their_codes(client, requests_mock, sleeps, status, body, cls):
    requests_mock.post(f"{ROOT}/9/shipments", status_code=status, json=body)
    with pytest.raises(cls) as info:
        client.post("9/shipments", {"idempotency_key": "k"})
    exc = info.value
    assert requests_mock.call_count == 1 and sleeps == []
    assert exc.fbtrace_id == "TRACE123" and exc.http_status == status
    assert exc.code == body["error"]["code"]
    assert TOKEN not in str(exc) and SECRET not in str(exc)
    assert client.stats.failed == 1


def test_commerce_code_is_found_in_code_or_subcode():
    from fb_commerce.graph.errors import error_from_payload

    assert error_from_payload(graph_error(100, 2382045), 400).commerce_code == 2382045
    assert error_from_payload(graph_error(1818111), 400).commerce_code == 1818111
    assert error_from_payload(graph_error(100), 400).commerce_code is None


@pytest.mark.parametrize(
    "failure",
    [
        {"status_code": 500, "json": graph_error(2, message="Service temporarily unavailable", is_transient=True)},
        {"status_code": 503, "text": "<html>bad gateway</html>"},
        {"status_code": 400, "json": graph_error(4, message="Application request limit reached")},
        {"status_code": 400, "json": graph_error(80014, message="Catalog batch rate limit")},
        {"status_code": 400, "json": graph_error(100, 2361081, "Pending action")},
        {"status_code": 400, "json": graph_error(100, 2361050, "Concurrent modification")},
        {"exc": requests.ConnectTimeout},
        {"exc": requests.ConnectionError},
    ],
)
def test_retryable_failures_are_retried_then_succeed(client, requests_mock, sleeps, failure):
    requests_mock.get(f"{ROOT}/me", [failure, failure, {"json": {"id": "1"}}])
    assert client.get("me") == {"id": "1"}
    assert requests_mock.call_count == 3
    assert len(sleeps) == 2 and all(0 < s <= 4.5 for s in sleeps)
    assert client.stats.retries == 2 and client.stats.calls == 3


def test_retries_stop_after_max_attempts_and_raise_the_typed_error(client, requests_mock):
    requests_mock.get(f"{ROOT}/me", status_code=500, json=graph_error(1, message="Unknown error", is_transient=True))
    with pytest.raises(GraphTransientError):
        client.get("me")
    assert requests_mock.call_count == 4


def test_connection_error_text_never_holds_secrets(client, requests_mock):
    requests_mock.get(f"{ROOT}/me", exc=requests.ConnectionError(f"failed for {ROOT}/me?access_token={TOKEN}"))
    with pytest.raises(GraphConnectionError) as info:
        client.get("me")
    assert TOKEN not in str(info.value) and info.value.__cause__ is None


def test_throttle_waits_at_least_the_regain_time(client, requests_mock, sleeps):
    buc = json.dumps(
        {
            "123": [
                {
                    "type": "pages",
                    "call_count": 100,
                    "total_cputime": 10,
                    "total_time": 10,
                    "estimated_time_to_regain_access": 1,
                }
            ]
        }
    )
    requests_mock.get(
        f"{ROOT}/me",
        [
            {
                "status_code": 400,
                "json": graph_error(80001, message="Too many calls"),
                "headers": {"X-Business-Use-Case-Usage": buc},
            },
            {"json": {"id": "1"}},
        ],
    )
    assert client.get("me") == {"id": "1"}
    assert sleeps and sleeps[0] >= 60
    assert client.stats.throttled == 1 and client.stats.usage_peak == 100


def test_long_regain_time_ends_the_attempt_instead_of_sleeping(client, requests_mock, sleeps):
    buc = json.dumps({"123": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 30}]})
    requests_mock.get(
        f"{ROOT}/me", status_code=400, json=graph_error(80001), headers={"X-Business-Use-Case-Usage": buc}
    )
    with pytest.raises(GraphRateLimitWait) as info:
        client.get("me")
    assert requests_mock.call_count == 1 and sleeps == []
    assert info.value.regain_seconds == 1800
    assert "Airflow retries the task later" in str(info.value)
    assert isinstance(info.value, GraphThrottledError)


def test_high_usage_slows_down_the_next_call(client, requests_mock, sleeps):
    requests_mock.get(
        f"{ROOT}/me",
        [
            {"json": {"id": "1"}, "headers": {"X-App-Usage": json.dumps({"call_count": 95, "total_time": 20})}},
            {"json": {"id": "1"}, "headers": {"X-App-Usage": json.dumps({"call_count": 10})}},
            {"json": {"id": "1"}},
        ],
    )
    client.get("me")
    assert sleeps == []
    client.get("me")
    assert len(sleeps) == 1 and sleeps[0] > 1
    client.get("me")
    assert len(sleeps) == 1  # usage came back down: no more pauses
    assert client.stats.usage_peak == 95


def test_low_usage_never_slows_down(client, requests_mock, sleeps):
    requests_mock.get(f"{ROOT}/me", json={}, headers={"X-App-Usage": json.dumps({"call_count": 79})})
    for _ in range(3):
        client.get("me")
    assert sleeps == []


def test_form_posts_encode_nested_values_as_json():
    assert form_encode({"items": [{"retailer_id": "A", "quantity": 1}], "restock_items": True, "x": None}) == {
        "items": '[{"retailer_id":"A","quantity":1}]',
        "restock_items": "true",
    }


def test_post_json_body(client, requests_mock):
    requests_mock.post(f"{ROOT}/5/items_batch", json={"handles": ["h"]})
    client.post("5/items_batch", json={"item_type": "PRODUCT_ITEM", "requests": []})
    assert requests_mock.last_request.json() == {"item_type": "PRODUCT_ITEM", "requests": []}


def test_upload_streams_the_file_and_reopens_it_on_retry(client, requests_mock, tmp_path):
    feed = tmp_path / "feed.csv"
    feed.write_text("id,title\nA,Shirt\n")
    bodies: list[bytes] = []

    def capture(request, context):
        body = request.body
        bodies.append(body.read() if hasattr(body, "read") else body)
        if len(bodies) == 1:
            context.status_code = 500
            return {"error": {"code": 2, "message": "retry", "is_transient": True}}
        return {"id": "upload-1"}

    requests_mock.post(f"{ROOT}/7/uploads", json=capture)
    assert client.upload_file("7/uploads", feed, data={"update_only": False}) == {"id": "upload-1"}
    assert len(bodies) == 2
    boundary = re.compile(rb"[0-9a-f]{32}")
    assert boundary.sub(b"B", bodies[0]) == boundary.sub(b"B", bodies[1])
    assert b'name="file"; filename="feed.csv"' in bodies[1] and b"A,Shirt" in bodies[1]
    assert b'name="update_only"' in bodies[1]
    assert requests_mock.last_request.headers["Content-Type"].startswith("multipart/form-data")


def test_endpoint_labels_hide_ids():
    assert endpoint_of("https://h/v25.0/123/commerce_orders?x=1") == "{id}/commerce_orders"
    assert endpoint_of("456/acknowledge_order") == "{id}/acknowledge_order"


def test_missing_token_is_a_clear_error():
    with pytest.raises(Exception, match="No access token"):
        GraphClient("", None)
