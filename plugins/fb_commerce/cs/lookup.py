"""Looking orders up for customer service: one order's whole story, and orders found by what a buyer writes.

- :func:`order_view`: an order by Meta's id or the merchant reference, with everything customer service needs
  to answer a buyer (what ``fb-commerce orders show`` prints and the web page shows): buyer, address, items with
  what shipped, was cancelled, refunded, returned, and what can still be shipped, cancelled or refunded (the same
  arithmetic the outbox checks use, counting what Meta applied since the last sync and the requests still
  queued), shipments, cancellations, refunds, returns, payments and payouts where finance loaded them, the
  outbox requests, the CS actions and one timeline of all of it.
- :func:`find_orders`: orders by e-mail (any case), buyer name (accents and case ignored, the start of the first
  or the last word, e.g. ``"dup"`` finds *Jean Dupont* and ``"jean d"`` too), state, a date range (the
  merchant's days, ``FB_COMMERCE_TIMEZONE``), or a pasted e-mail (the order ids, references and addresses it
  mentions). Every criterion is one index range (migration 0006_cs); ``bench/lookup.py`` measures them.
- :func:`awaiting_returns`: the returns buyers asked for and nobody answered yet, oldest first (0008_lookup).

Each statement is built once and read on the driver's cursor (:class:`Statement`): a lookup costs little more
than the database's own work. No Airflow here: the CLI and the web page call these with a warehouse engine.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import weakref
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from decimal import Decimal
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.engine.default import DefaultDialect

from fb_commerce.orders.alerts import REQUESTED
from fb_commerce.orders.mapping import email_search, search_text
from fb_commerce.orders.updates.outbox import columns_of, request_of
from fb_commerce.orders.updates.remaining import ZERO, OrderRemaining, remaining_of_rows
from fb_commerce.orders.updates.requests import OUTBOX_TABLE_NAMES, OutboxRequest
from fb_commerce.orders.updates.send import outlook
from fb_commerce.warehouse import schema
from fb_commerce.warehouse.types import Money, UtcDateTime, bind_processor_of

#: the most orders :func:`find_orders` returns
MAX_LIMIT = 500
#: tokens of a pasted e-mail looked up as order ids or references (a long thread is cut there)
MAX_TEXT_TOKENS = 200
#: a token of a pasted e-mail that may be an order id or a reference: letters, digits, - and _, with a digit
_TOKEN = re.compile(r"(?<![\w@.-])[A-Za-z0-9][A-Za-z0-9_-]{2,127}(?![\w@-])")
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")
_SENDER = re.compile(r"^\s*(?:from|de|von|van|da)\s*:\s*(.*)$", re.IGNORECASE | re.MULTILINE)
CENT = Decimal("0.01")
_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)
#: the parts of a shipping address (columns ``ship_to_<part>`` of fb_orders)
_ADDRESS = ("name", "street1", "street2", "city", "state", "postal_code", "country")
_ADDRESS_COLUMNS = tuple((part, f"ship_to_{part}") for part in _ADDRESS)


def money_text(value: Decimal | None) -> str | None:
    """An amount as JSON shows it: a string with two decimals (None stays None)."""
    return None if value is None else f"{Decimal(value).quantize(CENT):.2f}"


def jsonable(value: Any, decimal: Callable[[Decimal], Any] = money_text) -> Any:
    """``value`` (dataclasses, mappings, lists, amounts, times) as JSON-friendly data; amounts by ``decimal``
    (default: a string with two decimals), times in ISO-8601."""
    if isinstance(value, Decimal):
        return decimal(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name), decimal) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, decimal) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, decimal) for v in value]
    return value


# --- what a lookup returns -------------------------------------------------------------------------------------


@dataclass(slots=True)
class OrderHit:
    """One order found by :func:`find_orders`, with what a result list shows and why it was found."""

    order_id: str
    merchant_order_reference: str | None
    state: str
    channel: str | None
    created_at: dt.datetime | None
    buyer_name: str | None
    buyer_email: str | None
    currency: str | None
    total: Decimal | None
    matched_by: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: money as a string with two decimals, times in ISO-8601."""
        return jsonable(self)


@dataclass(slots=True)
class ItemView:
    """One order line: units by what happened to them, and what can still be done with them.

    ``can_refund_amount`` is what was charged for the shipped units and not refunded (before tax).
    """

    item_id: str
    retailer_id: str | None
    product_name: str | None
    price_per_unit: Decimal | None
    ordered: int
    shipped: int
    cancelled: int
    refunded: int
    refunded_amount: Decimal
    returned: int
    can_ship: int
    can_cancel: int
    can_refund: int
    can_refund_amount: Decimal | None


@dataclass(slots=True)
class Event:
    """One line of the order's timeline."""

    at: dt.datetime | None
    what: str
    detail: str = ""


