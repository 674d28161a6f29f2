"""Helpers the test suites share: connections pointed at the sandbox, fast clients, migrated warehouses.

Importable as ``support`` (pytest puts tests/ on sys.path, next to conftest.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from fb_commerce import defaults
from fb_commerce.environment import GRAPH_ENV, WAREHOUSE_ENV, sandbox_connection
from fb_commerce.graph.client import GraphClient, GraphSettings

#: client settings that keep fault tests to seconds: millisecond back-off, many attempts, short timeouts
FAST_RETRIES: dict[str, Any] = {
    "backoff_initial": 0.01,
    "backoff_max": 0.05,
    "max_attempts": 12,
    "max_slowdown": 0.05,
    "timeout": [2, 3],
}


def set_connections(
    monkeypatch: pytest.MonkeyPatch,
    sandbox_url: str,
    warehouse_url: str | Engine | None = None,
    *,
    fast: bool = False,
    token: str | None = None,
    **graph_extra: Any,
) -> None:
    """Point ``fb_commerce_default`` at a sandbox and, when given, ``fb_commerce_warehouse`` at a warehouse.

    :param fast: use :data:`FAST_RETRIES`.
    :param token: another access token than the sandbox's (e.g. a wrong one).
    :param graph_extra: more connection extras; a None value removes that extra (e.g. ``feed_id=None``).
    """
    graph = sandbox_connection(sandbox_url)
    extra = {**graph["extra"], **(FAST_RETRIES if fast else {}), **graph_extra}
    graph["extra"] = {k: v for k, v in extra.items() if v is not None}
    if token is not None:
        graph["password"] = token
    monkeypatch.setenv(GRAPH_ENV, json.dumps(graph))
    if warehouse_url is not None:
        if isinstance(warehouse_url, Engine):
            warehouse_url = warehouse_url.url.render_as_string(hide_password=False)
        monkeypatch.setenv(
            WAREHOUSE_ENV, json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": str(warehouse_url)}})
        )


def fast_client(sandbox_url: str, **settings: Any) -> GraphClient:
    """A GraphClient on the sandbox with :data:`FAST_RETRIES` (``settings`` override them)."""
    values = {**FAST_RETRIES, **settings}
    values["timeout"] = tuple(values["timeout"])
    return GraphClient(
        defaults.SANDBOX_ACCESS_TOKEN, defaults.SANDBOX_APP_SECRET, GraphSettings(base_url=sandbox_url, **values)
    )


def migrated_engine(url: str) -> Engine:
    """An engine on the warehouse at ``url`` with the schema at the latest migration."""
    from fb_commerce.warehouse.engine import create_warehouse_engine
    from fb_commerce.warehouse.migrate import upgrade

    engine = create_warehouse_engine(url)
    upgrade(engine)
    return engine


def set_alerts_connection(monkeypatch: pytest.MonkeyPatch, *urls: str) -> None:
    """Point ``fb_commerce_alerts`` (an apprise connection) at ``urls``, e.g. ``json://127.0.0.1:PORT/``."""
    config = [{"path": url} for url in urls]
    monkeypatch.setenv(
        "AIRFLOW_CONN_FB_COMMERCE_ALERTS", json.dumps({"conn_type": "apprise", "extra": {"config": config}})
    )


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released), for a service that cannot be reached."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WebhookReceiver:
    """A local HTTP server (a thread) that keeps every JSON body POSTed to it: where an Apprise ``json://``
    URL delivers, so tests see exactly what a notification carried."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.messages: list[dict[str, Any]] = []
        received = self.messages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def trigger_form(params: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """What Airflow 3.3's trigger form does with a DAG's params (``GET /api/v2/dags/{dag_id}/details``, each
    ``{"value", "schema", ...}``): the conf it submits, and the params that keep its Trigger button disabled.

    The form (airflow-core/src/airflow/ui/src/components/FlexibleForm) counts a param as required unless its schema
    has no ``type`` or a type list containing ``"null"``, marks a required param with a null or empty value as an
    error, and sends every param's value as the run's conf; a text field cleared by the user sends null.
    """
    conf = {name: param["value"] for name, param in params.items()}
    blocked = []
    for name, param in params.items():
        kind = param["schema"].get("type")
        required = bool(kind) and not (isinstance(kind, list) and "null" in kind)
        if required and param["value"] in (None, ""):
            blocked.append(name)
    return conf, blocked


def ship_an_unshipped_order(sandbox: Any, graph: Any, idempotency_key: str, tracking_number: str) -> dict[str, Any]:
    """Ship in full an IN_PROGRESS order of the sandbox that has shipped nothing yet; returns the order (as before)."""
    order = next(
        o
        for o in sandbox.admin.state(include="orders")["orders"]
        if o["state"] == "IN_PROGRESS" and all(i["status"]["fulfilled"] == 0 for i in o["items"]["data"])
    )
    response = graph.post(
        f"{order['id']}/shipments",
        data={
            "idempotency_key": idempotency_key,
            "tracking_info": {"carrier": "USPS", "tracking_number": tracking_number},
        },
    )
    assert response.status_code == 200, response.text
    return order
