"""Properties: on any text the validator and the writers do not crash; every row ends up either byte-exact in the
feed (CSV, TSV and XML read back to the same values) or in the rejects naming its field (never both, never
neither); and the validator and the sandbox's row checker (catalog/rules.py) give the same verdict on every row."""

from __future__ import annotations

import csv
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from fb_commerce.catalog import rules
from fb_commerce.catalog.feed import GOOGLE_NAMESPACE, FeedFile
from fb_commerce.catalog.text import as_text
from fb_commerce.catalog.validate import FeedValidator

COLUMNS = [
    "id",
    "title",
    "description",
    "availability",
    "condition",
    "price",
    "link",
    "image_link",
    "brand",
    "quantity_to_sell_on_facebook",
    "google_product_category",
    "sale_price",
    "sale_price_effective_date",
    "gtin",
    "additional_image_link",
    "gender",
]
VALID = {
    "id": "SKU-1",
    "title": "Shirt",
    "description": "Soft shirt.",
    "availability": "in stock",
    "condition": "new",
    "price": "10.00 USD",
    "link": "https://s.example.com/1",
    "image_link": "https://s.example.com/1.jpg",
    "brand": "Acme",
    "quantity_to_sell_on_facebook": "3",
    "google_product_category": "A > B",
    "sale_price": "9.00 USD",
    "sale_price_effective_date": "2026-01-01/2026-02-01",
    "gtin": "4006381333931",
    "additional_image_link": "https://s.example.com/2.jpg",
    "gender": "male",
}

# Any Unicode text Python can encode as UTF-8 (no lone surrogates): control characters, quotes, line breaks,
# delimiters, markup, and now and then a huge value.
anything = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
tricky = st.sampled_from(
    [
        "",
        " ",
        '"',
        '""',
        ",",
        "\t",
        "\n",
        "\r\n",
        "\r",
        "\x00",
        "<b>",
        "&amp;",
        "\ufeff",
        "\u00a0",
        "\uffff",
        "\u009b",
        "\u0085",
        "\ufffd",
        "x" * 12_000,
        "😀" * 60,
        "9,99 USD",
        "1 000,00 USD",
        "0.00 USD",
        "9.999999 USD",
        "10000000000000.00 USD",
        "HTTPS://s.example.com/1",
        "https://localhost/1",
        "19.999 KWD",
        "-1 USD",
        "1e3 USD",
    ]
)
# Values near the rules' edges, mutated: prices, quantities, URLs, dates, GTINs, enums.
digits = st.integers(0, 13).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n))
prices = st.builds(
    lambda whole, point, fraction, blank, currency: f"{whole}{point}{fraction}{blank}{currency}",
    st.one_of(
        digits,
        st.sampled_from(
            ["0", "00", "1", "19", "0000000001", "9999999999", "10000000000", "00012345678901", "000000000000"]
        ),
    ),
    st.sampled_from([".", ".", ".", "", ",", ".."]),
    st.one_of(st.text("0123456789", max_size=4), st.sampled_from(["", "0", "00", "000", "5", "50", "05", "999"])),
    st.sampled_from([" ", " ", " ", "  ", ""]),
    st.sampled_from(["USD", "USD", "USD", "EUR", "KWD", "BHD", "XYZ", "usd", "US"]),
)
near = st.one_of(
    prices,
    st.from_regex(r"\A-?[0-9]{1,11}\Z"),
    st.from_regex(r"\A(https?|HTTPS|ftp)://[a-z.]{0,12}(/[a-z ]{0,5})?\Z"),
    st.from_regex(
        r"\A[12][0-9]{3}-[01][0-9]-[0-3][0-9](T[0-2][0-9]:[0-5][0-9](Z|[+-][0-2][0-9]:?[0-5][0-9])?)?/"
        r"[12][0-9]{3}-[01][0-9]-[0-3][0-9]\Z"
    ),
    st.from_regex(r"\A[0-9]{7,15}\Z"),
    st.sampled_from(
        sorted(
            rules.AVAILABILITY
            | rules.AVAILABILITY_SDK_EXTRA
            | rules.CONDITION
            | rules.GENDER
            | rules.STATUS
            | {"In Stock", "NEW"}
        )
    ),
)


@st.composite
def product(draw: st.DrawFn) -> dict[str, str | None]:
    """A valid product (ids from a small pool, so some repeat) with 0 to 3 fields replaced by anything."""
    row: dict[str, str | None] = {**VALID, "id": f"SKU-{draw(st.integers(0, 40))}"}
    for column in draw(st.lists(st.sampled_from(COLUMNS), max_size=3)):
        edge = prices if column in ("price", "sale_price") else near
        row[column] = draw(st.one_of(st.none(), tricky, edge, near, anything))
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
        # XML reads back every value exactly too (carriage returns included); empty values are left out.
        read_back = [
            [(item.find(f"{g}{c}").text or "") if item.find(f"{g}{c}") is not None else "" for c in COLUMNS]
            for item in items
        ]
        assert read_back == expected
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


def _edge(column: str) -> st.SearchStrategy[str | None]:
    """Values of ``column`` near its rules' edges, or the valid value, or anything at all."""
    edge = prices if column in ("price", "sale_price") else near
    return st.one_of(st.just(VALID[column]), edge, edge, tricky, anything, st.none())


edgy_rows = st.fixed_dictionaries({c: _edge(c) for c in COLUMNS})


