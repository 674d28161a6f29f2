"""Meta's product feed fields: which are required, their allowed values and limits (reference/graph-api.md §2.3).

Everything the validator knows about the feed format is here, as data, so that a change of Meta's rules is a change
of this file. Limits not given in the project's reference (size, color, mpn, item_group_id) come from Meta's
catalog fields page and are the conservative ones.
"""

from __future__ import annotations

# --- which fields ---------------------------------------------------------------------------------------------------

#: Required for every product (reference §2.3 "Required"; ``size`` is required only for apparel, so it is optional here).
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

#: Required for checkout on Facebook and Instagram (reference §2.3 "Checkout").
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
ISO_4217: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF
    CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL
    HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD
    MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
    TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()
)

# --- patterns (RE2 syntax: pyarrow.compute runs them) ---------------------------------------------------------------

#: "9.99 USD": digits, optional period and decimals, one space, three capital letters (the code is checked against
#: ISO_4217 separately so the reject says which part is wrong). Digits are bounded so an amount always fits a double.
PRICE_PATTERN = r"^(?P<amount>[0-9]{1,15}(?:\.[0-9]{1,6})?) (?P<currency>[A-Z]{3})$"
#: Absolute http(s) URL with a host and no whitespace anywhere.
URL_PATTERN = r"^(?i:https?)://[^\s/?#]+(?:[/?#]\S*)?$"
#: Something a browser would parse as an HTML tag or comment: "<p>", "</b>", "<br/>", '<a href="x">', "<!-- -->".
HTML_TAG_PATTERN = r"<(?:/?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?|!--[^>]*)>"
#: C0 control characters other than tab, line feed and carriage return, and DEL: Meta's parser and XML reject them.
CONTROL_CHAR_PATTERN = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"
QUANTITY_PATTERN = r"^[0-9]{1,18}$"
GTIN_PATTERN = r"^(?:[0-9]{8}|[0-9]{12,14})$"
#: A Google category: a numeric taxonomy id, or a path of at least 2 levels ("Apparel & Accessories > Clothing").
GOOGLE_CATEGORY_PATTERN = r"^[0-9]+$|[^>\s]\s*>\s*[^>\s]"
#: A Facebook category: a numeric id, or a path of at least 3 levels.
FB_CATEGORY_PATTERN = r"^[0-9]+$|[^>\s]\s*>.*[^>\s]\s*>\s*[^>\s]"

_ISO_DATE_TIME = (
    r"(?P<{p}date>[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})"
    r"(?:T(?P<{p}hm>(?:[01][0-9]|2[0-3]):[0-5][0-9])(?::(?P<{p}sec>[0-5][0-9]))?"
    r"(?P<{p}off>Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?)?"
)
#: "start/end", each an ISO-8601 date with an optional time (minutes or seconds) and UTC offset.
EFFECTIVE_DATE_PATTERN = "^" + _ISO_DATE_TIME.format(p="s_") + "/" + _ISO_DATE_TIME.format(p="e_") + "$"
