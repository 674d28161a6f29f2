"""The inventory delta: which products changed since Meta last accepted them, as Catalog Batch requests.

The difference between the source (include/sql/catalog/inventory_source.sql) and ``fb_catalog_sync_state`` is one
SQL statement run in the warehouse, so a million products are compared by the database, not row by row in Python::

    changed or new:  source LEFT JOIN sync state, where a value differs (NULL-safe) or the state has no row
    gone:            sync state rows whose id the source no longer has

The source gives its values as text, exactly as the feed mapping writes them ('19.90', '7'), or as the bad
value it holds ('9,99', '2.5'); the statement compares amounts and quantities as numbers where they are plain
decimals (so '19.90' equals the synced 19.9) and finds any other text different. Python only reads the rows that
differ, checks each value with the feed's rule table (:mod:`fb_commerce.catalog.rules`: a value that breaks a
rule is refused with its column and value, never rounded or defaulted), and packs the rest into ``items_batch``
calls of at most ``max_requests`` requests and ``max_bytes`` bytes. Each request carries the absolute values
(quantity 7, not "+2"), so sending one twice leaves Meta as sending it once: that is what makes a rerun safe
without an idempotency key.

New products (in the source, not in the state) are not created here: a product needs its title, description,
links, brand and category, which the daily feed validates and sends. They are counted and left to the feed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fb_commerce.catalog import rules
from fb_commerce.catalog.mapping import MappingOptions, include_dir, load_query, mapping_options, strip_query
from fb_commerce.catalog.rejects import shorten
from fb_commerce.graph.surface import ITEMS_BATCH_MAX_REQUESTS

SOURCE_FILE = Path("sql") / "catalog" / "inventory_source.sql"
#: The reference advises staying under 3000 requests per call although 5000 are allowed.
DEFAULT_BATCH_SIZE = 3000
#: Under 28 MB whether Meta means 10^6 or 2^20 bytes, with room for the envelope.
DEFAULT_MAX_BYTES = 27_000_000
ITEM_TYPE = "PRODUCT_ITEM"
CREATE, UPDATE, DELETE = "CREATE", "UPDATE", "DELETE"

#: A plain decimal number as PostgreSQL can cast it; any other text is a different value (and refused in Python).
_PLAIN_DECIMAL = r"^[0-9]+(\.[0-9]+)?$"
_CENT = Decimal("0.01")
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
    source_columns = {
        "availability": "src.availability",
        "quantity": "src.quantity_to_sell_on_facebook",
        "price": "src.price",
        "sale_price": "src.sale_price",
        "currency": "src.currency",
    }
    numeric = ("quantity", "price", "sale_price")
    changed = "\n       OR ".join(
        _differs(expr, f"st.{name}", dialect, numeric=name in numeric) for name, expr in source_columns.items()
    )
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


def _differs(source: str, state: str, dialect: str, *, numeric: bool) -> str:
    """NULL-safe "the source value is not the synced one". Amounts and quantities arrive as text ('19.90') and are
    kept as numbers in the state: on SQLite the comparison with a NUMERIC/INTEGER column reads a well-formed number
    in the text as that number and leaves other text ('9,99') as text, which differs from any number; PostgreSQL
    compares text with numbers only through a cast, which is made only where the text is a plain decimal (a cast
    of '9,99' would fail the whole statement), and any other text differs."""
    if dialect == "sqlite":  # IS NOT: older SQLite lacks IS DISTINCT FROM
        return f"{source} IS NOT {state}"
    if not numeric:
        return f"{source} IS DISTINCT FROM {state}"
    text = f"CAST({source} AS VARCHAR)"
    return (
        f"(CASE WHEN {text} ~ '{_PLAIN_DECIMAL}' THEN CAST({text} AS NUMERIC) END IS DISTINCT FROM {state}"
        f" OR {text} !~ '{_PLAIN_DECIMAL}')"
    )


@dataclass(frozen=True, slots=True)
class InventoryChange:
    """One product whose stock or price differs from what Meta last accepted (or that is gone).

    ``refused`` says why the source row cannot be sent (every column that breaks a rule, with its value), as
    :func:`change_from_row` found it; the values are then None.
    """

    retailer_id: str
    method: str
    availability: str | None = None
    quantity: int | None = None
    price: Decimal | None = None
    sale_price: Decimal | None = None
    currency: str | None = None
    synced_sale_price: Decimal | None = None
    refused: str | None = None

    def problem(self) -> str | None:
        """Why this change cannot be sent (a bad value in the source), or None."""
        return self.refused if self.refused is not None else _id_problem(self.retailer_id)

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
    """``Decimal("19.9"), "USD"`` -> ``"19.90 USD"``: padded to two decimals, never rounded (``Decimal("1.235")``,
    a KWD price, stays ``"1.235"``)."""
    if amount is None:  # a refused change (no values) is never sent
        raise TypeError("money_text needs an amount, not None")
    number = Decimal(amount)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        number = number.quantize(_CENT)  # more places: exact
    return f"{number:f} {currency}"


def state_hash(values: dict[str, Any]) -> str:
    """SHA-256 of the synced values in a fixed text form (the same from a feed file and from a batch)."""
    parts = []
    for name in _STATE_COLUMNS:
        value = values.get(name)
        if isinstance(value, Decimal):
            value = f"{value:.2f}"
        parts.append("" if value is None else str(value))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def source_text(value: Any) -> str | None:
    """A source value as the rules read it: its text (a number as Python writes it: ``19.9``, ``9.999999``,
    ``1e+16``; never rounded), trimmed; None when absent or blank."""
    if value is None:
        return None
    if isinstance(value, bytes):  # bytes that are not UTF-8 become U+FFFD, which the rules refuse
        value = value.decode("utf-8", "replace")
    return str(value).strip() or None


def _id_problem(retailer_id: str) -> str | None:
    problem = rules.Reason.MISSING if not retailer_id else rules.check_field("id", retailer_id)
    return None if problem is None else _refusal("id", problem, retailer_id or None)


def _refusal(column: str, reason: str, value: str | None) -> str:
    """``price: <reason>: '9,99'``: the column, the rule's reason, the value as the source holds it."""
    return f"{column}: {reason}" if value is None else f"{column}: {reason}: {shorten(value)!r}"


