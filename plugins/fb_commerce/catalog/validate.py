"""Validation of mapped products against Meta's required, checkout and optional fields, batch by batch.

:class:`FeedValidator` takes Arrow record batches whose columns are feed fields (the mapping's output), runs the
vectorised checks of :mod:`fb_commerce.catalog.column_checks` on whole columns, and splits each batch into the good rows
(trimmed, ready to write) and :class:`~fb_commerce.catalog.rejects.Reject` records for the bad ones. Python touches
only the rejected rows, to build their messages. Ids are checked for uniqueness across batches with
:class:`~fb_commerce.catalog.ids.IdRegistry`: a repeated id rejects the later rows, whether or not the first one was
good (the source has two products with one id; the merchant must fix one).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fb_commerce.catalog import column_checks, rules
from fb_commerce.catalog.ids import IdRegistry
from fb_commerce.catalog.mapping import FeedMappingError, column_names
from fb_commerce.catalog.rejects import Reject, shorten
from fb_commerce.catalog.rules import Reason, not_in_reason
from fb_commerce.catalog.text import as_text, trimmed

log = logging.getLogger(__name__)


def check_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """The mapping's column names, normalised (trimmed, lower case); raise :class:`FeedMappingError` if unusable."""
    names = column_names(columns)
    absent = [name for name in rules.MANDATORY_COLUMNS if name not in names]
    if not any(name in names for name in rules.CATEGORY_FIELDS):
        absent.append(" or ".join(rules.CATEGORY_FIELDS))
    if absent:
        raise FeedMappingError(
            f"the feed mapping has no column for: {', '.join(absent)}. Add them to the SELECT "
            f"(e.g. `sku AS id`); see include/sql/catalog/README.md"
        )
    unknown = [name for name in names if name not in rules.KNOWN_FIELDS]
    if unknown:
        log.warning(
            "Feed mapping columns %s are not Meta feed fields; they are written as they are (Meta ignores "
            "unknown columns with a warning)",
            ", ".join(unknown),
        )
    return names


