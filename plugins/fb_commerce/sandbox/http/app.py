"""``create_app``: the sandbox as a FastAPI application (admin API + the Graph catch-all)."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from ..world.sandbox import Sandbox

# Importing the route modules registers their Graph endpoints.
from . import routes_account, routes_catalog, routes_finance, routes_orders  # noqa: F401
from .pipeline import handle
from .routes_admin import admin_router


def create_app(sandbox: Sandbox | None = None) -> FastAPI:
    """An app serving ``sandbox`` (a fresh default-seeded one when None)."""
    sb = sandbox if sandbox is not None else Sandbox()
    # Graph ids are opaque path segments, so FastAPI's own docs move under /_sandbox to keep every other path free.
    app = FastAPI(
        title="fb-commerce Graph API sandbox",
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.sandbox = sb
    app.include_router(admin_router(sb))

    @app.api_route("/{path:path}", methods=["GET", "POST", "DELETE"], include_in_schema=False)
    async def graph(request: Request, path: str) -> Response:
        return await handle(sb, request, path)

    return app
