"""``SandboxAdmin``: drives a running sandbox's admin API (tests, demos, benchmarks)."""

from __future__ import annotations

import time
from typing import Any

import requests


class SandboxAdminError(RuntimeError):
    """The admin API refused a call (bad parameters)."""


class SandboxAdmin:
    """A thin client for ``/_sandbox/``; every method returns the decoded JSON answer."""

    def __init__(self, base_url: str, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = requests.Session()

    def _call(
        self, method: str, path: str, payload: dict[str, Any] | None = None, params: dict[str, Any] | None = None
    ) -> Any:
        response = self._http.request(
            method, f"{self.base_url}/_sandbox/{path}", json=payload, params=params, timeout=self.timeout
        )
        if response.status_code >= 400:
            raise SandboxAdminError(f"{method} /_sandbox/{path}: {response.status_code} {response.text[:500]}")
        return response.json()

    def reset(self) -> dict[str, Any]:
        """Back to the starting seed: faults off, clock back, stats zeroed, default config."""
        return self._call("POST", "reset")

    def seed(
        self,
        seed: int | None = None,
        orders: int | None = None,
        products: int | None = None,
        days: int | None = None,
        anchor: float | None = None,
    ) -> dict[str, Any]:
        payload = {
            k: v
            for k, v in {"seed": seed, "orders": orders, "products": products, "days": days, "anchor": anchor}.items()
            if v is not None
        }
        return self._call("POST", "seed", payload)

    def faults(
        self,
        error_rate: float = 0,
        throttle_rate: float = 0,
        timeout_rate: float = 0,
        latency_ms: int = 0,
        **extra: Any,
    ) -> dict[str, Any]:
        """Set the faults (every call replaces all of them); extra keys: conflict_rate, throttle_regain_minutes,
        timeout_ms, throttle_code, paths."""
        return self._call(
            "POST",
            "faults",
            {
                "error_rate": error_rate,
                "throttle_rate": throttle_rate,
                "timeout_rate": timeout_rate,
                "latency_ms": latency_ms,
                **extra,
            },
        )

    def config(self, **changes: Any) -> dict[str, Any]:
        """Change behaviour knobs (delays, limits, fees, credentials); no arguments reads them."""
        return self._call("POST", "config", changes) if changes else self._call("GET", "config")

    def clock(self, advance_seconds: float) -> dict[str, Any]:
        return self._call("POST", "clock", {"advance_seconds": advance_seconds})

    def state(self, include: str | list[str] | None = None) -> dict[str, Any]:
        if isinstance(include, list):
            include = ",".join(include)
        return self._call("GET", "state", params={"include": include} if include else None)

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")

    def create_orders(self, count: int, state: str = "CREATED", processing_minutes: float | None = None) -> list[str]:
        """Orders placed now; returns their ids."""
        payload: dict[str, Any] = {"count": count, "state": state}
        if processing_minutes is not None:
            payload["processing_minutes"] = processing_minutes
        return self._call("POST", "orders", payload)["ids"]

    def cancel_order(
        self,
        order_id: str,
        items: list[dict[str, Any]] | None = None,
        restock: bool = False,
        reason: str = "CANCEL_REASON_OTHER",
        description: str | None = None,
    ) -> dict[str, Any]:
        """Meta cancels ``order_id`` itself (as buyer support would); ``restock`` raises the catalog's
        quantities. Returns the cancellation id, the order's state and ``restocked`` {retailer_id: units}."""
        payload: dict[str, Any] = {"items": items, "restock": restock, "reason": reason}
        if description is not None:
            payload["description"] = description
        return self._call("POST", f"orders/{order_id}/cancel", payload)

    def refund_order(
        self,
        order_id: str,
        items: list[dict[str, Any]] | None = None,
        reason: str = "FACEBOOK_INITIATED",
        reason_text: str | None = None,
        shipping: str | None = None,
    ) -> dict[str, Any]:
        """Meta refunds ``order_id`` itself; ``items`` as in Graph's refunds (None: everything shipped)."""
        payload: dict[str, Any] = {"items": items, "reason": reason, "reason_text": reason_text}
        if shipping is not None:
            payload["shipping"] = shipping
        return self._call("POST", f"orders/{order_id}/refund", payload)

    def plant(self, kind: str, **target_and_params: Any) -> dict[str, Any]:
        """Plant a finance discrepancy (``POST /_sandbox/plants``): ``kind`` and its target (``payout_reference_id``,
        ``shipment_id``, ``order_id``, ``next=True`` or ``pick=True`` with ``since``/``before``) and parameters
        (``amount``, ``jurisdiction``, ``days``). Returns the plant with what it changed (``changed``)."""
        return self._call("POST", "plants", {"kind": kind, **target_and_params})

    def plants(self) -> list[dict[str, Any]]:
        """Every plant so far, with what it changed once applied."""
        return self._call("GET", "plants")

    def host_file(self, name: str, content: bytes) -> str:
        """Serve ``content`` at /_sandbox/files/<name> (a feed to upload by URL); returns its URL."""
        response = self._http.put(f"{self.base_url}/_sandbox/files/{name}", data=content, timeout=self.timeout)
        if response.status_code >= 400:
            raise SandboxAdminError(f"PUT /_sandbox/files/{name}: {response.status_code} {response.text[:200]}")
        return response.json()["url"]

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the sandbox answers its health check."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.health()
                return
            except (requests.RequestException, SandboxAdminError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


class SandboxGraph:
    """A minimal signed Graph caller for a sandbox, for tests and demos.

    The pipelines use ``fb_commerce.graph``; this exists so sandbox tests need nothing but ``requests``. Answers are
    returned as ``requests.Response`` so callers can look at statuses and headers.
    """

    def __init__(
        self,
        base_url: str,
        access_token: str | None = None,
        app_secret: str | None = None,
        version: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        from fb_commerce import defaults

        from .http.auth import appsecret_proof

        self.base_url = base_url.rstrip("/")
        self.version = version or defaults.API_VERSION
        self.token = access_token or defaults.SANDBOX_ACCESS_TOKEN
        secret = app_secret or defaults.SANDBOX_APP_SECRET
        self.credentials = {"access_token": self.token, "appsecret_proof": appsecret_proof(self.token, secret)}
        self.timeout = timeout
        self.http = requests.Session()

    def url(self, path: str) -> str:
        return f"{self.base_url}/{self.version}/{path.lstrip('/')}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(self.url(path), params={**self.credentials, **params}, timeout=self.timeout)

    def post(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
    ) -> requests.Response:
        """POST form fields (structured values as JSON strings, like Graph expects), a JSON body, or files."""
        import json as _json

        form = None
        if data is not None:
            form = {k: (_json.dumps(v) if isinstance(v, dict | list) else v) for k, v in data.items()}
        return self.http.post(
            self.url(path), params=self.credentials, data=form, json=json, files=files, timeout=self.timeout
        )

    def delete(self, path: str) -> requests.Response:
        return self.http.delete(self.url(path), params=self.credentials, timeout=self.timeout)

    def pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of a list, following ``paging.next`` to the end (empty pages included)."""
        out = []
        response = self.get(path, **params)
        while True:
            response.raise_for_status()
            body = response.json()
            out.append(body)
            nxt = body.get("paging", {}).get("next")
            if not nxt:
                return out
            response = self.http.get(nxt, timeout=self.timeout)
