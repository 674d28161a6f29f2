"""Payouts and transactions into the warehouse: ``fb_payouts``, ``fb_transactions``, ``fb_transaction_tax_details``,
and the payments of the orders the SALE transactions name (``fb_payments``).

Mapping (pure functions, unit-tested):

- money is read exactly (:func:`fb_commerce.orders.values.money`): an amount that is not an exact decimal raises
  :class:`~fb_commerce.orders.values.UnreadableValue` naming the field, never stored as NULL or 0;
- signs are kept as Meta sends them (docs/graph-api.md §3.1: on a SALE ``processing_fee`` is negative and
  ``net_payment_amount`` positive, on a REFUND both flip); nothing here changes a sign;
- a transaction's tax lines are its items' ``tax_details`` (one line per item and jurisdiction, with the item's
  retailer id) when Meta details them per item, else the transaction's own ``tax_details`` (one per
  jurisdiction). ``tax_details`` may come wrapped (``{data: [...]}``), as a list or as one object.
  ``item_tax_rate`` ``"6.25%"`` is stored as the fraction ``0.0625``; a line keeps its four decimals, and the
  transaction's ``tax_amount`` is the lines' sum stored at cents (``NUMERIC(18,2)``, half away from zero);
- a payment (one per shipment, docs/graph-api.md §3) comes inline in a SALE's ``order_details{payments}``; its
  shipment is the first of ``shipments``, its SALE ``transaction_details.transaction_id``. A SALE whose order came
  without ``payments`` has them read from ``/{order_id}/payments``, once per order and load;
- a shipment that could have been captured in the window (first stored since its start, its order created before its
  end) and whose payment is still not stored after the window's transactions (no SALE of its order came with it, as
  when the SALE is late or missing) has it read from ``/{order_id}/payments`` too, one call per order
  (:func:`unpaid_orders`): reconciliation dates a capture by its payment, and without one a missing SALE would stay
  in flight.

Loading is idempotent: payouts, transactions and payments are upserted by their natural key
(``payout_reference_id``, ``transaction_id``, ``payment_id``) and rows whose values did not change are left as they
are (``synced_at`` included), and the tax lines of each transaction are replaced as a whole, all in one transaction
per page. Loading the same window again therefore leaves identical rows.

Rows go through the warehouse's bulk writers, as the orders' pages do: the keys of a page already stored are looked
up first (one query for the transactions and payments together); new rows and the replaced tax lines go straight in,
mapped as they are written (:func:`~fb_commerce.warehouse.page_writer.insert_streamed`: COPY on PostgreSQL, which
parses the first rows while the next are mapped, one ``executemany`` on SQLite), rows already stored through
:func:`~fb_commerce.warehouse.bulk.bulk_upsert` (COPY into a staging table, then one
``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` something changed). Only the tax lines of transactions stored already
are deleted (a new one has none: their foreign key), so a page of new transactions deletes nothing.

:func:`load_finance` commits its pages without waiting for the disk (PostgreSQL) and waits once, at the end, before
it reports (:func:`make_durable`): what it reports stored is on disk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fb_commerce.finance.extract import (
    MAX_PAGE_SIZE,
    PAYMENTS,
    PAYOUTS,
    TRANSACTIONS,
    order_payment_pages,
    payout_pages,
    transaction_pages,
)
from fb_commerce.graph.client import GraphClient
from fb_commerce.orders.values import UnreadableValue, dig, edge, money, timestamp
from fb_commerce.warehouse.bulk import bulk_upsert
from fb_commerce.warehouse.page_writer import insert_streamed
from fb_commerce.warehouse.schema import (
    fb_orders,
    fb_payments,
    fb_payouts,
    fb_shipments,
    fb_transaction_tax_details,
    fb_transactions,
)
from fb_commerce.warehouse.upsert import transaction

Row = dict[str, Any]
_T = TypeVar("_T")


# --- reading values ---------------------------------------------------------------------------------------------


def money_value(value: Any, field: str) -> tuple[Decimal | None, str | None]:
    """A money object (``{"amount": "-0.33", "currency": "USD"}``) or a bare amount (``"-0.33"``), exactly."""
    if value.__class__ is dict:
        text = value.get("amount")
        if text.__class__ is str:
            # The common case, read here at once (a load reads ten amounts per transaction); anything else, and
            # every refusal, is money()'s.
            try:
                number = Decimal(text)
            except InvalidOperation:
                pass
            else:
                if number.is_finite():
                    return number, value.get("currency")
    if value is None or isinstance(value, dict):
        return money(value, field)
    return money({"amount": value}, field)


def rate(value: Any, field: str) -> Decimal | None:
    """``"8.25%"`` as ``Decimal("0.0825")``; a bare number as it is; absent as None."""
    if value.__class__ is str and value.endswith("%"):  # the common case, at once; refusals below
        try:
            number = Decimal(value[:-1])
        except InvalidOperation:
            pass
        else:
            if number.is_finite():
                return number / 100
    if value is None or value == "":
        return None
    text = str(value).strip()
    percent = text.endswith("%")
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidOperation
        number = Decimal(text.removesuffix("%").strip())
    except InvalidOperation:
        raise UnreadableValue(f"{field}: {text[:100]!r} is not a rate") from None
    if not number.is_finite():
        raise UnreadableValue(f"{field}: {text[:100]!r} is not a finite rate")
    return number / 100 if percent else number


def one_currency(field: str, *currencies: str | None) -> str | None:
    """The one currency the amounts of an object share; two different ones raise (no exchange is made here)."""
    found = None
    for currency in currencies:
        if currency and currency != found:
            if found is not None:
                named = sorted({c for c in currencies if c})
                raise UnreadableValue(f"{field}: amounts in more than one currency ({', '.join(named)})")
            found = currency
    return found


def tax_detail_list(value: Any) -> list[dict[str, Any]]:
    """``tax_details`` as a list of lines, however Meta wraps it."""
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.get("data") or []) if "data" in value else [value]
    if isinstance(value, list):
        return [line for line in value if isinstance(line, dict)]
    raise UnreadableValue(f"tax_details: {str(value)[:100]!r} is not a list of tax lines")


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


# --- mapping ------------------------------------------------------------------------------------------------------


def payout_row(payout: Mapping[str, Any], *, synced_at: dt.datetime) -> Row:
    """A ``fb_payouts`` row. Payouts before 2019-05-15 have no ``payout_reference_id``: their transfer id keys them."""
    key = _text(payout.get("payout_reference_id")) or _text(payout.get("transfer_id"))
    if key is None:
        raise UnreadableValue(f"payout: neither payout_reference_id nor transfer_id in {str(dict(payout))[:200]}")
    amount, currency = money_value(payout.get("amount"), "payout.amount")
    return {
        "payout_reference_id": key,
        "transfer_id": _text(payout.get("transfer_id")),
        "status": _text(payout.get("status")),
        "amount": amount,
        "currency": currency,
        "payout_date": timestamp(payout.get("payout_date")),
        "synced_at": synced_at,
        "raw": dict(payout),
    }


def tax_line_rows(txn: Mapping[str, Any], transaction_id: str, currency: str | None) -> list[Row]:
    """The tax lines of a transaction (see the module's docstring for which ``tax_details`` they come from)."""
    return _tax_lines(txn, edge(dict(txn), "items"), transaction_id, currency)


def _tax_lines(
    txn: Mapping[str, Any], items: list[dict[str, Any]], transaction_id: str, currency: str | None
) -> list[Row]:
    sources: list[tuple[str | None, dict[str, Any]]] = []
    for item in items:
        sources.extend((_text(item.get("id")), line) for line in tax_detail_list(item.get("tax_details")))
    if not sources:
        sources = [(None, line) for line in tax_detail_list(txn.get("tax_details"))]
    rows = []
    for number, (retailer_id, line) in enumerate(sources, start=1):
        field = f"transaction {transaction_id} tax_details[{number}]"
        amount, line_currency = money_value(line.get("item_tax_amount"), f"{field}.item_tax_amount")
        rows.append(
            {
                "transaction_id": transaction_id,
                "line_number": number,
                "retailer_id": retailer_id or _text(line.get("retailer_id")),
                "tax_category": _text(line.get("tax_category")),
                "jurisdiction": _text(line.get("jurisdiction")),
                "imposition": _text(line.get("imposition")),
                "item_tax_rate": rate(line.get("item_tax_rate"), f"{field}.item_tax_rate"),
                "item_tax_amount": amount,
                "currency": one_currency(field, line_currency, currency) or currency,
            }
        )
    return rows


def transaction_rows(txn: Mapping[str, Any], *, synced_at: dt.datetime) -> tuple[Row, list[Row]]:
    """A ``fb_transactions`` row and its ``fb_transaction_tax_details`` rows; amounts exact, signs as sent."""
    transaction_id = _text(txn.get("id"))
    if transaction_id is None:
        raise UnreadableValue(f"transaction without id: {str(dict(txn))[:200]}")
    where = f"transaction {transaction_id}"
    fee, fee_currency = money_value(txn.get("processing_fee"), f"{where} processing_fee")
    net, net_currency = money_value(txn.get("net_payment_amount"), f"{where} net_payment_amount")
    currency = one_currency(where, fee_currency, net_currency)
    items = edge(dict(txn), "items")
    lines = _tax_lines(txn, items, transaction_id, currency)
    currency = currency or one_currency(where, *(line["currency"] for line in lines))
    amounts = [line["item_tax_amount"] for line in lines if line["item_tax_amount"] is not None]
    details = txn.get("order_details")
    order: dict[str, Any] = details if isinstance(details, dict) else {}
    row = {
        "transaction_id": transaction_id,
        "transaction_type": _text(txn.get("transaction_type")),
        "transaction_date": timestamp(txn.get("transaction_date")),
        "order_id": _text(txn.get("order_id")) or _text(order.get("id")),
        "merchant_order_id": _text(txn.get("merchant_order_id")) or _text(order.get("merchant_order_id")),
        "order_created_at": timestamp(txn.get("order_created") or order.get("created")),
        "payout_reference_id": _text(txn.get("payout_reference_id")),
        "transfer_id": _text(txn.get("transfer_id")),
        "currency": currency,
        "processing_fee": fee,
        "net_payment_amount": net,
        "tax_amount": sum(amounts, Decimal(0)) if amounts else None,
        "tax_rate": _text(txn.get("tax_rate")),
        "postal_code": _text(txn.get("postal_code")),
        "state": _text(txn.get("state")),
        "items": items,
        "tax_details": tax_detail_list(txn.get("tax_details")),
        "synced_at": synced_at,
        "raw": dict(txn),
    }
    return row, lines


#: the amount columns of fb_payments: (column, path in the payment, the path as errors name it)
_PAYMENT_AMOUNTS = tuple(
    (column, path, ".".join(path))
    for column, path in (
        ("items_amount", ("subtotal", "items")),
        ("shipping_amount", ("subtotal", "shipping")),
        ("tax_amount", ("tax",)),
        ("total_amount", ("total_amount",)),
        ("captured_amount", ("transaction_details", "captured_amount")),
    )
)


def payment_row(payment: Mapping[str, Any], order_id: str, *, synced_at: dt.datetime) -> Row:
    """A ``fb_payments`` row: what one shipment captured; amounts exact, in one currency."""
    payment_id = _text(payment.get("id"))
    if payment_id is None:
        raise UnreadableValue(f"payment of order {order_id} without id: {str(dict(payment))[:200]}")
    where = f"payment {payment_id}"
    amounts = {column: money_value(dig(payment, *path), f"{where} {name}") for column, path, name in _PAYMENT_AMOUNTS}
    remitted = payment.get("tax_remitted")
    if remitted is not None and not isinstance(remitted, bool):
        raise UnreadableValue(f"{where} tax_remitted: {str(remitted)[:100]!r} is not true or false")
    shipments = edge(dict(payment), "shipments")
    shipment = shipments[0] if shipments else {}
    return {
        "payment_id": payment_id,
        "order_id": order_id,
        "shipment_id": _text(shipment.get("id")),
        "external_shipment_id": _text(shipment.get("external_shipment_id")),
        "transaction_id": _text(dig(payment, "transaction_details", "transaction_id")),
        "currency": one_currency(where, *(currency for _, currency in amounts.values())),
        **{column: amount for column, (amount, _) in amounts.items()},
        "tax_remitted": remitted,
        "capture_time": timestamp(dig(payment, "transaction_details", "capture_time")),
        "synced_at": synced_at,
        "raw": dict(payment),
    }


def sale_payments(transactions: Iterable[Mapping[str, Any]]) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """The payments the SALE transactions' orders came with, as (order id, payment), and the ids of the orders
    that came without a ``payments`` field, or with only its first page (a nested edge is paged too: the rest
    is read from ``/{order_id}/payments``)."""
    found: list[tuple[str, dict[str, Any]]] = []
    missing: dict[str, None] = {}
    for txn in transactions:
        if _text(txn.get("transaction_type")) != "SALE":
            continue
        details = txn.get("order_details")
        order: dict[str, Any] = details if isinstance(details, dict) else {}
        order_id = _text(txn.get("order_id")) or _text(order.get("id"))
        if order_id is None:
            continue  # no order named: nothing to read payments of (reconciliation reports the transaction)
        if "payments" in order and not dig(order, "payments", "paging", "next"):
            found.extend((order_id, payment) for payment in edge(order, "payments"))
        else:
            missing[order_id] = None
    return found, list(missing)


# --- loading ------------------------------------------------------------------------------------------------------


#: keys per key lookup: SQLite binds at most 32,766 values per statement
KEYS_PER_STATEMENT = 10_000


def _slices(keys: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(keys), KEYS_PER_STATEMENT):
        yield keys[start : start + KEYS_PER_STATEMENT]


def _stored_keys(connection: Connection, wanted: Sequence[tuple[sa.Table, Iterable[Any]]]) -> list[set[Any]]:
    """Which of the keys of each (table, keys) are stored already: one statement for all the tables (a round trip
    per page, not per table), more only past :data:`KEYS_PER_STATEMENT` keys."""
    parts: list[tuple[int, sa.Column[Any], list[Any]]] = []
    for number, (table, keys) in enumerate(wanted):
        (column,) = table.primary_key.columns
        parts.extend((number, column, list(part)) for part in _slices(sorted(set(keys))))
    found: list[set[Any]] = [set() for _ in wanted]
    while parts:
        batch, size = [], 0
        while parts and size + len(parts[0][2]) <= KEYS_PER_STATEMENT:
            batch.append(parts.pop(0))
            size += len(batch[-1][2])
        selects = [
            sa.select(sa.literal(number).label("n"), column.label("k")).where(column.in_(keys))
            for number, column, keys in batch
        ]
        query = selects[0] if len(selects) == 1 else sa.union_all(*selects)
        for number, key in connection.execute(query):
            found[number].add(key)
    return found


def _insert_new(connection: Connection, table: sa.Table, rows: Iterator[Row]) -> None:
    """Insert rows whose keys are not stored, as they are mapped (COPY on PostgreSQL: the server parses the first
    ones while the next are mapped). Every row of a table carries the same columns (the mapping's)."""
    first = next(rows, None)
    if first is not None:
        insert_streamed(connection, table, tuple(first), itertools.chain([first], rows))


def _store(
    connection: Connection,
    table: sa.Table,
    objects: Mapping[Any, _T],
    stored: set[Any],
    mapping: Callable[[_T], Row],
) -> None:
    """Upsert the objects (by their key) by the one-column primary key: keys not ``stored`` yet go straight in,
    mapped as they are written, stored ones through the bulk upsert that leaves unchanged rows as they are."""
    _insert_new(connection, table, (mapping(obj) for key, obj in objects.items() if key not in stored))
    old = [mapping(obj) for key, obj in objects.items() if key in stored]
    if old:
        bulk_upsert(connection, table, old, skip_unchanged=True)


@contextlib.contextmanager
def _young_objects_only() -> Iterator[None]:
    """While a page is stored, garbage collections scan only the objects made since it started.

    A page's objects (its JSON, its rows) live through a few collections, which then run a full one every dozen
    pages or so, each scanning every object of the process (modules, SQLAlchemy's caches: tens of ms each, a
    fifth of a load's CPU). What exists when the page starts is frozen out of those scans and put back after
    (unless something else froze objects, as a forking server does: those stay as they are).
    """
    frozen = gc.get_freeze_count() == 0
    if frozen:
        gc.freeze()
    try:
        yield
    finally:
        if frozen:
            gc.unfreeze()


@contextlib.contextmanager
def _page(engine: Engine | Connection, durable: bool) -> Iterator[Connection]:
    """The page's transaction. With ``durable=False`` (PostgreSQL, on a transaction of its own) its commit does not
    wait for the WAL to reach the disk, most of a page's cost on a busy disk; :func:`make_durable` at the end of
    the load waits once for all of them (WAL is flushed in order). A crash before that loses only pages of a load
    that has not returned, which its retry stores again."""
    owned = isinstance(engine, Engine) or not engine.in_transaction()
    with transaction(engine) as connection:
        if owned and not durable and connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
        yield connection


def make_durable(engine: Engine | Connection) -> None:
    """Wait until every page committed with ``durable=False`` is on disk: one transaction that commits
    synchronously (on PostgreSQL a transaction id makes its commit write and flush WAL, and the pages' before it)."""
    with transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_current_xact_id()"))


@_young_objects_only()
def store_payouts(
    engine: Engine, payouts: Iterable[Mapping[str, Any]], *, synced_at: dt.datetime, durable: bool = True
) -> int:
    """Upsert payouts by ``payout_reference_id`` in one transaction; unchanged rows are left alone.

    :param durable: False: the commit does not wait for the disk (see :func:`make_durable`).
    """
    rows = [payout_row(p, synced_at=synced_at) for p in payouts]
    by_key = {row["payout_reference_id"]: row for row in rows}
    with _page(engine, durable) as connection:
        (stored,) = _stored_keys(connection, [(fb_payouts, by_key)])
        _store(connection, fb_payouts, by_key, stored, lambda row: row)
    return len(rows)


@_young_objects_only()
def store_transactions(
    engine: Engine | Connection,
    transactions: Iterable[Mapping[str, Any]],
    *,
    synced_at: dt.datetime,
    payments: Iterable[tuple[str, Mapping[str, Any]]] = (),
    durable: bool = True,
) -> tuple[int, int, int]:
    """Upsert transactions by ``transaction_id``, replace their tax lines and upsert the payments given (as
    (order id, payment)) by ``payment_id``, in one transaction.

    :param durable: False: the commit does not wait for the disk (see :func:`make_durable`).
    :return: (transactions, tax lines, payments) stored.
    """
    objects = list(transactions)
    paying = list(payments)
    if not objects and not paying:
        return 0, 0, 0
    # by id, the last of an id given twice winning (as the upserts do); an object without one is kept for its
    # mapping to refuse
    by_id = {_text(t.get("id")): t for t in objects}
    payment_by_id = {_text(p.get("id")): (order_id, p) for order_id, p in paying}
    lines: list[Row] = []

    def transaction_row(txn: Mapping[str, Any]) -> Row:
        row, group = transaction_rows(txn, synced_at=synced_at)
        lines.extend(group)
        return row

    def pay_row(paid: tuple[str, Mapping[str, Any]]) -> Row:
        return payment_row(paid[1], paid[0], synced_at=synced_at)

    with _page(engine, durable) as connection:
        stored, paid = _stored_keys(
            connection, [(fb_transactions, by_id.keys() - {None}), (fb_payments, payment_by_id.keys() - {None})]
        )
        _store(connection, fb_transactions, by_id, stored, transaction_row)
        # Only a transaction stored already can have tax lines (their foreign key): a new one has none to delete,
        # and a page of new transactions deletes nothing.
        table = fb_transaction_tax_details
        for part in _slices(sorted(stored)):
            connection.execute(sa.delete(table).where(table.c.transaction_id.in_(part)))
        _insert_new(connection, table, iter(lines))  # none of them is stored now
        _store(connection, fb_payments, payment_by_id, paid, pay_row)
    return len(objects), len(lines), len(payment_by_id)


@dataclass
class FinanceLoad:
    """What a load did, in counts, and the window it read."""

    node: str
    start: dt.datetime
    end: dt.datetime
    payouts: int = 0
    transactions: int = 0
    tax_lines: int = 0
    payments: int = 0
    #: pages read (= Graph calls made) per edge; ``payments``: orders whose payments needed a call of their own
    pages_read: dict[str, int] = dataclasses.field(default_factory=lambda: {PAYOUTS: 0, TRANSACTIONS: 0, PAYMENTS: 0})

    @property
    def payout_pages(self) -> int:
        return self.pages_read[PAYOUTS]

    @property
    def transaction_pages(self) -> int:
        return self.pages_read[TRANSACTIONS]

    @property
    def payment_pages(self) -> int:
        return self.pages_read[PAYMENTS]

    @property
    def pages(self) -> int:
        return sum(self.pages_read.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (for XCom)."""
        out = {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in asdict(self).items()}
        out.update(
            payout_pages=self.payout_pages,
            transaction_pages=self.transaction_pages,
            payment_pages=self.payment_pages,
            pages=self.pages,
        )
        return out


def unpaid_orders(engine: Engine | Connection, start: dt.datetime, end: dt.datetime) -> list[str]:
    """The orders with a shipment that could have been captured in ``[start, end)`` and has no payment stored.

    A shipment is stored after it ships and its payment is captured when it ships, so one captured in the window was
    first stored at or after ``start``, of an order created before ``end``.
    """
    s, o, p = fb_shipments, fb_orders, fb_payments
    query = (
        sa.select(s.c.order_id)
        .distinct()
        .join(o, o.c.order_id == s.c.order_id)
        .where(
            s.c.first_seen_at >= start,
            sa.or_(o.c.created_at.is_(None), o.c.created_at < end),
            ~sa.exists().where(p.c.shipment_id == s.c.shipment_id),
        )
        .order_by(s.c.order_id)
    )
    with contextlib.ExitStack() as stack:
        connection = engine if isinstance(engine, Connection) else stack.enter_context(engine.connect())
        return list(connection.execute(query).scalars())


#: orders whose payments are stored together, when read by calls of their own
PAYMENT_BATCH = 100


def _data(pages: Iterator[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for page in pages:
        yield list(page.get("data") or [])


def load_finance(
    client: GraphClient,
    engine: Engine,
    node: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    page_size: int = MAX_PAGE_SIZE,
    now: dt.datetime | None = None,
) -> FinanceLoad:
    """Payouts and transactions of ``[start, end)`` read from ``node`` (the Page, see
    :func:`~fb_commerce.finance.extract.finance_node`) and stored, page by page, each page in its own transaction."""
    synced_at = now or dt.datetime.now(dt.UTC)
    result = FinanceLoad(node=node, start=start, end=end)
    for payouts in _data(payout_pages(client, node, start, end, page_size=page_size)):
        result.pages_read[PAYOUTS] += 1
        result.payouts += store_payouts(engine, payouts, synced_at=synced_at, durable=False)
    read: set[str] = set()  # orders whose payments were read by a call of their own in this load

    def read_payments(order_ids: Iterable[str], into: list[tuple[str, dict[str, Any]]]) -> None:
        for order_id in (o for o in order_ids if o not in read):
            read.add(order_id)
            for page in order_payment_pages(client, order_id):
                result.pages_read[PAYMENTS] += 1
                into.extend((order_id, payment) for payment in page.get("data") or [])

    for transactions in _data(transaction_pages(client, node, start, end, page_size=page_size)):
        result.pages_read[TRANSACTIONS] += 1
        payments, missing = sale_payments(transactions)
        read_payments(missing, payments)
        stored, lines, paid = store_transactions(
            engine, transactions, synced_at=synced_at, payments=payments, durable=False
        )
        result.transactions += stored
        result.tax_lines += lines
        result.payments += paid
    unpaid = unpaid_orders(engine, start, end)
    for first in range(0, len(unpaid), PAYMENT_BATCH):
        payments = []
        read_payments(unpaid[first : first + PAYMENT_BATCH], payments)
        result.payments += store_transactions(engine, (), synced_at=synced_at, payments=payments, durable=False)[2]
    make_durable(engine)  # the pages' commits did not wait for the disk: once, here, before the load reports
    return result


__all__ = [
    "FinanceLoad",
    "load_finance",
    "make_durable",
    "money_value",
    "payment_row",
    "payout_row",
    "rate",
    "sale_payments",
    "store_payouts",
    "store_transactions",
    "tax_line_rows",
    "transaction_rows",
    "unpaid_orders",
]
