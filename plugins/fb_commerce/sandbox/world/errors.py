"""Graph API errors: the JSON shape, HTTP statuses and the commerce codes the sandbox raises.

Commerce rule violations come back as HTTP 400, ``code`` 100 (invalid parameter) and the commerce code in
``error_subcode``. The reference lists the commerce codes without saying whether they arrive as ``code`` or as
``error_subcode``; Graph reports the specific reason of a parameter error in the subcode, so the sandbox does too,
and clients should look at both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# --- Commerce codes from docs/graph-api.md §1.11 (and "also seen") ---------------------------------------
CANCELLED_CANNOT_SHIP = 1818111
CANCELLED_CANNOT_REFUND = 1818105
ALREADY_CAPTURED = 1818015
ALREADY_SHIPPED = 1818050
NOT_CHARGED = 1818107
ALREADY_CANCELLED = 1818048
ORDER_ALREADY_CANCELLED = 1818049
ALREADY_FULFILLED = 1818214
BAD_REFUND_RETAILER_ID = 2382021
BAD_ORIGIN_POSTAL_CODE = 2361084
ZERO_REFUND = 2382030
REFUND_EXCEEDS_CHARGE = 2382023
SHIPPING_REFUND_EXCEEDS = 2382022
CANNOT_ACKNOWLEDGE = 2361009
DUPLICATE_TRACKING_NUMBER = 2382045
SHIPMENT_HAS_NO_ITEMS = 2361357
ALREADY_REFUNDED = 2382319
INVALID_ORDER_ID = 2361003
CONCURRENT_MODIFICATION = 2361050
PENDING_ACTION = 2361081

# --- Sandbox-chosen subcodes: Meta documents no code for these cases (unconfirmed), so the sandbox picks one and
# says so here. Clients should treat them as "invalid parameter" (code 100).
IDEMPOTENCY_KEY_REUSED = 2361100  # same idempotency_key, different payload
ORDER_NOT_ACTIONABLE = 2361010  # the order's state does not allow this action (e.g. ship before acknowledge)
MERCHANT_REFERENCE_MISMATCH = 2361011  # merchant_order_reference differs from the stored one
UNKNOWN_OBJECT = 33  # Graph's "object does not exist / unsupported get request" subcode

# Throttling codes (docs/graph-api.md §4) by what the endpoint belongs to.
THROTTLE_APP = 4
THROTTLE_USER = 17
THROTTLE_PAGES_USER = 32
THROTTLE_CUSTOM = 613
THROTTLE_PAGES = 80001  # Pages BUC: commerce orders and finance reads with a Page / system-user token
THROTTLE_ADS_MANAGEMENT = 80004
THROTTLE_CATALOG_MANAGEMENT = 80009
THROTTLE_CATALOG_BATCH = 80014


@dataclass
class GraphError(Exception):
    """An error the sandbox answers with, in the Graph error JSON shape."""

    message: str
    code: int = 100
    status: int = 400
    type: str = "OAuthException"
    subcode: int | None = None
    user_title: str | None = None
    user_msg: str | None = None
    is_transient: bool = False
    regain_minutes: int | None = None  # set on throttles: shown in the usage headers
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self, fbtrace_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "code": self.code,
            "error_subcode": self.subcode,
            "error_user_title": self.user_title or "",
            "error_user_msg": self.user_msg or "",
            "fbtrace_id": fbtrace_id,
            "is_transient": self.is_transient,
        }
        if self.subcode is None:
            del error["error_subcode"]
        error.update(self.extra)
        return {"error": error}

    def __str__(self) -> str:  # pragma: no cover - debugging aid
        return f"({self.code}/{self.subcode}) {self.message}"


def invalid_param(message: str, subcode: int | None = None, field_name: str | None = None) -> GraphError:
    """Code 100, HTTP 400: a missing, malformed or contradictory parameter."""
    extra = {"error_data": {"blame_field_specs": [[field_name]]}} if field_name else {}
    return GraphError(f"(#100) {message}", code=100, subcode=subcode, extra=extra)


def commerce(subcode: int, message: str, *, transient: bool = False) -> GraphError:
    """A commerce rule violation (see the module docstring for why code 100 + subcode)."""
    return GraphError(
        message,
        code=100,
        subcode=subcode,
        type="GraphMethodException",
        user_title="Commerce rule",
        user_msg=message,
        is_transient=transient,
    )


def unknown_object(object_id: str, method: str = "get") -> GraphError:
    return GraphError(
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation.",
        code=100,
        subcode=UNKNOWN_OBJECT,
        type="GraphMethodException",
    )


def unknown_edge(edge: str, kind: str) -> GraphError:
    return GraphError(f"(#100) Tried accessing nonexisting field ({edge}) on node type ({kind})", code=100)


def permission(needed: str) -> GraphError:
    return GraphError(f"(#200) Requires {needed} permission to manage the object", code=200, status=403)


def throttled(code: int, regain_minutes: int, message: str | None = None) -> GraphError:
    """A throttle: app/user/custom codes come back as 400 like Graph, Business Use Case codes as 429."""
    text = message or {
        THROTTLE_APP: "(#4) Application request limit reached",
        THROTTLE_USER: "(#17) User request limit reached",
        THROTTLE_PAGES_USER: "(#32) Page request limit reached",
        THROTTLE_CUSTOM: "(#613) Calls to this api have exceeded the rate limit.",
        THROTTLE_PAGES: "(#80001) There have been too many calls to this Page account. Wait a bit and try again.",
        THROTTLE_ADS_MANAGEMENT: "(#80004) There have been too many calls to this ad-account.",
        THROTTLE_CATALOG_MANAGEMENT: "(#80009) There have been too many calls to this Catalog account.",
        THROTTLE_CATALOG_BATCH: "(#80014) There have been too many calls for the batch uploads to this catalog "
        "account. Wait a bit and try again.",
    }.get(code, f"(#{code}) Rate limit reached")
    status = 429 if code >= 80000 else 400
    return GraphError(text, code=code, status=status, is_transient=True, regain_minutes=regain_minutes)


def transient(
    message: str = "An unexpected error has occurred. Please retry your request later.",
    status: int = 500,
    code: int = 2,
) -> GraphError:
    """Codes 1/2: Meta's side failed; retry."""
    return GraphError(message, code=code, status=status, is_transient=True)
