"""Reject records, the running tally and its summary, and the reject-share check."""

from __future__ import annotations

import pytest

from fb_commerce.catalog.rejects import (
    ReasonCount,
    Reject,
    RejectSummary,
    RejectTally,
    TooManyRejectsError,
    check_reject_share,
    shorten,
)


def test_shorten_cuts_and_escapes_control_characters() -> None:
    assert shorten(None) is None
    assert shorten("short") == "short"
    assert shorten("x" * 500) == "x" * 119 + "…"
    assert shorten("a\x00b\x1fc\x7f") == "a\\x00b\\x1fc\\x7f"
    assert shorten("tab\tok") == "tab\tok"


def test_reject_as_row_matches_fb_feed_rejects() -> None:
    reject = Reject(7, "SKU-7", "price", "unknown ISO 4217 currency code", "1.00 XYZ")
    assert reject.as_row("run-1") == {
        "run_id": "run-1",
        "row_number": 7,
        "retailer_id": "SKU-7",
        "field": "price",
        "reason": "unknown ISO 4217 currency code",
        "value": "1.00 XYZ",
    }
    assert "row 7 (id 'SKU-7') price" in str(reject)
    assert "bad id" in str(Reject(8, None, "id", "missing (required)", None))


def test_tally_counts_rows_and_reasons() -> None:
    tally = RejectTally()
    tally.add(
        10,
        8,
        [
            Reject(1, "a", "price", "bad", "x"),
            Reject(1, "a", "link", "bad url", "y"),
            Reject(5, "e", "price", "bad", "z"),
        ],
    )
    tally.add(5, 5, [])
    summary = tally.summary()
    assert (summary.rows_read, summary.rows_written, summary.rows_rejected) == (15, 13, 2)
    assert summary.share_rejected == pytest.approx(2 / 15)
    assert summary.top_reasons == (ReasonCount("price", "bad", 2), ReasonCount("link", "bad url", 1))
    assert tally.summary(top=1).top_reasons == (ReasonCount("price", "bad", 2),)
    assert summary.as_dict()["top_reasons"][0] == {"field": "price", "reason": "bad", "rows": 2}
    assert "15 products read, 13 written, 2 rejected (13.33%)" in summary.describe()


def test_empty_summary_has_no_share() -> None:
    assert RejectSummary(0, 0, 0).share_rejected == 0.0


def test_check_passes_at_or_below_the_limit() -> None:
    check_reject_share(RejectSummary(100, 95, 5), 0.05)
    check_reject_share(RejectSummary(100, 0, 100), None)


def test_check_raises_above_the_limit_naming_the_top_reasons() -> None:
    summary = RejectSummary(100, 94, 6, (ReasonCount("price", "unknown ISO 4217 currency code", 6),))
    with pytest.raises(TooManyRejectsError) as caught:
        check_reject_share(summary)
    message = str(caught.value)
    assert "6 of 100 products (6.00%)" in message
    assert "above the limit of 5.00%" in message
    assert "price: unknown ISO 4217 currency code (6 rows)" in message
    assert caught.value.summary is summary
