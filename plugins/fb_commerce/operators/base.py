"""What every fb-commerce operator shares: its two connections and how it opens them."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from fb_commerce.defaults import GRAPH_CONN_ID, WAREHOUSE_CONN_ID

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from fb_commerce.hooks.graph import FbCommerceHook


def as_number(value: Any, name: str) -> float:
    """A setting rendered from a template ("15", "15.0", 15) as a number, or a clear error naming it."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"setting {name} must be a number, got {value!r}") from None


def open_warehouse(operator: BaseOperator, conn_id: str) -> Engine:
    """The warehouse engine, its schema brought up to date first (or a clear refusal when upgrades are off).

    The engine is disposed when the operator method decorated with :func:`releases_warehouse` ends.
    """
    from fb_commerce.hooks.warehouse import WarehouseHook

    hook = WarehouseHook(conn_id)
    operator.__dict__.setdefault("_open_warehouses", []).append(hook)
    hook.ensure_schema()
    return hook.get_engine()


def releases_warehouse(method: Callable[..., Any]) -> Callable[..., Any]:
    """Close the warehouse connections ``method`` opened when it returns, defers or fails.

    A process that runs several tasks (``dag.test``, ``airflow dags test``, a worker reusing its process) then
    holds no connection between tasks; a SQLite warehouse in particular is best left without idle connections.
    """

    @functools.wraps(method)
    def wrapper(self: BaseOperator, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        finally:
            for hook in self.__dict__.pop("_open_warehouses", []):
                hook.dispose()

    return wrapper


class FbCommerceOperator(BaseOperator):
    """Base of the operators that read or write the warehouse and call the Graph API.

    :param fb_conn_id: the Graph API connection (templated).
    :param warehouse_conn_id: the warehouse connection (templated).
    """

    template_fields: Sequence[str] = ("fb_conn_id", "warehouse_conn_id")

    def __init__(
        self, *, fb_conn_id: str = GRAPH_CONN_ID, warehouse_conn_id: str = WAREHOUSE_CONN_ID, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.fb_conn_id = fb_conn_id
        self.warehouse_conn_id = warehouse_conn_id

    def warehouse(self) -> Engine:
        """The warehouse engine (see :func:`open_warehouse`); decorate the calling method with
        :func:`releases_warehouse`."""
        return open_warehouse(self, self.warehouse_conn_id)

    def graph(self) -> FbCommerceHook:
        from fb_commerce.hooks.graph import FbCommerceHook

        return FbCommerceHook(self.fb_conn_id)
