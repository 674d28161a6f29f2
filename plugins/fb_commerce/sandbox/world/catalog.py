"""Catalog changes: feed upload sessions (start, background parse, finish) and items_batch handles.

A session finishes when its parse is done and its delay (``upload_delay_seconds``) has passed on the virtual clock;
an items_batch handle is validated and applied when it finishes (``batch_delay_seconds``). Both are applied by
``timeline.tick`` under the lock; only the parse and the URL fetch run outside it, in a worker thread.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .catalog_fields import FATAL, KNOWN, REQUIRED, check, missing_required
from .feeds import ParseResult, failed, parse_feed, product_from
from .model import BatchRequest, Feed, Product, Upload

if TYPE_CHECKING:
    from .store import Store

MAX_BATCH_REQUESTS = 5000
MAX_BATCH_BYTES = 28 * 1024 * 1024
_URL_FETCH_TIMEOUT = 30.0


# --- feeds and upload sessions --------------------------------------------------------------------------------


def create_feed(sb: Store, catalog_id: str, params: dict[str, Any], now: float) -> Feed:
    feed = Feed(
        sb.new_id("feed"),
        catalog_id,
        str(params.get("name") or "Product feed"),
        now,
        schedule=params.get("schedule"),
        update_schedule=params.get("update_schedule"),
        ingestion_source_type=str(params.get("ingestion_source_type") or "primary_feed"),
        delimiter=str(params.get("delimiter") or "AUTODETECT"),
    )
    sb.feeds[feed.id] = feed
    sb.register(feed.id, "feed", feed)
    return feed


def start_upload(
    sb: Store, feed: Feed, *, path: Path | None, filename: str | None, url: str | None, update_only: bool, now: float
) -> Upload:
    """Open a session; the file (already spooled to ``path``) or the URL is read in a worker thread."""
    upload = Upload(
        sb.new_id("upload"),
        feed.id,
        now,
        "Manual Upload" if path is not None else "User initiated server fetch",
        update_only,
        filename=filename,
        url=url,
        path=path,
        due=now + sb.config.upload_delay_seconds,
    )
    sb.uploads[upload.id] = upload
    sb.register(upload.id, "upload", upload)
    feed.upload_ids.append(upload.id)
    sb.open_uploads.append(upload)
    threading.Thread(target=_parse_in_background, args=(upload,), name=f"feed-upload-{upload.id}", daemon=True).start()
    return upload


def _parse_in_background(upload: Upload) -> None:
    try:
        if upload.path is None and upload.url:
            upload.path = _fetch(upload.url)
        result = parse_feed(upload.path) if upload.path else failed("No file", "The upload had no file and no url")
    except OSError as exc:
        result = failed("Could not fetch the feed", f"Reading the feed failed: {exc.__class__.__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - a malformed file must end the session, not hang it
        result = failed("Could not parse the feed", f"{exc.__class__.__name__}: {exc}")
    upload.parsed = result  # one assignment: tick() sees either None or the whole result


def _fetch(url: str) -> Path:
    """Download ``url`` to a temporary file in chunks (the sandbox's "server fetch")."""
    with (
        tempfile.NamedTemporaryFile(prefix="fb-sandbox-feed-", suffix=".feed", delete=False) as tmp,
        urllib.request.urlopen(url, timeout=_URL_FETCH_TIMEOUT) as response,  # noqa: S310 - a local test server
    ):
        shutil.copyfileobj(response, tmp, 1024 * 1024)
    return Path(tmp.name)


def finish_upload(sb: Store, upload: Upload, at: float) -> None:
    """Apply a parsed session: upsert valid rows; a replace (not update_only) upload deletes what it did not name."""
    result: ParseResult = upload.parsed
    created = updated = 0
    for retailer_id, product in result.products.items():
        existing = sb.products.get(retailer_id)
        product.id = existing.id if existing else sb.new_id("product")
        product.updated, product.source = at, f"feed:{upload.feed_id}"
        sb.products[retailer_id] = product
        updated += existing is not None
        created += existing is None
    deleted = 0
    if not upload.update_only and result.detected:
        for retailer_id in [r for r in sb.products if r not in result.named_ids]:
            del sb.products[retailer_id]
            deleted += 1
    sb.products_changed()
    upload.errors = list(result.errors.values())
    upload.counts = {
        "num_detected_items": result.detected,
        "num_persisted_items": created + updated,
        "num_invalid_items": result.invalid,
        "num_deleted_items": deleted,
        "error_count": result.fatal_count,
        "warning_count": result.warning_count,
    }
    upload.end = at
    upload.parsed = True  # drop the parsed rows: they now live in the catalog
    sb.open_uploads.remove(upload)
    if upload.path is not None:
        upload.path.unlink(missing_ok=True)
        upload.path = None


def error_report_csv(upload: Upload) -> str:
    """The full error report a file_handle serves: one line per (error, row)."""
    lines = ["row_number,retailer_id,severity,summary,description"]
    for err in upload.errors:
        for row, retailer_id in err.rows:
            lines.append(
                ",".join(_csv_cell(v) for v in (str(row), retailer_id, err.severity, err.summary, err.description))
            )
    return "\n".join(lines) + "\n"


def _csv_cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value


# --- items_batch ----------------------------------------------------------------------------------------------


def submit_batch(sb: Store, catalog_id: str, requests: list[Any], allow_upsert: bool, now: float) -> BatchRequest:
    handle = base64.urlsafe_b64encode(f"items_batch:{catalog_id}:{sb.new_id('batch')}".encode()).decode()
    batch = BatchRequest(
        handle.rstrip("="), catalog_id, now, now + sb.config.batch_delay_seconds, requests, allow_upsert
    )
    sb.batches[batch.handle] = batch
    sb.open_batches.append(batch)
    return batch


def finish_batch(sb: Store, batch: BatchRequest, at: float) -> None:
    """Validate and apply each request in order; invalid ones are reported and skipped."""
    for line, request in enumerate(batch.requests):
        message = _apply_request(sb, batch, line, request, at)
        if message is not None:
            retailer_id = _retailer_id(request)
            batch.errors.append({"line": line, "id": retailer_id, "message": message})
            if retailer_id and retailer_id not in batch.invalid_ids:
                batch.invalid_ids.append(retailer_id)
    batch.status = "FINISHED"
    batch.requests = []
    sb.open_batches.remove(batch)
    sb.products_changed()


def _retailer_id(request: Any) -> str:
    if not isinstance(request, dict):
        return ""
    raw_data = request.get("data")
    data = raw_data if isinstance(raw_data, dict) else {}
    return str(data.get("id") or request.get("retailer_id") or "")


def _apply_request(sb: Store, batch: BatchRequest, line: int, request: Any, at: float) -> str | None:
    """Apply one request; the error message when it is invalid."""
    if not isinstance(request, dict):
        return "Each request must be an object {method, data}"
    method = str(request.get("method", "")).upper()
    if method not in ("CREATE", "UPDATE", "DELETE"):
        return f"Invalid method {request.get('method')!r}: use CREATE, UPDATE or DELETE"
    retailer_id = _retailer_id(request)
    if not retailer_id:
        return "data.id (the retailer id) is required"
    existing = sb.products.get(retailer_id)
    if method == "DELETE":
        if existing is None:
            return f"Item {retailer_id} does not exist in the catalog"
        del sb.products[retailer_id]
        return None

    def ignored(message: str) -> None:
        batch.warnings.append({"line": line, "id": retailer_id, "message": f"{message}: the value was ignored"})

    skipped = set(sb.config.items_batch_ignored_fields)
    data: dict[str, str | None] = {}
    raw_fields = request.get("data")
    fields = raw_fields if isinstance(raw_fields, dict) else {}
    for name, raw in fields.items():
        name = str(name)
        if name not in KNOWN:
            ignored(f"Unknown field {name}")
        elif name in skipped:
            ignored(f"{name} could not be applied")
        elif raw is None:
            # null clears an optional field: Meta documents that a sale without sale_price_effective_date lasts
            # "until the sale_price is changed to null" (items_batch reference, Supported Fields).
            if name in REQUIRED:
                ignored(f"{name} is required and cannot be cleared")
            else:
                data[name] = None
        else:
            value = _text(raw)
            problem = check(name, value)
            if problem is None:
                data[name] = value
                continue
            severity, _, description = problem
            if severity == FATAL or name in ("quantity_to_sell_on_facebook", "inventory"):
                return description
            ignored(description)
    if existing is None:
        values = {name: value for name, value in data.items() if value is not None}
        if method == "UPDATE" and not batch.allow_upsert:
            return f"Item {retailer_id} does not exist and allow_upsert is false"
        missing = missing_required(values)
        if missing:
            return f"Creating item {retailer_id} needs the required fields: {', '.join(missing)}"
        product = product_from(values, sb.new_id("product"))
        product.updated, product.source = at, "batch"
        sb.products[retailer_id] = product
        return None
    _merge(existing, data, at)
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value).strip()


def _merge(product: Product, data: dict[str, str | None], at: float) -> None:
    """An UPDATE changes only the fields it names; None clears an optional field."""
    simple = {"title", "description", "price", "availability", "condition", "brand", "link", "image_link", "sale_price"}
    for name, value in data.items():
        if name in simple:
            setattr(product, name, value)
        elif name in ("quantity_to_sell_on_facebook", "inventory"):
            product.quantity = int(value) if value is not None else None
        elif name != "id":
            extra = {k: v for k, v in (product.extra or {}).items() if k != name}
            product.extra = {**extra, name: value} if value is not None else extra
    product.updated = at


__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_REQUESTS",
    "REQUIRED",
    "create_feed",
    "error_report_csv",
    "finish_batch",
    "finish_upload",
    "start_upload",
    "submit_batch",
]
