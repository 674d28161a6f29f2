"""Property: on any text the validator and the writers do not crash, and every row ends up either in the feed or in
the rejects (never both, never neither), with the feed holding exactly the good rows."""

from __future__ import annotations

import csv
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fb_commerce.catalog.feed import GOOGLE_NAMESPACE, FeedFile
from fb_commerce.catalog.validate import FeedValidator

COLUMNS = [
    "id", "title", "description", "availability", "condition", "price", "link", "image_link", "brand",
    "quantity_to_sell_on_facebook", "google_product_category", "sale_price", "sale_price_effective_date", "gtin",
    "additional_image_link", "gender",
]
VALID = {
    "id": "SKU-1", "title": "Shirt", "description": "Soft shirt.", "availability": "in stock", "condition": "new",
    "price": "10.00 USD", "link": "https://s.example.com/1", "image_link": "https://s.example.com/1.jpg",
    "brand": "Acme", "quantity_to_sell_on_facebook": "3", "google_product_category": "A > B",
    "sale_price": "9.00 USD", "sale_price_effective_date": "2026-01-01/2026-02-01", "gtin": "4006381333931",
    "additional_image_link": "https://s.example.com/2.jpg", "gender": "male",
}

# Any Unicode text Python can encode as UTF-8 (no lone surrogates): control characters, quotes, line breaks,
# delimiters, markup, and now and then a huge value.
anything = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
tricky = st.sampled_from(["", " ", '"', "\"\"", ",", "\t", "\n", "\r\n", "\r", "\x00", "<b>", "&amp;", "\ufeff",
                          "\u00a0", "\uffff", "x" * 12_000, "😀" * 60])


@st.composite
def product(draw: st.DrawFn) -> dict[str, str | None]:
    """A valid product (ids from a small pool, so some repeat) with 0 to 3 fields replaced by anything."""
    row: dict[str, str | None] = {**VALID, "id": f"SKU-{draw(st.integers(0, 40))}"}
    for column in draw(st.lists(st.sampled_from(COLUMNS), max_size=3)):
        row[column] = draw(st.one_of(st.none(), tricky, anything))
    return row


rows = st.lists(product(), min_size=0, max_size=25)


def as_batch(data: list[dict[str, str | None]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([r[c] for r in data], pa.string()) for c in COLUMNS], COLUMNS)


def trimmed(value: str | None) -> str:
    return (value or "").strip()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(rows, min_size=1, max_size=3))
def test_every_row_lands_in_the_feed_or_the_rejects(batches: list[list[dict[str, str | None]]]) -> None:
    validator = FeedValidator(COLUMNS)
    with tempfile.TemporaryDirectory() as folder:
        paths = {fmt: Path(folder) / f"feed.{fmt}" for fmt in ("csv", "tsv", "xml")}
        files = {fmt: FeedFile(path, COLUMNS, fmt) for fmt, path in paths.items()}  # type: ignore[arg-type]
        for feed in files.values():
            feed.__enter__()
        every_row: list[dict[str, str | None]] = []
        rejected_rows: set[int] = set()
        for data in batches:
            checked = validator.validate(as_batch(data))
            every_row.extend(data)
            rejected_rows |= {r.row_number for r in checked.rejects}
            assert checked.rows_rejected == len({r.row_number for r in checked.rejects})
            for feed in files.values():
                feed.write_all(checked.good_pieces(rows=7))
        for feed in files.values():
            feed.__exit__(None, None, None)

        expected = [
            [trimmed(row[c]) for c in COLUMNS]
            for number, row in enumerate(every_row, start=1)
            if number not in rejected_rows
        ]
        assert len(expected) + len(rejected_rows) == len(every_row)
        assert rejected_rows <= set(range(1, len(every_row) + 1))
        for fmt, delimiter in (("csv", ","), ("tsv", "\t")):
            with paths[fmt].open(newline="", encoding="utf-8") as handle:
                parsed = list(csv.reader(handle, delimiter=delimiter))
            assert parsed[0] == COLUMNS
            assert parsed[1:] == expected
        items = ET.parse(paths["xml"]).getroot().findall("./channel/item")
        g = f"{{{GOOGLE_NAMESPACE}}}"
        assert [item.find(f"{g}id").text for item in items] == [row[0] for row in expected]
        # ids of the feed are unique, and each is the first row with that id
        event(f"good rows: {min(len(expected), 3)}+, rejected: {min(len(rejected_rows), 3)}+")
        ids = [row[0] for row in expected]
        assert len(ids) == len(set(ids))


@settings(max_examples=100, deadline=None)
@given(data=st.lists(st.fixed_dictionaries({c: st.one_of(st.none(), tricky, anything) for c in COLUMNS}), max_size=20))
def test_fully_arbitrary_rows_are_counted_once(data: list[dict[str, str | None]]) -> None:
    checked = FeedValidator(COLUMNS).validate(as_batch(data))
    rejected = {r.row_number for r in checked.rejects}
    assert checked.rows_good + len(rejected) == len(data)
    assert all(r.value is None or len(r.value) <= 120 * 4 for r in checked.rejects)  # shortened (escapes widen)
