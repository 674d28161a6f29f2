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
    **graph_extra: Any,
) -> None:
    """Point ``fb_commerce_default`` at a sandbox and, when given, ``fb_commerce_warehouse`` at a warehouse.

    :param fast: use :data:`FAST_RETRIES`.
    :param graph_extra: more connection extras; a None value removes that extra (e.g. ``feed_id=None``).
    """
    graph = sandbox_connection(sandbox_url)
    extra = {**graph["extra"], **(FAST_RETRIES if fast else {}), **graph_extra}
    graph["extra"] = {k: v for k, v in extra.items() if v is not None}
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
