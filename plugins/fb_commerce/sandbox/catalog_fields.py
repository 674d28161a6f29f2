"""Checks of feed-style product values, shared by feed uploads and items_batch (reference §2.3)."""

from __future__ import annotations

import re

from .money import parse_price

REQUIRED = ("id", "title", "description", "availability", "condition", "price", "link", "image_link", "brand")
AVAILABILITY = frozenset({
    "in stock", "out of stock", "available for order", "preorder", "discontinued", "pending", "mark_as_sold",
    "mark_as_expired",
})
CONDITION = frozenset({"new", "refurbished", "used", "used_like_new", "used_good", "used_fair", "cpo", "open_box_new"})
OPTIONAL = frozenset({
    "sale_price", "sale_price_effective_date", "item_group_id", "status", "gtin", "mpn", "color", "gender", "size",
    "additional_image_link", "rich_text_description", "shipping", "shipping_profile_reference_id",
    "custom_label_0", "custom_label_1", "custom_label_2", "custom_label_3", "custom_label_4",
    "google_product_category", "fb_product_category", "commerce_tax_category", "quantity_to_sell_on_facebook",
    "inventory", "age_group", "material", "pattern", "product_type", "visibility", "shipping_weight",
    "origin_country", "additional_variant_attribute", "disabled_capabilities", "video", "short_description",
})
KNOWN = frozenset(REQUIRED) | OPTIONAL
_URL_RE = re.compile(r"^https?://[^\s/]+\.[^\s]+$")
_LIMITS = {"id": 100, "title": 200, "description": 9999, "brand": 100}

FATAL, WARNING = "fatal", "warning"


def check(name: str, value: str) -> tuple[str, str, str] | None:
    """(severity, summary, description) when ``value`` is not acceptable for ``name``; None when it is."""
    if name == "id" and len(value) > _LIMITS["id"]:
        return FATAL, "Invalid id", f"id is longer than {_LIMITS['id']} characters"
    if name in ("price", "sale_price") and parse_price(value) is None:
        severity = FATAL if name == "price" else WARNING
        return severity, f"Invalid {name}", f"{name} {value!r} is not like '9.99 USD' (amount, space, ISO 4217 code)"
    if name == "availability" and value not in AVAILABILITY:
        return FATAL, "Invalid availability", f"availability {value!r} is not one of: {', '.join(sorted(AVAILABILITY))}"
    if name == "condition" and value not in CONDITION:
        return FATAL, "Invalid condition", f"condition {value!r} is not one of: {', '.join(sorted(CONDITION))}"
    if name in ("link", "image_link") and not _URL_RE.match(value):
        return FATAL, f"Invalid {name}", f"{name} must be an absolute http(s) URL"
    if name in ("quantity_to_sell_on_facebook", "inventory") and not value.isdigit():
        return WARNING, f"Invalid {name}", f"{name} must be an integer of 0 or more; the value was ignored"
    if name in ("title", "description", "brand") and len(value) > _LIMITS[name]:
        return WARNING, f"{name.capitalize()} too long", f"{name} is longer than {_LIMITS[name]} characters"
    return None


def missing_required(values: dict[str, str]) -> list[str]:
    return [name for name in REQUIRED if not values.get(name)]
