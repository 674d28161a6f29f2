"""The Graph API client: one place for auth, retries, throttling, paging and uploads.

Every request carries the access token (in the Authorization header, so it never sits in a URL that could be
logged), ``appsecret_proof``, a timeout, TLS verification and a User-Agent naming this project.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import mimetypes
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from fb_commerce import USER_AGENT
from fb_commerce.defaults import API_VERSION, GRAPH_BASE_URL
from fb_commerce.graph.errors import (
    GraphCommerceError,
    GraphConnectionError,
    GraphError,
    GraphRateLimitWait,
    GraphThrottledError,
    GraphTransientError,
    error_from_payload,
    redact,
)
from fb_commerce.graph.fields import FieldSpec, format_fields
from fb_commerce.graph.usage import Usage, parse_usage, slowdown_seconds

log = logging.getLogger("fb_commerce.graph")

_SECRET_QUERY_KEYS = frozenset({"access_token", "appsecret_proof"})


@dataclass
class GraphSettings:
    """How the client talks to the Graph API. Every value can be set from the connection's extras."""

    base_url: str = GRAPH_BASE_URL
    api_version: str = API_VERSION
    #: (connect, read) seconds
    timeout: tuple[float, float] = (10.0, 60.0)
    verify: bool | str = True
    #: attempts per call, the first included
    max_attempts: int = 6
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    #: slow down when any usage header passes this percentage
    usage_threshold: float = 80.0
    #: the longest pause taken because of high usage
    max_slowdown: float = 10.0
    #: when Meta asks to wait longer than this, end the attempt instead of sleeping (GraphRateLimitWait)
    max_regain_wait: float = 120.0
    page_size: int = 100


@dataclass
class CallStats:
    """Counts for the task summary: calls made, retries, throttles, and the highest usage seen."""

    calls: int = 0
    retries: int = 0
    throttled: int = 0
    failed: int = 0
    usage_peak: float = 0.0
    slowed_seconds: float = 0.0
    by_endpoint: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"Graph API: {self.calls} calls, {self.retries} retries, {self.throttled} throttled, "
            f"{self.failed} failed, usage peak {self.usage_peak:.0f}%, slowed down {self.slowed_seconds:.1f} s"
        )


def appsecret_proof(access_token: str, app_secret: str) -> str:
    """Hex HMAC-SHA256 of the token keyed with the app secret (Graph API 'Require App Secret')."""
    return hmac.new(app_secret.encode("utf-8"), access_token.encode("utf-8"), hashlib.sha256).hexdigest()