class _Findings:
    """The failed checks of one batch, in check order: the first reason of a field is the one a row keeps."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, np.ndarray]] = []

    def add(self, field: str, reason: str, mask: np.ndarray) -> None:
        if mask.any():
            self.items.append((field, reason, mask))

    def rejected(self, size: int) -> np.ndarray:
        rows = np.zeros(size, dtype=bool)
        for _, _, mask in self.items:
            rows |= mask
        return rows


#: Good rows are copied out of a checked batch this many at a time, so the copy (and the CSV writer's buffer) stays
#: a fraction of the batch.
PIECE_ROWS = 8192


@dataclass(frozen=True)
class ValidatedBatch:
    """One checked batch: all its rows (trimmed text, the mapping's columns), which to ``keep``, and the rejects."""

    checked: pa.RecordBatch
    keep: np.ndarray
    rejects: list[Reject]

    @property
    def rows_read(self) -> int:
        """Rows in the batch."""
        return self.checked.num_rows

    @property
    def rows_good(self) -> int:
        """Rows that passed every check."""
        return int(np.count_nonzero(self.keep))

    @property
    def rows_rejected(self) -> int:
        """Rows with at least one reject."""
        return self.rows_read - self.rows_good

    @property
    def good(self) -> pa.RecordBatch:
        """The good rows as one batch (a copy; :meth:`good_pieces` copies less at a time)."""
        return self.checked.filter(pa.array(self.keep))

    def good_pieces(self, rows: int = PIECE_ROWS) -> Iterator[pa.RecordBatch]:
        """The good rows, in order, as batches of at most ``rows`` input rows each."""
        for start in range(0, self.rows_read, rows):
            keep = self.keep[start : start + rows]
            piece = self.checked.slice(start, rows)
            yield piece if keep.all() else piece.filter(pa.array(keep))


class FeedValidator:
    """Validates the batches of one feed, in order (row numbers and id uniqueness run across batches).

    ``columns`` are the mapping's columns (checked by :func:`check_columns`). With ``accept_sdk_values`` the
    availability and condition values that only Meta's SDK lists are accepted too; with ``allow_zero_price`` a
    price or sale price of zero is (the mapping's ``allow_zero_price`` option). The rules are those of
    :mod:`~fb_commerce.catalog.rules`, applied vectorised.
    """

    def __init__(
        self, columns: Sequence[str], *, accept_sdk_values: bool = False, allow_zero_price: bool = False
    ) -> None:
        self.columns = check_columns(columns)
        self.allow_zero_price = allow_zero_price
        self.rows_seen = 0
        self._ids = IdRegistry()
        self._availability = rules.AVAILABILITY | (rules.AVAILABILITY_SDK_EXTRA if accept_sdk_values else set())
        self._condition = rules.CONDITION | (rules.CONDITION_SDK_EXTRA if accept_sdk_values else set())

    @property
    def id_registry_bytes(self) -> int:
        """Memory held for id uniqueness (grows 8 bytes per distinct id)."""
        return self._ids.nbytes

    def validate(self, batch: pa.RecordBatch) -> ValidatedBatch:
        """Check every row of ``batch``; rows are numbered on from the previous batch (1-based)."""
        if len(batch.schema.names) != len(self.columns):
            raise FeedMappingError(f"batch has columns {batch.schema.names}, expected {list(self.columns)}")
        cols = {name: trimmed(as_text(batch.column(i))) for i, name in enumerate(self.columns)}
        found = _Findings()
        there = {name: column_checks.present(values) for name, values in cols.items()}
        id_usable = self._check_id(cols, there, found)
        self._check_required(cols, there, found)
        self._check_categories(cols, there, found)
        self._check_optional(cols, there, found)
        for name, values in cols.items():
            if name != "id":  # the id's control characters and bad bytes are part of _check_id
                found.add(name, Reason.CONTROL, column_checks.has_control_chars(values, there[name]))
                found.add(name, Reason.BAD_UTF8, column_checks.has_replacement_char(values, there[name]))
        rejected = found.rejected(batch.num_rows)
        first_row = self.rows_seen + 1
        self.rows_seen += batch.num_rows
        rejects = _records(cols, found, id_usable, first_row) if rejected.any() else []
        checked = pa.RecordBatch.from_arrays(list(cols.values()), names=list(cols))
        return ValidatedBatch(checked, ~rejected, rejects)

    # --- the checks, field by field, in the order their reasons should be reported --------------------------------

    def _check_id(self, cols: dict[str, pa.Array], there: dict[str, np.ndarray], found: _Findings) -> np.ndarray:
        """Flag bad ids; return the rows whose id identifies them (present, short, printable; maybe repeated)."""
        ids, present = cols["id"], there["id"]
        too_long = column_checks.longer_than(ids, rules.MAX_LENGTH["id"], present)
        control = column_checks.has_control_chars(ids, present, allow_breaks=False)
        bad_utf8 = column_checks.has_replacement_char(ids, present)
        found.add("id", Reason.MISSING, ~present)
        found.add("id", Reason.TOO_LONG.format(limit=rules.MAX_LENGTH["id"]), too_long)
        found.add("id", Reason.CONTROL, control)
        # before the duplicate check: two ids that were different bytes may read back as the same U+FFFD text
        found.add("id", Reason.BAD_UTF8, bad_utf8)
        usable = present & ~too_long & ~control & ~bad_utf8
        index = np.flatnonzero(usable)
        repeated = np.zeros(len(ids), dtype=bool)
        repeated[index] = ~self._ids.first_seen(ids.take(pa.array(index)))
        found.add("id", Reason.DUPLICATE_ID, repeated)
        return usable

    def _check_required(self, cols: dict[str, pa.Array], there: dict[str, np.ndarray], found: _Findings) -> None:
        for name in rules.MANDATORY_COLUMNS[1:]:  # id is done
            found.add(name, Reason.MISSING, ~there[name])
        for name in ("title", "description", "brand"):
            limit = rules.MAX_LENGTH[name]
            too_long = column_checks.longer_than(cols[name], limit, there[name])
            found.add(name, Reason.TOO_LONG.format(limit=limit), too_long)
        found.add(
            "description",
            Reason.HTML,
            column_checks.matching(cols["description"], rules.HTML_TAG_PATTERN, there["description"], prefilter="<"),
        )
        for name, allowed in (("availability", self._availability), ("condition", self._condition)):
            found.add(name, not_in_reason(allowed), column_checks.not_in(cols[name], allowed, there[name]))
        price = column_checks.parse_prices(cols["price"], there["price"], allow_zero=self.allow_zero_price)
        _add_price(found, "price", price)
        for name in ("link", "image_link"):
            found.add(name, Reason.URL, column_checks.not_matching(cols[name], rules.URL_PATTERN, there[name]))
        quantity = "quantity_to_sell_on_facebook"
        not_whole, too_large = column_checks.bad_quantity(cols[quantity], there[quantity])
        found.add("quantity_to_sell_on_facebook", Reason.QUANTITY, not_whole)
        found.add("quantity_to_sell_on_facebook", Reason.QUANTITY_TOO_LARGE, too_large)
        if "sale_price" in cols:
            self._check_sale_price(cols["sale_price"], there["sale_price"], price, found)

    def _check_sale_price(
        self, values: pa.Array, present: np.ndarray, price: column_checks.Prices, found: _Findings
    ) -> None:
        sale = column_checks.parse_prices(values, present, allow_zero=self.allow_zero_price)
        _add_price(found, "sale_price", sale)
        both = sale.usable & price.usable
        other_currency = both & column_checks.to_mask(pc.not_equal(sale.currency, price.currency))
        found.add("sale_price", Reason.SALE_CURRENCY, other_currency)
        with np.errstate(invalid="ignore"):
            found.add("sale_price", Reason.SALE_ABOVE_PRICE, both & ~other_currency & (sale.amount > price.amount))

    @staticmethod
    def _check_categories(cols: dict[str, pa.Array], there: dict[str, np.ndarray], found: _Findings) -> None:
        none = np.zeros(len(cols["id"]), dtype=bool)
        google, facebook = (there.get(name, none) for name in rules.CATEGORY_FIELDS)
        found.add(rules.CATEGORY_FIELDS[0], Reason.CATEGORY_MISSING, ~google & ~facebook)
        for name, pattern, reason in (
            ("google_product_category", rules.GOOGLE_CATEGORY_PATTERN, Reason.GOOGLE_CATEGORY),
            ("fb_product_category", rules.FB_CATEGORY_PATTERN, Reason.FB_CATEGORY),
        ):
            if name in cols:
                found.add(name, reason, column_checks.not_matching(cols[name], pattern, there[name]))

    def _check_optional(self, cols: dict[str, pa.Array], there: dict[str, np.ndarray], found: _Findings) -> None:
        for name in ("item_group_id", "mpn", "size", "color"):
            if name in cols:
                limit = rules.MAX_LENGTH[name]
                too_long = column_checks.longer_than(cols[name], limit, there[name])
                found.add(name, Reason.TOO_LONG.format(limit=limit), too_long)
        for name, allowed in (("gender", rules.GENDER), ("status", rules.STATUS)):
            if name in cols:
                found.add(name, not_in_reason(allowed), column_checks.not_in(cols[name], allowed, there[name]))
        if "sale_price_effective_date" in cols:
            dates_field = "sale_price_effective_date"
            dates = column_checks.check_effective_dates(cols[dates_field], there[dates_field])
            found.add("sale_price_effective_date", Reason.DATES_FORMAT, dates.bad_format)
            found.add("sale_price_effective_date", Reason.DATES_INVALID, dates.invalid)
            found.add("sale_price_effective_date", Reason.DATES_ORDER, dates.not_ordered)
        if "gtin" in cols:
            shape, check_digit = column_checks.bad_gtin(cols["gtin"], there["gtin"])
            found.add("gtin", Reason.GTIN_FORMAT, shape)
            found.add("gtin", Reason.GTIN_CHECK_DIGIT, check_digit)
        if "additional_image_link" in cols:
            too_many, bad_entry = column_checks.bad_url_list(
                cols["additional_image_link"], there["additional_image_link"], rules.MAX_ADDITIONAL_IMAGES
            )
            found.add("additional_image_link", Reason.TOO_MANY_IMAGES, too_many)
            found.add("additional_image_link", Reason.IMAGE_URL, bad_entry)


def _add_price(found: _Findings, name: str, prices: column_checks.Prices) -> None:
    found.add(name, Reason.PRICE_FORMAT, prices.bad_format)
    found.add(name, Reason.CURRENCY, prices.bad_currency)
    found.add(name, Reason.PRICE_DECIMALS, prices.too_many_decimals)
    found.add(name, Reason.PRICE_TOO_LARGE, prices.too_large)
    found.add(name, Reason.PRICE_ZERO, prices.zero)


def _records(cols: dict[str, pa.Array], found: _Findings, id_usable: np.ndarray, first_row: int) -> list[Reject]:
    """Reject records for the flagged rows: the first reason per (row, field), by row, then in column order.
    Python, but only over rejected rows."""
    kept: dict[tuple[int, str], tuple[int, str, str | None]] = {}
    for order, (name, reason, mask) in enumerate(found.items):
        index = np.flatnonzero(mask)
        values = cols[name].take(pa.array(index)).to_pylist() if name in cols else [None] * index.size
        for row, value in zip(index.tolist(), values, strict=True):
            kept.setdefault((row, name), (order, reason, value or None))
    rows = sorted({row for row, _ in kept})
    ids = dict(zip(rows, cols["id"].take(pa.array(rows, pa.int64())).to_pylist(), strict=True))
    position = {name: index for index, name in enumerate(cols)}  # rejects of a row follow the mapping's columns
    ordered = sorted(kept.items(), key=lambda item: (item[0][0], position.get(item[0][1], len(position))))
    return [
        Reject(first_row + row, ids[row] if id_usable[row] else None, name, reason, shorten(value))
        for (row, name), (_, reason, value) in ordered
    ]
