"""Graph endpoints of the catalog (docs/graph-api.md §2).

Products, feeds, upload sessions, items_batch and its status.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from ..world import catalog
from ..world import errors as E
from ..world.model import Feed, Upload
from .graph import CATALOG, GraphRequest, UploadedFile, route
from .views_catalog import CATALOG as CATALOG_VIEW
from .views_catalog import FEED, PRODUCT, UPLOAD, UPLOAD_ERROR

# Meta documents no page-size cap for catalog products: 1000 is a sandbox choice (unconfirmed).
PRODUCTS_PAGE_CAP = 1000
_MGMT: dict[str, Any] = {
    "permissions": CATALOG,
    "buc": "catalog_management",
    "throttle_code": E.THROTTLE_CATALOG_MANAGEMENT,
}
_PRIORITY = {"HIGH": "fatal", "MEDIUM": "warning", "LOW": "warning"}


@route("catalog", None, **_MGMT)
def get_catalog(req: GraphRequest, cat: dict[str, Any]) -> dict[str, Any]:
    return CATALOG_VIEW.render(cat, req.fields(), req.view())


@route("catalog", "products", **_MGMT)
def list_products(req: GraphRequest, cat: dict[str, Any]) -> dict[str, Any]:
    """Every product, or those a ``filter`` names by retailer id (``{"retailer_id": {"is_any": [...]}}`` or
    ``{"retailer_id": {"eq": ...}}``, the filter language of product sets)."""
    products = req.sb.products
    wanted = _retailer_id_filter(req.json_param("filter"))
    keys = req.sb.product_keys() if wanted is None else sorted((rid,) for rid in wanted if rid in products)
    return req.page([keys], lambda k: products.get(k[0]), PRODUCT, cap=PRODUCTS_PAGE_CAP)


def _retailer_id_filter(rule: Any) -> set[str] | None:
    """The retailer ids a product filter selects; None without a filter. The sandbox reads only retailer_id
    filters (Meta's filter language has many more operators and fields: those are refused here, not guessed)."""
    if rule is None:
        return None
    condition = rule.get("retailer_id") if isinstance(rule, dict) and len(rule) == 1 else None
    if isinstance(condition, dict) and len(condition) == 1:
        ((operator, value),) = condition.items()
        if operator == "eq" and isinstance(value, str | int):
            return {str(value)}
        if operator == "is_any" and isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            return {str(v) for v in value}
    raise E.invalid_param(
        'The sandbox reads product filters of the form {"retailer_id": {"is_any": [...]}} or '
        '{"retailer_id": {"eq": "..."}} only',
        field_name="filter",
    )


@route("catalog", "product_feeds", **_MGMT)
def list_feeds(req: GraphRequest, cat: dict[str, Any]) -> dict[str, Any]:
    feeds = [f for f in req.sb.feeds.values() if f.catalog_id == cat["id"]]
    return req.render_list(feeds, FEED)


@route("catalog", "product_feeds", "POST", write=True, **_MGMT)
def create_feed(req: GraphRequest, cat: dict[str, Any]) -> dict[str, Any]:
    if not req.param("name"):
        raise E.invalid_param("The parameter name is required", field_name="name")
    params = {
        k: req.json_param(k) for k in ("name", "schedule", "update_schedule", "ingestion_source_type", "delimiter")
    }
    feed = catalog.create_feed(req.sb, cat["id"], params, req.now)
    req.applied = [feed.id]
    return {"id": feed.id}


@route("feed", None, **_MGMT)
def get_feed(req: GraphRequest, feed: Feed) -> dict[str, Any]:
    return FEED.render(feed, req.fields(), req.view())


@route("feed", "uploads", **_MGMT)
def list_uploads(req: GraphRequest, feed: Feed) -> dict[str, Any]:
    uploads = [req.sb.uploads[u] for u in reversed(feed.upload_ids)]  # newest first
    return req.render_list(uploads, UPLOAD)


@route("feed", "uploads", "POST", write=True, **_MGMT)
def create_upload(req: GraphRequest, feed: Feed) -> dict[str, Any]:
    """A multipart ``file`` (spooled to disk by the app) or a ``url`` the sandbox fetches itself."""
    file = req.params.get("file")
    url = req.param("url")
    if isinstance(file, UploadedFile):
        file.owned = True  # the session deletes it once parsed
        path, filename, url = file.path, file.filename, None
    elif url and str(url).startswith(("http://", "https://")):
        path, filename, url = None, None, str(url)
    else:
        raise E.invalid_param("Send the feed as a multipart file or give its http(s) url", field_name="file")
    upload = catalog.start_upload(
        req.sb,
        feed,
        path=path,
        filename=filename,
        url=url,
        update_only=req.bool_param("update_only", False),
        now=req.now,
    )
    return {"id": upload.id}


@route("upload", None, **_MGMT)
def get_upload(req: GraphRequest, upload: Upload) -> dict[str, Any]:
    return UPLOAD.render(upload, req.fields(), req.view())


@route("upload", "errors", **_MGMT)
def list_upload_errors(req: GraphRequest, upload: Upload) -> dict[str, Any]:
    priority = req.param("error_priority")
    if priority is not None and priority not in _PRIORITY:
        raise E.invalid_param("error_priority must be HIGH, MEDIUM or LOW", field_name="error_priority")
    errors = [e for e in upload.errors if priority is None or e.severity == _PRIORITY[priority]]
    return req.render_list(errors, UPLOAD_ERROR)


@route("upload", "error_report", "POST", write=True, **_MGMT)
def request_error_report(req: GraphRequest, upload: Upload) -> dict[str, Any]:
    """The report is written as soon as the session has finished (poll ``?fields=error_report``)."""
    upload.error_report_requested = req.now
    return {"success": True}


# --- items_batch ----------------------------------------------------------------------------------------------

_BATCH: dict[str, Any] = {"permissions": CATALOG, "buc": "catalog_batch", "throttle_code": E.THROTTLE_CATALOG_BATCH}


def _batch_throttle(req: GraphRequest, catalog_id: str) -> None:
    """Catalog Batch rate limit: ``items_batch_per_minute`` calls per catalog in any rolling minute (80014)."""
    now = time.monotonic()
    calls = req.sb.batch_calls.setdefault(catalog_id, deque())
    while calls and calls[0] <= now - 60:
        calls.popleft()
    if len(calls) >= req.sb.config.items_batch_per_minute:
        raise E.throttled(E.THROTTLE_CATALOG_BATCH, max(1, round((calls[0] + 60 - now) / 60)))
    calls.append(now)


@route("catalog", "items_batch", "POST", write=True, **_BATCH)
def items_batch(req: GraphRequest, cat: dict[str, Any]) -> dict[str, Any]:
    if req.param("item_type") != "PRODUCT_ITEM":
        raise E.invalid_param("item_type is required and must be PRODUCT_ITEM", field_name="item_type")
    if req.content_length > catalog.MAX_BATCH_BYTES:
        raise E.invalid_param("The request is larger than 28 MB; send fewer requests per call", field_name="requests")
    requests = req.json_param("requests")
    if isinstance(requests, dict):  # the SDK types `requests` as a map: take its values in order
        requests = list(requests.values())
    if not isinstance(requests, list) or not requests:
        raise E.invalid_param("requests must be a non-empty JSON list of {method, data}", field_name="requests")
    if len(requests) > catalog.MAX_BATCH_REQUESTS:
        raise E.invalid_param(
            f"At most {catalog.MAX_BATCH_REQUESTS} requests per call, got {len(requests)}", field_name="requests"
        )
    _batch_throttle(req, cat["id"])
    batch = catalog.submit_batch(req.sb, cat["id"], requests, req.bool_param("allow_upsert", True), req.now)
    return {"handles": [batch.handle]}


@route("catalog", "check_batch_request_status", **_BATCH)
def check_batch_request_status(req: GraphRequest, cat: dict[str, Any]) -> dict[str, Any]:
    handle = req.param("handle")
    batch = req.sb.batches.get(str(handle)) if handle else None
    if batch is None or batch.catalog_id != cat["id"]:
        raise E.invalid_param("Unknown or missing batch handle", field_name="handle")
    status: dict[str, Any] = {
        "handle": batch.handle,
        "status": batch.status,
        "errors": batch.errors,
        "errors_total_count": len(batch.errors),
        "warnings": batch.warnings,
        "warnings_total_count": len(batch.warnings),
    }
    if req.bool_param("load_ids_of_invalid_requests", False):
        status["ids_of_invalid_requests"] = batch.invalid_ids
    return {"data": [status]}
