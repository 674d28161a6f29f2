"""The finance views and the day's report files on hand-built warehouse rows (tests/finance_rows.py), on SQLite and
PostgreSQL: per-category totals, a balanced journal, identical bytes on a rerun, a spreadsheet that adds up to the
CSVs, and a page that shows hostile text as text."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from decimal import Decimal as D
from pathlib import Path

import finance_rows as fx
import pytest
import sqlalchemy as sa

from fb_commerce.finance.journal import load_accounts
from fb_commerce.finance.reports import build_day_report, write_day_report
from fb_commerce.warehouse.types import Money

MONEY = Money()


@pytest.fixture
def engine(warehouse_engine):
    fx.insert_rows(warehouse_engine)
    return warehouse_engine


def view(engine, name: str, order: str, money: tuple[str, ...] = ()) -> list[dict]:
    statement = sa.text(f"SELECT * FROM {name} ORDER BY {order}")
    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(statement)]
    return [{k: MONEY.quantize(v) if k in money else v for k, v in row.items()} for row in rows]


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_cash_view_has_the_per_category_totals_of_each_payout(engine):
    money = ("amount", "sales", "shipping", "tax", "refunds", "fees", "tax_withheld", "net", "difference")
    cash = {row["payout_reference_id"]: row for row in view(engine, "fb_payout_cash", "payout_reference_id", money)}
    assert {k: cash["P1"][k] for k in fx.P1_CASH} == fx.P1_CASH
    assert cash["P2"]["net"] == D("11.40") and cash["P2"]["difference"] == D("-0.40")
    assert cash["P1"]["currency"] == "USD"


def test_transaction_categories_add_up_to_net_and_gross_follows_the_contract(engine):
    money = ("gross", "sales", "shipping", "tax", "refunds", "fees", "tax_withheld", "net")
    rows = {r["transaction_id"]: r for r in view(engine, "fb_transaction_amounts", "transaction_id", money)}
    for row in rows.values():
        parts = sum(row[c] for c in ("sales", "shipping", "tax", "refunds", "fees", "tax_withheld"))
        assert parts == row["net"], row
    # gross = net - fee + tax withheld by Meta (signed like gross)
    assert [rows[t]["gross"] for t in ("T1", "T2", "T3")] == [D("27.00"), D("10.80"), D("-11.00")]
    assert rows["T2"]["tax_remitted_by"] == "meta" and rows["T1"]["tax_remitted_by"] == "merchant"
    assert rows["T3"]["refunds"] == D("-10.00") and rows["T3"]["tax"] == D("-1.00")


def test_payout_lines_reach_the_items_and_add_up_to_the_cash_view(engine):
    money = ("gross", "net", "fees", "item_amount")
    lines = view(engine, "fb_payout_lines", "payout_reference_id, transaction_id, item_number", money)
    p1 = [line for line in lines if line["payout_reference_id"] == "P1"]
    assert [(line["transaction_id"], line["item_id"]) for line in p1] == [("T1", "i1"), ("T2", "i2"), ("T3", "i1")]
    assert sum(line["net"] for line in p1 if line["net"] is not None) == D("24.61")
    p2 = [line for line in lines if line["payout_reference_id"] == "P2"]  # O3 has two items: amounts on the first
    assert [(line["item_id"], line["net"]) for line in p2] == [("i3", D("11.40")), ("i4", None)]
    assert p1[0]["item_amount"] == D("20.00")


def test_in_flight_balance_tax_and_fee_views(engine):
    in_flight = view(engine, "fb_money_in_flight", "transaction_id", ("net",))
    assert [(r["transaction_id"], r["net"]) for r in in_flight] == [("T5", D("5.60"))]
    moves = view(engine, "fb_balance_movements", "movement, reference", ("amount",))
    assert sum(m["amount"] for m in moves) == D("6.00")  # T5 in flight + P2's 0.40 short
    tax = view(engine, "fb_tax_by_jurisdiction", "transaction_id, jurisdiction")
    by = defaultdict(D)
    for row in tax:
        by[(row["jurisdiction"], row["tax_remitted_by"])] += D(str(row["tax_amount"])).quantize(D("0.0001"))
    assert by == {
        ("KINGS COUNTY", "merchant"): D("0.2500"),
        ("NY", "merchant"): D("0.7500"),
        ("NY", "meta"): D("0.8000"),
    }
    fees = {r["transaction_id"]: r for r in view(engine, "fb_fee_rates", "transaction_id", ("fee", "expected_fee"))}
    assert fees["T1"]["expected_fee"] == D("1.35") and fees["T5"]["expected_fee"] == D("0.40")  # 5 %; flat at <= 8
    assert "T3" not in fees
    assert D(str(fees["T1"]["effective_rate"])).quantize(D("0.0001")) == D("0.0500")


def test_the_day_report_files(engine, tmp_path):
    report = write_day_report(engine, fx.DAY, fx.TIMEZONE, root=tmp_path)
    folder = tmp_path / "2026-11-20"
    assert report.folder == folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(report.files)
    assert {
        "orders.csv",
        "cash.csv",
        "payout_lines.csv",
        "tax.csv",
        "issues.csv",
        "journal.csv",
        "summary.html",
        "finance_2026-11-20.xlsx",
    } <= set(report.files)
    orders = read_csv(folder / "orders.csv")
    assert [o["order_id"] for o in orders] == ["O1", "O2"]  # O3 was created the evening before, New York time
    assert orders[0]["created_at"] == "2026-11-20T09:00:00-05:00" and orders[0]["total"] == "27.00"
    cash = {row["payout_reference_id"]: row for row in read_csv(folder / "cash.csv")}
    assert set(cash) == {"P1", "P2"}
    assert {k: cash["P1"][k] for k in fx.P1_CASH} == {k: str(v) for k, v in fx.P1_CASH.items()}
    tax = read_csv(folder / "tax.csv")
    assert [
        (t["jurisdiction"], t["tax_remitted_by"], t["sales_tax"], t["refunded_tax"], t["net_tax"]) for t in tax
    ] == [
        ("KINGS COUNTY", "merchant", "0.50", "-0.25", "0.25"),
        ("NY", "merchant", "1.50", "-0.75", "0.75"),
        ("NY", "meta", "0.80", "0.00", "0.80"),
    ]
    balance = read_csv(folder / "balance.csv")
    assert [(b["opening"], b["net"], b["payouts"], b["closing"]) for b in balance] == [
        ("0.00", "41.61", "-35.61", "6.00")
    ]
    assert [(r["transaction_id"], r["age_days"]) for r in read_csv(folder / "in_flight.csv")] == [("T5", "0")]
    assert [i["issue_key"] for i in read_csv(folder / "issues.csv")] == ["payout_mismatch:P2"]
    figures = report.figures["USD"]
    assert figures == {
        "gross_sales": D("55.80"),
        "refunds": D("-11.00"),
        "fees": D("-2.39"),
        "tax": D("1.80"),
        "payouts": D("35.61"),
        "net": D("41.61"),
    }
    for path in folder.glob("*.csv"):  # exactly two decimals on every money cell
        text = path.read_text()
        assert "0.5000" not in text and "e-" not in text.lower().replace("reference", "")


def test_the_journal_balances_for_every_payout(engine, tmp_path):
    write_day_report(engine, fx.DAY, fx.TIMEZONE, root=tmp_path)
    lines = read_csv(tmp_path / "2026-11-20" / "journal.csv")
    totals: dict[str, list[D]] = defaultdict(lambda: [D(0), D(0)])
    for line in lines:
        totals[line["entry"]][0] += D(line["debit"])
        totals[line["entry"]][1] += D(line["credit"])
    assert set(totals) == {"P1", "P2"}
    assert all(debit == credit for debit, credit in totals.values()), totals
    accounts = load_accounts()
    p1 = {line["category"]: (line["debit"], line["credit"]) for line in lines if line["entry"] == "P1"}
    assert p1 == {
        "bank": ("24.61", "0.00"),
        "fees": ("1.39", "0.00"),
        "refunds": ("10.00", "0.00"),
        "tax_remitted_by_meta": ("0.80", "0.00"),
        "sales": ("0.00", "30.00"),
        "shipping_income": ("0.00", "5.00"),
        "sales_tax_payable": ("0.00", "1.80"),
    }
    p2 = {line["category"]: line for line in lines if line["entry"] == "P2"}
    assert p2["meta_receivable"]["debit"] == "0.40"  # the short payout stays owed by Meta
    assert {line["account"] for line in lines} <= set(accounts.values())


def test_a_rerun_writes_the_same_bytes(engine, tmp_path):
    root = tmp_path / "reports"

    def snapshot() -> dict[str, bytes]:
        write_day_report(engine, fx.DAY, fx.TIMEZONE, root=root)
        return {p.name: p.read_bytes() for p in sorted((root / "2026-11-20").iterdir())}

    first = snapshot()
    assert snapshot() == first
    assert sorted(p.name for p in root.iterdir()) == ["2026-11-20"]  # no temporary folder left behind


def test_the_spreadsheet_opens_and_adds_up_to_the_csvs(engine, tmp_path):
    import openpyxl

    report = write_day_report(engine, fx.DAY, fx.TIMEZONE, root=tmp_path)
    folder = report.folder
    workbook = openpyxl.load_workbook(folder / "finance_2026-11-20.xlsx")
    assert workbook.sheetnames == [s.name for s in report.sheets]
    for sheet in report.sheets:
        worksheet = workbook[sheet.name]
        assert worksheet.freeze_panes == "A2"
        rows = list(worksheet.iter_rows(values_only=True))
        assert list(rows[0]) == list(sheet.columns)
        from_csv = read_csv(folder / sheet.file_name)
        assert len(rows) - 1 == len(from_csv)
        for column in sheet.money:
            index = sheet.columns.index(column)
            cells = [r[index] for r in rows[1:] if r[index] is not None]
            assert all(isinstance(c, int | float) for c in cells)  # numbers, not text
            xlsx_total = sum((D(str(c)) for c in cells), D(0)).quantize(D("0.01"))
            csv_total = sum((D(r[column]) for r in from_csv if r[column]), D(0))
            assert xlsx_total == csv_total, (sheet.name, column)
        for r in range(2, worksheet.max_row + 1):
            for column in sheet.money:
                cell = worksheet.cell(r, sheet.columns.index(column) + 1)
                if cell.value is not None:
                    assert cell.number_format == "#,##0.00"


def test_the_summary_shows_hostile_text_as_text(engine, tmp_path):
    report = write_day_report(engine, fx.DAY, fx.TIMEZONE, root=tmp_path)
    page = (report.folder / "summary.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>Buyer" not in page
    assert "<svg" in page and "<script" not in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//|url\((?!#)|@import", page)  # nothing from the internet
    assert "payout_mismatch" in page and "55.80" in page


def test_an_empty_day_writes_empty_files(warehouse_engine, tmp_path):
    report = build_day_report(warehouse_engine, fx.DAY, fx.TIMEZONE, load_accounts())
    assert report.figures == {} and all(not s.rows for s in report.sheets)
    write_day_report(warehouse_engine, fx.DAY, fx.TIMEZONE, root=tmp_path)
    assert (tmp_path / "2026-11-20" / "cash.csv").read_text().startswith("payout_reference_id,")
