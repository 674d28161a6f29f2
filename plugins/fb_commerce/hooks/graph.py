"""Airflow hook for Meta's Graph API (connection type ``fb_commerce``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

import requests
from airflow.providers.http.hooks.http import HttpHook

from fb_commerce import USER_AGENT
from fb_commerce.defaults import API_VERSION, CONN_TYPE, GRAPH_BASE_URL, GRAPH_CONN_ID
from fb_commerce.graph.client import GraphClient, GraphSettings
from fb_commerce.graph.errors import GraphAuthError, GraphError
from fb_commerce.settings import as_bool, as_int, as_number, is_bool_text

if TYPE_CHECKING:
    from airflow.sdk import Connection

#: connection extras that tune the client, with their parsers (the one rule of :mod:`fb_commerce.settings`)
_SETTING_EXTRAS: dict[str, Callable[[Any, str], Any]] = {
    "max_attempts": as_int,
    "backoff_initial": as_number,
    "backoff_max": as_number,
    "usage_threshold": as_number,
    "max_slowdown": as_number,
    "max_regain_wait": as_number,
    "page_size": as_int,
}
ID_FIELDS = ("cms_id", "catalog_id", "feed_id", "page_id")


def connection_extra(conn: Connection, name: str, default: Any = None) -> Any:
    """An extra by its bare name or the UI's ``extra__fb_commerce__<name>`` form."""
    extras = conn.extra_dejson
    for key in (name, f"extra__{CONN_TYPE}__{name}"):
        value = extras.get(key)
        if value not in (None, ""):
            return value
    return default


def base_url_of(conn: Connection) -> str:
    """The connection's host (with scheme and port) or graph.facebook.com; the sandbox is a host override."""
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        return GRAPH_BASE_URL
    url = host if "://" in host else f"https://{host}"
    return f"{url}:{conn.port}" if conn.port and url.count(":") < 2 else url


def settings_from_connection(conn: Connection) -> GraphSettings:
    """GraphSettings from the connection: host, API version, timeout, TLS verification and retry knobs."""
    settings = GraphSettings(base_url=base_url_of(conn), api_version=connection_extra(conn, "api_version", API_VERSION))
    timeout = connection_extra(conn, "timeout")
    if timeout is not None:
        settings.timeout = (
            tuple(as_number(t, "timeout") for t in timeout)
            if isinstance(timeout, list)
            else (10.0, as_number(timeout, "timeout"))
        )
    verify = connection_extra(conn, "verify")
    if verify is not None:
        # a boolean, or the path of a CA bundle
        settings.verify = as_bool(verify, "verify") if isinstance(verify, bool) or is_bool_text(verify) else verify
    for name, parse in _SETTING_EXTRAS.items():
        value = connection_extra(conn, name)
        if value is not None:
            setattr(settings, name, parse(value, name))
    return settings


def mask_connection_secrets(conn: Connection) -> None:
    """Make sure the token and app secret are masked in every log line, whatever logs them."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - only outside Airflow
        return
    mask_secret(conn.password)
    secret = connection_extra(conn, "app_secret")
    if secret:
        mask_secret(secret)


def client_from_connection(conn: Connection, *, session: requests.Session | None = None) -> GraphClient:
    """The Graph client a connection describes (hook, triggers and CLI build it the same way); secrets masked."""
    if not conn.password:
        raise GraphAuthError(f"Connection {conn.conn_id} has no access token (its password field is empty).")
    mask_connection_secrets(conn)
    return GraphClient(
        conn.password, connection_extra(conn, "app_secret"), settings_from_connection(conn), session=session
    )


class FbCommerceHook(HttpHook):
    """Talks to Meta's Commerce Platform through the Graph API.

    The connection holds the access token (password), the app secret, the API version and the shop's ids
    (commerce account, catalog, feed, page). Its host overrides ``https://graph.facebook.com``, which is how the
    local sandbox is used. Calls go through :class:`~fb_commerce.graph.client.GraphClient`: typed errors,
    retries with back-off, usage-aware slow-down and paging.

    :param fb_conn_id: the Airflow connection id (default ``fb_commerce_default``).
    """

    conn_name_attr = "http_conn_id"
    default_conn_name = GRAPH_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Meta Commerce (Graph API)"

    def __init__(self, fb_conn_id: str = GRAPH_CONN_ID, method: str = "GET", **kwargs: Any) -> None:
        super().__init__(method=method, http_conn_id=fb_conn_id, **kwargs)
        self.fb_conn_id = fb_conn_id

    # --- connection --------------------------------------------------------------------------------------------

    @cached_property
    def connection(self) -> Connection:
        conn = self.get_connection(self.fb_conn_id)
        if not conn.password:
            raise GraphAuthError(f"Connection {self.fb_conn_id} has no access token (its password field is empty).")
        mask_connection_secrets(conn)
        return conn

    def extra(self, name: str, default: Any = None) -> Any:
        return connection_extra(self.connection, name, default)

    def require(self, name: str) -> str:
        """An id from the connection, or an error that says where to set it."""
        value = self.extra(name)
        if not value:
            raise GraphError(
                f"Connection {self.fb_conn_id} has no {name}: set it in the connection's extra "
                f'(e.g. {{"{name}": "1234567890"}}) or run `fb-commerce check` to see what is missing.'
            )
        return str(value)

    @property
    def cms_id(self) -> str:
        return self.require("cms_id")

    @property
    def catalog_id(self) -> str:
        return self.require("catalog_id")

    @property
    def page_id(self) -> str:
        return self.require("page_id")

    @property
    def feed_id(self) -> str | None:
        value = self.extra("feed_id")
        return str(value) if value else None

    # --- HTTP session and client -------------------------------------------------------------------------------

    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> requests.Session:
        """A requests session with HttpHook's keep-alive adapter.

        HttpHook would turn every unknown connection extra into an HTTP header, which would send the app secret
        over the wire; this session takes only proxies and client certificates from the extras.
        """
        self.base_url = base_url_of(self.connection)
        self._base_url_initialized = True
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        proxies = connection_extra(self.connection, "proxies")
        if isinstance(proxies, Mapping):
            session.proxies.update(proxies)
        cert = connection_extra(self.connection, "cert")
        if cert:
            session.cert = cert
        session = self._configure_session_from_mount_adapters(session)
        if headers:
            session.headers.update(headers)
        return session

    @cached_property
    def client(self) -> GraphClient:
        """The Graph client of this connection (one per hook, over :meth:`get_conn`'s session).

        The hook's one way to call Meta: domain functions take this client (``pull_orders(hook.client, ...)``),
        so the hook forwards none of the client's methods.
        """
        return client_from_connection(self.connection, session=self.get_conn())

    def log_summary(self) -> None:
        """One info line per task: calls, retries, throttles and the usage peak."""
        if "client" in self.__dict__:
            self.log.info("%s", self.client.stats.summary())

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's Test button: reads the token's own node."""
        try:
            me = self.client.get("me", fields="id,name")
        except GraphError as exc:
            return False, str(exc)
        return True, f"Token valid for {me.get('name') or me.get('id')}"
