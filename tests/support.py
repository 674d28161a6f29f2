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
