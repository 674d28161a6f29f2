"""Where the feed mapping SQL lives and how it is loaded.

The mapping is a plain SELECT in ``include/sql/catalog/feed_mapping.sql`` that turns the merchant's columns into
Meta's feed fields, so a merchant changes SQL, not Python. ``include/`` is the repository's folder when the package
runs from the source tree; ``$FB_COMMERCE_INCLUDE_DIR`` points elsewhere (an image that copies include/ to another
place, a merchant's own mapping folder).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fb_commerce.catalog.rejects import FeedError
from fb_commerce.warehouse.paths import repo_root

INCLUDE_DIR_ENV = "FB_COMMERCE_INCLUDE_DIR"
MAPPING_FILE = Path("sql") / "catalog" / "feed_mapping.sql"


class FeedMappingError(FeedError):
    """The mapping's columns cannot make a feed (a required column is absent, a name is repeated)."""


def column_names(names: Sequence[str]) -> tuple[str, ...]:
    """The mapping's column names as feed fields (trimmed, lower case); repeated names are an error, since a
    feed column must have one meaning (and PostgreSQL refuses to select an ambiguous name)."""
    columns = tuple(name.strip().lower() for name in names)
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise FeedMappingError(f"the feed mapping names these columns more than once: {', '.join(repeated)}")
    return columns


#: A mapping option: a comment line of its own, ``-- fb-commerce-option: <name>``.
_OPTION_LINE = re.compile(r"^[ \t]*--[ \t]*fb-commerce-option:[ \t]*(?P<name>\S*)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class MappingOptions:
    """What a mapping explicitly opts into, by comment lines in its SQL (documented in include/sql/catalog/README.md).

    ``allow_zero_price``: a price or sale price of 0 is shipped (free products) instead of rejected.
    """

    allow_zero_price: bool = False


def mapping_options(sql: str) -> MappingOptions:
    """The options the mapping ``sql`` declares; an unknown option name is an error (a typo must not be ignored)."""
    names = [match["name"] for match in _OPTION_LINE.finditer(sql)]
    known = set(MappingOptions.__dataclass_fields__)
    unknown = sorted(set(names) - known)
    if unknown:
        raise FeedMappingError(
            f"the feed mapping declares unknown options: {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return MappingOptions(**dict.fromkeys(names, True))


def include_dir() -> Path:
    """The include/ folder: ``$FB_COMMERCE_INCLUDE_DIR``, else ``<repo>/include``, else ``./include``."""
    configured = os.environ.get(INCLUDE_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    root = repo_root()
    return (root if root is not None else Path.cwd()) / "include"


def default_mapping_path() -> Path:
    """``<include>/sql/catalog/feed_mapping.sql``."""
    return include_dir() / MAPPING_FILE


def load_query(query: str | Path | None = None) -> str:
    """The mapping SQL: the default file for None, a file for a Path (or a one-line string ending in ``.sql``),
    else ``query`` itself as SQL text."""
    if query is None:
        query = default_mapping_path()
    if isinstance(query, str) and query.strip().lower().endswith(".sql") and "\n" not in query.strip():
        query = Path(query.strip())
    if isinstance(query, Path):
        if not query.is_file():
            raise FeedError(
                f"feed mapping {query} not found; set {INCLUDE_DIR_ENV} to the folder holding sql/catalog/ or "
                f"pass the SQL itself"
            )
        query = query.read_text(encoding="utf-8")
    if not query.strip():
        raise FeedError("the feed mapping SQL is empty")
    return query


def _top_level_semicolons(sql: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Positions of the semicolons outside literals, quoted names and comments, and the spans of the comments."""
    semicolons: list[int] = []
    comments: list[tuple[int, int]] = []
    index, size = 0, len(sql)
    while index < size:
        char = sql[index]
        if char in "'\"":
            close = sql.find(char, index + 1)
            while close != -1 and sql.startswith(char * 2, close):  # a doubled quote stays inside
                close = sql.find(char, close + 2)
            index = size if close == -1 else close + 1
        elif sql.startswith("--", index):
            end = sql.find("\n", index)
            end = size if end == -1 else end
            comments.append((index, end))
            index = end
        elif sql.startswith("/*", index):
            end = sql.find("*/", index + 2)
            end = size if end == -1 else end + 2
            comments.append((index, end))
            index = end
        else:
            if char == ";":
                semicolons.append(index)
            index += 1
    return semicolons, comments


def without_comments(query: str) -> str:
    """``query`` with its comments blanked out (literals and quoted names kept): what a bind-parameter parser such
    as ``sa.text()`` should see, since it does not know that ``:name`` in a comment is no parameter."""
    _, comments = _top_level_semicolons(query)
    for start, end in reversed(comments):
        query = query[:start] + " " + query[end:]
    return query


def strip_query(query: str) -> str:
    """The mapping as one statement to nest in a subquery: trailing semicolons and comments after them removed,
    ending in a newline (so a last ``--`` comment cannot swallow the closing parenthesis around it).

    Raises :class:`FeedError` when the text holds more than one statement.
    """
    semicolons, comments = _top_level_semicolons(query)
    if semicolons:
        first = semicolons[0]
        rest = query[first:]
        for start, end in reversed([(s - first, e - first) for s, e in comments if s > first]):
            rest = rest[:start] + rest[end:]
        if rest.replace(";", "").strip():
            raise FeedError("the feed mapping must be a single SELECT statement (found more after a semicolon)")
        query = query[:first]
    return query.strip() + "\n"
