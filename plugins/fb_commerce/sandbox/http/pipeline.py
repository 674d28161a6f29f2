"""What every Graph call goes through: parameters, credentials, route, faults, throttling, idempotency, usage
headers and statistics. The handlers themselves only see a ``GraphRequest``.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from fb_commerce import defaults

from ..world import errors as E
from ..world.faults import NO_FAULT, FaultDecision, decide
from ..world.idempotency import fingerprint, require_key
from ..world.sandbox import Sandbox
from .auth import check_credentials, check_permissions, token_from
from .graph import GraphRequest, Route, UploadedFile, find_route

_VERSION_RE = re.compile(r"^v\d+\.\d+$")
_THROTTLE_CODES = {
    E.THROTTLE_APP,
    E.THROTTLE_USER,
    E.THROTTLE_PAGES_USER,
    E.THROTTLE_CUSTOM,
    E.THROTTLE_PAGES,
    E.THROTTLE_ADS_MANAGEMENT,
    E.THROTTLE_CATALOG_MANAGEMENT,
    E.THROTTLE_CATALOG_BATCH,
}
_MAX_FORM_PART = 30 * 1024 * 1024  # items_batch may send up to 28 MB of requests in one form field


async def handle(sb: Sandbox, request: Request, path: str) -> Response:
    """Answer one Graph call."""
    seq = sb.next_seq()
    trace = f"Sbx{sb.params.seed:x}{seq:08x}"
    method = request.method
    route: Route | None = None
    uploads: list[UploadedFile] = []
    inflight: str | None = None
    regain: int | None = None
    handler_ms = 0.0
    try:
        params = await _read_params(request, uploads)
        node_id, edge = _split(path)
        token = token_from(params, request.headers.get("authorization"))
        with sb.lock:
            sb.tick()
            check_credentials(sb.config, token, params.get("appsecret_proof"))
            found = sb.nodes.get(node_id)
            if found is None:
                raise E.unknown_object(node_id, method.lower())
            kind, obj = found
            route = find_route(kind, edge, method)
            check_permissions(sb.config, route.permissions)
            decision = decide(sb.faults, sb.params.seed, seq, "/" + path, route.idempotent)
            faults = sb.faults
            if route.idempotent and kind == "order":
                # Meta serialises writes per order: one arriving while another is in flight is refused.
                if node_id in sb.inflight:
                    raise E.commerce(
                        E.CONCURRENT_MODIFICATION, "Another write on this order is in progress; retry", transient=True
                    )
                sb.inflight.add(node_id)
                inflight = node_id
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        _raise_injected(sb, route, decision)
        if sb.usage.app_percent() >= 100:
            raise E.throttled(E.THROTTLE_APP, sb.usage.regain_minutes())
        if decision.kind == "timeout" and not route.write:
            await _timeout(sb, faults.timeout_ms)
        req = GraphRequest(
            sb,
            method,
            request.url.path,
            node_id,
            edge,
            params,
            str(request.base_url).rstrip("/"),
            int(request.headers.get("content-length") or 0),
            credentials={
                k: str(params[k]) for k in ("access_token", "appsecret_proof") if isinstance(params.get(k), str)
            },
        )
        if "access_token" not in req.credentials and token:
            req.credentials["access_token"] = token
        started = time.perf_counter()
        with sb.lock:
            sb.tick()
            req.now = sb.now()
            status, body = _run(sb, route, req, obj, trace)
        handler_ms = (time.perf_counter() - started) * 1000
        if decision.kind == "timeout":  # a write was applied, but its answer is lost
            await _timeout(sb, faults.timeout_ms)
    except E.GraphError as exc:
        status, body = exc.status, exc.body(trace)
        if exc.code in _THROTTLE_CODES:
            regain = exc.regain_minutes or 0
    finally:
        if inflight is not None:
            sb.inflight.discard(inflight)
        for upload in uploads:
            if not upload.owned:
                upload.path.unlink(missing_ok=True)
    with sb.lock:
        if regain is not None:
            sb.stats.throttled += 1
        sb.usage.record(route.buc if route else "pages", handler_ms)
        headers = sb.usage.headers(route.buc if route else "pages", defaults.SANDBOX_BUSINESS_ID, regain)
        sb.stats.request(route.template if route else f"{method} /{{unknown}}", status)
    headers["x-fb-trace-id"] = trace
    return Response(
        json.dumps(body, separators=(",", ":")), status_code=status, headers=headers, media_type="application/json"
    )


def _split(path: str) -> tuple[str, str | None]:
    parts = [p for p in path.split("/") if p]
    if parts and _VERSION_RE.match(parts[0]):
        parts = parts[1:]  # /v25.0/... and unversioned paths both work
    if not parts or len(parts) > 2:
        raise E.GraphError("Unknown path components: /" + "/".join(parts), code=2500, type="OAuthException")
    return parts[0], (parts[1] if len(parts) > 1 else None)


def _raise_injected(sb: Sandbox, route: Route, decision: FaultDecision) -> None:
    if decision is NO_FAULT:
        return
    kind = decision.kind or ("conflict" if decision.conflict_code else None)
    if kind and kind != "timeout":
        with sb.lock:
            sb.stats.faults[kind] += 1
    if decision.kind == "error":
        if decision.error_code == 1:
            raise E.transient("An unknown error occurred", status=500, code=1)
        raise E.transient("Service temporarily unavailable", status=503, code=2)
    if decision.kind == "throttle":
        raise E.throttled(sb.faults.throttle_code or route.throttle_code, sb.faults.throttle_regain_minutes)
    if decision.conflict_code == E.CONCURRENT_MODIFICATION:
        raise E.commerce(E.CONCURRENT_MODIFICATION, "The order was modified concurrently; retry", transient=True)
    if decision.conflict_code == E.PENDING_ACTION:
        raise E.commerce(
            E.PENDING_ACTION, "Pending Action: another action on this order is being processed; retry", transient=True
        )


async def _timeout(sb: Sandbox, timeout_ms: int) -> None:
    with sb.lock:
        sb.stats.faults["timeout"] += 1
    await asyncio.sleep(timeout_ms / 1000)
    raise E.transient("Request timed out", status=504, code=2)


def _run(sb: Sandbox, route: Route, req: GraphRequest, obj: Any, trace: str) -> tuple[int, dict[str, Any]]:
    """Run the handler; for idempotent writes replay a stored answer or store this one."""
    if not route.idempotent:
        body = route.handler(req, obj)
        if route.write:
            sb.stats.write(route.template, req.applied if req.applied is not None else [req.node_id], True)
        return 200, body
    key = require_key(req.params)
    print_ = fingerprint(f"{route.template}:{req.node_id}", req.params)
    try:
        stored = sb.idempotency.lookup(key, print_)
    except E.GraphError:
        sb.stats.idempotency_conflicts += 1
        raise
    targets = route.targets(req, obj) if route.targets else [req.node_id]
    if stored is not None:
        sb.stats.replays += 1
        sb.stats.write(route.template, targets, applied=False)
        return stored.status, stored.body
    try:
        body = route.handler(req, obj)
    except E.GraphError as exc:
        sb.stats.write(route.template, targets, applied=False)
        if not exc.is_transient:  # a rule error is the answer to this key; transient ones may be retried
            sb.idempotency.store(key, print_, exc.status, exc.body(trace))
        raise
    sb.idempotency.store(key, print_, 200, body)
    applied = req.applied if req.applied is not None else [req.node_id]
    sb.stats.write(route.template, [t for t in targets if t not in applied], applied=False)
    sb.stats.write(route.template, applied, applied=True)
    return 200, body


async def _read_params(request: Request, uploads: list[UploadedFile]) -> dict[str, Any]:
    """Query string plus body (JSON, urlencoded or multipart); file parts are spooled to temporary files."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method not in ("POST", "DELETE"):
        return params
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        raw = await request.body()
        if raw.strip():
            try:
                data = json.loads(raw)
            except ValueError:
                raise E.invalid_param("The request body is not valid JSON") from None
            if not isinstance(data, dict):
                raise E.invalid_param("The JSON body must be an object of parameters")
            params.update(data)
    elif ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form(max_files=16, max_fields=100_000, max_part_size=_MAX_FORM_PART)
        try:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    spooled = await run_in_threadpool(_spool, value)
                    uploads.append(spooled)
                    params[name] = spooled
                else:
                    params[name] = value
        finally:
            await form.close()
    return params


def _spool(part: UploadFile) -> UploadedFile:
    """Copy an uploaded part to a named temporary file in chunks (large feeds never sit in memory)."""
    with tempfile.NamedTemporaryFile(prefix="fb-sandbox-upload-", suffix=".feed", delete=False) as tmp:
        part.file.seek(0)
        shutil.copyfileobj(part.file, tmp, 1024 * 1024)
        size = tmp.tell()
    return UploadedFile(Path(tmp.name), part.filename, size)
