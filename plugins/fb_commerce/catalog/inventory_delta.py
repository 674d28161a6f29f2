"""The inventory delta: which products changed since Meta last accepted them, as Catalog Batch requests.

The difference between the source (include/sql/catalog/inventory_source.sql) and ``fb_catalog_sync_state`` is one
SQL statement run in the warehouse, so a million products are compared by the database, not row by row in Python::

    changed or new:  source LEFT JOIN sync state, where a value differs (NULL-safe) or the state has no row
    gone:            sync state rows whose id the source no longer has

Python only reads the rows that differ, checks their values, and packs them into ``items_batch`` calls of at most
``max_requests`` requests and ``max_bytes`` bytes. Each request carries the absolute values (quantity 7, not "+2"),
so sending one twice leaves Meta as sending it once: that is what makes a rerun safe without an idempotency key.

New products (in the source, not in the state) are not created here: a product needs its title, description,
links, brand and category, which the daily feed validates and sends. They are counted and left to the feed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fb_commerce.catalog.mapping import include_dir, load_query, strip_query
from fb_commerce.graph.surface import AVAILABILITY, ITEMS_BATCH_MAX_REQUESTS

SOURCE_FILE = Path("sql") / "catalog" / "inventory_source.sql"
#: The reference advises staying under 3000 requests per call although 5000 are allowed.
DEFAULT_BATCH_SIZE = 3000
#: Under 28 MB whether Meta means 10^6 or 2^20 bytes, with room for the envelope.
DEFAULT_MAX_BYTES = 27_000_000
ITEM_TYPE = "PRODUCT_ITEM"
CREATE, UPDATE, DELETE = "CREATE", "UPDATE", "DELETE"

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_ENVELOPE_BYTES = 200  # {"item_type": ..., "allow_upsert": ..., "requests": [...]} around the requests
_STATE_COLUMNS = ("availability", "quantity", "price", "sale_price", "currency")


def default_source_path() -> Path:
    """``<include>/sql/catalog/inventory_source.sql``."""
    return include_dir() / SOURCE_FILE


def load_source(query: str | Path | None = None) -> str:
    """The inventory source SQL: text, a .sql path, or None for the default file."""
    return load_query(query if query is not None else default_source_path())


def delta_sql(source: str, dialect: str) -> str:
    """The delta statement for ``source`` (the inventory source SELECT) on ``dialect`` ("sqlite", "postgresql").

    Columns: retailer_id, method (CREATE for products Meta does not have yet, UPDATE, DELETE), availability,
    quantity, price, sale_price, currency, and synced_sale_price (the state's sale price: a sale that ended must be
    cleared on Meta).
    """
    inner = strip_query(source)
    # NULL-safe comparison: SQLite's IS NOT (older SQLite lacks IS DISTINCT FROM), the standard form elsewhere.
    differs = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
    source_columns = {
        "availability": "src.availability",
        "quantity": "src.quantity_to_sell_on_facebook",
        "price": "src.price",
        "sale_price": "src.sale_price",
        "currency": "src.currency",
    }
    changed = "\n       OR ".join(f"{expr} {differs} st.{name}" for name, expr in source_columns.items())
    selected = ", ".join(f"{expr} AS {name}" for name, expr in source_columns.items())
    return f"""
SELECT src.id AS retailer_id,
       CASE WHEN st.retailer_id IS NULL THEN '{CREATE}' ELSE '{UPDATE}' END AS method,
       {selected},
       st.sale_price AS synced_sale_price
FROM (
{inner}) AS src
LEFT JOIN fb_catalog_sync_state AS st ON st.retailer_id = src.id
WHERE st.retailer_id IS NULL
       OR {changed}
