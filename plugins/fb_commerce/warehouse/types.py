"""Column types that behave the same on SQLite and PostgreSQL.

- :class:`UtcDateTime`: timezone-aware UTC in, timezone-aware UTC out. PostgreSQL stores ``timestamptz``;
  SQLite has no timezone support, so values are normalised to UTC before they are stored (SQLAlchemy's SQLite
  DATETIME would otherwise drop the offset and keep the wall-clock time) and marked UTC when read back.
- :class:`Money`: ``NUMERIC(18, 2)`` (or another precision) read and written as :class:`~decimal.Decimal`.
  Values are rounded half away from zero to the column's scale on the way in, which is what PostgreSQL's
  ``numeric`` does, so both dialects keep the same value. SQLite has no decimal type and keeps a REAL; the 15
  significant digits of a double cover every amount below 10^13 at two decimals, and the value is re-quantised
  when read.
- :data:`JSON_TYPE`: ``JSON`` on SQLite, ``JSONB`` on PostgreSQL (comparable, so ``skip_unchanged`` upserts
  work). Python ``None`` is stored as SQL NULL, not as the JSON literal ``null``.
- :data:`JSON_TEXT_TYPE`: ``JSON`` on both, for large objects kept to be read back whole (``fb_orders.raw``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

UTC = dt.UTC
_combine = dt.datetime.combine


def to_utc(value: dt.datetime | str) -> dt.datetime:
    """An aware datetime (or ISO-8601 string with an offset) as an aware UTC datetime.

    Naive values are refused rather than guessed: a naive timestamp is almost always ``datetime.utcnow()`` or
    a local time, and storing it silently would shift every comparison against the watermarks.
    """
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.strip())
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a datetime or ISO-8601 string, got {type(value).__name__}: {value!r}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            f"naive datetime {value.isoformat()}: warehouse timestamps must be timezone-aware "
            "(use datetime.now(timezone.utc) or attach the zone)"
        )
    return value.astimezone(UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A time read from the warehouse as aware UTC: a naive one (SQLite's) is UTC, an aware one (PostgreSQL's,
    in the session's zone) converted. ``combine`` is ``replace(tzinfo=UTC)`` at a fifth of its cost (a keyword
    call of ``replace`` costs ten times SQLite's parse)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return _combine(value, value.time(), UTC)
    return value.astimezone(UTC)


#: how SQLAlchemy's SQLite DATETIME stores a datetime by default: what :meth:`UtcDateTime.fused_bind_processor`
#: writes without building its dict of fields per value
_SQLITE_DATETIME_FORMAT = "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"


def bind_processor_of(column_type: sa.types.TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The bind processor of a column of ``column_type`` for ``dialect``: our types' fused one (one function,
    without TypeDecorator's layers, for writers of many rows), else SQLAlchemy's."""
    fused = getattr(column_type, "fused_bind_processor", None)
    if fused is not None and (process := fused(dialect)) is not None:
        return process
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def _after(impl: Callable[[Any], Any] | None, read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``read`` of what the dialect's own processor ``impl`` returns (of the stored value without one)."""
    if impl is None:
        return read

    def process(value: Any) -> Any:
        return read(impl(value))

    return process


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """``DateTime(timezone=True)`` that always returns aware UTC datetimes, on every dialect."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Normalise to UTC; on SQLite store the UTC wall-clock time (it cannot keep an offset)."""
        if value is None:
            return None
        value = to_utc(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Attach UTC to SQLite's naive values; convert PostgreSQL's session-zone values to UTC."""
        return as_utc(value)

    def fused_bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """What :meth:`bind_processor` returns, in one function (same values, same refusals); None when a subclass
        binds its own way or the dialect's type is not the one this knows."""
        if type(self).process_bind_param is not UtcDateTime.process_bind_param:
            return None
        impl = self.impl_instance.dialect_impl(dialect)
        if dialect.name == "sqlite":
            if getattr(impl, "_storage_format", None) != _SQLITE_DATETIME_FORMAT:
                return None

            def stored(value: Any) -> str | None:
                # isoformat with microseconds is that format; its first 26 characters leave the UTC offset out
                if value is None:
                    return None
                if value.__class__ is not dt.datetime or value.tzinfo is not UTC:
                    value = to_utc(value)
                return value.isoformat(" ", "microseconds")[:26]

            return stored
        if impl.bind_processor(dialect) is not None:
            return None

        def utc(value: Any) -> dt.datetime | None:
            return None if value is None else to_utc(value)

        return utc

    def fused_result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        """What :meth:`result_processor` returns, in one function without TypeDecorator's layers (for readers
        of many rows on the driver); None when a subclass reads its own way (then ``result_processor``)."""
        if type(self).process_result_value is not UtcDateTime.process_result_value:
            return None
        return _after(self.impl_instance.result_processor(dialect, coltype), as_utc)


class Money(sa.types.TypeDecorator[Decimal]):
    """Exact decimal amount, ``NUMERIC(precision, scale)``, returned as :class:`~decimal.Decimal`.

    Floats are accepted but converted through their shortest repr (``0.1`` becomes ``Decimal("0.10")``, not
    ``0.1000000000000000055...``); amounts should arrive as ``Decimal`` or strings such as ``"12.34"``.
    """

    impl = sa.Numeric  # a class, so that Money(18, 4) gets NUMERIC(18, 4)
    cache_ok = True

    def __init__(self, precision: int = 18, scale: int = 2) -> None:
        super().__init__(precision, scale)
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def quantize(self, value: Any) -> Decimal | None:
        """The value as a Decimal rounded to the column's scale (half away from zero, like PostgreSQL)."""
        if type(value) is Decimal and value.is_finite():  # what is read back from PostgreSQL and SQLite
            return value.quantize(self._quantum, rounding=ROUND_HALF_UP)
        if value is None:
            return None
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, float):
            if math.isnan(value):  # pandas' missing value
                return None
            number = Decimal(repr(value))
        else:
            number = Decimal(str(value).strip())
        if not number.is_finite():
            raise ValueError(f"amount {value!r} is not a finite number")
        return number.quantize(self._quantum, rounding=ROUND_HALF_UP)

    def process_bind_param(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Round to the scale before storing, so SQLite keeps what PostgreSQL would keep."""
        return self.quantize(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """SQLite returns a float (or int): re-quantise it; PostgreSQL already returns a Decimal."""
        return self.quantize(value)

    def fused_bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """What :meth:`bind_processor` returns, in one function: :meth:`quantize`, then the dialect's own
        processor (SQLite: to a float); None when a subclass binds its own way."""
        if type(self).process_bind_param is not Money.process_bind_param:
            return None
        impl = self.impl_instance.dialect_impl(dialect).bind_processor(dialect)
        quantize = self.quantize
        if impl is None:
            return quantize

        def process(value: Any) -> Any:
            return impl(quantize(value))

        return process

    def fused_result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        """What :meth:`result_processor` returns, in one function without TypeDecorator's layers (SQLite:
        ``Decimal("%.2f" % stored float)``, then :meth:`quantize`); None when a subclass reads its own way."""
        if type(self).process_result_value is not Money.process_result_value:
            return None
        return _after(self.impl_instance.result_processor(dialect, coltype), self.quantize)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


JSON_TYPE = _json()
"""JSON on SQLite, JSONB on PostgreSQL; Python None is SQL NULL."""

JSON_TEXT_TYPE = sa.JSON(none_as_null=True)
"""JSON on both dialects; Python None is SQL NULL. PostgreSQL's ``json`` checks the text and keeps it as sent,
without building JSONB's binary form: a third cheaper to store for a value of a few kilobytes (0010_orders_raw).
Not comparable (``json`` has no ``=``: not for ``skip_unchanged`` upserts) nor indexable: for objects that are
read back whole, never queried into."""

RATE = sa.Numeric(12, 6)
"""Tax and fee rates such as 0.08875: more decimals than money."""
