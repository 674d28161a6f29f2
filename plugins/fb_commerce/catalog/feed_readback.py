"""The inventory values a feed file carried, read back as sync-state rows once Meta accepted the upload.

After a feed, ``fb_catalog_sync_state`` must hold what Meta now has, or the next inventory sync would send the whole
catalog again. The file is the exact record of what Meta was sent (the source may have changed since it was
built), so the state is read from it: id, availability, quantity_to_sell_on_facebook, price and sale_price.
CSV and TSV are streamed with pyarrow's reader (five columns of a million rows in a few seconds); RSS XML item by
item.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from fb_commerce.catalog.inventory_delta import state_hash

COLUMNS = ("id", "availability", "quantity_to_sell_on_facebook", "price", "sale_price")
_PRICE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s+([A-Z]{3})\s*$")
_CENT = Decimal("0.01")


def parse_price(text: str | None) -> tuple[Decimal | None, str | None]:
    """``"19.90 USD"`` -> ``(Decimal("19.90"), "USD")``; ``(None, None)`` when empty or malformed."""
    match = _PRICE.match(text or "")
    if not match:
        return None, None
    return Decimal(match.group(1)).quantize(_CENT), match.group(2)


def state_row(values: dict[str, str | None]) -> dict[str, Any] | None:
    """A sync-state row from a feed row's text values (None without an id)."""
    retailer_id = (values.get("id") or "").strip()
    if not retailer_id:
        return None
    price, currency = parse_price(values.get("price"))
    sale_price, _ = parse_price(values.get("sale_price"))
    quantity_text = (values.get("quantity_to_sell_on_facebook") or "").strip()
    row = {
        "availability": (values.get("availability") or "").strip() or None,
        "quantity": int(quantity_text) if quantity_text.isdigit() else None,
        "price": price,
        "sale_price": sale_price,
        "currency": currency,
    }
    return {"retailer_id": retailer_id, **row, "row_hash": state_hash(row)}


def _delimited_rows(path: Path, delimiter: str, block_size: int) -> Iterator[dict[str, str | None]]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=block_size),
        # Descriptions may hold quoted line breaks.
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            include_columns=list(COLUMNS),
            include_missing_columns=True,  # sale_price is optional in the mapping
            column_types={name: pa.string() for name in COLUMNS},
        ),
    )
    for batch in reader:
        columns = [batch.column(name).to_pylist() for name in COLUMNS]
        for values in zip(*columns, strict=True):
            yield dict(zip(COLUMNS, values, strict=True))


def _xml_rows(path: Path) -> Iterator[dict[str, str | None]]:
    wanted = set(COLUMNS)
    for _, element in ET.iterparse(path, events=("end",)):
        if element.tag.rsplit("}", 1)[-1] not in ("item", "entry"):
            continue
        values: dict[str, str | None] = dict.fromkeys(COLUMNS)
        for child in element:
            name = child.tag.rsplit("}", 1)[-1]
            if name in wanted:
                values[name] = child.text
        element.clear()
        yield values


def read_feed_state(path: str | Path, fmt: str, *, block_size: int = 8 << 20) -> Iterator[dict[str, Any]]:
    """Sync-state rows for every product of the feed file at ``path`` (format "csv", "tsv" or "xml")."""
    path = Path(path)
    if fmt == "xml":
        rows = _xml_rows(path)
    else:
        rows = _delimited_rows(path, "\t" if fmt == "tsv" else ",", block_size)
    for values in rows:
        row = state_row(values)
        if row is not None:
            yield row
