"""Engine options for the order sync: a faster JSON serializer for the ``raw`` columns.

Every stored order and line keeps Meta's JSON in ``raw``; encoding it is the largest single cost of storing a
page with the standard library. msgspec (a dependency of Airflow itself) encodes the same values several times
faster and gives the same text for what the order sync stores: JSON decoded from Meta (strings, numbers, booleans,
null, lists, objects), plus Decimal as a string and dates as ISO-8601, like the warehouse's own serializer.
Without msgspec the engine keeps its default serializer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def fast_json_serializer() -> Callable[[Any], str] | None:
    """A ``json_serializer`` for :func:`sqlalchemy.create_engine`, or None when msgspec is not installed."""
    try:
        import msgspec
    except ImportError:  # pragma: no cover - Airflow installs it
        return None
    encoder = msgspec.json.Encoder(decimal_format="string")

    def serialize(value: Any) -> str:
        return encoder.encode(value).decode("utf-8")

    return serialize


def engine_options() -> dict[str, Any]:
    """Keyword arguments for the warehouse engine of the order sync's tasks."""
    serializer = fast_json_serializer()
    return {"json_serializer": serializer} if serializer else {}