@settings(max_examples=400, deadline=None)
@given(data=st.lists(st.one_of(product(), edgy_rows), min_size=1, max_size=10), sdk=st.booleans(), zero=st.booleans())
@example(data=[{**VALID, "id": "\ufffd"}, {**VALID, "id": "\ufffd"}], sdk=False, zero=False)  # found by Hypothesis
def test_the_validator_and_the_sandbox_rules_agree(data: list[dict[str, str | None]], sdk: bool, zero: bool) -> None:
    """One rule table, two implementations (vectorised for the feed, row by row for the sandbox): same verdicts,
    same first reason per field, on every row (duplicate ids aside: the sandbox sees them across a whole file)."""
    checked = FeedValidator(COLUMNS, accept_sdk_values=sdk, allow_zero_price=zero).validate(as_batch(data))
    trimmed_rows = checked.checked.to_pylist()
    by_row: dict[int, set[tuple[str, str]]] = {}
    for reject in checked.rejects:
        if reject.reason != rules.Reason.DUPLICATE_ID:
            by_row.setdefault(reject.row_number, set()).add((reject.field, reject.reason))
    for number, values in enumerate(trimmed_rows, start=1):
        expected = set(rules.check_row(values, accept_sdk_values=sdk, allow_zero_price=zero).items())
        assert by_row.get(number, set()) == expected, values


@settings(max_examples=100, deadline=None)
@given(raw=st.lists(st.binary(max_size=12), min_size=1, max_size=10))
def test_bytes_that_are_not_utf8_are_rejected_with_their_field(raw: list[bytes]) -> None:
    """Bytes read from a source (SQLite keeps any bytes as TEXT) either decode exactly or reject their field."""
    titles = as_text(pa.array(raw, pa.binary()))
    data = [{**VALID, "id": f"SKU-{i}", "title": title} for i, title in enumerate(titles.to_pylist())]
    checked = FeedValidator(COLUMNS).validate(as_batch(data))
    rejected = {r.row_number for r in checked.rejects if r.field == "title"}
    for number, value in enumerate(raw, start=1):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            assert number in rejected
        else:
            if number not in rejected:
                assert checked.checked.column("title")[number - 1].as_py() == text.strip() or not text.strip()


#: Values on each side of every rule's edge, each tried alone in an otherwise valid row.
EDGES: list[tuple[str, str]] = [
    *[
        ("price", v)
        for v in [
            "0.50 USD",
            "0.00 USD",
            "0 USD",
            "0.01 USD",
            "9999999999.99 USD",
            "10000000000 USD",
            "0009999999999 USD",
            "1.999 USD",
            "1.999 KWD",
            "1.9999 KWD",
            "0.000 BHD",
            "1. USD",
            ".5 USD",
            "1,5 USD",
            "1 USD",
            "1.5 usd",
            "1.5 XYZ",
            "1.5  USD",
            "-1 USD",
        ]
    ],
    *[("sale_price", v) for v in ["9.99 USD", "10.00 USD", "10.01 USD", "9.99 EUR", "0.00 USD", "0.001 USD"]],
    *[
        ("link", v)
        for v in [
            "https://a.b",
            "http://a.b/c d",
            "HTTPS://a.b",
            "https://ab",
            "https://a.b:80/x?y#z",
            "https://é.example/p",
            "https://a.b/\u00a0",
        ]
    ],
    *[("quantity_to_sell_on_facebook", v) for v in ["0", "2147483647", "2147483648", "-1", "1.0", "1" * 19]],
    *[
        ("sale_price_effective_date", v)
        for v in [
            "2026-02-29/2026-03-01",
            "2028-02-29/2028-03-01",
            "2026-01-01T10:00+01:00/2026-01-01T09:30Z",
            "0999-01-01/2026-01-01",
            "2026-01-01/2026-01-01",
            "2026-13-01/2027-01-01",
        ]
    ],
    *[("gtin", v) for v in ["4006381333931", "4006381333932", "12345670", "1234567", "012345678905"]],
    *[("title", v) for v in ["x" * 200, "x" * 201, "a\u0080", "a\u00a0b", "a\ufffd", "a\ufffe", "a\r\nb", "a\x7f"]],
    *[("id", v) for v in ["a\tb", "a\u009bb", "x" * 100, "x" * 101]],
    *[("description", v) for v in ["<b>x</b>", "2 < 3", "<!-- c -->", "a<br/>b", "<3"]],
    *[("availability", v) for v in ["in stock", "preorder", "In stock"]],
    *[("google_product_category", v) for v in ["1604", "A > B", "A >", "A"]],
    *[
        ("additional_image_link", v)
        for v in [
            "https://a.b/1, https://a.b/2",
            "https://a.b/1,ftp://a.b",
            ",".join(["https://a.b/i"] * 21),
            "\x1chttps://a.b/1",
        ]
    ],
]


@pytest.mark.parametrize("sdk", [False, True])
@pytest.mark.parametrize("zero", [False, True])
@pytest.mark.parametrize(("column", "value"), EDGES)
def test_the_rules_agree_on_each_edge(column: str, value: str, sdk: bool, zero: bool) -> None:
    row = {**VALID, column: value}
    test_the_validator_and_the_sandbox_rules_agree.hypothesis.inner_test([row], sdk, zero)  # type: ignore[attr-defined]
