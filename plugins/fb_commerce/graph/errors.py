"""Typed exceptions for Graph API errors.

Meta answers errors as ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id", ...}}``.
:func:`error_from_response` turns that into one of the classes below, which keep code, subcode, fbtrace_id and the
message (never the token), and carry a hint that says what to do.
"""

from __future__ import annotations

import re
from typing import Any

# Codes from docs/graph-api.md §4 and §1.11.
TRANSIENT_CODES = frozenset({1, 2})
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80001, 80002, 80004, 80009, 80014})
TOKEN_CODES = frozenset({102, 190})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
AUTH_SUBCODES = frozenset({458, 459, 460, 463, 464, 467, 492})
INVALID_PARAMETER_CODES = frozenset({100})
# Commerce rule codes are seven digits with these prefixes (1818xxx, 2361xxx, 2382xxx).
COMMERCE_PREFIXES = ("1818", "2361", "2382")
# Commerce codes that mean "try again soon": concurrent modification, pending action, refund before capture.
RETRYABLE_COMMERCE_CODES = frozenset({2361050, 2361081})

_SECRET_PARAMS = re.compile(r"((?:access_token|appsecret_proof|client_secret|input_token)=)[^&\s'\"]+", re.I)
_BEARER = re.compile(r"((?:Bearer|OAuth)\s+)[A-Za-z0-9._\-|]+", re.I)


def redact(text: str) -> str:
    """Remove tokens and proofs from a URL, a message or a traceback line."""
    return _BEARER.sub(r"\1***", _SECRET_PARAMS.sub(r"\1***", text))


def is_commerce_code(code: int | None) -> bool:
    return code is not None and len(str(code)) == 7 and str(code).startswith(COMMERCE_PREFIXES)


class GraphError(Exception):
    """A Graph API call failed. Base of every error this client raises."""

    hint = "See the message and fbtrace_id; Meta support can trace the call with the fbtrace_id."

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        error_type: str | None = None,
        fbtrace_id: str | None = None,
        http_status: int | None = None,
        user_title: str | None = None,
        user_message: str | None = None,
        is_transient: bool = False,
        method: str | None = None,
        path: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        self.message = redact(message or "")
        self.code = code
        self.subcode = subcode
        self.error_type = error_type
        self.fbtrace_id = fbtrace_id
        self.http_status = http_status
        self.user_title = user_title
        self.user_message = user_message
        self.is_transient = is_transient
        self.method = method
        self.path = redact(path) if path else path
        self.body = body or {}
        super().__init__(self.__str__())

    @property
    def commerce_code(self) -> int | None:
        """The commerce rule code (1818xxx/2361xxx/2382xxx) whether Meta sent it as code or subcode."""
        for candidate in (self.subcode, self.code):
            if is_commerce_code(candidate):
                return candidate
        return None

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        codes = f"code {self.code}" + (f"/{self.subcode}" if self.subcode else "")
        extra = f" (HTTP {self.http_status}, {codes}, fbtrace_id {self.fbtrace_id or '-'})"
        user = f" [{self.user_title}: {self.user_message}]" if self.user_title or self.user_message else ""
        return f"{where}{self.message}{user}{extra}. {self.hint}"

    def __reduce__(self) -> tuple[Any, ...]:  # keep exceptions picklable with their keyword arguments
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[GraphError], message: str, state: dict[str, Any]) -> GraphError:
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.__dict__.update(state)
    return exc


class GraphTransientError(GraphError):
    """Meta had a temporary problem (codes 1, 2, is_transient, HTTP 5xx). Retried automatically."""

    hint = "Temporary error at Meta: the call is retried; if it persists, check https://metastatus.com."


class GraphConnectionError(GraphError):
    """The call did not get an answer (timeout, refused or reset connection). Retried automatically."""

    hint = "No answer from the Graph API: check the network and the connection's host; the call is retried."


class GraphThrottledError(GraphError):
    """A rate limit was hit (codes 4, 17, 32, 613, 800xx). Retried after a back-off."""

    hint = "Rate limited by Meta: the call is retried after a back-off; lower the fb_graph_api pool to call less."

    def __init__(self, message: str, *, regain_seconds: float = 0.0, **kwargs: Any) -> None:
        self.regain_seconds = regain_seconds
        super().__init__(message, **kwargs)


