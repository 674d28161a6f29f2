"""The pieces of the day's report that need no database: business-day bounds, CSV cells, tax sums, the atomic
folder."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest

from fb_commerce.finance.reports import business_day_bounds, business_days, csv_text, replace_folder, tax_rows

UTC = dt.UTC


def test_a_business_day_runs_midnight_to_midnight_in_the_merchant_zone() -> None:
    assert business_day_bounds(dt.date(2026, 11, 20), "America/New_York") == (
        dt.datetime(2026, 11, 20, 5, tzinfo=UTC),
        dt.datetime(2026, 11, 21, 5, tzinfo=UTC),
    )
    start, end = business_day_bounds(dt.date(2026, 11, 1), "America/New_York")  # clocks go back: 25 hours
    assert end - start == dt.timedelta(hours=25)
    start, end = business_day_bounds(dt.date(2026, 3, 8), "America/New_York")  # clocks go forward: 23 hours
    assert end - start == dt.timedelta(hours=23)


def test_the_days_of_a_data_interval() -> None:
    start, end = business_day_bounds(dt.date(2026, 11, 20), "America/New_York")
    assert business_days(start, end, "America/New_York") == [dt.date(2026, 11, 20)]
    week_end = business_day_bounds(dt.date(2026, 11, 26), "America/New_York")[1]
    assert len(business_days(start, week_end, "America/New_York")) == 7
    assert business_days(start, start, "UTC") == [dt.date(2026, 11, 20)]  # at least the day it starts in


def test_csv_cells_money_times_and_quotes() -> None:
    rows = [
        {"amount": D("1.5"), "zero": D("-0.00"), "when": dt.datetime(2026, 11, 20, 14, tzinfo=UTC), "name": 'A, "b"'},
        {"amount": None, "zero": D("0.005"), "when": None, "name": "=1+1"},
    ]
    text = csv_text(("amount", "zero", "when", "name"), rows, "America/New_York")
    assert text.split("\r\n") == [
        "amount,zero,when,name",
        '1.50,0.00,2026-11-20T09:00:00-05:00,"A, ""b"""',
        ",0.01,,'=1+1",  # text, not a formula, when a spreadsheet opens the file
        "",
    ]


def test_tax_lines_are_summed_exactly_before_rounding_to_cents() -> None:
    line = {"currency": "USD", "jurisdiction": "NY", "tax_category": "GENERAL", "imposition": "SALES",
            "tax_remitted_by": "merchant"}  # fmt: skip
    lines = [
        {**line, "transaction_type": "SALE", "transaction_id": "T1", "tax_amount": D("0.0025")},
        {**line, "transaction_type": "SALE", "transaction_id": "T2", "tax_amount": D("0.0025")},
        {**line, "transaction_type": "REFUND", "transaction_id": "T3", "tax_amount": D("-0.0010")},
    ]
    (row,) = tax_rows(lines)
    assert (row["sales_tax"], row["refunded_tax"], row["net_tax"], row["transactions"]) == (
        D("0.01"),  # 0.0050, not 0.00 + 0.00
        D("0.00"),
        D("0.00"),  # 0.0040
        3,
    )


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "2026-11-20"
    replace_folder(target, lambda folder: [(folder / "a.csv").write_text("1") and "a.csv"])
    assert [p.name for p in target.iterdir()] == ["a.csv"]

    def fails(folder: Path) -> list[str]:
        (folder / "b.csv").write_text("half")
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        replace_folder(target, fails)
    assert [p.name for p in target.iterdir()] == ["a.csv"]  # the old report stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-11-20"]  # nothing half written left behind
    replace_folder(target, lambda folder: [(folder / "c.csv").write_text("2") and "c.csv"])
    assert [p.name for p in target.iterdir()] == ["c.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-11-20"]
