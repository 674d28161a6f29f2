"""``merchant_order_reference``: the OMS's name for an order, given once and never changed.

Meta shows the reference on the buyer's receipt and refuses a shipment whose reference differs from the one the
order was acknowledged with, so it must be unique and immutable. Each new order
gets one in the same transaction that stores it, before anything acknowledges it:

- an order Meta already knows a reference for (``merchant_order_id``, e.g. acknowledged by an earlier system)
  keeps Meta's;
- any other order gets the generator's value for the next number of a counter kept in ``fb_sync_state``, so
  numbers never repeat, even after orders are deleted.

The default generator gives ``FB-000123``. Another one is named by a dotted path (``package.module.function`` or
``package.module:function``) to a function ``(order_row, number) -> str``, where ``order_row`` is the fb_orders
row just stored (order_id, channel, created_at, ...).

The path names code that runs in the worker, so it is only taken from the deployment (the DAG's declared param
default or an Airflow Variable, never a run's conf; see ``PullOrdersOperator``), and :func:`load_generator` only
accepts a plain Python function (``def``) of an installed distribution:

- every part of the path is an identifier, none private (``_name``);
- its top-level package belongs to an installed distribution (``importlib.metadata``): a module of the standard
  library (``os``, ``subprocess``, ``builtins``...) or a file that is merely on ``sys.path`` (the dags folder, the
  working directory) is refused, and nothing is imported before that check;
- the object is a function defined in that same top-level package, so a builtin (``os.system``, ``eval``), a
  class, or a function re-exported from elsewhere is refused;
- it accepts ``(order_row, number)``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fb_commerce.warehouse.schema import fb_orders
from fb_commerce.warehouse.sync_state import read_extra, write_extra

ReferenceGenerator = Callable[[Mapping[str, Any], int], str]

#: the fb_sync_state row holding the last number handed out (in ``extra.last_number``)
COUNTER = "merchant_order_reference"
#: the longest reference accepted (Meta's limit is not documented; the sandbox takes 128)
MAX_LENGTH = 128
#: rounds of renumbering after a clash before giving up (a generator that ignores the number never escapes one)
MAX_ROUNDS = 5


class ReferenceGeneratorError(ValueError):
    """The configured generator is missing, not callable, or produced an unusable reference."""


def default_reference(order: Mapping[str, Any], number: int) -> str:
    """``FB-000123``: short, sortable, and obviously ours on a receipt."""
    return f"FB-{number:06d}"


@functools.lru_cache(maxsize=1)
def _installed_packages() -> frozenset[str]:
    """Top-level packages of the installed distributions, without the standard library's names (scanning the
    distributions takes a while: cached, and scanned again when a name is missing)."""
    return frozenset(importlib.metadata.packages_distributions()) - frozenset(sys.stdlib_module_names)


def _is_installed(top: str) -> bool:
    if top in _installed_packages():
        return True
    _installed_packages.cache_clear()
    return top in _installed_packages()


def load_generator(path: str | None) -> ReferenceGenerator:
    """The function at ``path`` (``pkg.module.func`` or ``pkg.module:func``); the default when empty.

    Refused with :class:`ReferenceGeneratorError` unless it is a plain function of an installed distribution
    that takes ``(order_row, number)`` (see the module docstring for the rule).
    """
    if not path or not str(path).strip():
        return default_reference
    path = str(path).strip()
    module_name, _, attribute = path.rpartition(":") if ":" in path else path.rpartition(".")
    if not module_name or not attribute:
        raise ReferenceGeneratorError(
            f"reference generator {path!r} is not a dotted path such as 'package.module.function'"
        )
    parts = [*module_name.split("."), attribute]
    if not all(part.isidentifier() and not part.startswith("_") for part in parts):
        raise ReferenceGeneratorError(
            f"reference generator {path!r}: each part must be a public Python name (no '_name', no spaces)"
        )
    top = parts[0]
    if not _is_installed(top):
        raise ReferenceGeneratorError(
            f"reference generator {path!r} is not in an installed package: {top!r} is the standard library or "
            "no distribution's package; install the generator's package (pip) and name its function"
        )
    try:
        generator = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ReferenceGeneratorError(f"reference generator {path!r} cannot be imported: {exc}") from exc
    defined_in = getattr(generator, "__module__", None) or ""
    if not inspect.isfunction(generator) or defined_in.split(".")[0] != top:
        raise ReferenceGeneratorError(
            f"reference generator {path!r} is not a function defined in the package {top!r} "
            f"({type(generator).__name__} from {defined_in or 'unknown'}): builtins, classes and re-exported "
            "functions are refused"
        )
    try:
        inspect.signature(generator).bind({}, 1)
    except TypeError as exc:
        raise ReferenceGeneratorError(f"reference generator {path!r} must take (order_row, number): {exc}") from None
    return generator


def _checked(reference: Any, order_id: str) -> str:
    if not isinstance(reference, str) or not reference.strip() or len(reference) > MAX_LENGTH:
        raise ReferenceGeneratorError(
            f"the reference generator gave {reference!r} for order {order_id}: "
            f"it must return a non-empty string of at most {MAX_LENGTH} characters"
        )
    return reference


def _take_numbers(connection: Connection, count: int) -> range:
    """Reserve ``count`` numbers from the counter, in the caller's transaction (row-locked on PostgreSQL)."""
    extra = read_extra(connection, COUNTER, lock=True) or {}
    last = int(extra.get("last_number", 0))
    write_extra(connection, COUNTER, {**extra, "last_number": last + count})
    return range(last + 1, last + count + 1)


