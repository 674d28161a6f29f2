"""Each reject reason of the feed validator on its own, plus what must pass.

Every case starts from one good product and changes one field, so a case fails only if that one rule is broken.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from fb_commerce.catalog.rejects import Reject
from fb_commerce.catalog.validate import FeedMappingError, FeedValidator, Reason, ValidatedBatch, check_columns

GOOD: dict[str, str | None] = {
    "id": "SKU-1",
    "title": "Organic cotton shirt",
    "description": 'A soft shirt, with "pockets".\nMachine washable.',
    "availability": "in stock",
    "condition": "new",
    "price": "19.99 USD",
    "link": "https://shop.example.com/p/sku-1",
    "image_link": "https://cdn.example.com/sku-1.jpg",
    "brand": "Acme",
    "quantity_to_sell_on_facebook": "5",
    "google_product_category": "Apparel & Accessories > Clothing",
    "fb_product_category": "",
    "sale_price": "",
    "sale_price_effective_date": "",
    "item_group_id": "",
    "gtin": "",
    "mpn": "",
    "size": "",
    "color": "",
    "gender": "",
    "status": "",
    "additional_image_link": "",
}


def batch_of(*rows: dict[str, str | None]) -> pa.RecordBatch:
    names = list(GOOD)
    return pa.RecordBatch.from_arrays([pa.array([row.get(n) for row in rows], pa.string()) for n in names], names)


def product(**changes: str | None) -> dict[str, str | None]:
    return {**GOOD, **changes}


def validate(*rows: dict[str, str | None], **options: bool) -> ValidatedBatch:
    return FeedValidator(list(GOOD), **options).validate(batch_of(*rows))


def problems(**changes: str | None) -> list[tuple[str, str]]:
    """(field, reason) of the rejects of one product with ``changes``."""
    checked = validate(product(**changes))
    assert checked.rows_read == 1
    assert checked.rows_rejected == (1 if checked.rejects else 0)
    return [(r.field, r.reason) for r in checked.rejects]


def test_the_good_product_passes() -> None:
    checked = validate(product())
    assert checked.rejects == []
    assert checked.good.to_pylist() == [{**GOOD}]


# --- id -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   "])
def test_id_missing(value: str | None) -> None:
    assert problems(id=value) == [("id", Reason.MISSING)]


def test_id_longer_than_100_characters() -> None:
    assert problems(id="x" * 101) == [("id", "longer than 100 characters")]
    assert problems(id="é" * 100) == []  # characters, not bytes


@pytest.mark.parametrize("value", ["SKU\x001", "SKU\t1", "SKU\n1"])
def test_id_with_control_characters_or_line_breaks(value: str) -> None:
    assert problems(id=value) == [("id", Reason.CONTROL)]


def test_duplicate_id_rejects_the_later_rows_only() -> None:
    checked = validate(product(id="A"), product(id="B"), product(id="A"), product(id="A"))
    assert [(r.row_number, r.field, r.reason, r.retailer_id) for r in checked.rejects] == [
        (3, "id", Reason.DUPLICATE_ID, "A"),
        (4, "id", Reason.DUPLICATE_ID, "A"),
    ]
    assert [row["id"] for row in checked.good.to_pylist()] == ["A", "B"]


def test_duplicate_id_across_batches_and_row_numbers_run_on() -> None:
    validator = FeedValidator(list(GOOD))
    first = validator.validate(batch_of(product(id="A"), product(id="B")))
    second = validator.validate(batch_of(product(id="C"), product(id="A")))
    assert first.rejects == []
    assert [(r.row_number, r.reason) for r in second.rejects] == [(4, Reason.DUPLICATE_ID)]


def test_a_rejected_first_occurrence_still_makes_later_ids_duplicates() -> None:
    checked = validate(product(id="A", price="bad"), product(id="A"))
    assert [(r.row_number, r.field) for r in checked.rejects] == [(1, "price"), (2, "id")]


# --- text fields ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        "title",
        "description",
        "availability",
        "condition",
        "price",
        "link",
        "image_link",
        "brand",
        "quantity_to_sell_on_facebook",
    ],
)
def test_required_field_missing(field: str) -> None:
    assert problems(**{field: ""}) == [(field, Reason.MISSING)]


def test_whitespace_only_is_missing_and_values_are_trimmed() -> None:
    assert problems(title=" \t\u00a0 ") == [("title", Reason.MISSING)]
    checked = validate(product(title="  Shirt  ", availability=" in stock\u3000"))
    assert checked.rejects == []
    assert checked.good.to_pylist()[0]["title"] == "Shirt"
    assert checked.good.to_pylist()[0]["availability"] == "in stock"


def test_title_longer_than_200() -> None:
    assert problems(title="t" * 201) == [("title", "longer than 200 characters")]
    assert problems(title="t" * 200) == []


def test_description_longer_than_9999() -> None:
    assert problems(description="d" * 10_000) == [("description", "longer than 9999 characters")]
    assert problems(description="d" * 9_999) == []


@pytest.mark.parametrize(
    "html",
    [
        "<p>Soft</p>",
        "Soft<br/>shirt",
        'see <a href="x">here</a>',
        "x <!-- note --> y",
        "<B>bold</B>",
        "<img src=x.jpg>",
    ],
)
def test_description_with_html_tags(html: str) -> None:
    assert problems(description=html) == [("description", Reason.HTML)]


@pytest.mark.parametrize("text", ["fits 2 < 3 sizes", "I <3 it", "a < b > c", "x<5 and y>3", "&amp; entities ok"])
def test_description_with_angle_brackets_that_are_not_tags(text: str) -> None:
    assert problems(description=text) == []


def test_brand_longer_than_100() -> None:
    assert problems(brand="b" * 101) == [("brand", "longer than 100 characters")]


@pytest.mark.parametrize("field", ["title", "description", "brand", "size"])
def test_control_characters(field: str) -> None:
    assert problems(**{field: "bad\x07value"}) == [(field, Reason.CONTROL)]
    assert problems(**{field: "del\x7fvalue"}) == [(field, Reason.CONTROL)]


@pytest.mark.parametrize("value", ["x\uffff", "\ufffey", "SKU\uffff"])
def test_unicode_non_characters(value: str) -> None:
    assert problems(title=value) == [("title", Reason.CONTROL)]
    assert problems(id=value) == [("id", Reason.CONTROL)]


def test_other_characters_of_the_same_block_pass() -> None:
    assert problems(title="\uff01 fullwidth \uffef ok \ufffc") == []


def test_tabs_and_line_breaks_are_allowed_in_text() -> None:
    assert problems(description="line one\r\nline\ttwo") == []


# --- enums ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["In Stock", "instock", "available"])
def test_availability_not_documented(value: str) -> None:
    assert problems(availability=value) == [("availability", "not one of: in stock, out of stock")]


def test_availability_sdk_values_only_when_accepted() -> None:
    assert problems(availability="preorder") != []
    assert validate(product(availability="preorder"), accept_sdk_values=True).rejects == []


def test_condition_not_documented() -> None:
    assert problems(condition="mint") == [("condition", "not one of: new, refurbished, used")]
    assert problems(condition="used_like_new") != []
    assert validate(product(condition="used_like_new"), accept_sdk_values=True).rejects == []


def test_gender_enum() -> None:
    assert problems(gender="boy") == [("gender", "not one of: female, male, unisex")]
    assert problems(gender="unisex") == []


def test_status_enum() -> None:
    assert problems(status="deleted") == [("status", "not one of: active, archived")]
    assert problems(status="archived") == []


# --- price ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "19,99 USD",
        "$19.99",
        "19.99USD",
        "19.99 usd",
        "19.99  USD",
        "-1.00 USD",
        "19.99 US",
        "USD 19.99",
        "1.2.3 USD",
        "1e3 USD",
    ],
)
def test_price_format(value: str) -> None:
    assert problems(price=value) == [("price", Reason.PRICE_FORMAT)]


@pytest.mark.parametrize("value", ["19 EUR", "0.5 GBP", "1999 JPY", "19.999 BHD", "0.01 USD", "9999999999.99 USD"])
def test_price_formats_accepted(value: str) -> None:
    assert problems(price=value) == []


@pytest.mark.parametrize("value", ["19.99 XYZ", "19.99 XXX", "19.99 XAU"])
def test_price_unknown_currency(value: str) -> None:
    assert problems(price=value) == [("price", Reason.CURRENCY)]


@pytest.mark.parametrize("field", ["price", "sale_price"])
@pytest.mark.parametrize("value", ["9.999999 USD", "19.990 USD", "1.001 EUR", "1.0001 KWD"])
def test_price_with_more_decimals_than_the_currency_has(field: str, value: str) -> None:
    """Never rounded: a price Meta would round (or refuse) is a reject."""
    assert problems(**{field: value}) == [(field, Reason.PRICE_DECIMALS)]


@pytest.mark.parametrize("field", ["price", "sale_price"])
@pytest.mark.parametrize("value", ["10000000000000.00 USD", "10000000000 USD", "99999999999.99 EUR"])
def test_price_too_large(field: str, value: str) -> None:
    assert problems(**{field: value}) == [(field, Reason.PRICE_TOO_LARGE)]


def test_zero_in_a_three_decimal_currency() -> None:
    assert problems(price="0.000 KWD", sale_price="") == [("price", Reason.PRICE_ZERO)]


def test_price_leading_zeros_do_not_count_as_digits() -> None:
    assert problems(price="0009999999999.99 USD") == []


@pytest.mark.parametrize("field", ["price", "sale_price"])
@pytest.mark.parametrize("value", ["0.00 USD", "0 USD", "000.0 USD"])
def test_zero_price_is_a_reject_unless_allowed(field: str, value: str) -> None:
    assert problems(**{field: value}) == [(field, Reason.PRICE_ZERO)]
    assert validate(product(**{field: value}), allow_zero_price=True).rejects == []


@pytest.mark.parametrize("field", ["link", "image_link"])
@pytest.mark.parametrize("value", ["HTTPS://shop.example.com/p", "Http://shop.example.com/p", "https://localhost/p"])
def test_url_scheme_in_upper_case_or_host_without_a_dot(field: str, value: str) -> None:
    assert problems(**{field: value}) == [(field, Reason.URL)]


@pytest.mark.parametrize("value", ["a\u0080b", "CSI \u009b[31m", "x\u009f", "next\u0085line"])
@pytest.mark.parametrize("field", ["title", "description", "brand", "color", "id"])
def test_c1_control_characters(field: str, value: str) -> None:
    assert problems(**{field: value}) == [(field, Reason.CONTROL)]


@pytest.mark.parametrize("value", ["Caf\ufffd", "\ufffd"])
@pytest.mark.parametrize("field", ["title", "description", "gender", "id"])
def test_replacement_character_marks_bytes_that_were_not_utf8(field: str, value: str) -> None:
    reasons = problems(**{field: value})
    assert reasons[-1] == (field, Reason.BAD_UTF8) if field != "gender" else reasons[0][0] == "gender"


def test_latin1_supplement_characters_pass() -> None:
    assert problems(title="\u00a0£ © ° é \u00bf") == []


def test_sale_price_format_and_currency() -> None:
    assert problems(sale_price="15 dollars") == [("sale_price", Reason.PRICE_FORMAT)]
    assert problems(sale_price="15.00 ABC") == [("sale_price", Reason.CURRENCY)]


def test_sale_price_in_another_currency() -> None:
    assert problems(sale_price="15.00 EUR") == [("sale_price", Reason.SALE_CURRENCY)]


def test_sale_price_above_price() -> None:
    assert problems(sale_price="20.00 USD") == [("sale_price", Reason.SALE_ABOVE_PRICE)]
    assert problems(sale_price="19.99 USD") == []
    assert problems(sale_price="9.5 USD") == []


# --- URLs ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["link", "image_link"])
@pytest.mark.parametrize(
    "value",
    [
        "shop.example.com/p/1",
        "//shop.example.com/p",
        "ftp://shop.example.com/p",
        "https://",
        "https://shop example.com/p",
        "https://shop.example.com/a b",
        "/p/1",
    ],
)
def test_not_an_absolute_http_url(field: str, value: str) -> None:
    assert problems(**{field: value}) == [(field, Reason.URL)]


@pytest.mark.parametrize(
    "value", ["http://shop.example.com", "https://Shop.Example.com/p?x=1#top", "https://shop.example.com:8443/p/1"]
)
def test_absolute_urls_pass(value: str) -> None:
    assert problems(link=value) == []


def test_additional_image_links() -> None:
    urls = [f"https://cdn.example.com/{i}.jpg" for i in range(21)]
    assert problems(additional_image_link=",".join(urls[:20])) == []
    assert problems(additional_image_link=", ".join(urls[:3])) == []
    assert problems(additional_image_link=",".join(urls)) == [("additional_image_link", Reason.TOO_MANY_IMAGES)]
    bad = "https://cdn.example.com/1.jpg,cdn.example.com/2.jpg"
    assert problems(additional_image_link=bad) == [("additional_image_link", Reason.IMAGE_URL)]


# --- quantity ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "1.5", "5.0", "abc", "+3", "1 000"])
def test_quantity_not_a_whole_number(value: str) -> None:
    assert problems(quantity_to_sell_on_facebook=value) == [("quantity_to_sell_on_facebook", Reason.QUANTITY)]


def test_quantity_bounds() -> None:
    assert problems(quantity_to_sell_on_facebook="0") == []
    assert problems(quantity_to_sell_on_facebook="2147483647") == []
    assert problems(quantity_to_sell_on_facebook="2147483648") == [
        ("quantity_to_sell_on_facebook", Reason.QUANTITY_TOO_LARGE)
    ]


# --- categories ----------------------------------------------------------------------------------------------------


def test_no_category_at_all() -> None:
    assert problems(google_product_category="") == [("google_product_category", Reason.CATEGORY_MISSING)]


def test_one_category_is_enough() -> None:
    assert problems(google_product_category="", fb_product_category="Clothing > Tops > Shirts") == []
    assert problems(google_product_category="1604") == []


def test_google_category_needs_two_levels() -> None:
    assert problems(google_product_category="Apparel") == [("google_product_category", Reason.GOOGLE_CATEGORY)]


def test_fb_category_needs_three_levels() -> None:
    assert problems(fb_product_category="Clothing > Tops") == [("fb_product_category", Reason.FB_CATEGORY)]


# --- sale dates ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-01",
        "2026-01-01 to 2026-02-01",
        "01/01/2026/02/01/2026",
        "2026-01-01T25:00/2026-02-01",
        "2026-1-1/2026-2-1",
    ],
)
def test_sale_dates_format(value: str) -> None:
    assert problems(sale_price_effective_date=value) == [("sale_price_effective_date", Reason.DATES_FORMAT)]


@pytest.mark.parametrize("value", ["2026-02-30/2026-03-01", "2026-13-01/2027-01-01", "2025-02-29/2025-03-01"])
def test_sale_dates_that_do_not_exist(value: str) -> None:
    assert problems(sale_price_effective_date=value) == [("sale_price_effective_date", Reason.DATES_INVALID)]


@pytest.mark.parametrize(
    "value", ["2026-03-01/2026-02-01", "2026-01-01T10:00/2026-01-01T10:00", "2026-01-01T10:00+02:00/2026-01-01T07:00Z"]
)
def test_sale_dates_out_of_order(value: str) -> None:
    assert problems(sale_price_effective_date=value) == [("sale_price_effective_date", Reason.DATES_ORDER)]


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-01/2026-02-01",
        "2024-02-29/2024-03-01",
        "2026-01-01T00:00:00+00:00/2026-02-01T23:59:59+00:00",
        "2026-01-01T10:00+0200/2026-01-01T09:00Z",
    ],
)
def test_sale_dates_accepted(value: str) -> None:
    assert problems(sale_price_effective_date=value) == []


# --- gtin and lengths ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["123", "123456789", "123456789012345", "ABCDEFGH", "4006381333931X"])
def test_gtin_format(value: str) -> None:
    assert problems(gtin=value) == [("gtin", Reason.GTIN_FORMAT)]


@pytest.mark.parametrize("value", ["4006381333932", "12345671", "036000291453", "10012345678903"])
def test_gtin_check_digit(value: str) -> None:
    assert problems(gtin=value) == [("gtin", Reason.GTIN_CHECK_DIGIT)]


@pytest.mark.parametrize("value", ["4006381333931", "12345670", "036000291452", "10012345678902"])
def test_gtin_valid(value: str) -> None:
    assert problems(gtin=value) == []


@pytest.mark.parametrize(("field", "limit"), [("item_group_id", 100), ("mpn", 100), ("size", 200), ("color", 200)])
def test_optional_lengths(field: str, limit: int) -> None:
    assert problems(**{field: "v" * (limit + 1)}) == [(field, f"longer than {limit} characters")]
    assert problems(**{field: "v" * limit}) == []


# --- records -------------------------------------------------------------------------------------------------------


def test_a_row_with_several_problems_is_one_rejected_row_with_every_field() -> None:
    checked = validate(product(title="", price="", link="nope", brand="b" * 101))
    assert checked.rows_rejected == 1
    assert [(r.field, r.reason) for r in checked.rejects] == [
        ("title", Reason.MISSING),
        ("price", Reason.MISSING),  # only the first problem of a field: not also "not a price"
        ("link", Reason.URL),
        ("brand", "longer than 100 characters"),
    ]


def test_reject_record_fields() -> None:
    checked = validate(product(), product(id="SKU-2", price="12,00 EUR", description="x" * 20_000))
    assert checked.rejects == [
        Reject(2, "SKU-2", "description", "longer than 9999 characters", "x" * 119 + "…"),
        Reject(2, "SKU-2", "price", Reason.PRICE_FORMAT, "12,00 EUR"),
    ]


def test_a_bad_id_is_not_reported_as_the_retailer_id() -> None:
    checked = validate(product(id="x" * 150, price="oops"))
    assert {r.retailer_id for r in checked.rejects} == {None}
    assert checked.rejects[0].value.endswith("…") and len(checked.rejects[0].value) == 120
    assert [r.row_number for r in checked.rejects] == [1, 1]


def test_good_rows_keep_order_and_pieces_match_good() -> None:
    rows = [product(id=f"S{i}", price="bad" if i % 3 == 0 else "1.00 USD") for i in range(10)]
    checked = validate(*rows)
    pieces = list(checked.good_pieces(rows=4))
    assert [r["id"] for p in pieces for r in p.to_pylist()] == [r["id"] for r in checked.good.to_pylist()]
    assert [r["id"] for r in checked.good.to_pylist()] == [f"S{i}" for i in range(10) if i % 3]


def test_non_string_columns_are_validated_as_text() -> None:
    names = list(GOOD)
    arrays = [pa.array([GOOD[n]], pa.string()) for n in names]
    arrays[names.index("quantity_to_sell_on_facebook")] = pa.array([7], pa.int64())
    arrays[names.index("gtin")] = pa.array([None], pa.null())
    checked = FeedValidator(names).validate(pa.RecordBatch.from_arrays(arrays, names))
    assert checked.rejects == []
    assert checked.good.to_pylist()[0]["quantity_to_sell_on_facebook"] == "7"


# --- mapping columns -----------------------------------------------------------------------------------------------


def test_columns_are_normalised() -> None:
    assert check_columns([" ID", "Title", *list(GOOD)[2:]])[:2] == ("id", "title")


def test_a_required_column_missing_from_the_mapping() -> None:
    with pytest.raises(FeedMappingError, match="brand"):
        check_columns([c for c in GOOD if c != "brand"])


def test_no_category_column_in_the_mapping() -> None:
    with pytest.raises(FeedMappingError, match="google_product_category or fb_product_category"):
        check_columns([c for c in GOOD if not c.endswith("product_category")])


def test_a_repeated_column() -> None:
    with pytest.raises(FeedMappingError, match="more than once: title"):
        check_columns([*GOOD, "TITLE"])


def test_unknown_columns_are_kept_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert check_columns([*GOOD, "warehouse_bin"])[-1] == "warehouse_bin"
    assert "warehouse_bin" in caplog.text
