"""Vectorised checks over Arrow string arrays: each returns a numpy boolean mask, True where a value is bad.

No Python loop over rows here: a batch costs a handful of pyarrow.compute kernels or numpy passes per field. Every
function takes the values (already trimmed) and ``present``, the mask of non-empty values, and only ever flags
present values, so a missing optional field is never "badly formatted".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fb_commerce.catalog import rules
from fb_commerce.catalog.text import string_buffers

GTIN_WIDTH = 14
# GTIN check digit (GS1): from the right, data digits weigh 3, 1, 3, ...; left-padded to 14 digits, positions
# 0..12 weigh 3 on even positions and 1 on odd ones, position 13 is the check digit.
_GTIN_WEIGHTS = np.array([3, 1] * 6 + [3], dtype=np.int64)
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_CONTROL_BYTES = np.zeros(256, dtype=bool)
_CONTROL_BYTES[:0x20] = True
_CONTROL_BYTES[[0x09, 0x0A, 0x0D]] = False  # tab, line feed, carriage return are fine (quoted in CSV, &#13; in XML)
_CONTROL_BYTES[0x7F] = True
_CONTROL_BYTES[0xC2] = True  # candidate for C1 (U+0080..U+009F: C2 80..C2 9F), confirmed by _rows_with_bytes
_CONTROL_BYTES[0xEF] = True  # candidate for U+FFFE/U+FFFF (EF BF BE / EF BF BF), confirmed by _rows_with_bytes
_CONTROL_OR_BREAK_BYTES = _CONTROL_BYTES.copy()
_CONTROL_OR_BREAK_BYTES[[0x09, 0x0A, 0x0D]] = True
_REPLACEMENT_BYTES = np.zeros(256, dtype=bool)
_REPLACEMENT_BYTES[0xEF] = True  # U+FFFD is EF BF BD
#: Third byte after EF BF that makes the character a hit: U+FFFE/U+FFFF for control characters, U+FFFD for
#: replacement characters.
_NONCHARACTER_THIRD = (0xBE, 0xBF)
_REPLACEMENT_THIRD = (0xBD, 0xBD)


def to_mask(values: pa.Array | pa.ChunkedArray | np.ndarray) -> np.ndarray:
    """A boolean Arrow array (nulls count as False) as a numpy bool array."""
    if isinstance(values, np.ndarray):
        return values
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def present(values: pa.Array) -> np.ndarray:
    """True where the value is neither null nor empty."""
    return to_mask(pc.greater(pc.binary_length(values), 0))


def longer_than(values: pa.Array, limit: int, where: np.ndarray) -> np.ndarray:
    """Values with more than ``limit`` characters (code points, as Meta counts)."""
    # Byte length bounds the character count from above, so only long-in-bytes values need counting characters.
    maybe = where & to_mask(pc.greater(pc.binary_length(values), limit))
    if not maybe.any():
        return maybe
    return maybe & to_mask(pc.greater(pc.utf8_length(values), limit))


def not_matching(values: pa.Array, pattern: str, where: np.ndarray) -> np.ndarray:
    """Present values that do not match the RE2 ``pattern``."""
    return where & ~to_mask(pc.match_substring_regex(values, pattern))


#: Byte scans run over this many bytes at a time, so their numpy temporaries stay small whatever the batch.
SCAN_BYTES = 1 << 20


def _rows_with_bytes(
    values: pa.Array, wanted: np.ndarray, where: np.ndarray, third: tuple[int, int] = _NONCHARACTER_THIRD
) -> np.ndarray:
    """Present values containing a byte for which the 256-entry table ``wanted`` is True. Two lead bytes count only
    with what follows them: 0xC2 when it opens a C1 control (C2 80..C2 9F), 0xEF when it opens EF BF xx with xx in
    the ``third`` range (U+FFFE/U+FFFF by default). Both are rare outside non-Latin text, so confirming them costs
    little."""
    offsets, data = string_buffers(values)
    rows = np.zeros(len(values), dtype=bool)
    end = int(offsets[-1])
    last = max(data.size - 1, 0)
    for start in range(int(offsets[0]), end, SCAN_BYTES):
        positions = np.flatnonzero(wanted[data[start : min(start + SCAN_BYTES, end)]]) + start
        if positions.size:
            lead = data[positions]
            second = data[np.minimum(positions + 1, last)]
            after = data[np.minimum(positions + 2, last)]
            c1 = (lead == 0xC2) & (second >= 0x80) & (second <= 0x9F) & (positions + 1 < end)
            special = (second == 0xBF) & (after >= third[0]) & (after <= third[1]) & (positions + 2 < end)
            keep = np.where(lead == 0xC2, c1, np.where(lead == 0xEF, special, True))
            positions = positions[keep]
        if positions.size:
            rows[np.searchsorted(offsets, positions, side="right") - 1] = True
    return rows & where


def has_control_chars(values: pa.Array, where: np.ndarray, *, allow_breaks: bool = True) -> np.ndarray:
    """Present values with a C0 control character, DEL, a C1 control character (U+0080..U+009F), or the
    non-characters U+FFFE/U+FFFF; tab, LF and CR are allowed unless ``allow_breaks`` is False (ids: an id is one
    line). Same rule as :data:`rules.CONTROL_CHAR_PATTERN`.

    Scanned as bytes with numpy (several times faster than a regex over long descriptions): in UTF-8 a byte below
    0x20 or equal to 0x7F is always that ASCII character, never part of a longer sequence.
    """
    return _rows_with_bytes(values, _CONTROL_BYTES if allow_breaks else _CONTROL_OR_BREAK_BYTES, where)


def has_replacement_char(values: pa.Array, where: np.ndarray) -> np.ndarray:
    """Present values holding U+FFFD: bytes that were not valid UTF-8 when the source was read."""
    return _rows_with_bytes(values, _REPLACEMENT_BYTES, where, third=_REPLACEMENT_THIRD)


def matching(values: pa.Array, pattern: str, where: np.ndarray, prefilter: str | None = None) -> np.ndarray:
    """Present values that match ``pattern``; with ``prefilter`` (one ASCII character), the regex runs only on
    values that contain it, found by a numpy byte scan: the HTML check over long descriptions then costs little,
    since few descriptions contain "<" at all.
    """
    candidates = where
    if prefilter is not None:
        wanted = np.zeros(256, dtype=bool)
        wanted[ord(prefilter)] = True
        candidates = _rows_with_bytes(values, wanted, where)
    found = np.zeros(len(values), dtype=bool)
    index = np.flatnonzero(candidates)
    if index.size:
        subset = values.take(pa.array(index))
        found[index] = to_mask(pc.match_substring_regex(subset, pattern))
    return found


def not_in(values: pa.Array, allowed: frozenset[str], where: np.ndarray) -> np.ndarray:
    """Present values outside ``allowed`` (exact, case-sensitive)."""
    return where & ~to_mask(pc.is_in(values, value_set=pa.array(sorted(allowed), pa.string())))


@dataclass(frozen=True)
class Prices:
    """A parsed price column: the first problem of each value (masks, in :func:`parse_prices`' order), the currency,
    and the amount (NaN unless the value is a usable price)."""

    bad_format: np.ndarray
    bad_currency: np.ndarray
    too_many_decimals: np.ndarray
    too_large: np.ndarray
    zero: np.ndarray
    currency: pa.Array
    amount: np.ndarray

    @property
    def usable(self) -> np.ndarray:
        """No problem at all: the amount can be compared with another price."""
        return ~np.isnan(self.amount)


def _null_unless(where: np.ndarray, values: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(where), values, pa.scalar(None, values.type))


def parse_prices(values: pa.Array, where: np.ndarray, *, allow_zero: bool = False) -> Prices:
    """Check "9.99 USD" values as :func:`rules.price_problem` does: shape, ISO 4217 code, at most two decimals, at
    most ten integer digits (three decimals for the currencies of rules.THREE_DECIMAL_CURRENCIES), and not zero
    unless ``allow_zero``; amounts as float64 for comparisons (exact for the at most 12 significant digits a usable
    price has)."""
    parts = pc.extract_regex(values, rules.PRICE_PATTERN)
    shaped = to_mask(parts.is_valid()) & where
    currency = parts.field("currency")
    known = shaped & to_mask(pc.is_in(currency, value_set=pa.array(sorted(rules.ISO_4217), pa.string())))
    whole, fraction = parts.field("int"), parts.field("frac")
    three = pc.is_in(currency, value_set=pa.array(sorted(rules.THREE_DECIMAL_CURRENCIES), pa.string()))
    limit = pc.if_else(three, rules.MAX_PRICE_DECIMALS + 1, rules.MAX_PRICE_DECIMALS)
    decimals = to_mask(pc.greater(pc.utf8_length(fraction), limit))
    digits = to_mask(pc.greater(pc.utf8_length(pc.utf8_ltrim(whole, "0")), rules.MAX_PRICE_INTEGER_DIGITS))
    too_many_decimals = known & decimals
    too_large = known & ~decimals & digits
    sized = known & ~decimals & ~digits
    zero = np.zeros(len(values), dtype=bool)
    if not allow_zero:
        no_units = to_mask(pc.equal(pc.utf8_length(pc.utf8_ltrim(whole, "0")), 0))
        no_cents = to_mask(pc.equal(pc.utf8_length(pc.utf8_ltrim(fraction, "0")), 0))
        zero = sized & no_units & no_cents
    usable = sized & ~zero
    text = pc.binary_join_element_wise(whole, pc.if_else(pc.equal(fraction, ""), "0", fraction), ".")
    amounts = pc.cast(_null_unless(usable, text), pa.float64())
    amount = np.asarray(pc.fill_null(amounts, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)
    return Prices(where & ~shaped, shaped & ~known, too_many_decimals, too_large, zero, currency, amount)


def bad_quantity(values: pa.Array, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(not a whole number ≥ 0, larger than Meta's 32-bit maximum) for quantity_to_sell_on_facebook."""
    whole = to_mask(pc.match_substring_regex(values, rules.QUANTITY_PATTERN)) & where
    numbers = pc.cast(pc.if_else(pa.array(whole), values, pa.scalar(None, pa.string())), pa.int64())
    too_large = to_mask(pc.greater(numbers, rules.MAX_QUANTITY))
    return where & ~whole, too_large


def bad_gtin(values: pa.Array, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(not 8/12/13/14 digits, wrong GS1 check digit)."""
    shaped = to_mask(pc.match_substring_regex(values, rules.GTIN_PATTERN)) & where
    wrong_check = np.zeros(len(values), dtype=bool)
    index = np.flatnonzero(shaped)
    if index.size:
        padded = pc.utf8_lpad(values.take(pa.array(index)), GTIN_WIDTH, "0").cast(pa.binary(GTIN_WIDTH))
        raw = np.frombuffer(padded.buffers()[1], dtype=np.uint8)
        codes = raw[padded.offset * GTIN_WIDTH : (padded.offset + index.size) * GTIN_WIDTH].reshape(-1, GTIN_WIDTH)
        digits = codes.astype(np.int64) - ord("0")
        expected = (10 - (digits[:, :13] @ _GTIN_WEIGHTS) % 10) % 10
        wrong_check[index] = expected != digits[:, 13]
    return where & ~shaped, wrong_check


def bad_url_list(values: pa.Array, where: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(more than ``limit`` entries, an entry that is not an absolute http(s) URL) for comma-separated URL lists."""
    lists = pc.split_pattern(pc.if_else(pa.array(where), values, pa.scalar(None, pa.string())), ",")
    too_many = to_mask(pc.greater(pc.list_value_length(lists), limit))
    items = pc.utf8_trim(pc.list_flatten(lists), rules.URL_LIST_BLANKS)
    bad_items = ~to_mask(pc.match_substring_regex(items, rules.URL_PATTERN))
    parents = np.asarray(pc.list_parent_indices(lists).to_numpy(zero_copy_only=False), dtype=np.int64)
    bad_entry = np.bincount(parents[bad_items], minlength=len(values)) > 0
    return too_many, bad_entry & ~too_many


@dataclass(frozen=True)
class EffectiveDates:
    """Checks of sale_price_effective_date values."""

    bad_format: np.ndarray
    invalid: np.ndarray
    not_ordered: np.ndarray


def _real_dates(dates: pa.Array) -> np.ndarray:
    """Which "YYYY-MM-DD" strings name a day that exists (Arrow's strptime would roll Feb 30 over to Mar 2)."""

    def number(start: int, stop: int) -> np.ndarray:
        digits = pc.utf8_slice_codeunits(dates, start, stop)
        return np.asarray(pc.cast(digits, pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int64)

    year, month, day = number(0, 4), number(5, 7), number(8, 10)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    valid_month = (month >= 1) & (month <= 12)
    last_day = _DAYS_IN_MONTH[np.clip(month, 1, 12) - 1] + (leap & (month == 2))
    return valid_month & (day >= 1) & (day <= last_day)


def _timestamps(parts: pa.StructArray, prefix: str, shaped: np.ndarray) -> pa.Array:
    """One side of "start/end" as UTC timestamps; null where the date does not exist or the value is not shaped."""
    date = pc.if_else(pa.array(shaped), parts.field(f"{prefix}date"), "1970-01-01")
    hour_minute = parts.field(f"{prefix}hm")
    seconds = parts.field(f"{prefix}sec")
    offset = parts.field(f"{prefix}off")
    empty = pa.scalar("", pa.string())
    canonical = pc.binary_join_element_wise(
        date,
        "T",
        pc.if_else(pc.equal(hour_minute, empty), "00:00", hour_minute),
        ":",
        pc.if_else(pc.equal(seconds, empty), "00", seconds),
        pc.if_else(pc.is_in(offset, value_set=pa.array(["", "Z"])), "+0000", pc.replace_substring(offset, ":", "")),
        "",
    )
    parsed = pc.strptime(canonical, "%Y-%m-%dT%H:%M:%S%z", "s", error_is_null=True)
    return pc.if_else(pa.array(_real_dates(date) & shaped), parsed, pa.scalar(None, parsed.type))


def check_effective_dates(values: pa.Array, where: np.ndarray) -> EffectiveDates:
    """Shape "start/end" (ISO-8601 each), real dates, and end after start (offsets taken into account).

    Runs on the present values only: most products have no sale, and these are a dozen kernels.
    """
    size = len(values)
    result = EffectiveDates(np.zeros(size, bool), np.zeros(size, bool), np.zeros(size, bool))
    index = np.flatnonzero(where)
    if not index.size:
        return result
    parts = pc.extract_regex(values.take(pa.array(index)), rules.EFFECTIVE_DATE_PATTERN)
    shaped = to_mask(parts.is_valid())
    start, end = _timestamps(parts, "s_", shaped), _timestamps(parts, "e_", shaped)
    invalid = shaped & (to_mask(pc.is_null(start)) | to_mask(pc.is_null(end)))
    result.bad_format[index] = ~shaped
    result.invalid[index] = invalid
    result.not_ordered[index] = shaped & ~invalid & to_mask(pc.less_equal(end, start))
    return result
