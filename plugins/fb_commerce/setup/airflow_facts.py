"""The Airflow side of the setup check: read the connection, the pool and the warehouse for `checks.py`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fb_commerce.defaults import API_VERSION, POOL
from fb_commerce.setup.checks import SetupFacts

if TYPE_CHECKING:
    from fb_commerce.hooks.graph import FbCommerceHook


def pool_exists_in_metadata_db() -> bool:
    """Outside a task only: Airflow 3 tasks may not read the metadata database."""
    from airflow.models.pool import Pool

    return Pool.get_pool(POOL) is not None


def warehouse_status(warehouse_conn_id: str) -> tuple[bool, str]:
    from fb_commerce.hooks.warehouse import WarehouseHook
    from fb_commerce.warehouse.migrate import current_revision, head_revision

    hook = WarehouseHook(warehouse_conn_id)
    engine = hook.get_engine()
    current, head = current_revision(engine), head_revision()
    where = hook.describe()
    if current == head:
        return True, f"{where}, schema at the latest migration ({head})"
    return False, f"{where}, schema at {current or 'nothing (empty database)'}, latest is {head}"


def gather_facts(
    fb_conn_id: str, warehouse_conn_id: str, *, register: bool = False, in_task: bool = False
) -> tuple[SetupFacts, FbCommerceHook | None]:
    """SetupFacts for these connections, and the Graph hook used (for its call summary)."""
    from fb_commerce.hooks.graph import FbCommerceHook, base_url_of, connection_extra

    hook = FbCommerceHook(fb_conn_id)
    try:
        conn = hook.get_connection(fb_conn_id)
    except Exception:  # noqa: BLE001 - AirflowNotFoundException and friends: the connection is missing
        conn = None
    fields = None
    if conn is not None:
        fields = {
            "access_token": bool(conn.password),  # presence only: values stay out of reports
            "app_secret": bool(connection_extra(conn, "app_secret")),
            "api_version": connection_extra(conn, "api_version") or f"{API_VERSION} (default)",
            "base_url": base_url_of(conn),
            **{name: connection_extra(conn, name) for name in ("cms_id", "catalog_id", "feed_id", "page_id")},
        }
    facts = SetupFacts(
        conn_id=fb_conn_id,
        connection_fields=fields,
        graph_client=(lambda: hook.client) if fields and fields["access_token"] else None,
        pool_exists=None if in_task else pool_exists_in_metadata_db,
        warehouse_status=lambda: warehouse_status(warehouse_conn_id),
        register_order_management_app=register,
    )
    return facts, (hook if fields else None)
