"""Who is asking and what they may do: the logged-in Airflow user, its permissions, and CSRF tokens.

A mounted app gets no authentication from Airflow (docs/airflow.md §8), so each route depends on :func:`reader`
or :func:`actor`. Both use Airflow's own code (``airflow.api_fastapi.core_api.security``): the user comes from the
Bearer header or the ``_token`` cookie of Airflow's login, the permission from the configured auth manager.

- read (look an order up): may read the DAG ``fb_order_updates``, the sender of everything the page queues;
- act (refund, cancel, change tracking): may trigger runs of ``fb_order_updates``, as the page does for them.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser

#: the DAG whose permissions decide what a user may do here (it sends what the page queues)
SENDER_DAG_ID = "fb_order_updates"
#: a form's CSRF token is good for this long (a shift), then the page must be reloaded
CSRF_MAX_AGE_SECONDS = 12 * 3600
CSRF_COOKIE = "fbc_csrf"
CSRF_FIELD = "csrf_token"

_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class WebUser:
    """The Airflow user of a request, with the token it came with (forwarded when the page triggers a run)."""

    name: str
    token: str
    can_act: bool


def _token_of(request: Request, bearer: HTTPAuthorizationCredentials | None) -> str:
    """The credential Airflow's ``get_user`` reads: the Bearer header first, else the ``_token`` cookie."""
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    if bearer and bearer.scheme.lower() == "bearer":
        return bearer.credentials
    return request.cookies.get(COOKIE_NAME_JWT_TOKEN, "")


def _permissions(user: BaseUser) -> tuple[bool, bool]:
    """(may read, may act) for ``user``, asked of the configured auth manager as Airflow's own routes ask it."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.models.dag import DagModel

    manager = get_auth_manager()
    details = DagDetails(id=SENDER_DAG_ID, team_name=DagModel.get_team_name(SENDER_DAG_ID))
    may_read = manager.is_authorized_dag(method="GET", details=details, user=user)
    may_act = manager.is_authorized_dag(
        method="POST",
        access_entity=DagAccessEntity.RUN,
        details=details,
        user=user,
    )
    return may_read, may_act


async def _web_user(request: Request, act: bool, bearer: HTTPAuthorizationCredentials | None) -> WebUser:
    from airflow.api_fastapi.core_api.security import get_user

    # Airflow's own resolution of the user (Bearer, else the `_token` cookie; expired or revoked tokens; the
    # refresh middleware's user): HTTP 401 / 403 when there is none
    user = await get_user(request, None, bearer)
    may_read, may_act = await run_in_threadpool(_permissions, user)
    if not may_read or (act and not may_act):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")
    return WebUser(name=user.get_name(), token=_token_of(request, bearer), can_act=may_act)


async def reader(request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> WebUser:
    """Dependency: a user who may look orders up (else 401 / 403, or Airflow's login page for a browser)."""
    return await _web_user(request, False, bearer)


async def actor(request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> WebUser:
    """Dependency: a user who may also act on orders (trigger the sender)."""
    return await _web_user(request, True, bearer)


Reader = Annotated[WebUser, Depends(reader)]
Actor = Annotated[WebUser, Depends(actor)]


def login_url(request: Request) -> str:
    """Airflow's login route (any auth manager), coming back to this page afterwards."""
    from airflow.api_fastapi.app import API_ROOT_PATH

    return f"{API_ROOT_PATH}api/v2/auth/login?{urlencode({'next': str(request.url)})}"


# --- CSRF: a signed double-submit token ---------------------------------------------------------------------
# The form carries a token signed with Airflow's [api] secret_key (itsdangerous, as Airflow signs its own tokens)
# that names the user and a random nonce; the nonce is also in a cookie of this app. A POST is taken only when the
# signature is good and recent, the user is the one logged in, and the nonce matches the cookie.


def _serializer() -> URLSafeTimedSerializer:
    from airflow.api_fastapi.auth.tokens import get_signing_key

    return URLSafeTimedSerializer(get_signing_key("api", "secret_key"), salt="fb-commerce-web-csrf")


def csrf_nonce(request: Request) -> tuple[str, bool]:
    """The nonce of this browser (from its cookie), and whether it is new (then the response must set it)."""
    nonce = request.cookies.get(CSRF_COOKIE, "")
    if len(nonce) >= 32:
        return nonce, False
    return secrets.token_urlsafe(32), True


def csrf_token(user: WebUser, nonce: str) -> str:
    return _serializer().dumps({"user": user.name, "nonce": nonce})


def check_csrf(request: Request, user: WebUser, submitted: str | None) -> None:
    """Refuse (403) a state-changing request whose token is missing, forged, stale or someone else's."""
    nonce = request.cookies.get(CSRF_COOKIE, "")
    try:
        payload = _serializer().loads(submitted or "", max_age=CSRF_MAX_AGE_SECONDS)
    except BadSignature:
        payload = None
    if (
        not nonce
        or not isinstance(payload, dict)
        or payload.get("user") != user.name
        or not hmac.compare_digest(str(payload.get("nonce", "")), nonce)
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "The form has expired or did not come from this page: reload it")
