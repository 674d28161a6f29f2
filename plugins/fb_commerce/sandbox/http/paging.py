"""Cursor paging: opaque cursors over sorted keys, pages that may come back short or empty.

Every listable collection keeps its keys in ascending sorted lists (one list per index partition, e.g. one per
order state); a page merges the partitions it needs from the cursor position, applies the remaining filters and
stops at ``limit`` matches or after examining ``budget`` keys. Like Graph, a page that examined its budget without a
match is returned empty but still carries ``next`` when keys remain, so clients must follow ``next`` to the end
instead of stopping at the first empty page.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..world.errors import invalid_param

Key = tuple[Any, ...]


def encode_cursor(k: Key) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(k), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Key:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid_param("Invalid cursor") from None
    if not isinstance(value, list):
        raise invalid_param("Invalid cursor")
    return tuple(value)


@dataclass
class Page:
    """One page of results and what the cursors should point at."""

    items: list[Any] = field(default_factory=list)
    first_key: Key | None = None
    last_key: Key | None = None
    has_next: bool = False
    has_previous: bool = False


def _ascending(src: Sequence[Key], start: int) -> Iterator[Key]:
    return (src[i] for i in range(start, len(src)))


def _descending(src: Sequence[Key], end: int) -> Iterator[Key]:
    return (src[i] for i in range(end - 1, -1, -1))


def scan(
    sources: Sequence[Sequence[Key]],
    accept: Callable[[Key], Any | None],
    *,
    limit: int,
    after: Key | None = None,
    before: Key | None = None,
    budget: int | None = None,
) -> Page:
    """Collect up to ``limit`` accepted objects after ``after`` (or before ``before``), examining at most ``budget``."""
    backwards_from = before if after is None else None
    backwards = backwards_from is not None
    if backwards_from is not None:
        iters = [_descending(s, bisect_left(s, backwards_from)) for s in sources]
        merged = heapq.merge(*iters, reverse=True) if len(iters) > 1 else iters[0] if iters else iter(())
    else:
        iters = [_ascending(s, bisect_right(s, after) if after is not None else 0) for s in sources]
        merged = heapq.merge(*iters) if len(iters) > 1 else iters[0] if iters else iter(())
    page = Page()
    examined = 0
    first: Key | None = None
    last: Key | None = None
    for k in merged:
        examined += 1  # noqa: SIM113 - counts what the loop examined, also after a break
        if first is None:
            first = k
        last = k
        obj = accept(k)
        if obj is not None:
            page.items.append(obj)
            if len(page.items) >= limit:
                break
        if budget is not None and examined >= budget:
            break
    more = next(merged, None) is not None
    if backwards:
        page.items.reverse()
        page.first_key, page.last_key = last, first
        page.has_previous, page.has_next = more, True
    else:
        page.first_key, page.last_key = first, last
        page.has_next = more
        page.has_previous = after is not None
    return page


def paging_block(page: Page, link: Callable[[str, str], str]) -> dict[str, Any] | None:
    """The ``paging`` object: cursors, and ``next``/``previous`` URLs built by ``link(param, cursor)``."""
    if page.first_key is None:
        return None
    before, after = encode_cursor(page.first_key), encode_cursor(page.last_key or page.first_key)
    block: dict[str, Any] = {"cursors": {"before": before, "after": after}}
    if page.has_previous:
        block["previous"] = link("before", before)
    if page.has_next:
        block["next"] = link("after", after)
    return block


def parse_limit(value: str | None, default: int, cap: int) -> int:
    """``limit``: an integer >= 1, silently capped like Graph does."""
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise invalid_param("limit must be an integer", field_name="limit") from None
    if limit < 1:
        raise invalid_param("limit must be a positive integer", field_name="limit")
    return min(limit, cap)
