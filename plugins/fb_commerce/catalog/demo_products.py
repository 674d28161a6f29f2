"""The demo's product source: ``merchant_products`` rows that match the sandbox's seeded catalog.

:func:`seed_demo_products` writes the same SKUs the sandbox starts with (``SKU-00001`` ...), so the demo feed updates
those items instead of replacing the catalog with strangers, plus three deliberately bad products:

- ``SKU-00061`` has no price and ``SKU-00062`` has HTML in its description: the feed build rejects both
  (fb_feed_rejects);
- ``SKU-00063`` links to an internal staging host (``https://shop-staging.example.com/...``): a valid URL to the
  feed check, but a page Meta cannot reach, so Meta (the sandbox) refuses the row in the upload session
  (fb_feed_upload_errors).

:func:`change_demo_inventory` then changes a few stocks and prices, removes one product and adds one, which is
what the inventory sync sends. Everything is deterministic.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fb_commerce import defaults
from fb_commerce.warehouse.schema import merchant_products
from fb_commerce.warehouse.upsert import upsert

_CATEGORY = "Home & Garden > Decor"
#: stock changes (sku number -> new stock) and price changes (sku number -> new price) of the inventory step
STOCK_CHANGES = {2: 0, 5: 17, 10: 3, 20: 250, 30: 1}
PRICE_CHANGES = {3: Decimal("12.49"), 7: Decimal("5.99")}
SALE_CHANGES = {11: Decimal("0.80")}  # a sale at 80% of the price
REMOVED = 60
ADDED = 64


def sku(number: int) -> str:
    """``SKU-00001``: the sandbox's retailer ids."""
    return f"SKU-{number:05d}"


def demo_product(number: int) -> dict[str, Any]:
    """A good product, a deterministic function of its number."""
    code = sku(number)
    adjectives, nouns = defaults.PRODUCT_ADJECTIVES, defaults.PRODUCT_NOUNS
    title = f"{adjectives[number % len(adjectives)]} {nouns[(number * 7) % len(nouns)]}"
    return {
        "sku": code,
        "name": title,
        "description": f"{title} from the demo shop, item {number}. Made to last.",
        "price": Decimal(4 + (number * 37) % 116) + Decimal("0.99"),
        "sale_price": None,
        "sale_price_start": None,
        "sale_price_end": None,
        "currency": "USD",
        "stock": 0 if number % 10 == 0 else (number * 13) % 200 + 1,
        "brand": defaults.PRODUCT_BRANDS[number % len(defaults.PRODUCT_BRANDS)],
        "url": f"https://shop.example.com/products/{code.lower()}",
        "image_url": f"https://cdn.example.com/images/{code.lower()}.jpg",
        "category": _CATEGORY,
        "condition": "new",
        "item_group_id": None,
        "gtin": None,
        "size": None,
        "color": None,
        "is_active": True,
    }


def demo_products(count: int = defaults.SANDBOX_PRODUCTS) -> list[dict[str, Any]]:
    """``count`` good products (SKU-00001 ...) followed by the three bad ones."""
    rows = [demo_product(n) for n in range(1, count + 1)]
    no_price = {**demo_product(count + 1), "price": None}
    html = {**demo_product(count + 2), "description": "<p>Our <b>best</b> seller</p>"}
    staging = demo_product(count + 3)
    staging["url"] = f"https://shop-staging.example.com/products/{staging['sku'].lower()}"
    return [*rows, no_price, html, staging]


def seed_demo_products(engine: Engine, count: int = defaults.SANDBOX_PRODUCTS) -> int:
    """Write the demo catalog into ``merchant_products`` (idempotent); return the number of products."""
    rows = demo_products(count)
    upsert(engine, merchant_products, rows)
    return len(rows)


def change_demo_inventory(engine: Engine) -> dict[str, int]:
    """Change some stocks and prices, remove one product and add one; return how many of each.

    Applied to the default 60-product demo catalog. Running it twice changes nothing more.
    """
    now = dt.datetime.now(dt.UTC)
    table = merchant_products

    def product(number: int) -> sa.Update:
        return sa.update(table).where(table.c.sku == sku(number)).values(updated_at=now)

    with engine.begin() as connection:
        for number, stock in STOCK_CHANGES.items():
            connection.execute(product(number).values(stock=stock))
        for number, price in PRICE_CHANGES.items():
            connection.execute(product(number).values(price=price))
        for number, share in SALE_CHANGES.items():
            sale_price = (demo_product(number)["price"] * share).quantize(Decimal("0.01"))
            connection.execute(product(number).values(sale_price=sale_price))
        connection.execute(sa.delete(table).where(table.c.sku == sku(REMOVED)))
    upsert(engine, table, [demo_product(ADDED)])
    return {
        "stock_changed": len(STOCK_CHANGES),
        "price_changed": len(PRICE_CHANGES) + len(SALE_CHANGES),
        "removed": 1,
        "added": 1,
    }