@dataclass
class OrderView:
    """Everything known about one order (see the module docstring); :meth:`as_dict` for JSON."""

    order_id: str
    merchant_order_reference: str | None
    state: str
    channel: str | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    synced_at: dt.datetime | None
    is_test_order: bool | None
    buyer_name: str | None
    buyer_email: str | None
    marketing_opt_in: bool | None
    ship_by_date: dt.date | None
    shipping_address: dict[str, str | None]
    currency: str | None
    subtotal: Decimal | None
    shipping: Decimal | None
    tax: Decimal | None
    total: Decimal | None
    items: list[ItemView]
    shipping_refunded: Decimal
    can_refund_shipping: Decimal | None
    shipments: list[dict[str, Any]]
    cancellations: list[dict[str, Any]]
    refunds: list[dict[str, Any]]
    returns: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    transactions: list[dict[str, Any]]
    payouts: list[dict[str, Any]]
    requests: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    timeline: list[Event]

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: money as strings with two decimals, times in ISO-8601."""
        return jsonable(self)

    def item(self, key: str) -> ItemView | None:
        """The line with this item id, else the only line with this retailer id."""
        by_id = [item for item in self.items if item.item_id == key]
        by_sku = [item for item in self.items if item.retailer_id == key]
        return by_id[0] if by_id else (by_sku[0] if len(by_sku) == 1 else None)


# --- statements run on the driver -----------------------------------------------------------------------------
#
# A lookup reads a few rows through an index: SQLite answers in microseconds, and SQLAlchemy's execution of a
# statement (its cache key, an execution context, result metadata, row objects) costs several times that. So
# every lookup statement is a Core select built once, compiled once per dialect, and run on the DB-API connection
# of the caller's connection. When nothing listens to its cursor executions and it does not echo (production),
# the driver runs it directly (sqlite3's Connection.execute makes its cursor in C); else it goes through
# ``Connection._cursor_execute``, SQLAlchemy's own path for driver-level statements, so that events and echo
# apply. Either way a driver error goes through SQLAlchemy's error handling (wrapped errors, invalidated
# connections). The values go through the columns' own type processors, or for the warehouse's UtcDateTime and
# Money through their fused ones, the same steps without TypeDecorator's layers (:func:`_result_processor`): a
# row holds what ``conn.execute`` would return.

try:
    import msgspec

    _JSON_DECODER: Any = msgspec.json.Decoder()
except ImportError:  # pragma: no cover - Airflow installs it
    _JSON_DECODER = None


#: the most values a processor remembers (then it starts again)
_MEMO_SIZE = 4096


def _memo(read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``read`` remembering what it returned per stored value: amounts and times repeat (prices, an order's
    created and updated times), and their Decimal and datetime are immutable, so the same object is what a new
    reading would return. Stored values that compare equal read the same (SQLite's ``40`` and ``40.0``: the
    money processor formats both as ``40.00``), but zeros (``-0.0`` reads as ``-0.00``): they are not remembered,
    nor is a value that raises or cannot be a key."""
    seen: dict[Any, Any] = {}
    get = seen.get

    def memo(value: Any) -> Any:
        if not value:
            return read(value)
        try:
            found = get(value, seen)
        except TypeError:  # unhashable: read as it is
            return read(value)
        if found is seen:
            if len(seen) >= _MEMO_SIZE:
                seen.clear()
            found = seen[value] = read(value)
        return found

    return memo


