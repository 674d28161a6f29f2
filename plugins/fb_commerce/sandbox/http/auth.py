"""Access token and appsecret_proof checks (docs/graph-api.md §4), and the permission check of a route."""

from __future__ import annotations

import hashlib
import hmac

from ..world import errors as E
from ..world.config import SandboxConfig


def appsecret_proof(token: str, app_secret: str) -> str:
    """Hex HMAC-SHA256 of the access token keyed with the app secret."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def token_from(params: dict[str, object], authorization: str | None) -> str | None:
    """``access_token`` from the query or body, else ``Authorization: Bearer|OAuth <token>``."""
    token = params.get("access_token")
    if isinstance(token, str) and token:
        return token
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value.strip():
            return value.strip()
    return None


def check_credentials(cfg: SandboxConfig, token: str | None, proof: object) -> None:
    if not token:
        raise E.GraphError("An access token is required to request this resource.", code=104)
    if token in cfg.expired_tokens:
        raise E.GraphError("Error validating access token: Session has expired.", code=190, subcode=463)
    if not hmac.compare_digest(token, cfg.access_token):
        raise E.GraphError("Invalid OAuth access token - Cannot parse access token", code=190)
    if proof in (None, ""):
        if cfg.require_appsecret_proof:
            raise E.GraphError(
                "API calls from the server require an appsecret_proof argument", code=100, type="GraphMethodException"
            )
        return
    if not isinstance(proof, str) or not hmac.compare_digest(proof, appsecret_proof(token, cfg.app_secret)):
        raise E.GraphError(
            "Invalid appsecret_proof provided in the API argument", code=100, type="GraphMethodException"
        )


def check_permissions(cfg: SandboxConfig, needed: tuple[str, ...]) -> None:
    if needed and not any(p in cfg.permissions for p in needed):
        raise E.permission(" or ".join(needed))
