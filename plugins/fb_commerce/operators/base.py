"""What every fb-commerce operator shares: its two connections, how it opens them and how it reads its settings.

Every operator that touches the warehouse or the Graph API extends :class:`FbCommerceOperator` and, in each of its
methods, reads its settings with :meth:`~FbCommerceOperator.setting`, opens the warehouse with
:meth:`~FbCommerceOperator.warehouse` and the Graph API with :meth:`~FbCommerceOperator.graph` (whose ``client``
the domain functions take), then calls the domain code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseOperator

from fb_commerce.defaults import GRAPH_CONN_ID, WAREHOUSE_CONN_ID

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from fb_commerce.hooks.graph import FbCommerceHook
    from fb_commerce.hooks.warehouse import WarehouseHook


def fail_task(message: str) -> NoReturn:
    """Fail the task without retries (a data or configuration problem: a retry would fail the same way)."""
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException(message)


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

    def setting(self, name: str, parse: Callable[..., Any], **options: Any) -> Any:
        """The operator's attribute ``name`` read by ``parse`` (one of :mod:`fb_commerce.settings`); a value
        it refuses fails the task at once, naming the setting."""
        from fb_commerce.settings import SettingError

        try:
            return parse(getattr(self, name), name, **options)
        except SettingError as exc:
            fail_task(str(exc))

    def warehouse_hook(self) -> WarehouseHook:
        """The warehouse hook, its schema brought up to date first (or a clear refusal when upgrades are off).

        Its engine is disposed when the calling method, decorated with :func:`releases_warehouse`, ends.
        """
        from fb_commerce.hooks.warehouse import WarehouseHook

        hook = WarehouseHook(self.warehouse_conn_id)
        self.__dict__.setdefault("_open_warehouses", []).append(hook)
        hook.ensure_schema()
        return hook

    def warehouse(self) -> Engine:
        """The warehouse engine of :meth:`warehouse_hook` (decorate the calling method with
        :func:`releases_warehouse`)."""
        return self.warehouse_hook().get_engine()

    def graph(self) -> FbCommerceHook:
        """The Graph API hook; domain functions take its ``client``, and ``log_summary()`` ends the task's log."""
        from fb_commerce.hooks.graph import FbCommerceHook

        return FbCommerceHook(self.fb_conn_id)