def source_problems(values: Mapping[str, str | None], *, allow_zero_price: bool = False) -> list[str]:
    """Every inventory column of one product that breaks a rule of the feed's rule table, with its value.

    ``values`` are :func:`source_text` values of availability, quantity_to_sell_on_facebook, price, sale_price and
    currency. The rules are the feed validator's (``rules.check_field``, so the same verdicts: SDK-only enum values
    refused, zero prices refused unless ``allow_zero_price``); an amount is checked as the feed writes it,
    "<amount> <currency>", so its decimals follow its currency, and only when the currency itself is valid.
    """
    found: list[str] = []
    for name in ("availability", "quantity_to_sell_on_facebook"):
        value = values.get(name)
        problem = rules.Reason.MISSING if value is None else rules.check_field(name, value, accept_sdk_values=False)
        if problem is not None:
            found.append(_refusal(name, problem, value))
    currency = values.get("currency")
    if currency is None:
        found.append(_refusal("currency", rules.Reason.MISSING, None))
    elif currency not in rules.ISO_4217:
        found.append(_refusal("currency", rules.Reason.CURRENCY, currency))
    prices: dict[str, str] = {}
    for name in ("price", "sale_price"):
        amount = values.get(name)
        if amount is None:
            if name == "price":
                found.append(_refusal(name, rules.Reason.MISSING, None))
            continue
        if currency is None or currency not in rules.ISO_4217:
            continue  # how many decimals an amount may have depends on its currency
        problem = rules.check_field(name, f"{amount} {currency}", allow_zero_price=allow_zero_price)
        if problem is None:
            prices[name] = f"{amount} {currency}"
        else:
            found.append(_refusal(name, problem, amount))
    if len(prices) == 2:
        problem = rules.sale_price_problem(prices["sale_price"], prices["price"])
        if problem is not None:
            found.append(_refusal("sale_price", problem, values.get("sale_price")))
    return found


