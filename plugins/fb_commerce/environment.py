"""Connections and settings for local runs: the sandbox defaults, unless the environment says otherwise.

Airflow reads connections from ``AIRFLOW_CONN_<ID>`` variables first, then from its metadata database.
`make demo`, `make test` and the CLI set the two project connections to the sandbox and the SQLite warehouse only
when they are not set already, so pointing the project at the real Graph API or PostgreSQL is a matter of exporting
those variables. `fb-commerce airflow-init` stores the same two (:func:`local_connections`) in the metadata database,
so services started without those variables, and the UI's Connections page, see them.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from dataclasses import dataclass

from fb_commerce import defaults
from fb_commerce.warehouse.paths import default_warehouse_path

GRAPH_ENV = f"AIRFLOW_CONN_{defaults.GRAPH_CONN_ID.upper()}"
WAREHOUSE_ENV = f"AIRFLOW_CONN_{defaults.WAREHOUSE_CONN_ID.upper()}"


def sandbox_connection(base_url: str) -> dict[str, object]:
    """The fb_commerce connection (as Airflow's JSON form) that points at a sandbox."""
    return {
        "conn_type": defaults.CONN_TYPE,
        "host": base_url,
        "password": defaults.SANDBOX_ACCESS_TOKEN,
        "extra": {
            "app_secret": defaults.SANDBOX_APP_SECRET,
            "api_version": defaults.API_VERSION,
            "cms_id": defaults.SANDBOX_CMS_ID,
            "catalog_id": defaults.SANDBOX_CATALOG_ID,
            "feed_id": defaults.SANDBOX_FEED_ID,
            "page_id": defaults.SANDBOX_PAGE_ID,
        },
    }


def sandbox_url(host: str = defaults.SANDBOX_HOST, port: int = defaults.SANDBOX_PORT) -> str:
    return f"http://{host}:{port}"


def default_warehouse_connection() -> dict[str, object]:
    return {"conn_type": "sqlite", "host": str(default_warehouse_path())}


@dataclass(frozen=True)
class LocalConnection:
    """One project connection as a local run sees it: its value (JSON or URI) and where it came from."""

    conn_id: str
    variable: str
    value: str
    from_env: bool

    @property
    def source(self) -> str:
        if self.from_env:
            return f"${self.variable}"
        return "the sandbox default" if self.conn_id == defaults.GRAPH_CONN_ID else "the default SQLite file"


def local_connections(
    env: MutableMapping[str, str] | None = None, *, sandbox_base_url: str | None = None
) -> list[LocalConnection]:
    """The two project connections: from the environment, else the sandbox and the SQLite warehouse defaults."""
    env = os.environ if env is None else env
    fallbacks = {
        (defaults.GRAPH_CONN_ID, GRAPH_ENV): sandbox_connection(sandbox_base_url or sandbox_url()),
        (defaults.WAREHOUSE_CONN_ID, WAREHOUSE_ENV): default_warehouse_connection(),
    }
    found = []
    for (conn_id, variable), fallback in fallbacks.items():
        value = env.get(variable, "").strip()
        found.append(LocalConnection(conn_id, variable, value or json.dumps(fallback), from_env=bool(value)))
    return found


def apply_local_defaults(
    env: MutableMapping[str, str] | None = None, *, sandbox_base_url: str | None = None
) -> dict[str, str]:
    """Set the two connections to the sandbox and the SQLite warehouse where not already set; return what was set."""
    env = os.environ if env is None else env
    applied = {}
    for connection in local_connections(env, sandbox_base_url=sandbox_base_url):
        if not connection.from_env:
            env[connection.variable] = applied[connection.variable] = connection.value
    return applied
