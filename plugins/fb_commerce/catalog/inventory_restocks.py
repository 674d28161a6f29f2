"""Restocks Meta made itself: read the affected products back from the catalog, so the next delta corrects them.

A cancellation with ``restock_items`` makes Meta raise the product's ``quantity_to_sell_on_facebook`` by the
cancelled units, on its own. ``fb_catalog_sync_state`` holds what the sync last *sent*, so without a look at Meta
the delta (source vs sync state) sees no difference and Meta offers units the merchant does not have until the
next full feed: overselling.

Which products are read, each run:

- those in orders with a cancellation ``fb_orders_sync`` stored since the last look (``fb_cancellations``, Meta's
  own cancellations included) whose ``restock_items`` is true *or unknown*: Meta documents ``id, items,
  cancel_reason`` as what ``GET /{order_id}/cancellations`` returns, so a NULL may still have restocked;
- those in orders with a cancellation the OMS asked for with ``restock_items`` and ``fb_order_updates`` sent
  (``fb_cancellation_requests``), known as soon as it was sent, before the orders sync reads it back;
- and only products the sync state tracks (the others are the feed's business).

How: ``GET /{catalog_id}/products`` with ``filter={"retailer_id": {"is_any": [...]}}`` (the filter language of
product sets; ``filter`` is a parameter of the SDK's ``ProductCatalog.get_products``), ``quantity_to_sell_on_facebook``
and ``availability`` per product, :data:`READ_CHUNK` products per call. Where Meta holds something else than the
sync state, the state takes Meta's values: the delta then sends the source's, which puts Meta back on what the
merchant has. Prices are not read back: Meta shows them formatted for people ("$1,234.56"), and a restock does
not change them.

Why read rather than add the restocked units to the state: what Meta holds is the ground truth, whatever
happened (several cancellations, a restock we did not see, an edit in Commerce Manager), and it costs one call per
:data:`READ_CHUNK` affected products, only in runs after a restock. Adding units up would need every restock,
exactly once, in the right order against our own batches.

The window is a watermark in ``fb_sync_state`` (``inventory_restocks:<catalog id>``, our clock): rows first stored
or sent after it, minus :data:`DEFAULT_OVERLAP` for rows committed late; the first run looks back
:data:`DEFAULT_LOOKBACK` (the daily feed rewrites Meta's quantities anyway). The watermark moves only after the
state is corrected, so a failed read is read again. The caller reads back only when no batch handle is
outstanding: an UPDATE still in flight would change the product after the read.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fb_commerce.catalog.inventory_delta import state_hash
from fb_commerce.graph.client import GraphClient
from fb_commerce.graph.surface import PRODUCT_READ_BACK_FIELDS
from fb_commerce.warehouse import schema
from fb_commerce.warehouse.sync_state import advance_watermark, window_start

log = logging.getLogger(__name__)

WATERMARK_PREFIX = "inventory_restocks"
#: retailer ids per products call (the filter travels in the URL of a GET)
READ_CHUNK = 50
DEFAULT_OVERLAP = dt.timedelta(minutes=15)
DEFAULT_LOOKBACK = dt.timedelta(days=1)

STATE = schema.fb_catalog_sync_state
_CANCELLATIONS = schema.fb_cancellations
_REQUESTS = schema.fb_cancellation_requests
_ORDER_ITEMS = schema.fb_order_items


def watermark_name(catalog_id: str) -> str:
    """The ``fb_sync_state`` row of one catalog's restock read-back."""
    return f"{WATERMARK_PREFIX}:{catalog_id}"


