"""Deterministic worlds: the same seed (and anchor) always gives the same products, orders, money and ids.

Orders are spread over ``days`` days before the anchor, in all four states, with 1-5 items (about 3 on average),
both channels, buyers with and without the marketing opt-in, promotions on some, and a history made with the same
state machine the API uses: acknowledgements, shipments (captured, some already paid out), cancellations and refunds
by the merchant and by Meta itself, and returns.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fb_commerce import defaults

from . import orders as ops
from .model import (
    COMPLETED,
    CREATED,
    FB_PROCESSING,
    IN_PROGRESS,
    Feed,
    LineItem,
    Order,
    Product,
    Return,
)
from .money import ZERO, cents, money, prorate
from .timeline import tick

if TYPE_CHECKING:
    from .store import SeedParams, Store

_FIRST = (
    "Ava",
    "Liam",
    "Maya",
    "Noah",
    "Zoe",
    "Ethan",
    "Lena",
    "Omar",
    "Iris",
    "Caleb",
    "Nina",
    "Hugo",
    "Rosa",
    "Felix",
    "Amara",
    "Jonas",
    "Priya",
    "Mateo",
    "Chloe",
    "Sami",
)
_LAST = (
    "Nguyen",
    "Garcia",
    "Smith",
    "Okafor",
    "Kowalski",
    "Rossi",
    "Haddad",
    "Kim",
    "Silva",
    "Brown",
    "Larsen",
    "Moreau",
    "Patel",
    "Schmidt",
    "Tanaka",
    "Lopez",
)
# (city, state, postal code, sales-tax jurisdictions with their % (state first; they add up to the place's rate),
#  Meta remits the tax there: marketplace-facilitator state). docs/graph-api.md §3.1: one tax line per jurisdiction.
_PLACES = (
    ("Austin", "TX", "73301", (("TX", "6.25"), ("AUSTIN CITY, TX", "2.00")), True),
    ("Seattle", "WA", "98101", (("WA", "6.50"), ("SEATTLE CITY, WA", "3.75")), True),
    ("Portland", "OR", "97201", (("OR", "0"),), False),
    ("Denver", "CO", "80202", (("CO", "2.90"), ("DENVER CITY, CO", "4.81"), ("RTD DISTRICT, CO", "1.10")), True),
    ("Miami", "FL", "33101", (("FL", "6.00"), ("MIAMI-DADE COUNTY, FL", "1.00")), True),
    ("Boston", "MA", "02108", (("MA", "6.25"),), True),
    ("Wilmington", "DE", "19801", (("DE", "0"),), False),
    (
        "Chicago",
        "IL",
        "60601",
        (("IL", "6.25"), ("COOK COUNTY, IL", "1.75"), ("CHICAGO CITY, IL", "1.25"), ("RTA DISTRICT, IL", "1.00")),
        True,
    ),
    ("Nashua", "NH", "03060", (("NH", "0"),), False),
    ("Columbus", "OH", "43004", (("OH", "5.75"), ("FRANKLIN COUNTY, OH", "1.75")), True),
)
_STREETS = ("Oak St", "Maple Ave", "Pine Rd", "Cedar Ln", "Elm St", "Harbor Blvd", "Hill Dr", "Lake View")
_SHIPPING = (("Standard", "4.99", 3, 7), ("Expedited", "9.99", 1, 3), ("Free shipping", "0.00", 5, 10))
_STATE_WEIGHTS = ((FB_PROCESSING, 5), (CREATED, 20), (IN_PROGRESS, 25), (COMPLETED, 50))
_HOUR, _DAY = 3600.0, 86400.0


def populate(sb: Store, params: SeedParams) -> None:
    """Fill an empty sandbox from ``params``; the caller holds the lock."""
    rng = random.Random(params.seed)
    anchor = float(int(params.anchor if params.anchor is not None else sb.now()))
    _account(sb, anchor)
    for n in range(1, max(params.products, 5) + 1):
        _product(sb, rng, n, anchor - params.days * _DAY)
    days = max(params.days, 1)
    plans = []
    for _ in range(params.orders):
        state = rng.choices([s for s, _ in _STATE_WEIGHTS], [w for _, w in _STATE_WEIGHTS])[0]
        plans.append((_created_for(rng, state, anchor, days), state))
    plans.sort()  # ids follow creation time, like Meta's
    for created, state in plans:
        order = new_order(sb, rng, created, state, anchor)
        _history(sb, rng, order, state, anchor)
    tick(sb, anchor)


def _account(sb: Store, now: float) -> None:
    sb.register("me", "user", {"id": "100000000000010", "name": "Sandbox System User"})
    sb.register(
        defaults.SANDBOX_APP_ID, "application", {"id": defaults.SANDBOX_APP_ID, "name": "fb-commerce sandbox app"}
    )
    sb.register(defaults.SANDBOX_PAGE_ID, "page", {"id": defaults.SANDBOX_PAGE_ID, "name": "Sandbox Shop Page"})
    sb.register(
        defaults.SANDBOX_CMS_ID,
        "cms",
        {"id": defaults.SANDBOX_CMS_ID, "display_name": "Sandbox Shop", "contact_email": "shop@example.com"},
    )
    sb.register(
        defaults.SANDBOX_BUSINESS_ID, "business", {"id": defaults.SANDBOX_BUSINESS_ID, "name": "Sandbox Business"}
    )
    sb.register(
        defaults.SANDBOX_CATALOG_ID, "catalog", {"id": defaults.SANDBOX_CATALOG_ID, "name": "Sandbox Shop Catalog"}
    )
    feed = Feed(defaults.SANDBOX_FEED_ID, defaults.SANDBOX_CATALOG_ID, "Primary feed", now - 30 * _DAY)
    sb.feeds[feed.id] = feed
    sb.register(feed.id, "feed", feed)
    # The shop starts with our app registered for order management, so finalized orders wait in CREATED.
    sb.order_management_apps.append(defaults.SANDBOX_APP_ID)


def _product(sb: Store, rng: random.Random, n: int, since: float) -> Product:
    retailer_id = f"SKU-{n:05d}"
    stock = 0 if rng.random() < 0.1 else rng.randint(1, 200)
    price = Decimal(rng.randint(4, 119)) + Decimal("0.99")
    title = f"{rng.choice(defaults.PRODUCT_ADJECTIVES)} {rng.choice(defaults.PRODUCT_NOUNS)}"
    product = Product(
        id=sb.new_id("product"),
        retailer_id=retailer_id,
        title=title,
        description=f"{title} from the sandbox shop, item {n}.",
        price=f"{price} USD",
        availability="in stock" if stock else "out of stock",
        condition="new",
        brand=rng.choice(defaults.PRODUCT_BRANDS),
        link=f"https://shop.example.com/products/{retailer_id.lower()}",
        image_link=f"https://cdn.example.com/images/{retailer_id.lower()}.jpg",
        quantity=stock,
        extra={"google_product_category": "Home & Garden > Decor"},
        updated=since,
    )
    sb.products[retailer_id] = product
    sb.products_changed()
    return product


def _created_for(rng: random.Random, state: str, anchor: float, days: int) -> float:
    if state == FB_PROCESSING:
        return anchor - rng.uniform(60, 25 * 60)
    if state == CREATED:
        return anchor - rng.uniform(40 * 60, min(days, 2) * _DAY)
    return anchor - rng.uniform(3 * _HOUR, days * _DAY)


def new_order(
    sb: Store, rng: random.Random, created: float, state: str, now: float, processing_minutes: float | None = None
) -> Order:
    """A new order placed at ``created``; FB_PROCESSING orders leave that state after the processing window."""
    ordinal = len(sb.orders) + 1
    products = list(sb.products.values()) if len(sb.products) <= 5000 else _some_products(sb, rng)
    count = rng.choices((1, 2, 3, 4, 5), (15, 20, 30, 20, 15))[0]
    chosen = rng.sample(products, min(count, len(products)))
    city, region, postal, rates, remitted = rng.choice(_PLACES)
    jurisdictions = [(name, Decimal(rate)) for name, rate in rates]
    tax_rate = sum((rate for _, rate in jurisdictions), Decimal(0))
    option = rng.choice(_SHIPPING)
    shipping_total = cents(option[1])
    items: list[LineItem] = []
    for product in chosen:
        qty = rng.choices((1, 2, 3), (70, 20, 10))[0]
        unit = cents(product.price.split(" ")[0])
        items.append(
            LineItem(
                sb.new_id("item"),
                product.retailer_id,
                product.id,
                product.title,
                qty,
                unit,
                cents(unit * qty * tax_rate / 100),
                ZERO,
            )
        )
    subtotal = sum((i.subtotal for i in items), ZERO)
    allocated = ZERO
    running = ZERO
    for item in items:  # each line's share of shipping, allocated cumulatively so the shares add up
        running += item.subtotal
        share = prorate(shipping_total, running, subtotal)
        item.shipping, allocated = share - allocated, share
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    relay = rng.random() < 0.5
    email = (
        f"{first.lower()}.{ordinal}@marketplace.facebook.com"
        if relay
        else f"{first.lower()}.{last.lower()}{ordinal}@example.com"
    )
    shipping_option = {"name": option[0], "min_days": option[2], "max_days": option[3]}
    for item in items:
        item.option = shipping_option
    order = Order(
        id=sb.new_id("order"),
        cms_id=defaults.SANDBOX_CMS_ID,
        channel="instagram" if rng.random() < 0.55 else "facebook",
        created=created,
        last_updated=created,
        state=state if state == FB_PROCESSING else CREATED,
        currency="USD",
        items=items,
        buyer={"name": f"{first} {last}", "email": email, "email_remarketing_option": rng.random() < 0.4},
        shipping_address={
            "name": f"{first} {last}",
            "first_name": first,
            "last_name": last,
            "street1": f"{rng.randint(1, 9999)} {rng.choice(_STREETS)}",
            "street2": f"Apt {rng.randint(1, 40)}" if rng.random() < 0.3 else "",
            "city": city,
            "state": region,
            "postal_code": postal,
            "country": "US",
        },
        shipping_option=shipping_option,
        shipping_total=shipping_total,
        tax_rate=tax_rate,
        tax_jurisdictions=jurisdictions,
        tax_remitted=remitted,
        ship_by=created + 3 * _DAY,
        is_test_order=rng.random() < 0.03,
    )
    if rng.random() < 0.15:
        order.promotions.append(_promotion(rng, order))
    if state == FB_PROCESSING:
        window = (processing_minutes if processing_minutes is not None else sb.config.fb_processing_minutes) * 60
        order.processing_until = created + window
    else:  # it already left FB_PROCESSING (risk checks take minutes)
        order.last_updated = min(created + 20 * 60, now)
    sb.add_order(order)
    return order


def _some_products(sb: Store, rng: random.Random) -> list[Product]:
    """A bounded sample for huge catalogs (a million products must not be copied per order)."""
    keys = sb.product_keys()
    picks = {keys[rng.randrange(len(keys))][0] for _ in range(50)}
    return [sb.products[k] for k in sorted(picks)]


def _promotion(rng: random.Random, order: Order) -> dict[str, Any]:
    item_level = rng.random() < 0.5
    base = order.items[0].subtotal if item_level else order.items_subtotal
    applied = cents(base * Decimal(rng.choice((5, 10, 15))) / 100)
    return {
        "applied_after_tax": False,
        "applied_amount": money(applied, order.currency),
        "campaign_name": rng.choice(("Spring Sale", "Welcome Offer", "Flash Deal")),
        "promotion_id": str(5_000_000_000 + rng.randint(1, 999_999)),
        "target_granularity": "item_level" if item_level else "order_level",
        # Only Meta-funded promotions are seeded: the merchant is paid the full price, so finance stays simple.
        "sponsor": "facebook",
        "coupon_code": rng.choice((None, "WELCOME10", "SPRING")),
        "retailer_id": order.items[0].retailer_id if item_level else None,
    }


def _history(sb: Store, rng: random.Random, order: Order, state: str, anchor: float) -> None:
    """Replay what happened to an order with the API's own state machine."""
    if state in (FB_PROCESSING, CREATED):
        return
    t = min(order.created + rng.uniform(0.5, 6) * _HOUR, anchor - 60)
    ops.acknowledge(sb, order, f"ORD-{len(sb.orders):06d}-{order.id[-4:]}", t)

    def later(hours_low: float, hours_high: float) -> float:
        nonlocal t
        t = min(t + rng.uniform(hours_low, hours_high) * _HOUR, anchor - 30)
        return t

    if state == IN_PROGRESS:
        if len(order.items) > 1 and rng.random() < 0.3:
            _ship(sb, rng, order, [order.items[0]], later(2, 30))
        return
    roll = rng.random()
    if roll < 0.08:  # Meta cancelled it: fulfilment SLA missed
        ops.cancel(
            sb,
            order,
            {"cancel_reason": {"reason_code": "CANCEL_REASON_OTHER", "reason_description": "Fulfilment SLA missed"}},
            later(30, 70),
            initiated_by="FACEBOOK",
        )
        return
    if roll < 0.16 and (len(order.items) > 1 or order.items[0].quantity > 1):
        line = order.items[-1]
        ops.cancel(
            sb,
            order,
            {
                "cancel_reason": {"reason_code": "OUT_OF_STOCK"},
                "restock_items": False,
                "items": [{"item_id": line.id, "quantity": 1}],
            },
            later(1, 10),
        )
    if len(order.items) > 2 and rng.random() < 0.3:
        _ship(sb, rng, order, order.items[:1], later(2, 24))
    _ship(sb, rng, order, None, later(2, 30))
    roll = rng.random()
    if roll < 0.06:  # Meta refunded it itself
        ops.refund(sb, order, {"reason_code": "FACEBOOK_INITIATED"}, later(24, 96), initiated_by="FACEBOOK")
    elif roll < 0.14:
        line = order.items[0]
        if line.shipped:
            ops.refund(
                sb,
                order,
                {
                    "reason_code": "BUYERS_REMORSE",
                    "reason_text": "Changed my mind",
                    "items": [{"item_id": line.id, "item_refund_quantity": 1}],
                },
                later(24, 96),
            )
    elif roll < 0.22:
        _return(sb, rng, order, later(24, 120), refund=rng.random() < 0.5, anchor=anchor)