def _taken(connection: Connection, references: Iterable[str]) -> set[str]:
    wanted = list(references)
    if not wanted:
        return set()
    query = sa.select(fb_orders.c.merchant_order_reference).where(fb_orders.c.merchant_order_reference.in_(wanted))
    return set(connection.execute(query).scalars())


def generate_references(
    connection: Connection, orders: Sequence[Mapping[str, Any]], generator: ReferenceGenerator
) -> dict[str, str]:
    """New references for ``orders`` (fb_orders rows), numbered from the counter, in the caller's transaction.

    A value already used by another order (a reference adopted from Meta that happens to look like ours) is
    skipped and the order takes the next number, so the unique constraint never fails a whole page.
    """
    assigned: dict[str, str] = {}
    pending = list(orders)
    for _round in range(MAX_ROUNDS):
        if not pending:
            return assigned
        numbers = _take_numbers(connection, len(pending))
        candidates = {
            str(order["order_id"]): _checked(generator(order, number), str(order["order_id"]))
            for order, number in zip(pending, numbers, strict=True)
        }
        if len(set(candidates.values())) != len(candidates):
            raise ReferenceGeneratorError("the reference generator gave the same reference to two orders")
        clash = _taken(connection, candidates.values()) | set(assigned.values())
        assigned.update({oid: ref for oid, ref in candidates.items() if ref not in clash})
        pending = [order for order in pending if str(order["order_id"]) not in assigned]
    if not pending:
        return assigned
    raise ReferenceGeneratorError(
        f"the reference generator keeps giving references already in use (orders "
        f"{', '.join(str(o['order_id']) for o in pending[:5])}): make it use the number it is given"
    )


def set_references(connection: Connection, references: Mapping[str, str]) -> None:
    """Store references on orders that have none; an order's reference is never overwritten."""
    if not references:
        return
    statement = (
        sa.update(fb_orders)
        .where(fb_orders.c.order_id == sa.bindparam("b_order_id"), fb_orders.c.merchant_order_reference.is_(None))
        .values(merchant_order_reference=sa.bindparam("b_reference"))
    )
    rows = [{"b_order_id": oid, "b_reference": ref} for oid, ref in references.items()]
    connection.execute(statement, rows)