@dataclass
class Restocks:
    """What a read-back did: products read, found on Meta and corrected in the sync state."""

    read: int = 0
    found: int = 0
    corrected: int = 0
    skipped: bool = False
    examples: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for a task log."""
        if self.skipped:
            return "restock read-back skipped: batch handles are still outstanding (next run)"
        if not self.read:
            return "no restocking cancellation since the last look"
        text = (
            f"read {self.read:,} product(s) of restocked orders back from Meta, {self.corrected:,} held other "
            f"values than last sent (corrected by this run)"
        )
        if self.examples:
            text += f" (e.g. {'; '.join(self.examples)})"
        if self.found < self.read:
            text += f"; {self.read - self.found:,} not in the catalog"
        return text


def affected_products(connection: Connection, since: dt.datetime) -> list[str]:
    """Retailer ids (tracked by the sync state) of orders with a possibly restocking cancellation after ``since``."""
    orders = sa.union(
        sa.select(_CANCELLATIONS.c.order_id).where(
            sa.or_(_CANCELLATIONS.c.restock_items.is_(None), _CANCELLATIONS.c.restock_items == sa.true()),
            _CANCELLATIONS.c.first_seen_at > since,
        ),
        sa.select(_REQUESTS.c.order_id).where(
            _REQUESTS.c.restock_items == sa.true(), _REQUESTS.c.status == "sent", _REQUESTS.c.sent_at > since
        ),
    ).subquery()
    query = (
        sa.select(_ORDER_ITEMS.c.retailer_id)
        .distinct()
        .join(STATE, STATE.c.retailer_id == _ORDER_ITEMS.c.retailer_id)
        .where(_ORDER_ITEMS.c.order_id.in_(sa.select(orders.c.order_id)))
        .order_by(_ORDER_ITEMS.c.retailer_id)
    )
    return list(connection.execute(query).scalars())


def _chunks(values: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def read_products(
    client: GraphClient, catalog_id: str, retailer_ids: Sequence[str], chunk: int = READ_CHUNK
) -> dict[str, dict[str, Any]]:
    """Meta's current values of ``retailer_ids``, by retailer id (products Meta does not have are absent)."""
    found: dict[str, dict[str, Any]] = {}
    for ids in _chunks(retailer_ids, chunk):
        params = {"filter": json.dumps({"retailer_id": {"is_any": list(ids)}}, separators=(",", ":"))}
        for product in client.paginate(
            f"{catalog_id}/products", fields=PRODUCT_READ_BACK_FIELDS, params=params, limit=chunk
        ):
            if product.get("retailer_id") is not None:
                found[str(product["retailer_id"])] = product
    return found


def _quantity(product: dict[str, Any]) -> int | None:
    """Meta's quantity as an int; None when it is absent or not a whole number (the delta then sends ours)."""
    value = product.get("quantity_to_sell_on_facebook")
    if value is None:
        value = product.get("inventory")  # the field's former name
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else None


def correct_state(connection: Connection, found: dict[str, dict[str, Any]], now: dt.datetime) -> list[str]:
    """Set quantity and availability of the state rows Meta holds differently; return those retailer ids."""
    if not found:
        return []
    rows = connection.execute(sa.select(STATE).where(STATE.c.retailer_id.in_(list(found)))).mappings().all()
    updates = []
    for row in rows:
        product = found[row["retailer_id"]]
        quantity = _quantity(product)
        availability = product.get("availability")
        availability = str(availability) if availability is not None else None
        if (quantity, availability) == (row["quantity"], row["availability"]):
            continue
        values = {**row, "quantity": quantity, "availability": availability}
        updates.append(
            {
                "r": row["retailer_id"],
                "q": quantity,
                "a": availability,
                "h": state_hash(values),
                "was": f"{row['retailer_id']}: {row['quantity']} -> {quantity}",
            }
        )
    if updates:
        connection.execute(
            sa.update(STATE)
            .where(STATE.c.retailer_id == sa.bindparam("r"))
            .values(
                quantity=sa.bindparam("q"), availability=sa.bindparam("a"), row_hash=sa.bindparam("h"), synced_at=now
            ),
            [{k: v for k, v in u.items() if k != "was"} for u in updates],
        )
    return [u["was"] for u in updates]


def read_back_restocks(
    engine: Engine, client: GraphClient, catalog_id: str, now: dt.datetime | None = None
) -> Restocks:
    """Read the products of restocked orders back from Meta and correct the sync state; move the watermark."""
    now = now or dt.datetime.now(dt.UTC)
    name = watermark_name(catalog_id)
    with engine.connect() as connection:
        since = window_start(connection, name, now=now, overlap=DEFAULT_OVERLAP, lookback=DEFAULT_LOOKBACK)
        retailer_ids = affected_products(connection, since)
    result = Restocks(read=len(retailer_ids))
    if retailer_ids:
        found = read_products(client, catalog_id, retailer_ids)
        result.found = len(found)
        with engine.begin() as connection:
            corrected = correct_state(connection, found, now)
        result.corrected = len(corrected)
        result.examples = corrected[:5]
        missing = [r for r in retailer_ids if r not in found]
        if missing:
            log.warning(
                "%d restocked product(s) are not in catalog %s (left to the delta and the feed): %s",
                len(missing),
                catalog_id,
                ", ".join(missing[:5]),
            )
    advance_watermark(engine, name, now, now=now)
    return result