def _ship(sb: Store, rng: random.Random, order: Order, lines: list[LineItem] | None, at: float) -> None:
    items = (
        None
        if lines is None
        else [{"item_id": line.id, "quantity": line.open_quantity} for line in lines if line.open_quantity]
    )
    if items == [] or not any(line.open_quantity for line in order.items):
        return
    carrier = rng.choice(("UPS", "FEDEX", "USPS", "DHL"))
    ops.ship(
        sb,
        order,
        {
            "items": items,
            "external_shipment_id": f"SHP_{order.id[-6:]}_{len(order.shipments) + 1}",
            "tracking_info": {
                "carrier": carrier,
                "tracking_number": f"1Z{sb.new_id('shipment')[-10:]}",
                "shipping_method_name": order.shipping_option["name"],
            },
        },
        at,
    )


def _return(sb: Store, rng: random.Random, order: Order, at: float, refund: bool, anchor: float) -> None:
    line = next((i for i in order.items if i.shipped), None)
    if line is None:
        return
    ret = Return(
        sb.new_id("return"),
        order.id,
        "APPROVED" if refund else rng.choice(("REQUESTED", "APPROVED")),
        None,
        [(line.id, 1, rng.choice(("NOT_NEEDED_ANYMORE", "DEFECTIVE_ITEM", "TOO_SMALL")))],
        "Buyer asked to return one item",
        at,
    )
    order.returns.append(ret)
    sb.returns[ret.id] = ret
    sb.register(ret.id, "return", ret)
    sb.touch(order, at)
    if refund:
        ops.refund(
            sb,
            order,
            {
                "reason_code": "REFUND_FOR_RETURN",
                "return_id": ret.id,
                "items": [{"item_id": line.id, "item_refund_quantity": 1}],
                "deductions": [
                    {"deduction_type": "RETURN_SHIPPING", "deduction_amount": {"amount": "1.00", "currency": "USD"}}
                ],
            },
            min(at + 2 * _DAY, anchor - 10),
        )


def live_orders(sb: Store, count: int, state: str = CREATED, processing_minutes: float | None = None) -> list[str]:
    """Orders placed now (``POST /_sandbox/orders``): CREATED, FB_PROCESSING, IN_PROGRESS or COMPLETED."""
    now = sb.now()
    ids = []
    for _ in range(count):
        order = new_order(
            sb, sb.live_rng, now, FB_PROCESSING if state == FB_PROCESSING else CREATED, now, processing_minutes
        )
        if state in (IN_PROGRESS, COMPLETED):
            ops.acknowledge(sb, order, f"LIVE-{order.id[-8:]}", now)
        if state == COMPLETED:
            _ship(sb, sb.live_rng, order, None, now)
        ids.append(order.id)
    return ids


__all__ = ["live_orders", "new_order", "populate"]
