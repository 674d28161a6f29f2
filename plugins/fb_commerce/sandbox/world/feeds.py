"""Reading a feed file (CSV, TSV or Google-namespaced RSS/ATOM XML) row by row, with per-row errors.

Runs in a background thread, one row at a time, so a large file never sits in memory whole. A row missing a required
field or with a malformed price/enum/link is rejected (``fatal``); other problems drop the field (``warning``).
Row numbers are file lines as a spreadsheet shows them: the header is row 1, the first item row 2 (XML: item n is
row n).
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from sys import intern
from urllib.parse import urlsplit

from .catalog_fields import FATAL, KNOWN, WARNING, check_row
from .model import FeedError, Product

csv.field_size_limit(10_000_000)

#: Hosts Meta cannot reach when it visits a product's link (the demo's internal staging shop): a row that passes
#: every feed rule and is still refused at upload, as Meta does with a page it cannot load.
UNREACHABLE_HOSTS = frozenset({"shop-staging.example.com"})


@dataclass
class ParseResult:
    """What a feed file holds: valid products, every id named (valid or not), and errors by kind."""

    products: dict[str, Product] = field(default_factory=dict)
    named_ids: set[str] = field(default_factory=set)
    errors: dict[str, FeedError] = field(default_factory=dict)
    detected: int = 0
    invalid: int = 0

    def add(self, severity: str, summary: str, description: str, row: int, retailer_id: str) -> None:
        err = self.errors.get(summary)
        if err is None:
            error_type = summary.upper().replace(" ", "_")
            err = self.errors[summary] = FeedError(summary, description, severity, error_type)
        err.rows.append((row, retailer_id))

    @property
    def fatal_count(self) -> int:
        return sum(len(e.rows) for e in self.errors.values() if e.severity == FATAL)

    @property
    def warning_count(self) -> int:
        return sum(len(e.rows) for e in self.errors.values() if e.severity == WARNING)


def parse_feed(path: Path) -> ParseResult:
    result = ParseResult()
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf").lstrip()
    rows = _xml_rows(path) if head.startswith(b"<") else _text_rows(path, result)
    for row_number, values in rows:
        result.detected += 1
        _take_row(result, row_number, values)
    return result


def failed(summary: str, description: str) -> ParseResult:
    """A session that could not read its file at all (e.g. the URL did not answer)."""
    result = ParseResult()
    result.add(FATAL, summary, description, 0, "")
    return result


def _text_rows(path: Path, result: ParseResult) -> Iterator[tuple[int, dict[str, str]]]:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        line_no = 0
        header_line = ""
        for header_line in fh:  # "# ref_application_id ..." comments may precede the header
            line_no += 1
            if not header_line.startswith("#") and header_line.strip():
                break
        delimiter = "\t" if "\t" in header_line else ","
        header = [h.strip().lower() for h in next(csv.reader(io.StringIO(header_line), delimiter=delimiter))]
        for name in header:
            if name and name not in KNOWN:
                result.add(
                    WARNING,
                    f"Unknown field {name}",
                    f"The column {name!r} is not a catalog field; it was ignored",
                    1,
                    "",
                )
        reader = csv.reader(fh, delimiter=delimiter)
        for offset, row in enumerate(reader, start=line_no + 1):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            yield (
                offset,
                {
                    name: value.strip()
                    for name, value in zip(header, row, strict=False)
                    if name in KNOWN and value.strip()
                },
            )


def _xml_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    n = 0
    for _, elem in ET.iterparse(path, events=("end",)):
        tag = elem.tag.rsplit("}", 1)[-1]
        if tag not in ("item", "entry"):
            continue
        n += 1
        values: dict[str, str] = {}
        for child in elem:
            name = child.tag.rsplit("}", 1)[-1]
            if name in KNOWN and child.text and child.text.strip():
                values[name] = child.text.strip()
        elem.clear()
        yield n, values


def _take_row(result: ParseResult, row: int, values: dict[str, str]) -> None:
    retailer_id = values.get("id", "")
    if retailer_id:
        result.named_ids.add(retailer_id)
    fatal = False
    for name, severity, summary, description in check_row(values):
        result.add(severity, summary, description, row, retailer_id)
        if severity == FATAL:
            fatal = True
        else:
            values.pop(name, None)
    link = values.get("link", "")
    if not fatal and urlsplit(link).hostname in UNREACHABLE_HOSTS:
        result.add(FATAL, "Invalid link", f"link {link!r}: the page could not be reached", row, retailer_id)
        fatal = True
    if not fatal and retailer_id in result.products:
        result.add(WARNING, "Duplicate id", "The id appears more than once; the last row wins", row, retailer_id)
    if fatal:
        result.invalid += 1
        return
    result.products[retailer_id] = product_from(values)


def product_from(values: dict[str, str], product_id: str = "") -> Product:
    """A Product from checked feed values (the id is assigned when the session is applied)."""
    quantity = values.get("quantity_to_sell_on_facebook") or values.get("inventory")
    extra = {k: v for k, v in values.items() if k not in _CORE} or None
    return Product(
        id=product_id,
        retailer_id=values["id"],
        title=values["title"],
        description=values["description"],
        price=values["price"],
        availability=intern(values["availability"]),
        condition=intern(values["condition"]),
        brand=intern(values["brand"]),
        link=values["link"],
        image_link=values["image_link"],
        quantity=int(quantity) if quantity else None,
        sale_price=values.get("sale_price"),
        extra=extra,
    )


_CORE = frozenset(
    {
        "id",
        "title",
        "description",
        "price",
        "availability",
        "condition",
        "brand",
        "link",
        "image_link",
        "quantity_to_sell_on_facebook",
        "inventory",
        "sale_price",
    }
)
