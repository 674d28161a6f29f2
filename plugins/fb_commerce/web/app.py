"""The customer-service app: search, an order's page with its action forms, an action's result, returns awaiting.

Server-rendered (Jinja2, autoescaped: everything from Meta or a buyer is shown as text); its CSS comes from this
app, nothing from the internet. Looking up calls :mod:`fb_commerce.cs.lookup`, acting :mod:`fb_commerce.cs.actions`
(the same checks and outbox as fb_order_updates); after queuing, the page triggers a run of the sender as the user.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from fb_commerce.defaults import GRAPH_CONN_ID
from fb_commerce.web import URL_PREFIX, forms
from fb_commerce.web.auth import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_MAX_AGE_SECONDS,
    SENDER_DAG_ID,
    Actor,
    Reader,
    WebUser,
    check_csrf,
    csrf_nonce,
    csrf_token,
    login_url,
)
from fb_commerce.web.returns import awaiting_returns
from fb_commerce.web.sender import SenderError, sender_run_state, trigger_sender

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent

#: how often an action's page reloads itself while its result has not landed
REFRESH_SECONDS = 2


def _default_engine() -> Engine:
    from fb_commerce.hooks.warehouse import WarehouseHook

    return WarehouseHook().get_engine()


_ISO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(\+00:00|Z)$")


def readable_time(value: str) -> str:
    """An ISO-8601 UTC time as people read it (``2026-12-01 12:03:10 UTC``); any other text as it is."""
    found = _ISO_TIME.match(value)
    return f"{found.group(1)} {found.group(2)} UTC" if found else value


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["label"] = lambda key: str(key).replace("_", " ").capitalize()
    env.filters["when"] = readable_time
    return env


def create_app(engine: Callable[[], Engine] | None = None, live: Callable[[], Any] | None = None) -> FastAPI:
    """The app Airflow mounts at ``/fb-commerce``.

    :param engine: gives the warehouse engine (default: the ``fb_commerce_warehouse`` connection's, made once).
    :param live: gives the Graph client the actions check Meta's live state with (default: the
        ``fb_commerce_default`` connection's, made per action).
    """
    app = FastAPI(title="fb-commerce customer service", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = _templates()
    engines: list[Engine] = []

    def warehouse() -> Engine:
        if not engines:
            engines.append((engine or _default_engine)())
        return engines[0]

    def graph_client() -> Any:
        if live is not None:
            return live()
        from fb_commerce.hooks.graph import FbCommerceHook

        return FbCommerceHook().client

    def page(request: Request, user: WebUser, template: str, code: int = 200, **context: Any) -> HTMLResponse:
        nonce, new = csrf_nonce(request)
        root = request.scope.get("root_path", "") or URL_PREFIX
        html = templates.get_template(template).render(
            root=root,
            airflow_root=root.removesuffix(URL_PREFIX) + "/",
            user=user,
            csrf_field=CSRF_FIELD,
            csrf=csrf_token(user, nonce),
            sender_dag_id=SENDER_DAG_ID,
            **context,
        )
        response = HTMLResponse(html, status_code=code)
        response.headers["Cache-Control"] = "no-store"  # orders are personal data
        if new:
            response.set_cookie(
                CSRF_COOKIE,
                nonce,
                max_age=CSRF_MAX_AGE_SECONDS,
                path=root,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
        return response

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> Response:
        """A browser without a valid login goes to Airflow's login page; anything else gets the status."""
        browser = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if (
            browser
            and exc.status_code in (401, 403)
            and exc.detail in ("Not authenticated", "Token Expired", "Invalid JWT token")
        ):
            return RedirectResponse(login_url(request), status_code=status.HTTP_303_SEE_OTHER)
        if browser:
            root = request.scope.get("root_path", "") or URL_PREFIX
            html = templates.get_template("refused.html").render(
                root=root, airflow_root=root.removesuffix(URL_PREFIX) + "/", code=exc.status_code, message=exc.detail
            )
            return HTMLResponse(html, status_code=exc.status_code)
        return Response(str(exc.detail), status_code=exc.status_code, media_type="text/plain")

    @app.get("/", response_class=HTMLResponse)
    def search(request: Request, user: Reader, q: str = "") -> Response:
        """One box: an order id or reference opens the order; an e-mail, a name or a pasted e-mail lists orders."""
        from fb_commerce.cs import lookup

        text = q.strip()
        hits: list[dict[str, Any]] = []
        found: list[Any] = []
        problem = ""
        if text:
            kind = forms.search_kind(text)
            if kind == "key" and lookup.order_view(warehouse(), text) is not None:
                return RedirectResponse(f"{request.scope.get('root_path', '')}/orders/{text}", status_code=303)
            try:  # a key that opened no order may still be in a reference typed in part: searched as text
                if kind == "email":
                    found = lookup.find_orders(warehouse(), email=text)
                elif kind == "name":
                    found = lookup.find_orders(warehouse(), name=text)
                else:
                    found = lookup.find_orders(warehouse(), text=text)
            except ValueError as exc:  # nothing to search for in what was typed: say so
                problem = str(exc)
            hits = [hit.as_dict() for hit in found]
        return page(request, user, "search.html", q=q, searched=bool(text), hits=hits, problem=problem)

    def order_page(
        request: Request,
        user: WebUser,
        key: str,
        code: int = 200,
        refusal: tuple[str, list[str]] | None = None,
        submitted: dict[str, str] | None = None,
    ) -> HTMLResponse:
        from fb_commerce.cs import lookup

        view = lookup.order_view(warehouse(), key)
        if view is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"No order {key!r} in the warehouse")
        order = view.as_dict()
        return page(
            request,
            user,
            "order.html",
            code=code,
            order=order,
            key=key,
            choices=forms.CHOICES,
            refused_form=refusal[0] if refusal else None,
            reasons=refusal[1] if refusal else [],
            submitted=submitted or {},
            submission_id=secrets.token_urlsafe(16),
        )

    @app.get("/orders/{key}", response_class=HTMLResponse)
    def order(request: Request, user: Reader, key: str) -> HTMLResponse:
        """Everything known about one order, its CS actions and timeline, and the forms to act on it."""
        return order_page(request, user, key)

    async def act(request: Request, user: WebUser, key: str, kind: str) -> Response:
        submitted = {k: v for k, v in (await request.form()).multi_items() if isinstance(v, str)}
        check_csrf(request, user, submitted.get(CSRF_FIELD))

        def queue() -> Any:
            from fb_commerce.cs import actions

            try:
                form = forms.build(kind, key, submitted)
            except forms.FormError as exc:
                return exc.reasons
            from airflow.sdk.exceptions import AirflowNotFoundException

            try:
                live_client = graph_client()
            except AirflowNotFoundException:
                return [
                    f"The Graph API connection {GRAPH_CONN_ID} is not set up: ask a data engineer (fb-commerce check)"
                ]
            options: dict[str, Any] = {"actor": user.name, "source": "web", "live": live_client}
            if kind == "refund":
                return actions.refund(warehouse(), form, **options)
            if kind == "cancel":
                return actions.cancel(warehouse(), form, **options)
            return actions.update_tracking(warehouse(), form, **options)

        result = await run_in_threadpool(queue)
        if isinstance(result, list) or result.status != "queued":
            reasons = result if isinstance(result, list) else list(result.reasons)
            return await run_in_threadpool(
                order_page, request, user, key, status.HTTP_422_UNPROCESSABLE_ENTITY, (kind, reasons), submitted
            )
        target = f"{request.scope.get('root_path', '')}/actions/{result.action_id}"
        try:
            run_id = await run_in_threadpool(trigger_sender, request, user, f"{kind} {result.action_id}")
            target += f"?{urlencode({'run': run_id})}"
        except SenderError as exc:  # queued all the same: the sender's next scheduled run takes it
            log.warning("Customer service: %s %s queued, sender not triggered: %s", kind, result.action_id, exc)
            target += f"?sender_error={exc.code}"
        return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)

    @app.post("/orders/{key}/refund")
    async def refund(request: Request, user: Actor, key: str) -> Response:
        return await act(request, user, key, "refund")

    @app.post("/orders/{key}/cancel")
    async def cancel(request: Request, user: Actor, key: str) -> Response:
        return await act(request, user, key, "cancel")

    @app.post("/orders/{key}/tracking")
    async def tracking(request: Request, user: Actor, key: str) -> Response:
        return await act(request, user, key, "tracking")

    @app.get("/actions/{action_id}", response_class=HTMLResponse)
    def action(request: Request, user: Reader, action_id: str, run: str = "", sender_error: str = "") -> HTMLResponse:
        """An action and its outbox row as they are now; reloads itself until the result lands."""
        from fb_commerce.cs import actions

        found = actions.action_status(warehouse(), action_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"No action {action_id!r}")
        shown = found.as_dict()
        outcome = forms.outcome(shown)
        run_state = sender_run_state(request, user, run) if run else None
        return page(
            request,
            user,
            "action.html",
            action=shown,
            outcome=outcome,
            run_id=run,
            run_state=run_state,
            sender_error=sender_error,
            refresh=None if outcome in forms.FINAL else REFRESH_SECONDS,
        )

    @app.get("/returns", response_class=HTMLResponse)
    def returns(request: Request, user: Reader) -> HTMLResponse:
        """Returns the buyer asked for and nobody has answered, oldest first."""
        now = dt.datetime.now(dt.UTC)
        return page(request, user, "returns.html", returns=awaiting_returns(warehouse(), now=now))

    return app