def _json_processor(default: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """JSON read from text (SQLite) by msgspec's decoder, six times faster than ``json.loads`` and giving the
    same values for what it accepts; what it refuses (a number stored as such, NaN, a float out of range, a lone
    surrogate, NULL, broken JSON) goes to SQLAlchemy's ``default`` processor, which reads or refuses it as ever."""
    decode = _JSON_DECODER.decode

    def read(value: Any) -> Any:
        try:
            return decode(value)
        except Exception:  # noqa: BLE001 - SQLAlchemy's own processor decides
            return default(value)

    return read


def _result_processor(column_type: sa.types.TypeEngine[Any], dialect: Dialect, coltype: Any) -> Any:
    """What reads a column of this type from the driver: SQLAlchemy's processor (None: the value as it is), or
    for UtcDateTime and Money their fused processor (the same steps in one function) remembering its values,
    for JSON kept as text with the default deserializer a faster decoder first."""
    impl_type: Any = column_type.dialect_impl(dialect)
    if isinstance(impl_type, UtcDateTime | Money):
        fused = impl_type.fused_result_processor(dialect, coltype)
        if fused is not None:
            return _memo(fused)
    default = impl_type.result_processor(dialect, coltype)
    if (
        isinstance(impl_type, sa.JSON)
        and default is not None
        and _JSON_DECODER is not None
        and getattr(dialect, "_json_deserializer", None) is None
        and impl_type._str_impl.result_processor(dialect, coltype) is None
    ):
        return _json_processor(default)
    return default


def _reader(
    keys: Sequence[str], processors: Sequence[Callable[[Any], Any] | None], as_dicts: bool
) -> Callable[[list[Any]], list[Any]]:
    """``rows -> [{key: value}]`` (or ``[(value, ...)]``) for these columns: a function made from source, a dict
    display (a tuple) per row with each processor called in place, not for a NULL when the processor reads NULL
    as None (every SQLAlchemy processor does); twice as fast as ``dict(zip())`` and a loop over the processors.
    The source holds only the keys (as literals) and the names of the processors and values."""
    names: dict[str, Any] = {}
    values = []
    for n, processor in enumerate(processors):
        value = f"v{n}"
        if processor is not None:
            names[f"p{n}"] = processor
            value = f"(None if v{n} is None else p{n}(v{n}))" if _reads_null_as_none(processor) else f"p{n}(v{n})"
        values.append(value)
    if as_dicts:
        row = "{" + ", ".join(f"{key!r}: {value}" for key, value in zip(keys, values, strict=True)) + "}"
    else:
        row = "(" + "".join(f"{value}, " for value in values) + ")"
    unpacked = "".join(f"v{n}, " for n in range(len(processors)))
    return cast(Callable[[list[Any]], list[Any]], eval(f"lambda rows: [{row} for {unpacked}in rows]", names))  # noqa: S307


def _reads_null_as_none(processor: Callable[[Any], Any]) -> bool:
    try:
        return processor(None) is None
    except Exception:  # noqa: BLE001 - then it is called for NULL too, and raises as SQLAlchemy would
        return False


#: what a type's processor raises for a value it cannot read (Money: ValueError, decimal's InvalidOperation)
_REFUSED = (ValueError, TypeError, ArithmeticError)


def _picker(
    order: tuple[str, ...] | None, names: tuple[str, ...], defaults: Mapping[str, Any]
) -> Callable[[Mapping[str, Any]], Any]:
    """What takes the driver's parameters from a mapping: a tuple in ``order`` (qmark), else a dict of
    ``names`` (pyformat); a parameter with a default (a LIMIT's OFFSET 0) taken from ``defaults`` when not
    given. A function made from source (a display of ``g[name]``): the names only as literals."""

    def value(name: str) -> str:
        return f"g.get({name!r}, d[{name!r}])" if name in defaults else f"g[{name!r}]"

    if order is None:
        values = "{" + ", ".join(f"{name!r}: {value(name)}" for name in names) + "}"
    else:
        values = "(" + "".join(f"{value(name)}, " for name in order) + ")"
    return cast(Callable[[Mapping[str, Any]], Any], eval(f"lambda g: {values}", {"d": dict(defaults)}))  # noqa: S307


class _Compiled:
    """One statement compiled for one dialect: the driver's SQL, how to pass its parameters, how to read rows."""

    __slots__ = (
        "binds",
        "defaults",
        "dicts",
        "direct",
        "keys",
        "names",
        "on_connection",
        "order",
        "parameters",
        "pick",
        "processors",
        "sql",
        "tuples",
    )

    def __init__(self, query: sa.Select[Any], dialect: Dialect) -> None:
        compiled = query.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("a lookup statement takes one value per parameter (no expanding IN)")
        self.sql = compiled.string
        # qmark (SQLite) takes the values in order, pyformat (psycopg2) by name
        self.order = tuple(compiled.positiontup or ()) if compiled.positional else None
        self.names = tuple(compiled.binds)
        self.defaults = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
        self.binds = [
            (name, processor)
            for name, bind in compiled.binds.items()
            if (processor := bind_processor_of(bind.type, dialect)) is not None
        ]
        self.keys = tuple(str(column.key) for column in query.selected_columns)
        # all three made from the first answer's types
        self.processors: list[Callable[[Any], Any] | None] = []
        self.dicts: Callable[[list[Any]], list[dict[str, Any]]] | None = None
        self.tuples: Callable[[list[Any]], list[tuple[Any, ...]]] | None = None
        # run by the driver unless the dialect runs statements its own way; sqlite3 makes the cursor in C
        self.direct = type(dialect).do_execute is DefaultDialect.do_execute
        self.on_connection = dialect.driver == "pysqlite"
        # the driver's parameters from the caller's: in order (qmark) or by name (pyformat), after the defaults
        # and the bind processors when there are any
        self.pick = _picker(self.order, self.names, self.defaults)
        self.parameters = self._processed if self.binds else self.pick

    def _processed(self, given: Mapping[str, Any]) -> Any:
        values = {**self.defaults, **given}
        for name, processor in self.binds:
            values[name] = processor(values[name])
        return self.pick(values)

    def read_with(self, query: sa.Select[Any], dialect: Dialect, description: Sequence[Any]) -> None:
        # The driver's type codes choose the processor (psycopg2's numeric depends on them), as CursorResult does.
        processors = self.processors = [
            _result_processor(column.type, dialect, described[1])
            for column, described in zip(query.selected_columns, description, strict=True)
        ]
        self.dicts = _reader(self.keys, processors, as_dicts=True)
        self.tuples = _reader(self.keys, processors, as_dicts=False)

    def read(
        self, query: sa.Select[Any], dialect: Dialect, cursor: Any, fetched: list[Any], as_dicts: bool
    ) -> list[Any]:
        """The fetched rows as dicts or tuples; the readers are made from the first answer's ``cursor``."""
        if self.dicts is None:
            self.read_with(query, dialect, cursor.description)
        if not fetched:  # most of an order's tables have nothing for it
            return []
        read = self.dicts if as_dicts else self.tuples
        assert read is not None
        try:
            return read(fetched)
        except _REFUSED as exc:
            raise self.refusal(fetched, exc) from exc

    def refusal(self, fetched: list[Any], exc: Exception) -> Exception:
        """What a value the reader refused is refused with: naming its column (the reader does not say)."""
        for row in fetched:
            for key, processor, value in zip(self.keys, self.processors, row, strict=True):
                try:
                    if processor is not None:
                        processor(value)
                except _REFUSED as found:
                    return ValueError(f"{key}: cannot read {value!r:.80} exactly ({found})")
        return exc


#: :meth:`Statement.rows` finds the driver itself
_ASK: Any = object()


def direct_driver(conn: Connection) -> Any:
    """The DB-API connection of ``conn`` when statements may run on it directly (nothing listens to its cursor
    executions, nothing echoes), else None: then they go through ``Connection._cursor_execute``."""
    pooled = conn._dbapi_connection
    if pooled is None or conn._has_events or conn.engine._has_events or conn._echo or conn.dialect._has_events:
        return None
    return pooled.dbapi_connection


class Statement:
    """A select read on the DB-API connection: :meth:`rows` returns what ``conn.execute(query).mappings()``
    would, as dicts, :meth:`tuples` the same rows as tuples; compiled once per dialect. ``query`` may be a
    function of the dialect's name."""

    def __init__(self, query: sa.Select[Any] | Callable[[str], sa.Select[Any]]) -> None:
        self._query = query
        self._compiled: weakref.WeakKeyDictionary[Dialect, tuple[sa.Select[Any], _Compiled]] = (
            weakref.WeakKeyDictionary()
        )
        # the dialect of the last call and its statement: a process has one warehouse engine, usually
        self._last: tuple[Dialect | None, sa.Select[Any] | None, _Compiled | None] = (None, None, None)

    def _for(self, dialect: Dialect) -> tuple[sa.Select[Any], _Compiled]:
        found = self._compiled.get(dialect)
        if found is None:
            query = self._query if isinstance(self._query, sa.Select) else self._query(dialect.name)
            found = self._compiled[dialect] = (query, _Compiled(query, dialect))
        self._last = (dialect, *found)
        return found

    def rows(self, conn: Connection, parameters: Mapping[str, Any], driver: Any = _ASK) -> list[dict[str, Any]]:
        """The rows of the statement with these parameters, each as ``{column key: value}``; ``driver`` is
        :func:`direct_driver` of ``conn`` when the caller runs several statements (asked for each else)."""
        return self._read(conn, parameters, True, driver)

    def tuples(self, conn: Connection, parameters: Mapping[str, Any], driver: Any = _ASK) -> list[tuple[Any, ...]]:
        """The rows of the statement with these parameters, each as a tuple of the selected columns."""
        return self._read(conn, parameters, False, driver)

    def _read(self, conn: Connection, parameters: Mapping[str, Any], as_dicts: bool, driver: Any) -> list[Any]:
        dialect, query, compiled = self._last
        if dialect is not conn.dialect or query is None or compiled is None:
            query, compiled = self._for(conn.dialect)
        sql, values = compiled.sql, compiled.parameters(parameters)
        if driver is _ASK:
            driver = direct_driver(conn)
        if driver is not None and compiled.direct:
            cursor = None
            try:
                if compiled.on_connection:
                    cursor = driver.execute(sql, values)
                else:
                    cursor = driver.cursor()
                    cursor.execute(sql, values)
                fetched: Any = cursor.fetchall()
            except BaseException as exc:  # noqa: BLE001 - handled as _cursor_execute does: wrapped, re-raised
                conn._handle_dbapi_exception(exc, sql, values, cursor, None)
        else:
            cursor = conn.connection.cursor()
            try:
                conn._cursor_execute(cursor, sql, values)
                fetched = cursor.fetchall()
            finally:
                cursor.close()
        if not fetched and compiled.dicts is not None:  # most of an order's tables have nothing for it
            return []
        return compiled.read(query, conn.dialect, cursor, fetched, as_dicts)


class Batch:
    """Statements that take the same parameters, read one after the other: :meth:`rows` returns what each
    one's :meth:`Statement.rows` would, in order. On the driver directly they share one cursor and one loop
    (an order's view runs a dozen statements, most answering nothing: the calls around each cost more than
    SQLite's answer); else each statement is read its own way."""

    def __init__(self, *statements: Statement) -> None:
        self._statements = statements
        # per dialect: each statement's query and compiled form, and whether they all pass the same values
        self._plans: weakref.WeakKeyDictionary[Dialect, tuple[tuple[tuple[sa.Select[Any], _Compiled], ...], bool]]
        self._plans = weakref.WeakKeyDictionary()
        self._last: tuple[Dialect | None, Any] = (None, None)

    def _plan(self, dialect: Dialect) -> tuple[tuple[tuple[sa.Select[Any], _Compiled], ...], bool]:
        plan = self._plans.get(dialect)
        if plan is None:
            compiled = tuple(statement._for(dialect) for statement in self._statements)
            first = compiled[0][1]
            shared = all(
                not c.binds and not c.defaults and c.order == first.order and c.names == first.names
                for _query, c in compiled
            )
            plan = self._plans[dialect] = (compiled, shared and first.direct)
        self._last = (dialect, plan)
        return plan

    def rows(self, conn: Connection, parameters: Mapping[str, Any], driver: Any = _ASK) -> list[list[dict[str, Any]]]:
        """Each statement's rows with these parameters (as :meth:`Statement.rows`); ``driver`` as there."""
        dialect, plan = self._last
        if dialect is not conn.dialect:
            plan = self._plan(conn.dialect)
        compiled, shared = plan
        if driver is _ASK:
            driver = direct_driver(conn)
        if driver is None or not shared:
            return [statement.rows(conn, parameters, driver) for statement in self._statements]
        dialect = conn.dialect
        values = compiled[0][1].parameters(parameters)
        cursor, found = driver.cursor(), []
        for query, statement in compiled:
            try:
                cursor.execute(statement.sql, values)
                fetched = cursor.fetchall()
            except BaseException as exc:  # noqa: BLE001 - as Statement.rows: wrapped, re-raised
                conn._handle_dbapi_exception(exc, statement.sql, values, cursor, None)
            found.append(statement.read(query, dialect, cursor, fetched, True) if fetched else [])
        return found


# --- finding one order ----------------------------------------------------------------------------------------


_ORDERS = schema.fb_orders
#: what :func:`find_orders` reads of an order: :class:`OrderHit`'s fields, in their order
_HIT_COLUMNS = tuple(f.name for f in fields(OrderHit) if f.name != "matched_by")
#: what :func:`order_view` reads of the order (not ``raw``, Meta's copy of it)
_VIEW_COLUMNS = (
    "order_id",
    "merchant_order_reference",
    "state",
    "channel",
    "created_at",
    "updated_at",
    "acknowledged_at",
    "synced_at",
    "is_test_order",
    "buyer_name",
    "buyer_email",
    "marketing_opt_in",
    "ship_by_date",
    *(f"ship_to_{part}" for part in _ADDRESS),
    "currency",
    "subtotal",
    "shipping",
    "tax",
    "total",
)


def _by_key(*columns: str) -> tuple[Statement, Statement]:
    """These columns of the order with an order id, and of the order with a merchant reference."""
    select = sa.select(*(_ORDERS.c[c] for c in columns))
    return (
        Statement(select.where(_ORDERS.c.order_id == sa.bindparam("key"))),
        Statement(select.where(_ORDERS.c.merchant_order_reference == sa.bindparam("key"))),
    )


_ID_BY_KEY = _by_key("order_id")
_HIT_BY_KEY = _by_key(*_HIT_COLUMNS)
_VIEW_BY_KEY = _by_key(*_VIEW_COLUMNS)


def _order_row(
    conn: Connection,
    statements: tuple[Statement, Statement],
    key: str,
    read: Callable[..., list[Any]] = Statement.rows,
    driver: Any = _ASK,
) -> Any:
    """The order whose id is ``key``, else whose merchant reference is (exact; the case as stored is tried
    first, then upper case, how the default generator writes them): its row as ``read`` returns it (a dict, or
    a tuple with :meth:`Statement.tuples`), None when there is none. ``driver`` as :meth:`Statement.rows`."""
    key = key.strip()
    if not key:
        return None
    by_id, by_reference = statements
    rows = read(by_id, conn, {"key": key}, driver)
    if not rows:
        for reference in dict.fromkeys((key, key.upper())):
            rows = read(by_reference, conn, {"key": reference}, driver)
            if rows:
                break
    return rows[0] if rows else None


def order_id_of(conn: Connection, key: str) -> str | None:
    """The order id of ``key``: Meta's order id, else a merchant reference (exact; the reference's case as
    stored is tried first, then upper case, how the default generator writes them)."""
    row = _order_row(conn, _ID_BY_KEY, key, Statement.tuples)
    return None if row is None else str(row[0])


#: what the view leaves out of an order's rows: Meta's copy, the order (the view's own) and when it was read
_LEAVE = ("raw", "order_id", "synced_at")


def _of_order(table: sa.Table, *order_by: Any, leave: Sequence[str] = _LEAVE) -> Statement:
    """The rows of one order (``:order_id``) in ``table``, without the columns to ``leave``."""
    return Statement(
        sa.select(*(c for c in table.c if c.name not in leave))
        .where(table.c.order_id == sa.bindparam("order_id"))
        .order_by(*order_by)
    )


#: what the view reads of an order line: what :class:`ItemView` and the units remaining need
_ITEM_COLUMNS = (
    "item_id",
    "retailer_id",
    "product_name",
    "price_per_unit",
    "quantity",
    "quantity_in_progress",
    "quantity_fulfilled",
    "quantity_cancelled",
)
_ITEMS = _of_order(
    schema.fb_order_items,
    schema.fb_order_items.c.item_id,
    leave=tuple(c.name for c in schema.fb_order_items.c if c.name not in _ITEM_COLUMNS),
)
_SHIPMENTS = _of_order(schema.fb_shipments, schema.fb_shipments.c.first_seen_at)
_CANCELLATIONS = _of_order(schema.fb_cancellations, schema.fb_cancellations.c.first_seen_at)
_REFUNDS = _of_order(schema.fb_refunds, schema.fb_refunds.c.first_seen_at)
_RETURNS = _of_order(schema.fb_returns, schema.fb_returns.c.created_at, schema.fb_returns.c.return_id)
_PAYMENTS = _of_order(schema.fb_payments, schema.fb_payments.c.payment_id)
_TRANSACTIONS = _of_order(
    schema.fb_transactions,
    schema.fb_transactions.c.transaction_date,
    schema.fb_transactions.c.transaction_id,
    leave=(*_LEAVE, "items", "tax_details"),
)
_PAYOUTS = Statement(
    sa.select(*(c for c in schema.fb_payouts.c if c.name not in _LEAVE))
    .where(
        schema.fb_payouts.c.payout_reference_id.in_(
            sa.select(schema.fb_transactions.c.payout_reference_id).where(
                schema.fb_transactions.c.order_id == sa.bindparam("order_id")
            )
        )
    )
    .order_by(schema.fb_payouts.c.payout_reference_id)
)
_ACTIONS = _of_order(
    schema.fb_cs_actions, schema.fb_cs_actions.c.created_at, schema.fb_cs_actions.c.action_id, leave=()
)


def _outbox_statement(name: str) -> Statement:
    table = schema.metadata.tables[name]
    return Statement(
        lambda dialect: sa.select(*columns_of(name, dialect)).where(table.c.order_id == sa.bindparam("order_id"))
    )


#: the order's rows of each outbox table, read as fb_order_updates reads them (every column as text, parsed)
_OUTBOX = {name: _outbox_statement(name) for name in OUTBOX_TABLE_NAMES}
#: everything of an order but the order and its payouts (asked for only when a transaction names one), one
#: statement per table, read one after the other: the order's rows of these tables, then of each outbox table
_OF_ORDER = Batch(
    _ITEMS, _SHIPMENTS, _REFUNDS, _CANCELLATIONS, _RETURNS, _PAYMENTS, _TRANSACTIONS, _ACTIONS, *_OUTBOX.values()
)


def _requests_of(outbox_rows: Sequence[list[dict[str, Any]]]) -> list[OutboxRequest]:
    """What ``outbox.requests_of`` returns for the order whose rows of each outbox table these are (in the
    order of :data:`_OUTBOX`)."""
    return [
        request_of(name, cast(Any, row))  # it reads a row as a mapping
        for name, rows in zip(_OUTBOX, outbox_rows, strict=True)
        for row in rows
    ]


def _quantities(pairs: Any) -> dict[str, int]:
    """``[{key: item id, value: quantity}]`` (Meta's shape for returns) as ``{item id: quantity}``."""
    found: dict[str, int] = {}
    if isinstance(pairs, Mapping):
        pairs = [{"key": k, "value": v} for k, v in pairs.items()]
    for pair in pairs or ():
        if isinstance(pair, Mapping):
            try:
                found[str(pair.get("key"))] = found.get(str(pair.get("key")), 0) + int(pair.get("value") or 0)
            except (TypeError, ValueError):
                continue
    return found


_RETURN_SETTLED = ("DISAPPROVED",)


def _returned(returns: list[dict[str, Any]]) -> dict[str, int]:
    """Units per item id the buyer sent back or asked to (every return but a disapproved one)."""
    units: dict[str, int] = {}
    for row in returns:
        if row.get("return_status") in _RETURN_SETTLED:
            continue
        quantities = _quantities(row.get("item_return_quantities"))
        if not quantities:
            for line in row.get("items") or ():
                if isinstance(line, Mapping) and line.get("id") is not None:
                    quantities[str(line["id"])] = int(line.get("quantity") or 0)
        for item_id, quantity in quantities.items():
            units[item_id] = units.get(item_id, 0) + quantity
    return units


def _item_views(
    rows: list[dict[str, Any]], remaining: OrderRemaining | None, returned: dict[str, int]
) -> list[ItemView]:
    if remaining is None:
        left_of: dict[str, Any] = {}
        shippable = cancellable = False
    else:
        left_of = remaining.items
        shippable, cancellable = remaining.state in ("CREATED", "IN_PROGRESS"), remaining.state != "FB_PROCESSING"
    views = []
    for row in rows:
        item_id = str(row["item_id"])
        left = left_of.get(item_id)
        views.append(
            ItemView(
                item_id,
                row["retailer_id"],
                row["product_name"],
                row["price_per_unit"],
                int(row["quantity"] or 0),
                int(row["quantity_fulfilled"] or 0) if left is None else left.shipped,
                int(row["quantity_cancelled"] or 0) if left is None else left.cancelled,
                0 if left is None else left.refunded_quantity,
                ZERO if left is None else left.refunded_amount,
                returned.get(item_id, 0),
                left.open if left is not None and shippable else 0,
                left.open if left is not None and cancellable else 0,
                0 if left is None else left.refundable_quantity,
                None if left is None else left.refundable_amount,
            )
        )
    return views


def _request_view(request: Any) -> dict[str, Any]:
    return {
        "request_id": request.request_id,
        "kind": request.kind.name,
        "label": request.kind.label,
        "status": request.status,
        "attempts": request.attempts,
        "created_at": request.created_at,
        "sent_at": request.sent_at,
        "last_error_message": request.last_error_message,
        "fields": {k: v for k, v in request.fields.items() if v not in (None, "") and k != "order_id"},
    }


def _items_text(lines: Any) -> str:
    parts = []
    for line in lines or ():
        if type(line) is dict or isinstance(line, Mapping):  # a dict (JSON) first: the ABC's check is slower
            name = line.get("retailer_id") or line.get("id") or line.get("item_id") or "?"
            parts.append(f"{line.get('quantity', '?')} x {name}")
    return ", ".join(parts)


def _timeline(view: OrderView) -> list[Event]:
    events = [Event(view.created_at, "ordered", f"{money_text(view.total) or '?'} {view.currency or ''}".strip())]
    if view.acknowledged_at:
        events.append(Event(view.acknowledged_at, "acknowledged", view.merchant_order_reference or ""))
    for s in view.shipments:
        tracking = " ".join([str(x) for x in (s.get("carrier"), s.get("tracking_number")) if x])
        events.append(Event(s.get("first_seen_at"), "shipped", f"{_items_text(s.get('items'))} {tracking}".strip()))
    for c in view.cancellations:
        what = _items_text(c.get("items")) or "whole order"
        events.append(Event(c.get("first_seen_at"), "cancelled", f"{what} ({c.get('reason_code') or 'no reason'})"))
    for r in view.refunds:
        events.append(
            Event(
                r.get("first_seen_at"),
                "refunded",
                f"{money_text(r.get('total')) or '?'} {r.get('currency') or ''} ({r.get('reason_code') or ''})",
            )
        )
    for r in view.returns:
        events.append(Event(r.get("created_at") or r.get("first_seen_at"), "return", str(r.get("return_status"))))
    for t in view.transactions:
        events.append(
            Event(t.get("transaction_date"), f"transaction {t.get('transaction_type')}", str(t.get("transaction_id")))
        )
    for p in view.payouts:
        if p.get("payout_date"):
            events.append(Event(p.get("payout_date"), "paid out", str(p.get("payout_reference_id"))))
    for q in view.requests:
        events.append(Event(q.get("created_at"), f"{q['label']} queued", q["request_id"]))
        if q.get("sent_at"):
            events.append(Event(q.get("sent_at"), f"{q['label']} sent to Meta", q["request_id"]))
    for a in view.actions:
        events.append(
            Event(
                a.get("created_at"),
                f"CS {a.get('action_type')} {a.get('status')}",
                f"by {a.get('requested_by') or '?'} ({a.get('source') or '?'})",
            )
        )
    return sorted(events, key=lambda e: e.at or _EPOCH)


def order_view(engine: Engine | Connection, key: str) -> OrderView | None:
    """The order whose id or merchant reference is ``key``, with everything stored about it; None when none is."""
    if isinstance(engine, Connection):  # the caller's connection: no context manager (as find_order)
        return _order_view(engine, key)
    with engine.connect() as conn:
        return _order_view(conn, key)


def _order_view(conn: Connection, key: str) -> OrderView | None:
    on = direct_driver(conn)
    row = _order_row(conn, _VIEW_BY_KEY, key, Statement.rows, on)
    if row is None:
        return None
    order_id = str(row["order_id"])
    at = {"order_id": order_id}
    items, shipments, refunds, cancellations, returns, payments, transactions, actions, *outbox_rows = _OF_ORDER.rows(
        conn, at, on
    )
    # The payouts of the order's transactions: only asked for when one names a payout.
    payouts = (
        _PAYOUTS.rows(conn, at, on) if transactions and any(t["payout_reference_id"] for t in transactions) else []
    )
    every_request = _requests_of(outbox_rows) if any(outbox_rows) else []
    # What load_remaining would read, from the rows read above; outlook reads nothing more, and without a
    # request (most orders) leaves it as it is.
    remaining = remaining_of_rows(row, items, shipments, refunds)
    if every_request:
        remaining, _queued = outlook(conn, order_id, remaining=remaining, requests=every_request)
    left = remaining.orders.get(order_id)
    requests = sorted(every_request, key=lambda r: (r.created_at or _EPOCH, r.request_id)) if every_request else []
    shipping_left = None
    if left is not None and left.shipping_charged is not None:
        shipping_left = max(left.shipping_charged - left.shipping_refunded, ZERO)
    # Positional, in OrderView's order (a field of the order row is named by its key): half the cost of 33
    # keywords.
    view = OrderView(
        order_id,
        row["merchant_order_reference"],
        left.state if left is not None else row["state"],
        row["channel"],
        row["created_at"],
        row["updated_at"],
        row["acknowledged_at"],
        row["synced_at"],
        row["is_test_order"],
        row["buyer_name"],
        row["buyer_email"],
        row["marketing_opt_in"],
        row["ship_by_date"],
        {part: row[column] for part, column in _ADDRESS_COLUMNS},  # shipping_address
        row["currency"],
        row["subtotal"],
        row["shipping"],
        row["tax"],
        row["total"],
        _item_views(items, left, _returned(returns)),  # items
        left.shipping_refunded if left is not None else ZERO,  # shipping_refunded
        shipping_left,  # can_refund_shipping
        shipments,
        cancellations,
        refunds,
        returns,
        payments,
        transactions,
        payouts,
        [_request_view(r) for r in requests] if requests else [],  # requests
        actions,
        [],  # timeline, made of the view
    )
    view.timeline = _timeline(view)
    return view


class connected:
    """A connection from an engine (closed afterwards), or the caller's own connection (left open)."""

    __slots__ = ("_bind", "_opened")

    def __init__(self, bind: Engine | Connection) -> None:
        self._bind = bind
        self._opened: Connection | None = None

    def __enter__(self) -> Connection:
        if isinstance(self._bind, Connection):
            return self._bind
        self._opened = self._bind.connect()
        return self._opened

    def __exit__(self, *exc: object) -> None:
        if self._opened is not None:
            self._opened.close()


# --- finding orders -------------------------------------------------------------------------------------------


@dataclass
class MentionedKeys:
    """What a pasted e-mail mentions: candidate order ids and references, the addresses, the sender's."""

    tokens: list[str]
    emails: list[str]
    sender: str | None


def mentioned_keys(text: str) -> MentionedKeys:
    """The order ids, references and e-mail addresses in ``text`` (a buyer's e-mail, headers included): every
    word of letters, digits, ``-`` and ``_`` holding a digit (at most :data:`MAX_TEXT_TOKENS`), every address,
    and the sender's (the ``From:`` line, else the first address)."""
    emails = list(dict.fromkeys(m.group().lower() for m in _EMAIL.finditer(text)))
    sender = None
    for line in _SENDER.finditer(text):
        found = _EMAIL.search(line.group(1))
        if found:
            sender = found.group().lower()
            break
    if sender is None and emails:
        sender = emails[0]
    without_emails = _EMAIL.sub(" ", text)
    tokens = [
        t for t in dict.fromkeys(m.group() for m in _TOKEN.finditer(without_emails)) if any(c.isdigit() for c in t)
    ]
    return MentionedKeys(tokens[:MAX_TEXT_TOKENS], emails, sender)


def merchant_day_bounds(
    created_from: dt.date | dt.datetime | None, created_to: dt.date | dt.datetime | None, timezone: str | None = None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``[start, end)`` in UTC: a date is the merchant's day (``created_to`` included whole), a datetime is
    taken as it is (naive = UTC)."""
    from fb_commerce.finance.calendar import merchant_timezone

    zone = zoneinfo.ZoneInfo(timezone or merchant_timezone())

    def bound(value: dt.date | dt.datetime | None, end: bool) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        day = value + dt.timedelta(days=1) if end else value
        return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)

    return bound(created_from, False), bound(created_to, True)


def _name_prefix(dialect: str, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """``column`` starts with the name's words (:func:`_name_parameters`), as an index range: on PostgreSQL
    ``LIKE 'prefix%'`` (the index is text_pattern_ops), on SQLite a range of the BINARY collation (SQLite's LIKE
    ignores case and would not use the index)."""
    if dialect == "postgresql":
        return column.like(sa.bindparam("name_like"), escape="/")
    return sa.and_(column >= sa.bindparam("name_from"), column < sa.bindparam("name_to"))


def _name_parameters(words: str) -> dict[str, str]:
    like = words.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return {"name_like": f"{like}%", "name_from": words, "name_to": words + "\U0010ffff"}


@functools.lru_cache(maxsize=128)
def _search(names: tuple[str, ...]) -> Statement:
    """:func:`find_orders`' statement with these parameters, whose names say which criteria were given (a
    pasted e-mail's ``token_<n>``, ``reference_<n>``, ``email_<n>``: one parameter per value)."""

    def query(dialect: str) -> sa.Select[Any]:
        orders = _ORDERS

        def equal(column: sa.Column[Any], prefix: str) -> list[sa.ColumnElement[bool]]:
            return [column == sa.bindparam(name) for name in names if name.startswith(prefix)]

        mentioned = [
            *equal(orders.c.order_id, "token_"),
            *equal(orders.c.merchant_order_reference, "reference_"),
            *equal(orders.c.buyer_email_search, "email_"),
        ]
        where = [sa.or_(*mentioned)] if mentioned else []
        if "email" in names:
            where.append(orders.c.buyer_email_search == sa.bindparam("email"))
        if "name_from" in names:
            where.append(
                sa.or_(
                    _name_prefix(dialect, orders.c.buyer_name_search),
                    _name_prefix(dialect, orders.c.buyer_name_search_last_first),
                )
            )
        if "state" in names:
            where.append(orders.c.state == sa.bindparam("state"))
        if "start" in names:
            where.append(orders.c.created_at >= sa.bindparam("start"))
        if "end" in names:
            where.append(orders.c.created_at < sa.bindparam("end"))
        return (
            sa.select(*(orders.c[c] for c in _HIT_COLUMNS))
            .where(*where)
            .order_by(orders.c.created_at.desc(), orders.c.order_id.desc())
            .limit(sa.bindparam("limit", type_=sa.Integer()))
        )

    return Statement(query)


def find_order(engine: Engine | Connection, key: str) -> OrderHit | None:
    """The order whose id or merchant reference is ``key``, as a result line (what a search box shows first)."""
    if isinstance(engine, Connection):  # the search box's connection: no context manager for one statement
        row = _order_row(engine, _HIT_BY_KEY, key, Statement.tuples)
    else:
        with engine.connect() as conn:
            row = _order_row(conn, _HIT_BY_KEY, key, Statement.tuples)
    if row is None:
        return None
    how = "order id" if row[0] == key.strip() else "reference"
    return _hit(row, [(how, None)])


def find_orders(
    engine: Engine | Connection,
    *,
    text: str | None = None,
    email: str | None = None,
    name: str | None = None,
    state: str | None = None,
    created_from: dt.date | dt.datetime | None = None,
    created_to: dt.date | dt.datetime | None = None,
    limit: int = 50,
) -> list[OrderHit]:
    """Orders matching every criterion given, newest first (at most ``limit``, at most :data:`MAX_LIMIT`).

    :param text: a pasted e-mail: orders whose id, reference or buyer e-mail it mentions (any of them).
    :param email: the buyer's e-mail address, any case.
    :param name: the start of the buyer's first or last name (several words: the start of the name from that
        word), accents and case ignored.
    :param state: Meta's order state (FB_PROCESSING, CREATED, IN_PROGRESS, COMPLETED).
    :param created_from: first day (the merchant's) or instant the order was placed.
    :param created_to: last day (included) or instant (excluded).
    :raises ValueError: no criterion, or a name without a letter or digit.
    """
    values: dict[str, Any] = {"limit": max(1, min(int(limit), MAX_LIMIT))}
    why: list[tuple[str, Any]] = []
    if text is not None:
        keys = mentioned_keys(text)
        if not keys.tokens and not keys.emails:
            return []
        references = list(dict.fromkeys([*keys.tokens, *(t.upper() for t in keys.tokens)]))
        for kind, found in (("token", keys.tokens), ("reference", references), ("email", keys.emails)):
            values.update((f"{kind}_{n}", value) for n, value in enumerate(found))
        why.append(("text", keys))
    if email is not None:
        if not email.strip():
            raise ValueError("email: empty")
        values["email"] = email_search(email)
        why.append(("e-mail", email.strip().lower()))
    if name is not None:
        words = search_text(name)
        if not words:
            raise ValueError(f"name: {name!r} has no letter or digit to search for")
        values.update(_name_parameters(words))
        why.append(("name", words))
    if state is not None:
        values["state"] = state.strip().upper()
        why.append(("state", values["state"]))
    if created_from is not None or created_to is not None:
        start, end = merchant_day_bounds(created_from, created_to)
        values.update((bound, value) for bound, value in (("start", start), ("end", end)) if value is not None)
        why.append(("date", None))
    if not why:
        raise ValueError("give at least one of text, email, name, state, created_from, created_to")
    statement = _search(tuple(values))
    if isinstance(engine, Connection):  # as find_order
        rows = statement.tuples(engine, values)
    else:
        with engine.connect() as conn:
            rows = statement.tuples(conn, values)
    return [_hit(row, why) for row in rows]


# --- returns awaiting customer service -------------------------------------------------------------------------


@dataclass(slots=True)
class AwaitingReturn:
    """One return the buyer asked for, with how long it has waited."""

    return_id: str
    order_id: str
    merchant_order_reference: str | None
    buyer_name: str | None
    requested_at: dt.datetime | None
    age: dt.timedelta | None

    @property
    def age_text(self) -> str:
        if self.age is None:
            return "unknown"
        days, hours = self.age.days, self.age.seconds // 3600
        return f"{days} d {hours} h" if days else f"{hours} h {self.age.seconds % 3600 // 60} min"


_RETURNS_OF = schema.fb_returns
# By the index on (return_status, created_at) (0008_lookup), not a read of every return.
_AWAITING = Statement(
    sa.select(
        _RETURNS_OF.c.return_id,
        _RETURNS_OF.c.order_id,
        _ORDERS.c.merchant_order_reference,
        _ORDERS.c.buyer_name,
        _RETURNS_OF.c.created_at,
    )
    .select_from(_RETURNS_OF.outerjoin(_ORDERS, _ORDERS.c.order_id == _RETURNS_OF.c.order_id))
    .where(_RETURNS_OF.c.return_status == REQUESTED)
    .order_by(_RETURNS_OF.c.created_at.asc().nulls_last(), _RETURNS_OF.c.return_id)
    .limit(sa.bindparam("limit", type_=sa.Integer()))
)


def awaiting_returns(engine: Engine | Connection, *, now: dt.datetime, limit: int = 200) -> list[AwaitingReturn]:
    """Returns in state REQUESTED (asked for by the buyer, not yet answered), oldest first, with their order's
    reference and buyer."""
    with connected(engine) as conn:
        rows = _AWAITING.tuples(conn, {"limit": limit})
    return [
        AwaitingReturn(
            return_id,
            order_id,
            reference,
            buyer_name,
            requested_at,
            None if requested_at is None else now - requested_at,
        )
        for return_id, order_id, reference, buyer_name, requested_at in rows
    ]


def _hit(row: Sequence[Any], why: Sequence[tuple[str, Any]]) -> OrderHit:
    """The result line of a row of :data:`_HIT_COLUMNS` (OrderHit's fields, in their order)."""
    hit = OrderHit(*row)
    matched = hit.matched_by
    for kind, value in why:
        if kind == "text":
            keys: MentionedKeys = value
            if hit.order_id in keys.tokens:
                matched.append("order id in the text")
            reference = hit.merchant_order_reference
            if reference and (reference in keys.tokens or reference in {t.upper() for t in keys.tokens}):
                matched.append("reference in the text")
            email = hit.buyer_email
            if email and email.lower() in keys.emails:
                matched.append("sender's e-mail" if email.lower() == keys.sender else "e-mail in the text")
        else:
            matched.append(kind)
    return hit


__all__ = [
    "AwaitingReturn",
    "Batch",
    "Event",
    "ItemView",
    "MentionedKeys",
    "OrderHit",
    "OrderView",
    "Statement",
    "awaiting_returns",
    "connected",
    "find_order",
    "find_orders",
    "jsonable",
    "mentioned_keys",
    "money_text",
    "order_id_of",
    "order_view",
]
