"""``GET /_sandbox/state``: the whole truth, rendered with every field plus what only the sandbox knows."""

from __future__ import annotations

from typing import Any

from ..world import plants
from ..world.clock import iso
from ..world.sandbox import Sandbox
from .fields import FieldSpec, Schema
from .graph import RenderContext
from .views_catalog import FEED, UPLOAD, UPLOAD_ERROR
from .views_finance import PAYOUT, TRANSACTION
from .views_orders import ORDER

SECTIONS = (
    "orders",
    "products",
    "feeds",
    "uploads",
    "batches",
    "payouts",
    "transactions",
    "plants",
    "account",
    "clock",
)
_ALIASES = {"payments", "promotions", "order_details"}  # rendered once under their main name


def full_spec(schema: Schema) -> FieldSpec:
    """Every field of a schema, nested edges included (aliases skipped)."""
    spec: FieldSpec = {}
    for name in schema.getters:
        if name in _ALIASES:
            continue
        spec[name] = full_spec(schema.edges[name][0]) if name in schema.edges else None
    return spec


_ORDER_SPEC = full_spec(ORDER)
_TXN_SPEC: FieldSpec = {**full_spec(TRANSACTION), "order_details": {"id": None, "merchant_order_id": None}}


def _order(o: Any, ctx: RenderContext) -> dict[str, Any]:
    out = ORDER.render(o, _ORDER_SPEC, ctx)
    out.update(
        {
            "state": o.state,
            "merchant_order_reference": o.merchant_order_reference,
            "acknowledged_count": o.acknowledged_count,  # acknowledgements that applied (replays excluded)
            "acknowledged_at": iso(o.acknowledged_at),
            "processing_until": iso(o.processing_until),
            "tax_rate": str(o.tax_rate),
            "buyer_details": dict(o.buyer),  # the truth even while PII is hidden from the API
            "shipping_address": dict(o.shipping_address),
        }
    )
    return out


def _product(p: Any) -> dict[str, Any]:
    return {
        "id": p.id,
        "retailer_id": p.retailer_id,
        "title": p.title,
        "description": p.description,
        "price": p.price,
        "sale_price": p.sale_price,
        "availability": p.availability,
        "condition": p.condition,
        "brand": p.brand,
        "link": p.link,
        "image_link": p.image_link,
        "quantity_to_sell_on_facebook": p.quantity,
        "extra": p.extra or {},
        "updated": iso(p.updated),
        "source": p.source,
    }


def snapshot(sb: Sandbox, base_url: str, include: set[str] | None = None) -> dict[str, Any]:
    """Render the requested sections (all by default). The caller holds the lock."""
    ctx = RenderContext(sb, base_url)
    wanted = include if include else set(SECTIONS)
    out: dict[str, Any] = {
        "seed": {
            "seed": sb.params.seed,
            "orders": sb.params.orders,
            "products": sb.params.products,
            "days": sb.params.days,
        }
    }
    if "clock" in wanted:
        out["clock"] = {"now": sb.now(), "now_iso": iso(sb.now()), "offset_seconds": sb.clock.offset}
    if "account" in wanted:
        out["order_management_apps"] = list(sb.order_management_apps)
    if "orders" in wanted:
        ordered = sorted(sb.orders.values(), key=lambda o: (o.created, o.id))
        out["orders"] = [_order(o, ctx) for o in ordered]
    if "products" in wanted:
        out["products"] = [_product(sb.products[k[0]]) for k in sb.product_keys()]
    if "feeds" in wanted:
        out["feeds"] = [
            FEED.render(f, full_spec(FEED), ctx) | {"upload_ids": list(f.upload_ids)} for f in sb.feeds.values()
        ]
    if "uploads" in wanted:
        out["uploads"] = [
            UPLOAD.render(u, full_spec(UPLOAD), ctx)
            | {
                "feed_id": u.feed_id,
                "update_only": u.update_only,
                "finished": u.end is not None,
                "errors": [UPLOAD_ERROR.render(e, None, ctx) | {"rows": [list(r) for r in e.rows]} for e in u.errors],
            }
            for u in sb.uploads.values()
        ]
    if "batches" in wanted:
        out["batches"] = [
            {
                "handle": b.handle,
                "catalog_id": b.catalog_id,
                "status": b.status,
                "allow_upsert": b.allow_upsert,
                "errors": b.errors,
                "warnings": b.warnings,
                "ids_of_invalid_requests": b.invalid_ids,
                "created": iso(b.created),
            }
            for b in sb.batches.values()
        ]
    if "payouts" in wanted:
        out["payouts"] = [
            PAYOUT.render(sb.payouts[k[1]], full_spec(PAYOUT), ctx)
            | {"transaction_ids": list(sb.payouts[k[1]].transaction_ids)}
            for k in sb.payout_keys
        ]
    if "transactions" in wanted:
        now = sb.now()  # what has appeared; planted late and missing transactions are under "plants"
        out["transactions"] = [
            TRANSACTION.render(t, _TXN_SPEC, ctx)
            for k in sb.transaction_keys
            if (t := sb.transactions[k[1]]).date <= now
        ]
        out["pending_payout_transactions"] = sorted(
            {t for _, t in sb.pending_payouts if t in sb.transactions and not sb.transactions[t].payout_reference_id}
        )
    if "plants" in wanted:
        out["plants"] = [plants.as_dict(p) for p in sb.plants]
    return out