def form_encode(data: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Graph form posts take nested values (lists, objects) as JSON text."""
    if data is None:
        return None
    encoded: dict[str, str] = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, bool):
            encoded[key] = "true" if value else "false"
        elif isinstance(value, dict | list | tuple):
            encoded[key] = json.dumps(value, separators=(",", ":"), default=str)
        else:
            encoded[key] = str(value)
    return encoded


def endpoint_of(path: str) -> str:
    """A label for stats and logs: the path with ids replaced, e.g. ``{id}/commerce_orders``."""
    parts = [p for p in urlsplit(path).path.split("/") if p]
    if parts and parts[0].startswith("v") and parts[0][1:].replace(".", "").isdigit():
        parts = parts[1:]
    return "/".join("{id}" if p.isdigit() or p.startswith("SKU") else p for p in parts) or "/"


class GraphClient:
    """A Graph API client with typed errors, tenacity retries, usage-aware slow-down and cursor paging.

    :param access_token: the (system-user) access token; sent in the Authorization header only.
    :param app_secret: signs every call with ``appsecret_proof``; None sends no proof.
    :param settings: URLs, timeouts, retry and throttling knobs.
    :param session: a requests session to reuse (the Airflow hook passes its own); one is made otherwise.
    :param sleep: how to wait (tests pass a recorder).
    """

    def __init__(
        self,
        access_token: str,
        app_secret: str | None = None,
        settings: GraphSettings | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not access_token:
            raise GraphError("No access token: set the password of the fb_commerce connection.")
        self._token = access_token
        self._proof = appsecret_proof(access_token, app_secret) if app_secret else None
        self.settings = settings or GraphSettings()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self._sleep = sleep
        self._pending_slowdown = 0.0
        self.stats = CallStats()

    # --- URLs ------------------------------------------------------------------------------------------------

    @property
    def api_root(self) -> str:
        return f"{self.settings.base_url.rstrip('/')}/{self.settings.api_version}"

    def _resolve(self, path: str) -> tuple[str, dict[str, str]]:
        """URL and query for a relative path or a ``paging.next`` URL (rebased on our base URL, secrets dropped)."""
        if "://" not in path:
            return f"{self.api_root}/{path.lstrip('/')}", {}
        parts = urlsplit(path)
        base = urlsplit(self.settings.base_url)
        query = {k: v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _SECRET_QUERY_KEYS}
        url = urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, "", ""))
        return url, query

    def _is_own_host(self, url: str) -> bool:
        return urlsplit(url).netloc == urlsplit(self.settings.base_url).netloc

    # --- one HTTP exchange -------------------------------------------------------------------------------------

    def _send_once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        data: Mapping[str, Any] | None,
        json_body: Any,
        body_factory: Callable[[], tuple[Any, dict[str, str]]] | None,
        texts: bool = False,
    ) -> dict[str, Any]:
        if self._pending_slowdown > 0:
            # Usage passed the threshold on the previous answer: pause before calling again.
            pause, self._pending_slowdown = self._pending_slowdown, 0.0
            self.stats.slowed_seconds += pause
            log.info("Graph API usage high (%.0f%%): pausing %.1f s", self.stats.usage_peak, pause)
            self._sleep(pause)

        url, query = self._resolve(path)
        query.update({k: str(v) for k, v in (params or {}).items() if v is not None})
        if self._proof:
            query["appsecret_proof"] = self._proof
        headers = {"Authorization": f"Bearer {self._token}"}
        body: Any = form_encode(data)
        if body_factory is not None:
            body, extra_headers = body_factory()
            headers.update(extra_headers)
        endpoint = endpoint_of(url)
        self.stats.calls += 1
        self.stats.by_endpoint[f"{method} {endpoint}"] = self.stats.by_endpoint.get(f"{method} {endpoint}", 0) + 1
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                params=query,
                data=body,
                json=json_body,
                headers=headers,
                timeout=self.settings.timeout,
                verify=self.settings.verify,
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            log.debug("%s %s: %s after %.0f ms", method, endpoint, type(exc).__name__, _ms(started))
            # ``from None``: the requests exception text holds the full URL with its query.
            raise GraphConnectionError(
                f"{type(exc).__name__}: {redact(str(exc))[:300]}", method=method, path=urlsplit(url).path
            ) from None
        finally:
            if body_factory is not None and hasattr(body, "fields"):
                _close_encoder(body)

        log.debug("%s %s -> %s in %.0f ms", method, urlsplit(url).path, response.status_code, _ms(started))
        usage = parse_usage(response.headers)
        self._note_usage(usage)
        payload = _decode(response)
        if response.status_code >= 400 or (isinstance(payload, dict) and "error" in payload):
            error = error_from_payload(
                payload,
                response.status_code,
                method=method,
                path=urlsplit(url).path,
                regain_seconds=usage.regain_seconds,
                fallback_text=response.text if payload is None else "",
            )
            if isinstance(error, GraphThrottledError):
                self.stats.throttled += 1
                if error.regain_seconds > self.settings.max_regain_wait:
                    raise GraphRateLimitWait(
                        error.message,
                        regain_seconds=error.regain_seconds,
                        code=error.code,
                        subcode=error.subcode,
                        fbtrace_id=error.fbtrace_id,
                        http_status=error.http_status,
                        method=method,
                        path=error.path,
                    ) from None
            raise error
        if payload is None:
            return {"raw": response.text}
        if (
            texts
            and isinstance(payload, dict)
            and isinstance(payload.get("data"), list)
            and (found := _object_texts(response.content, len(payload["data"]))) is not None
        ):
            payload[DATA_TEXTS] = found
        return payload if isinstance(payload, dict) else {"data": payload}

    def _note_usage(self, usage: Usage) -> None:
        if usage.is_empty:
            return
        self.stats.usage_peak = max(self.stats.usage_peak, usage.peak_percent)
        self._pending_slowdown = slowdown_seconds(usage, self.settings.usage_threshold, self.settings.max_slowdown)

    # --- retries ---------------------------------------------------------------------------------------------------

    @staticmethod
    def is_retryable(exc: BaseException) -> bool:
        """Transient, connection and throttling errors, and the commerce 'try again' codes; never a long wait."""
        if isinstance(exc, GraphRateLimitWait):
            return False
        if isinstance(exc, GraphCommerceError):
            return exc.retryable
        return isinstance(exc, GraphTransientError | GraphConnectionError | GraphThrottledError)

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_exponential_jitter(
            multiplier=self.settings.backoff_initial,
            max=self.settings.backoff_max,
            jitter=self.settings.backoff_initial,
        )(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, GraphThrottledError):
            # Meta said when access returns (at most max_regain_wait here): never come back earlier.
            return max(backoff, exc.regain_seconds)
        return backoff

    def _before_sleep(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0
        log.warning(
            "Graph call failed (attempt %d/%d), retrying in %.1f s: %s",
            state.attempt_number,
            self.settings.max_attempts,
            wait,
            exc,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        body_factory: Callable[[], tuple[Any, dict[str, str]]] | None = None,
        texts: bool = False,
    ) -> dict[str, Any]:
        """Send one call with retries. Writes must carry an idempotency key so a retry replays, never repeats.

        ``texts``: see :meth:`iter_pages`."""
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(self.is_retryable),
            before_sleep=self._before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._send_once, method.upper(), path, params, data, json, body_factory, texts)
        except GraphError:
            self.stats.failed += 1
            raise

    # --- verbs ------------------------------------------------------------------------------------------------------

    def get(
        self, path: str, *, fields: FieldSpec | None = None, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """GET a node or an edge page; ``fields`` may be nested (see :func:`format_fields`)."""
        query = dict(params or {})
        if fields:
            query["fields"] = format_fields(fields)
        return self.request("GET", path, params=query)

    def post(self, path: str, data: Mapping[str, Any] | None = None, *, json: Any = None) -> dict[str, Any]:
        """POST form parameters (nested values as JSON text) or a JSON body."""
        return self.request("POST", path, data=data, json=json)

    def delete(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.request("DELETE", path, params=params)

    def iter_pages(
        self,
        path: str,
        *,
        fields: FieldSpec | None = None,
        params: Mapping[str, Any] | None = None,
        limit: int | None = None,
        texts: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Every page of an edge, following ``paging.next`` to the end (an empty page may still have one).

        ``texts``: each page also holds, under :data:`DATA_TEXTS`, each object of its ``data`` as the JSON text
        Meta sent (in the same order), for a caller that stores the objects as they came without encoding them
        again. Absent when the text cannot be split so (then encode the objects)."""
        query = dict(params or {})
        if fields:
            query["fields"] = format_fields(fields)
        query.setdefault("limit", limit or self.settings.page_size)
        target: str = path
        target_params: dict[str, Any] | None = query
        seen: set[str] = set()
        while True:
            page = self.request("GET", target, params=target_params, texts=texts)
            yield page
            next_url = (page.get("paging") or {}).get("next")
            if not next_url:
                return
            if next_url in seen:
                raise GraphError(f"Paging loop on {endpoint_of(path)}: the same next page twice")
            seen.add(next_url)
            target, target_params = next_url, None

    def paginate(
        self,
        path: str,
        *,
        fields: FieldSpec | None = None,
        params: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every object of an edge, page after page."""
        for page in self.iter_pages(path, fields=fields, params=params, limit=limit):
            yield from page.get("data") or []

    def upload_file(
        self,
        path: str,
        file_path: str | Path,
        *,
        field_name: str = "file",
        content_type: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Multipart POST of a file, streamed from disk (never read into memory); reopened on each retry."""
        from requests_toolbelt import MultipartEncoder

        file_path = Path(file_path)
        mime = content_type or mimetypes.guess_type(file_path.name)[0] or "application/octet-stream"
        form = form_encode(data) or {}

        def body() -> tuple[Any, dict[str, str]]:
            handle = file_path.open("rb")
            encoder = MultipartEncoder(fields={**form, field_name: (file_path.name, handle, mime)})
            return encoder, {"Content-Type": encoder.content_type}

        return self.request("POST", path, body_factory=body)

    def download(self, url: str, destination: str | Path, chunk_size: int = 1 << 20) -> Path:
        """Stream a file (e.g. a feed error report) to disk. Our token goes only to our own Graph host."""
        destination = Path(destination)
        headers = {"Authorization": f"Bearer {self._token}"} if self._is_own_host(url) else {}
        try:
            with self.session.get(
                url, headers=headers, stream=True, timeout=self.settings.timeout, verify=self.settings.verify
            ) as response:
                response.raise_for_status()
                with destination.open("wb") as out:
                    for chunk in response.iter_content(chunk_size):
                        out.write(chunk)
        except requests.RequestException as exc:
            raise GraphConnectionError(f"Download failed: {redact(str(exc))[:300]}") from None
        return destination


#: the key of a page read with ``texts=True`` (:meth:`GraphClient.iter_pages`): its objects' JSON texts
DATA_TEXTS = "data_texts"

_json_decode: Callable[[bytes], Any]
_DecodeError: type[Exception]
_texts_of: Callable[[bytes], list[Any]] | None
try:  # msgspec comes with Airflow: it decodes a page of orders several times faster than json, and splits one
    import msgspec

    class _DataTexts(msgspec.Struct):
        """A page's ``data``, each object kept as its text (msgspec only finds where each one ends)."""

        data: list[msgspec.Raw] = []

    _texts_decoder = msgspec.json.Decoder(_DataTexts)

    def _split_texts(content: bytes) -> list[Any]:
        return _texts_decoder.decode(content).data

    _json_decode, _DecodeError, _texts_of = msgspec.json.decode, msgspec.DecodeError, _split_texts
except ImportError:  # pragma: no cover
    import json as _json

    _json_decode, _DecodeError, _texts_of = _json.loads, ValueError, None


def _object_texts(content: bytes, count: int) -> list[str] | None:
    """The JSON text of each of the ``count`` objects of a page's ``data``, or None if it cannot tell."""
    if _texts_of is None:
        return None
    try:
        found = _texts_of(content)
    except (_DecodeError, ValueError):
        return None
    if len(found) != count:
        return None
    return [bytes(text).decode() for text in found]


def _decode(response: requests.Response) -> Any:
    if not response.content:
        return {}
    try:
        return _json_decode(response.content)
    except (_DecodeError, ValueError, UnicodeDecodeError):
        return None


def _close_encoder(encoder: Any) -> None:
    for value in encoder.fields.values():
        if isinstance(value, tuple) and len(value) > 1 and hasattr(value[1], "close"):
            value[1].close()


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