class GraphRateLimitWait(GraphThrottledError):
    """Meta says access returns only after longer than we are willing to sleep in a worker.

    Not retried in-process: the task ends, and Airflow retries it later (see operators' retry policy).
    """

    def __init__(self, message: str, *, regain_seconds: float, **kwargs: Any) -> None:
        self.hint = (
            f"Meta asks to wait about {regain_seconds / 60:.0f} min before calling again; "
            "this attempt ends here so no worker sleeps, and Airflow retries the task later."
        )
        super().__init__(message, regain_seconds=regain_seconds, **kwargs)


class GraphAuthError(GraphError):
    """The token is invalid or expired, or lacks a permission (codes 102, 190, 10, 200-299)."""

    hint = (
        "Fix the connection fb_commerce_default: use a valid system-user token with the commerce_* and "
        "catalog_management permissions, and the app secret of the same app (fb-commerce check says which)."
    )


class GraphInvalidParameterError(GraphError):
    """A parameter was rejected (code 100). Not retried: the request itself must change."""

    hint = "The request was rejected as invalid; the message names the parameter. Not retried."


class GraphCommerceError(GraphError):
    """A commerce rule refused the operation (e.g. 2382045 duplicate tracking number, 1818xxx state rules)."""

    @property
    def retryable(self) -> bool:
        return self.commerce_code in RETRYABLE_COMMERCE_CODES

    @property
    def hint(self) -> str:  # type: ignore[override]  # read-only here: it follows the code; nothing sets it
        if self.retryable:
            return "Another write on this order is under way at Meta: the call is retried shortly."
        return "Meta's commerce rules refused this operation for this order; fix the request, it is not retried."


def classify(code: int | None, subcode: int | None, http_status: int | None, is_transient: bool) -> type[GraphError]:
    """The exception class for a Graph error, by code first, then HTTP status."""
    if code in THROTTLE_CODES or subcode in THROTTLE_CODES:
        return GraphThrottledError
    if is_commerce_code(subcode) or is_commerce_code(code):
        return GraphCommerceError
    if code in TRANSIENT_CODES or is_transient:
        return GraphTransientError
    if code in TOKEN_CODES or code in PERMISSION_CODES or subcode in AUTH_SUBCODES:
        return GraphAuthError
    if code in INVALID_PARAMETER_CODES:
        return GraphInvalidParameterError
    if http_status is not None and http_status >= 500:
        return GraphTransientError
    if http_status == 429:
        return GraphThrottledError
    if http_status in (401, 403):
        return GraphAuthError
    return GraphError


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def error_from_payload(
    payload: Any,
    http_status: int | None,
    *,
    method: str | None = None,
    path: str | None = None,
    regain_seconds: float = 0.0,
    fallback_text: str = "",
) -> GraphError:
    """Build the typed exception from a decoded error body (or from the status alone when it has none)."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        text = fallback_text.strip()[:300] or "no error body"
        cls = classify(None, None, http_status, False)
        kwargs: dict[str, Any] = {"http_status": http_status, "method": method, "path": path}
        if issubclass(cls, GraphThrottledError):
            kwargs["regain_seconds"] = regain_seconds
        return cls(f"HTTP {http_status}: {text}", **kwargs)
    code = _int_or_none(error.get("code"))
    subcode = _int_or_none(error.get("error_subcode"))
    is_transient = bool(error.get("is_transient"))
    cls = classify(code, subcode, http_status, is_transient)
    kwargs = {
        "code": code,
        "subcode": subcode,
        "error_type": error.get("type"),
        "fbtrace_id": error.get("fbtrace_id"),
        "http_status": http_status,
        "user_title": error.get("error_user_title"),
        "user_message": error.get("error_user_msg"),
        "is_transient": is_transient,
        "method": method,
        "path": path,
        "body": error,
    }
    if issubclass(cls, GraphThrottledError):
        kwargs["regain_seconds"] = regain_seconds
    return cls(str(error.get("message") or "Graph API error"), **kwargs)