def change_from_row(row: Any, options: MappingOptions | None = None) -> InventoryChange:
    """An :class:`InventoryChange` from a delta row: each value read exactly (a price as the Decimal it spells,
    the quantity as an int), or, when one breaks a rule, the change refused with every such column and its value.

    ``options`` are the source's mapping options (``allow_zero_price``). Rows of products Meta does not have yet
    (CREATE) are left to the feed and not checked here.
    """
    retailer_id = source_text(row.retailer_id) or ""
    synced = row.synced_sale_price
    synced_sale_price = None if synced is None or synced == "" else Decimal(str(synced))
    id_problem = _id_problem(retailer_id)
    if row.method in (CREATE, DELETE):
        return InventoryChange(retailer_id, row.method, refused=id_problem if row.method == DELETE else None)
    values = {
        "availability": source_text(row.availability),
        "quantity_to_sell_on_facebook": source_text(row.quantity),
        "price": source_text(row.price),
        "sale_price": source_text(row.sale_price),
        "currency": source_text(row.currency),
    }
    allow_zero = options.allow_zero_price if options is not None else False
    problems = ([id_problem] if id_problem else []) + source_problems(values, allow_zero_price=allow_zero)
    if problems:
        return InventoryChange(
            retailer_id, row.method, synced_sale_price=synced_sale_price, refused="; ".join(problems)
        )
    sale = values["sale_price"]
    return InventoryChange(
        retailer_id=retailer_id,
        method=row.method,
        availability=values["availability"],
        quantity=int(values["quantity_to_sell_on_facebook"] or ""),
        price=Decimal(values["price"] or ""),
        sale_price=None if sale is None else Decimal(sale),
        currency=values["currency"],
        synced_sale_price=synced_sale_price,
    )


def iter_delta(engine: sa.Engine, source: str, fetch_size: int = 10_000) -> Generator[InventoryChange, None, None]:
    """Every change, streamed from the database ``fetch_size`` rows at a time (the source's options, such as
    ``allow_zero_price``, read from its comment lines)."""
    options = mapping_options(source)
    sql = delta_sql(source, engine.dialect.name)
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True).exec_driver_sql(_driver_sql(engine, sql))
        while rows := result.fetchmany(fetch_size):
            for row in rows:
                yield change_from_row(row, options)


def _driver_sql(engine: sa.Engine, sql: str) -> str:
    # exec_driver_sql: the merchant's SQL may hold ":00" in a literal, which text() would take for a parameter;
    # drivers with "format" parameters read a "%" anywhere as one, so it is doubled for them.
    return sql.replace("%", "%%") if engine.dialect.paramstyle in ("format", "pyformat") else sql


@dataclass
class DeltaCounts:
    """What the delta held: changes to send per method, new products left to the feed, rows refused for bad values
    (``refused``: each product's method and message, the first row's when an id repeats, to be stored)."""

    updates: int = 0
    deletes: int = 0
    new_products: int = 0
    invalid: int = 0
    new_examples: list[str] = field(default_factory=list)
    invalid_examples: list[str] = field(default_factory=list)
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)

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
            text += (
                f"; {self.invalid:,} refused for bad values, not sent, stored as failed in fb_batch_request_items "
                f"(e.g. {' | '.join(self.invalid_examples)})"
            )
        return text


def sendable(changes: Iterable[InventoryChange], counts: DeltaCounts, examples: int = 5) -> Iterator[InventoryChange]:
    """The changes to send: new products and bad values are counted in ``counts`` and left out (the refused ones
    kept there with their message); an id repeated in the source is considered once (the first row, as the feed
    keeps the first, whether it is sent or refused)."""
    seen: set[str] = set()
    for change in changes:
        if change.method == CREATE:
            counts.new_products += 1
            if len(counts.new_examples) < examples:
                counts.new_examples.append(change.retailer_id)
            continue
        problem = change.problem()
        if problem is None and change.retailer_id in seen:
            problem = "id: repeated in the source (an earlier row has the same id)"
        seen.add(change.retailer_id)
        if problem is not None:
            counts.invalid += 1
            counts.refused.setdefault(change.retailer_id, (change.method, problem))
            if len(counts.invalid_examples) < examples:
                counts.invalid_examples.append(f"{change.retailer_id!r}: {problem}")
            continue
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
