"""How catalogs, products, feeds, upload sessions and their errors render (SDK ProductItem / ProductFeed names)."""

from __future__ import annotations

from typing import Any

from ..world.clock import iso
from ..world.model import Feed, FeedError, Product, Upload
from ..world.money import parse_price
from .fields import Schema, attr

_SAMPLES = 5  # samples per error kind in GET /{upload_id}/errors


def display_price(text: str | None) -> str | None:
    """Graph shows prices formatted for people ("$1,234.56"); feeds and batches send "1234.56 USD"."""
    parsed = parse_price(text) if text else None
    if parsed is None:
        return text
    amount, currency = parsed
    return f"${amount:,.2f}" if currency == "USD" else f"{amount:,.2f} {currency}"


def _currency(p: Product) -> str | None:
    parsed = parse_price(p.price)
    return parsed[1] if parsed else None


def _extra(name: str) -> Any:
    return lambda p, c: (p.extra or {}).get(name)


PRODUCT = Schema(
    "ProductItem",
    {
        "id": attr("id"),
        "retailer_id": attr("retailer_id"),
        "name": attr("title"),
        "description": attr("description"),
        "price": lambda p, c: display_price(p.price),
        "sale_price": lambda p, c: display_price(p.sale_price),
        "currency": lambda p, c: _currency(p),
        "availability": attr("availability"),
        "condition": attr("condition"),
        "brand": attr("brand"),
        "url": attr("link"),
        "image_url": attr("image_link"),
        "inventory": attr("quantity"),
        "quantity_to_sell_on_facebook": attr("quantity"),
        "retailer_product_group_id": _extra("item_group_id"),
        "size": _extra("size"),
        "color": _extra("color"),
        "gtin": _extra("gtin"),
        "fb_product_category": _extra("fb_product_category"),
        "category": _extra("google_product_category"),
        "commerce_tax_category": _extra("commerce_tax_category"),
        "custom_label_0": _extra("custom_label_0"),
        "review_status": lambda p, c: "approved",
        "visibility": lambda p, c: "published",
        "status": lambda p, c: (p.extra or {}).get("status", "active"),
    },
    defaults=("id",),
)


def _latest_upload(feed: Feed, ctx: Any) -> dict[str, Any] | None:
    if not feed.upload_ids:
        return None
    upload = ctx.uploads[feed.upload_ids[-1]]
    out = {"id": upload.id, "start_time": iso(upload.start)}
    if upload.end is not None:
        out["end_time"] = iso(upload.end)
    return out


FEED = Schema(
    "ProductFeed",
    {
        "id": attr("id"),
        "name": attr("name"),
        "created_time": lambda f, c: iso(f.created),
        "product_count": lambda f, c: sum(1 for p in c.products.values() if p.source == f"feed:{f.id}"),
        "latest_upload": _latest_upload,
        "schedule": attr("schedule"),
        "update_schedule": attr("update_schedule"),
        "ingestion_source_type": attr("ingestion_source_type"),
        "delimiter": attr("delimiter"),
        "country": lambda f, c: "US",
        "default_currency": lambda f, c: "USD",
    },
    defaults=("id", "name"),
)


def _count(name: str) -> Any:
    return lambda u, c: u.counts.get(name) if u.end is not None else None


def error_report(upload: Upload, ctx: Any) -> dict[str, Any]:
    if upload.error_report_requested is None:
        return {"report_status": "NOT_REQUESTED"}
    if upload.end is None:
        return {"report_status": "WRITE_IN_PROGRESS"}
    return {"report_status": "WRITE_FINISHED", "file_handle": ctx.error_report_url(upload)}


UPLOAD = Schema(
    "ProductFeedUpload",
    {
        "id": attr("id"),
        "start_time": lambda u, c: iso(u.start),
        "end_time": lambda u, c: iso(u.end),  # absent until the session finished
        "error_count": _count("error_count"),
        "warning_count": _count("warning_count"),
        "num_detected_items": _count("num_detected_items"),
        "num_persisted_items": _count("num_persisted_items"),
        "num_invalid_items": _count("num_invalid_items"),
        "num_deleted_items": _count("num_deleted_items"),
        "input_method": attr("input_method"),
        "filename": attr("filename"),
        "url": attr("url"),
        "error_report": error_report,
    },
    defaults=("id", "start_time", "end_time"),
)


def _samples(err: FeedError, ctx: Any) -> dict[str, Any]:
    out = []
    for row, retailer_id in err.rows[:_SAMPLES]:
        sample = {"row_number": row, "retailer_id": retailer_id}
        product = ctx.products.get(retailer_id) if retailer_id else None
        if product is not None:
            sample["id"] = product.id
        out.append(sample)
    return {"data": out}


UPLOAD_ERROR = Schema(
    "ProductFeedUploadError",
    {
        "id": lambda e, c: f"{abs(hash((e.summary, e.severity))) % 10**15}",
        "summary": attr("summary"),
        "description": attr("description"),
        "severity": attr("severity"),
        "error_type": attr("error_type"),
        "total_count": lambda e, c: len(e.rows),
        "affected_surfaces": lambda e, c: ["Marketplace"],  # SDK enum AffectedSurfaces
        "samples": _samples,
    },
    defaults=("id", "summary", "description", "severity", "total_count", "samples"),
)

CATALOG = Schema(
    "ProductCatalog",
    {
        "id": lambda c_, c: c_["id"],
        "name": lambda c_, c: c_["name"],
        "product_count": lambda c_, c: len(c.products),
        "vertical": lambda c_, c: "commerce",
    },
    defaults=("id", "name"),
)

__all__ = ["CATALOG", "FEED", "PRODUCT", "UPLOAD", "UPLOAD_ERROR", "display_price"]
