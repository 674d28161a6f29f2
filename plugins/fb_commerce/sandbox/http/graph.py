"""The Graph side's plumbing: the parsed request, the route table, and helpers shared by the route modules.

Graph ids are opaque, so the app has one catch-all HTTP route; a request is resolved to (node kind, edge, method)
and looked up here. Route modules register handlers with ``@route(kind, edge, method, ...)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ..world import errors as E
from ..world.orders import as_bool
from ..world.sandbox import Sandbox
from .fields import FieldSpec, Schema, parse_fields
from .paging import Key, Page, decode_cursor, paging_block, parse_limit, scan

DEFAULT_LIMIT = 25


@dataclass
class UploadedFile:
    """A multipart file part, already spooled to disk by the app (never held in memory)."""

    path: Path
    filename: str | None
    size: int
    owned: bool = False  # set by a handler that keeps the file (the app deletes unowned ones after the call)


@dataclass
class GraphRequest:
    """One Graph call as the handlers see it."""

    sb: Sandbox
    method: str
    path: str  # as requested, with the version prefix if any
    node_id: str
    edge: str | None
    params: dict[str, Any]
    base_url: str  # scheme://host:port
    content_length: int = 0
    now: float = 0.0
    credentials: dict[str, str] = field(default_factory=dict)  # access_token / appsecret_proof, for paging links
    applied: list[str] | None = None  # a write handler names the ids it changed when not just the node (stats)

    def param(self, name: str, default: Any = None) -> Any:
        value = self.params.get(name)
        return default if value is None or value == "" else value

    def json_param(self, name: str, default: Any = None) -> Any:
        """A structured parameter: a JSON string in a form or query, or a JSON value in a JSON body."""
        value = self.params.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                if value.lstrip()[:1] in "[{":
                    raise E.invalid_param(f"{name} is not valid JSON", field_name=name) from None
                return value
        return value

    def bool_param(self, name: str, default: bool) -> bool:
        return as_bool(self.params.get(name), default)

    def int_param(self, name: str) -> int | None:
        value = self.param(name)
        if value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise E.invalid_param(f"{name} must be an integer (Unix time)", field_name=name) from None

    def fields(self) -> FieldSpec | None:
        return parse_fields(self.param("fields"))

    def view(self) -> RenderContext:
        return RenderContext(self.sb, self.base_url)

    def link(self, cursor_param: str, cursor: str) -> str:
        """A paging URL back to this sandbox: same path and query, the new cursor, credentials kept like Graph."""
        query = {
            k: v for k, v in self.params.items() if k not in ("after", "before") and isinstance(v, str | int | float)
        }
        query.update(self.credentials)
        query[cursor_param] = cursor
        return f"{self.base_url}{self.path}?{urlencode(query)}"

    # --- listing ----------------------------------------------------------------------------------------------

    def page(
        self,
        sources: list[list[Key]],
        accept: Callable[[Key], Any | None],
        schema: Schema,
        *,
        cap: int = 100,
        budget: int | None = None,
    ) -> dict[str, Any]:
        """A rendered page of ``schema`` objects with ``paging`` (see ``paging.scan``)."""
        limit = parse_limit(self.param("limit"), DEFAULT_LIMIT, cap)
        after, before = self.param("after"), self.param("before")
        page: Page = scan(
            sources,
            accept,
            limit=limit,
            budget=budget,
            after=decode_cursor(after) if after else None,
            before=decode_cursor(before) if before else None,
        )
        spec, ctx = self.fields(), self.view()
        body: dict[str, Any] = {"data": [schema.render(obj, spec, ctx) for obj in page.items]}
        block = paging_block(page, self.link)
        if block:
            body["paging"] = block
        return body

    def render_list(self, objects: list[Any], schema: Schema) -> dict[str, Any]:
        """A short edge (an order's items, shipments...) rendered whole, with cursors but no next page."""
        keys = [(i,) for i in range(len(objects))]
        return self.page([keys], lambda k: objects[k[0]], schema, cap=1000)


class RenderContext:
    """What views read while rendering: the sandbox's stores, plus URLs that depend on the request's host."""

    def __init__(self, sb: Sandbox, base_url: str) -> None:
        self._sb = sb
        self._base_url = base_url

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sb, name)

    def error_report_url(self, upload: Any) -> str:
        return f"{self._base_url}/_sandbox/files/error_reports/{upload.id}.csv"


Handler = Callable[[GraphRequest, Any], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    """One Graph endpoint: who may call it, how it is throttled, whether it is an idempotent write."""

    kind: str
    edge: str | None
    method: str
    handler: Handler
    permissions: tuple[str, ...] = ()  # any one of them is enough
    write: bool = False  # state-changing: counted per target in stats
    idempotent: bool = False  # order writes: idempotency_key required, first answer replayed
    buc: str = "pages"  # Business Use Case type in X-Business-Use-Case-Usage
    throttle_code: int = E.THROTTLE_PAGES
    targets: Callable[[GraphRequest, Any], list[str]] | None = None  # ids a write changes (stats)

    @property
    def template(self) -> str:
        node = "/me" if self.kind == "user" else f"/{{{self.kind}_id}}"
        return f"{self.method} {node}" + (f"/{self.edge}" if self.edge else "")


ROUTES: dict[tuple[str, str | None, str], Route] = {}

ORDERS_READ = ("commerce_account_read_orders", "commerce_account_manage_orders")
ORDERS_WRITE = ("commerce_account_manage_orders",)
SETTINGS = ("commerce_account_read_settings", "commerce_manage_accounts")
REPORTS = ("commerce_account_read_reports",)
CATALOG = ("catalog_management",)


def route(kind: str, edge: str | None, method: str = "GET", **options: Any) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ROUTES[(kind, edge, method)] = Route(kind, edge, method, handler, **options)
        return handler

    return register


def find_route(kind: str, edge: str | None, method: str) -> Route:
    found = ROUTES.get((kind, edge, method))
    if found is not None:
        return found
    if edge is not None and not any(k == kind and e == edge for k, e, _ in ROUTES):
        raise E.unknown_edge(edge, kind)
    raise E.GraphError(
        f"Unsupported {method.lower()} request.", code=100, subcode=E.UNKNOWN_OBJECT, type="GraphMethodException"
    )
