"""The feed row rules: ONE table that the feed validator and the Graph API sandbox both apply.

Which fields are required, their allowed values, limits and patterns, the reject reasons, and a plain-Python
checker of one row (:func:`check_row`, :func:`check_field`). The validator (:mod:`fb_commerce.catalog.validate`)
applies the same rules vectorised on Arrow batches; the sandbox imports this module for its feed and items_batch
row checks, so a row Meta would refuse is quarantined before upload, and a test holds the two implementations to
the same verdicts. The rules and their sources (Meta's documentation) are listed in docs/catalog-rules.md.

Plain module: no pyarrow, no Airflow, no sandbox import (the sandbox may import this, never the other way).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

# --- which fields ---------------------------------------------------------------------------------------------------

#: Required for every product (Meta's catalog fields page; ``size`` is required only for apparel, so it is
#: optional here).
REQUIRED_FIELDS: tuple[str, ...] = (
    "id",
    "title",
    "description",
    "availability",
    "condition",
    "price",
    "link",
    "image_link",
    "brand",
)

#: Required for checkout on Facebook and Instagram.
CHECKOUT_FIELDS: tuple[str, ...] = ("quantity_to_sell_on_facebook",)

#: At least one of these must be set on each product (used for tax and Purchase Protection).
CATEGORY_FIELDS: tuple[str, ...] = ("google_product_category", "fb_product_category")

#: Optional fields the validator checks when present; a mapping may output any other column too (written as is).
CHECKED_OPTIONAL_FIELDS: tuple[str, ...] = (
    "sale_price",
    "sale_price_effective_date",
    "item_group_id",
    "gtin",
    "mpn",
    "size",
    "color",
    "gender",
    "status",
    "additional_image_link",
)

#: Other fields Meta documents; written as is, without checks beyond control characters.
OTHER_KNOWN_FIELDS: tuple[str, ...] = (
    "commerce_tax_category",
    "rich_text_description",
    "shipping",
    "shipping_profile_reference_id",
    "shipping_weight",
    "custom_label_0",
    "custom_label_1",
    "custom_label_2",
    "custom_label_3",
    "custom_label_4",
    "age_group",
    "material",
    "pattern",
    "product_type",
    "visibility",
    "origin_country",
    "additional_variant_attribute",
    "disabled_capabilities",
    "short_description",
    "video",
)

#: Every column a mapping must produce (the category pair is checked separately: one of the two is enough).
MANDATORY_COLUMNS: tuple[str, ...] = REQUIRED_FIELDS + CHECKOUT_FIELDS

KNOWN_FIELDS: frozenset[str] = frozenset(
    MANDATORY_COLUMNS + CATEGORY_FIELDS + CHECKED_OPTIONAL_FIELDS + OTHER_KNOWN_FIELDS
)

# --- enums ----------------------------------------------------------------------------------------------------------
# Decision: only the documented values are accepted by default. The Python SDK's enums list more (below), but the
# feed fields page documents only these, and a value Meta's feed parser does not know is a fatal error at upload
# time, i.e. a product silently missing from the shop. ``accept_sdk_values=True`` on the validator accepts the extras
# for merchants whose feeds already use them. Values are case-sensitive (Meta documents lower case; a mapping can
# LOWER() its columns).

AVAILABILITY: frozenset[str] = frozenset({"in stock", "out of stock"})
AVAILABILITY_SDK_EXTRA: frozenset[str] = frozenset(
    {"available for order", "preorder", "discontinued", "pending", "mark_as_sold", "mark_as_expired"}
)
CONDITION: frozenset[str] = frozenset({"new", "refurbished", "used"})
CONDITION_SDK_EXTRA: frozenset[str] = frozenset({"used_like_new", "used_good", "used_fair", "cpo", "open_box_new"})
GENDER: frozenset[str] = frozenset({"female", "male", "unisex"})
STATUS: frozenset[str] = frozenset({"active", "archived"})

# --- limits (characters, as Meta counts them: Unicode code points) --------------------------------------------------

MAX_LENGTH: dict[str, int] = {
    "id": 100,
    "title": 200,
    "description": 9999,
    "brand": 100,
    "item_group_id": 100,
    "mpn": 100,
    "size": 200,
    "color": 200,
}
MAX_ADDITIONAL_IMAGES = 20
#: quantity_to_sell_on_facebook is a 32-bit signed integer on Meta's side.
MAX_QUANTITY = 2_147_483_647
GTIN_LENGTHS: tuple[int, ...] = (8, 12, 13, 14)

# --- ISO 4217 -------------------------------------------------------------------------------------------------------
# The circulating currencies of ISO 4217 (list of 2025, with the codes replaced since 2023 kept so an older source does
# not fail overnight). Fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW), precious metals (XAU, XAG, XPD, XPT)
# and the testing/no-currency codes (XTS, XXX, XDR, XSU, XUA, XBA..XBD) are left out on purpose: they are ISO codes
# but no product is priced in them.
_ISO_4217_CODES = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP "
    "GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD "
    "KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO "
    "NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL "
    "SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV "
    "WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL"
)
ISO_4217: frozenset[str] = frozenset(_ISO_4217_CODES.split())

# --- prices ---------------------------------------------------------------------------------------------------------
#: Decimals a price may carry. Meta's format is "9.99 USD"; a price with six decimals was refused at upload, and a
#: value Meta would round is a price the merchant did not set, so more decimals are a reject, never rounded.
#: Currencies whose ISO 4217 minor unit is a thousandth take three.
MAX_PRICE_DECIMALS = 2
THREE_DECIMAL_CURRENCIES: frozenset[str] = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
#: Digits before the decimal point (leading zeros not counted): at most 9,999,999,999.99. Meta documents no upper
#: bound; 10,000,000,000,000.00 was refused at upload. Conservative (unconfirmed): ten digits.
MAX_PRICE_INTEGER_DIGITS = 10

# --- patterns -------------------------------------------------------------------------------------------------------
# Written so that RE2 (pyarrow.compute, the validator) and Python's re (check_row, the sandbox) read them the same:
# anchored with ^...$ (Python runs them with fullmatch, so "$" cannot match before a trailing newline), and
# whitespace spelled out as ASCII classes (Python's \s is Unicode-aware, RE2's is not).

_WS = r" \t\n\r\f\v"
#: "9.99 USD": digits, optional period and decimals, one space, three capital letters. How many decimals and
#: digits, and whether the code is ISO 4217, are checked apart so the reject says which part is wrong.
PRICE_PATTERN = r"^(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))? (?P<currency>[A-Z]{3})$"
#: Absolute http(s) URL: lower-case scheme (Meta refused "HTTPS://"), a host with a dot, no whitespace anywhere.
URL_PATTERN = rf"^https?://[^{_WS}/?#]+\.[^{_WS}/?#]+(?:[/?#][^{_WS}]*)?$"
#: Something a browser would parse as an HTML tag or comment: "<p>", "</b>", "<br/>", '<a href="x">', "<!-- -->".
HTML_TAG_PATTERN = rf"<(?:/?[A-Za-z][A-Za-z0-9:-]*(?:[{_WS}][^<>]*)?/?|!--[^>]*)>"
#: Control characters (C0 but tab, line feed and carriage return; DEL; C1 U+0080..U+009F) and the
#: non-characters U+FFFE/U+FFFF. Meta's parser and XML refuse them. Ids take no tab or line break either.
CONTROL_CHAR_PATTERN = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]"
ID_CONTROL_CHAR_PATTERN = "[\x00-\x1f\x7f-\x9f\ufffe\uffff]"
#: U+FFFD, the replacement character: what bytes that were not valid UTF-8 became when read. Never meant text.
REPLACEMENT_CHAR = "\ufffd"
QUANTITY_PATTERN = r"^[0-9]{1,18}$"
GTIN_PATTERN = r"^(?:[0-9]{8}|[0-9]{12,14})$"
#: A Google category: a numeric taxonomy id, or a path of at least 2 levels ("Apparel & Accessories > Clothing").
GOOGLE_CATEGORY_PATTERN = rf"^[0-9]+$|[^>{_WS}][{_WS}]*>[{_WS}]*[^>{_WS}]"
#: A Facebook category: a numeric id, or a path of at least 3 levels.
FB_CATEGORY_PATTERN = rf"^[0-9]+$|[^>{_WS}][{_WS}]*>.*[^>{_WS}][{_WS}]*>[{_WS}]*[^>{_WS}]"
#: Separators of additional_image_link's list entries: a comma, with ASCII blanks around an entry trimmed.
URL_LIST_BLANKS = " \t\n\r\f\v"

_ISO_DATE_TIME = (
    r"(?P<{p}date>[12][0-9]{{3}}-[0-9]{{2}}-[0-9]{{2}})"
    r"(?:T(?P<{p}hm>(?:[01][0-9]|2[0-3]):[0-5][0-9])(?::(?P<{p}sec>[0-5][0-9]))?"
    r"(?P<{p}off>Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?)?"
)
#: "start/end", each an ISO-8601 date (years 1000..2999) with an optional time (minutes or seconds) and UTC offset.
EFFECTIVE_DATE_PATTERN = "^" + _ISO_DATE_TIME.format(p="s_") + "/" + _ISO_DATE_TIME.format(p="e_") + "$"


class Reason:
    """The reject reasons: stable sentences (counted and shown as they are), values kept apart in the reject."""

    MISSING = "missing (required)"
    TOO_LONG = "longer than {limit} characters"
    DUPLICATE_ID = "duplicate id (an earlier row has the same id)"
    HTML = "contains HTML tags (plain text only)"
    CONTROL = "contains control characters (C0 but tab and line breaks, DEL, C1, U+FFFE/U+FFFF)"
    BAD_UTF8 = "not valid UTF-8 (bytes that are not text, read as U+FFFD)"
    NOT_IN = "not one of: {values}"
    PRICE_FORMAT = "not a price like '9.99 USD' (amount with a period, one space, ISO 4217 code)"
    PRICE_DECIMALS = (
        f"more than {MAX_PRICE_DECIMALS} decimals ({MAX_PRICE_DECIMALS + 1} for "
        f"{', '.join(sorted(THREE_DECIMAL_CURRENCIES))}); a price is exact, never rounded"
    )
    PRICE_TOO_LARGE = f"more than {MAX_PRICE_INTEGER_DIGITS} digits before the decimal point"
    PRICE_ZERO = "zero (allow it in the mapping with '-- fb-commerce-option: allow_zero_price')"
    CURRENCY = "unknown ISO 4217 currency code"
    URL = "not an absolute http(s) URL (lower-case scheme, a host, no blanks)"
    QUANTITY = "not a whole number of 0 or more"
    QUANTITY_TOO_LARGE = f"larger than {MAX_QUANTITY}"
    CATEGORY_MISSING = "missing: set google_product_category or fb_product_category"
    GOOGLE_CATEGORY = "not a category id or a path of at least 2 levels ('Apparel & Accessories > Clothing')"
    FB_CATEGORY = "not a category id or a path of at least 3 levels ('Clothing & Accessories > Clothing > Tops')"
    SALE_CURRENCY = "currency differs from the price's"
    SALE_ABOVE_PRICE = "higher than price"
    DATES_FORMAT = "not 'start/end' ISO-8601 dates (2026-01-31T00:00+00:00/2026-02-28T23:59+00:00)"
    DATES_INVALID = "not a real date or time"
    DATES_ORDER = "end is not after start"
    GTIN_FORMAT = "not 8, 12, 13 or 14 digits"
    GTIN_CHECK_DIGIT = "wrong check digit"
    TOO_MANY_IMAGES = f"more than {MAX_ADDITIONAL_IMAGES} URLs"
    IMAGE_URL = "an entry is not an absolute http(s) URL"


def not_in_reason(allowed: frozenset[str] | set[str]) -> str:
    """The NOT_IN reason for ``allowed`` values (sorted, so the sentence is stable)."""
    return Reason.NOT_IN.format(values=", ".join(sorted(allowed)))


# --- what Meta does with a bad value (the sandbox plays it) ---------------------------------------------------------
# Meta's upload sessions report each problem as "fatal" (the item is rejected) or "warning" (the field is dropped,
# the rest ingested). A bad value of a required field is fatal; of an optional field, a warning. The validator
# quarantines the row either way: a product missing its sale price or its stock is not the product the merchant meant.
FATAL, WARNING = "fatal", "warning"
#: Required by Meta's feed parser (a bad or missing value rejects the item).
META_FATAL_FIELDS: frozenset[str] = frozenset(REQUIRED_FIELDS)


def meta_severity(field: str) -> str:
    """How Meta treats a bad value of ``field``: :data:`FATAL` or :data:`WARNING`."""
    return FATAL if field in META_FATAL_FIELDS else WARNING


# --- the rules, one value or one row at a time (the sandbox; tests hold the validator to the same verdicts) ---------


def _compiled(pattern: str) -> re.Pattern[str]:
    # No DOTALL: RE2's "." does not match a line feed either.
    return re.compile(pattern)


_PRICE_RE = _compiled(PRICE_PATTERN)
_URL_RE = _compiled(URL_PATTERN)
_HTML_RE = _compiled(HTML_TAG_PATTERN)
_CONTROL_RE = _compiled(CONTROL_CHAR_PATTERN)
_ID_CONTROL_RE = _compiled(ID_CONTROL_CHAR_PATTERN)
_QUANTITY_RE = _compiled(QUANTITY_PATTERN)
_GTIN_RE = _compiled(GTIN_PATTERN)
_GOOGLE_RE = _compiled(GOOGLE_CATEGORY_PATTERN)
_FB_RE = _compiled(FB_CATEGORY_PATTERN)
_DATES_RE = _compiled(EFFECTIVE_DATE_PATTERN)
_TEXT_LIMITED = ("title", "description", "brand", "item_group_id", "mpn", "size", "color")


def price_problem(value: str, *, allow_zero: bool = False) -> str | None:
    """The reason ``value`` is not a price Meta takes exactly, or None."""
    match = _PRICE_RE.fullmatch(value)
    if match is None:
        return Reason.PRICE_FORMAT
    if match["currency"] not in ISO_4217:
        return Reason.CURRENCY
    whole, fraction = match["int"], match["frac"] or ""
    if len(fraction) > MAX_PRICE_DECIMALS + (match["currency"] in THREE_DECIMAL_CURRENCIES):
        return Reason.PRICE_DECIMALS
    if len(whole.lstrip("0")) > MAX_PRICE_INTEGER_DIGITS:
        return Reason.PRICE_TOO_LARGE
    if not allow_zero and not whole.strip("0") and not fraction.strip("0"):
        return Reason.PRICE_ZERO
    return None


def _gtin_ok(value: str) -> bool:
    digits = [int(c) for c in value.rjust(14, "0")]
    weights = [3, 1] * 6 + [3]
    return (10 - sum(d * w for d, w in zip(digits[:13], weights, strict=True)) % 10) % 10 == digits[13]


def _instant(match: re.Match[str], p: str) -> dt.datetime | None:
    """One side of "start/end" as an aware datetime; None when the date or time does not exist."""
    hour_minute, seconds, offset = match[f"{p}hm"] or "00:00", match[f"{p}sec"] or "00", match[f"{p}off"] or "Z"
    try:
        day = dt.date.fromisoformat(match[f"{p}date"])
    except ValueError:
        return None
    sign, digits = (1, "0000") if offset == "Z" else (1 if offset[0] == "+" else -1, offset[1:].replace(":", ""))
    zone = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return dt.datetime(
        day.year, day.month, day.day, int(hour_minute[:2]), int(hour_minute[3:]), int(seconds), tzinfo=zone
    )


def dates_problem(value: str) -> str | None:
    """The reason a sale_price_effective_date value is refused, or None."""
    match = _DATES_RE.fullmatch(value)
    if match is None:
        return Reason.DATES_FORMAT
    start, end = _instant(match, "s_"), _instant(match, "e_")
    if start is None or end is None:
        return Reason.DATES_INVALID
    return None if end > start else Reason.DATES_ORDER


def check_field(name: str, value: str, *, accept_sdk_values: bool = True, allow_zero_price: bool = False) -> str | None:
    """The first reason the present (non-empty, trimmed) ``value`` of field ``name`` breaks a rule, or None.

    Only the rules of the value itself: presence, duplicates and the rules between fields are :func:`check_row`'s.
    """
    problem = _value_problem(name, value, accept_sdk_values=accept_sdk_values, allow_zero_price=allow_zero_price)
    if problem is not None:
        return problem
    if (_ID_CONTROL_RE if name == "id" else _CONTROL_RE).search(value):
        return Reason.CONTROL
    return Reason.BAD_UTF8 if REPLACEMENT_CHAR in value else None


def _value_problem(name: str, value: str, *, accept_sdk_values: bool, allow_zero_price: bool) -> str | None:
    """The field's own rules, in the validator's order (the first reason of a field is the one reported)."""
    limit = MAX_LENGTH.get(name)
    if limit is not None and len(value) > limit:
        return Reason.TOO_LONG.format(limit=limit)
    if name == "description" and _HTML_RE.search(value):
        return Reason.HTML
    enums = {
        "availability": AVAILABILITY | (AVAILABILITY_SDK_EXTRA if accept_sdk_values else frozenset()),
        "condition": CONDITION | (CONDITION_SDK_EXTRA if accept_sdk_values else frozenset()),
        "gender": GENDER,
        "status": STATUS,
    }
    if name in enums:
        return None if value in enums[name] else not_in_reason(enums[name])
    if name in ("price", "sale_price"):
        return price_problem(value, allow_zero=allow_zero_price)
    if name in ("link", "image_link"):
        return None if _URL_RE.fullmatch(value) else Reason.URL
    if name == "quantity_to_sell_on_facebook":
        if not _QUANTITY_RE.fullmatch(value):
            return Reason.QUANTITY
        return Reason.QUANTITY_TOO_LARGE if int(value) > MAX_QUANTITY else None
    if name == "google_product_category":
        return None if _GOOGLE_RE.search(value) else Reason.GOOGLE_CATEGORY
    if name == "fb_product_category":
        return None if _FB_RE.search(value) else Reason.FB_CATEGORY
    if name == "sale_price_effective_date":
        return dates_problem(value)
    if name == "gtin":
        if not _GTIN_RE.fullmatch(value):
            return Reason.GTIN_FORMAT
        return None if _gtin_ok(value) else Reason.GTIN_CHECK_DIGIT
    if name == "additional_image_link":
        entries = value.split(",")
        if len(entries) > MAX_ADDITIONAL_IMAGES:
            return Reason.TOO_MANY_IMAGES
        if not all(_URL_RE.fullmatch(entry.strip(URL_LIST_BLANKS)) for entry in entries):
            return Reason.IMAGE_URL
    return None


def check_row(
    values: Mapping[str, str | None],
    *,
    accept_sdk_values: bool = True,
    allow_zero_price: bool = False,
    checkout: bool = True,
) -> dict[str, str]:
    """Every broken rule of one product as {field: first reason}; empty when the row passes whole.

    ``values`` are the row's fields, trimmed; None or "" means absent. The id's uniqueness is not checked here
    (it needs the other rows). With ``checkout`` the fields checkout needs (quantity, a category) are required too.
    Defaults are Meta's own stance on enums (the SDK's extra values pass); the validator's defaults are stricter
    (see :class:`~fb_commerce.catalog.validate.FeedValidator`).
    """
    present = {name: value for name, value in values.items() if value}
    found: dict[str, str] = {}
    for name in MANDATORY_COLUMNS if checkout else REQUIRED_FIELDS:
        if name not in present:
            found[name] = Reason.MISSING
    if checkout and not any(name in present for name in CATEGORY_FIELDS):
        found[CATEGORY_FIELDS[0]] = Reason.CATEGORY_MISSING
    for name, value in present.items():
        problem = check_field(name, value, accept_sdk_values=accept_sdk_values, allow_zero_price=allow_zero_price)
        if problem is not None:
            found[name] = problem
    sale, price = present.get("sale_price"), present.get("price")
    if sale and price and "sale_price" not in found and "price" not in found:
        problem = sale_price_problem(sale, price)
        if problem is not None:
            found["sale_price"] = problem
    return found


def sale_price_problem(sale: str, price: str) -> str | None:
    """The reason a sale price is refused next to the price (both valid prices on their own), or None."""
    sale_match, price_match = _PRICE_RE.fullmatch(sale), _PRICE_RE.fullmatch(price)
    assert sale_match is not None and price_match is not None
    if sale_match["currency"] != price_match["currency"]:
        return Reason.SALE_CURRENCY
    if _amount(sale_match) > _amount(price_match):
        return Reason.SALE_ABOVE_PRICE
    return None


def _amount(match: re.Match[str]) -> float:
    # At most 10 + 2 significant digits once checked: a float compares them exactly, as the validator does.
    return float(f"{match['int']}.{match['frac'] or '0'}")