UNION ALL
SELECT st.retailer_id, '{DELETE}', NULL, NULL, NULL, NULL, NULL, NULL
FROM fb_catalog_sync_state AS st
WHERE NOT EXISTS (SELECT 1 FROM (
{inner}) AS src WHERE src.id = st.retailer_id)
"""


@dataclass(frozen=True, slots=True)
class InventoryChange:
    """One product whose stock or price differs from what Meta last accepted (or that is gone)."""

    retailer_id: str
    method: str
    availability: str | None = None
    quantity: int | None = None
    price: Decimal | None = None
    sale_price: Decimal | None = None
    currency: str | None = None
    synced_sale_price: Decimal | None = None

    def problem(self) -> str | None:
        """Why this change cannot be sent (a bad value in the source), or None."""
        if not self.retailer_id or len(self.retailer_id) > 100:
            return "id: missing or longer than 100 characters"
        if self.method == DELETE:
            return None
        if self.availability not in AVAILABILITY:
            return f"availability: {self.availability!r} is not one of {', '.join(AVAILABILITY)}"
        if self.quantity is None or self.quantity < 0:
            return f"quantity_to_sell_on_facebook: {self.quantity!r} is not a whole number of 0 or more"
        if self.price is None or self.price < 0:
            return f"price: {self.price!r} is not an amount of 0 or more"
        if not self.currency or not _CURRENCY.match(self.currency):
            return f"currency: {self.currency!r} is not an ISO 4217 code"
        if self.sale_price is not None and not 0 <= self.sale_price <= self.price:
            return f"sale_price: {self.sale_price} is not between 0 and the price {self.price}"
        return None

    def request(self) -> dict[str, Any]:
        """The ``items_batch`` request: the absolute values, in feed style ("19.90 USD")."""
        if self.method == DELETE:
            return {"method": DELETE, "data": {"id": self.retailer_id}}
        data: dict[str, Any] = {
            "id": self.retailer_id,
            "availability": self.availability,
            "quantity_to_sell_on_facebook": self.quantity,
            "price": money_text(self.price, self.currency),
        }
        if self.sale_price is not None:
            data["sale_price"] = money_text(self.sale_price, self.currency)
        elif self.synced_sale_price is not None:
            # The sale ended: Meta keeps a sale "until the sale_price is changed to null" (items_batch reference,
            # Supported Fields); an empty string is not a price and would be ignored with a warning.
            data["sale_price"] = None
        return {"method": self.method, "data": data}

    def state_values(self) -> dict[str, Any]:
        """The values the sync state takes once Meta accepted this change (hash included; all None for a
        DELETE)."""
        if self.method == DELETE:
            return dict.fromkeys((*_STATE_COLUMNS, "row_hash"))
        values = {
            "availability": self.availability,
            "quantity": self.quantity,
            "price": self.price,
            "sale_price": self.sale_price,
            "currency": self.currency,
        }
        return {**values, "row_hash": state_hash(values)}


def money_text(amount: Decimal | None, currency: str | None) -> str:
    """``Decimal("19.9"), "USD"`` -> ``"19.90 USD"``."""
    return f"{Decimal(amount):.2f} {currency}"


def state_hash(values: dict[str, Any]) -> str:
    """SHA-256 of the synced values in a fixed text form (the same from a feed file and from a batch)."""
    parts = []
    for name in _STATE_COLUMNS:
        value = values.get(name)
        if isinstance(value, Decimal):
            value = f"{value:.2f}"
        parts.append("" if value is None else str(value))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    number = Decimal(str(value))
    return number.quantize(Decimal("0.01")) if number.is_finite() else None


def _integer(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return int(number) if number == number.to_integral_value() else None


def change_from_row(row: Any) -> InventoryChange:
    """An :class:`InventoryChange` from a delta row (values normalised: prices to cents, quantity to int)."""
    try:
        price = _decimal(row.price)
        sale_price = _decimal(row.sale_price)
    except ArithmeticError:  # text where a number belongs: reported by problem() as a missing price
        price = sale_price = None
    return InventoryChange(
        retailer_id=str(row.retailer_id) if row.retailer_id is not None else "",
        method=row.method,
        availability=row.availability,
        quantity=_integer(row.quantity),
        price=price,
        sale_price=sale_price,
        currency=row.currency,
        synced_sale_price=_decimal(row.synced_sale_price),
    )


def iter_delta(engine: sa.Engine, source: str, fetch_size: int = 10_000) -> Iterator[InventoryChange]:
    """Every change, streamed from the database ``fetch_size`` rows at a time."""
    sql = delta_sql(source, engine.dialect.name)
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True).exec_driver_sql(_driver_sql(engine, sql))
        while rows := result.fetchmany(fetch_size):
            for row in rows:
                yield change_from_row(row)


def _driver_sql(engine: sa.Engine, sql: str) -> str:
    # exec_driver_sql: the merchant's SQL may hold ":00" in a literal, which text() would take for a parameter;
    # drivers with "format" parameters read a "%" anywhere as one, so it is doubled for them.
    return sql.replace("%", "%%") if engine.dialect.paramstyle in ("format", "pyformat") else sql


@dataclass
class DeltaCounts:
    """What the delta held: changes to send per method, new products left to the feed, rows skipped as invalid."""

    updates: int = 0
    deletes: int = 0
    new_products: int = 0
    invalid: int = 0
    new_examples: list[str] = field(default_factory=list)
    invalid_examples: list[str] = field(default_factory=list)

    @property
    def to_send(self) -> int:
        """Changes that go to Meta."""
        return self.updates + self.deletes

    def describe(self) -> str:
        """One line for a task log."""
        text = f"{self.updates:,} to update, {self.deletes:,} to delete"
        if self.new_products:
            text += (
                f"; {self.new_products:,} products are not on Meta as far as the sync state knows (new, or refused "
                f"by the last feed: see fb_feed_rejects), left to fb_catalog_feed "
                f"(e.g. {', '.join(self.new_examples)})"
            )
        if self.invalid:
            text += f"; {self.invalid:,} skipped for bad values (e.g. {'; '.join(self.invalid_examples)})"
        return text


def sendable(
    changes: Iterable[InventoryChange], counts: DeltaCounts, examples: int = 5
) -> Iterator[InventoryChange]:
    """The changes to send: new products and bad values are counted in ``counts`` and left out; an id repeated in
    the source is sent once (the first row, as the feed keeps the first)."""
    seen: set[str] = set()
    for change in changes:
        if change.method == CREATE:
            counts.new_products += 1
            if len(counts.new_examples) < examples:
                counts.new_examples.append(change.retailer_id)
            continue
        problem = change.problem()
        if problem is not None or change.retailer_id in seen:
            counts.invalid += 1
            if len(counts.invalid_examples) < examples:
                counts.invalid_examples.append(f"{change.retailer_id!r}: {problem or 'id repeated in the source'}")
            continue
        seen.add(change.retailer_id)
        if change.method == DELETE:
            counts.deletes += 1
        else:
            counts.updates += 1
        yield change


@dataclass
class BatchPlan:
    """One ``items_batch`` call: its requests and the changes they carry, in the same order."""

    changes: list[InventoryChange] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    payload_bytes: int = _ENVELOPE_BYTES

    def body(self, allow_upsert: bool = False) -> dict[str, Any]:
        """The JSON body of the call."""
        return {"item_type": ITEM_TYPE, "allow_upsert": allow_upsert, "requests": self.requests}


def plan_batches(
    changes: Iterable[InventoryChange],
    max_requests: int = DEFAULT_BATCH_SIZE,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[BatchPlan]:
    """The changes packed into calls of at most ``max_requests`` requests and ``max_bytes`` of JSON."""
    if not 1 <= max_requests <= ITEMS_BATCH_MAX_REQUESTS:
        raise ValueError(f"batch size must be between 1 and {ITEMS_BATCH_MAX_REQUESTS}, not {max_requests}")
    import json

    plan = BatchPlan()
    for change in changes:
        request = change.request()
        size = len(json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode()) + 1
        if plan.requests and (len(plan.requests) >= max_requests or plan.payload_bytes + size > max_bytes):
            yield plan
            plan = BatchPlan()
        plan.changes.append(change)
        plan.requests.append(request)
        plan.payload_bytes += size
    if plan.requests:
        yield plan
