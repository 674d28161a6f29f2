"""Every setting an operator or hook reads, parsed by one rule: the value as given, or a clear refusal.

Settings arrive as native values (a DAG param, a connection extra in JSON) or as the text a template rendered
(``"{{ params.update_only }}"`` gives ``"False"``, a Variable gives ``"15"``). Each parser here takes both, and
refuses with :class:`SettingError`, naming the setting and the value, whatever it cannot read exactly: a bad
value fails the task rather than being read as a default (``"maybe"`` is not false, ``"15.5"`` is not 15).

The rule, once for all:

- a boolean is ``True``/``False`` or one of ``true, yes, on, 1`` / ``false, no, off, 0`` (any case);
- a number is a finite int or float, or text that reads as one; a boolean is not a number;
- an integer is a number without a fractional part (``"15"``, ``"15.0"``, ``15``);
- a decimal (money, a rate) is read exactly as written (``"0.05"``, a float through its shortest repr), with at most
  the allowed number of decimals;
- a choice is one of the allowed words (any case, surrounding spaces ignored), returned in lower case;
- *unset* (``None``, empty text, or the text ``None`` a null param renders to) is the setting's ``default``
  when it has one, else ``None`` for an optional setting, else a refusal.

Nothing here imports Airflow: operators call these through ``FbCommerceOperator.setting``, which turns a
:class:`SettingError` into a task failure without retries (a retry would read the same value).
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection
from decimal import Decimal, InvalidOperation
from typing import Any

#: the spellings of a boolean setting (compared in lower case, without surrounding spaces)
TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})
#: the texts that mean "not set" (besides None): empty, and what a template renders for a null param
UNSET_TEXTS = frozenset({"", "none"})
_NO_DEFAULT: Any = object()


class SettingError(ValueError):
    """A setting whose value cannot be read exactly; the message names the setting and the value."""

    def __init__(self, name: str, value: Any, expected: str) -> None:
        super().__init__(f"setting {name} must be {expected}, got {value!r}")
        self.name = name
        self.value = value


def is_unset(value: Any) -> bool:
    """Whether ``value`` means "not set": None, empty text or the text ``None``."""
    return value is None or (isinstance(value, str) and value.strip().lower() in UNSET_TEXTS)


def is_bool_text(value: Any) -> bool:
    """Whether ``value`` is text spelling a boolean (``"on"``, ``"False"``...)."""
    return isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS


def _unset(name: str, value: Any, expected: str, default: Any, optional: bool) -> Any:
    if default is not _NO_DEFAULT:
        return default
    if optional:
        return None
    raise SettingError(name, value, expected)


def as_bool(value: Any, name: str, *, default: Any = _NO_DEFAULT) -> bool:
    """A boolean setting (see the module's rule); unset gives ``default``, or is refused without one."""
    expected = "true or false (also yes/no, on/off, 1/0)"
    if isinstance(value, bool):
        return value
    if is_unset(value):
        return bool(_unset(name, value, expected, default, optional=False))
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    word = value.strip().lower() if isinstance(value, str) else None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingError(name, value, expected)


def as_number(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    optional: bool = False,
    default: Any = _NO_DEFAULT,
) -> Any:
    """A number setting (float), within ``minimum``..``maximum`` when given; unset: ``default``, None when
    ``optional``, else refused."""
    expected = _range_text("a number", minimum, maximum)
    if is_unset(value):
        return _unset(name, value, expected, default, optional)
    if isinstance(value, bool):
        raise SettingError(name, value, expected)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingError(name, value, expected) from None
    if (
        not math.isfinite(number)
        or (minimum is not None and number < minimum)
        or (maximum is not None and number > maximum)
    ):
        raise SettingError(name, value, expected)
    return number


def as_int(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    optional: bool = False,
    default: Any = _NO_DEFAULT,
) -> Any:
    """A whole-number setting (int): a number without a fractional part, within the bounds when given."""
    expected = _range_text("a whole number", minimum, maximum)
    if is_unset(value):
        return _unset(name, value, expected, default, optional)
    try:
        number = as_number(value, name)
    except SettingError:
        raise SettingError(name, value, expected) from None
    if not float(number).is_integer():
        raise SettingError(name, value, expected)
    whole = int(number)
    if (minimum is not None and whole < minimum) or (maximum is not None and whole > maximum):
        raise SettingError(name, value, expected)
    return whole


def as_decimal(
    value: Any,
    name: str,
    *,
    places: int,
    minimum: float | None = None,
    maximum: float | None = None,
    default: Any = _NO_DEFAULT,
) -> Any:
    """An exact decimal setting (:class:`~decimal.Decimal`) with at most ``places`` decimals, within the bounds
    when given: ``"0.05"`` is 0.05, never 0.05000000000000000277; ``"0.001"`` is refused for ``places=2``."""
    expected = _range_text(f"a number with at most {places} decimals", minimum, maximum)
    if is_unset(value):
        return _unset(name, value, expected, default, optional=False)
    if isinstance(value, bool):
        raise SettingError(name, value, expected)
    quantum = Decimal(1).scaleb(-places)
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
        exact = number.is_finite() and number == number.quantize(quantum)
    except (InvalidOperation, ValueError):  # not a number, or too large to quantize
        raise SettingError(name, value, expected) from None
    if (
        not exact
        or (minimum is not None and number < Decimal(str(minimum)))
        or (maximum is not None and number > Decimal(str(maximum)))
    ):
        raise SettingError(name, value, expected)
    return number.quantize(quantum)


def as_choice(value: Any, name: str, choices: Collection[str], *, default: Any = _NO_DEFAULT) -> str:
    """One of ``choices`` (lower-case words), matched without regard to case or surrounding spaces."""
    expected = f"one of {', '.join(choices)}"
    if is_unset(value):
        return str(_unset(name, value, expected, default, optional=False))
    word = value.strip().lower() if isinstance(value, str) else None
    if word is None or word not in choices:
        raise SettingError(name, value, expected)
    return word


def as_text(value: Any, name: str, *, optional: bool = False, default: Any = _NO_DEFAULT) -> Any:
    """A text setting without surrounding spaces; unset: ``default``, None when ``optional``, else refused."""
    if is_unset(value):
        return _unset(name, value, "a text", default, optional)
    if not isinstance(value, str | os.PathLike):
        raise SettingError(name, value, "a text")
    return str(value).strip()


def _range_text(kind: str, minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{kind} between {minimum:g} and {maximum:g}"
    if minimum is not None:
        return f"{kind} of at least {minimum:g}"
    if maximum is not None:
        return f"{kind} of at most {maximum:g}"
    return kind
