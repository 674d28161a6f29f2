"""The day's finance reports: one folder per business day, ``<data>/reports/YYYY-MM-DD/``.

What finance reads (the views are in ``include/sql/finance/views/``, created by migration ``0005_finance_views``):

- ``orders.csv``: the orders created that day (``fb_daily_orders``);
- ``cash.csv``: the payouts paid that day with their per-category totals (``fb_payout_cash``);
- ``payout_lines.csv``: every line of those payouts down to the order item (``fb_payout_lines``);
- ``tax.csv``: the day's tax by jurisdiction, category, imposition and who remits it (``fb_tax_by_jurisdiction``);
- ``balance.csv``: what Meta owes the merchant at the start and the end of the day (``fb_balance_movements``);
- ``in_flight.csv``: what was sold or refunded by the end of the day and not paid out then, with its age;
- ``issues.csv``: reconciliation issues open for the day, and those resolved that day;
- ``journal.csv``: a balanced double-entry journal per payout (:mod:`fb_commerce.finance.journal`);
- ``finance_YYYY-MM-DD.xlsx``: each CSV as a sheet (:mod:`fb_commerce.finance.workbook`);
- ``summary.html``: the day at a glance (:mod:`fb_commerce.finance.summary`).

The business day runs from midnight to midnight in the merchant's time zone; its UTC bounds are computed here and
passed to the SQL as parameters (the views do no time-zone math). Money is :class:`~decimal.Decimal` from the
database to the file: CSVs carry exactly two decimals, the spreadsheet numbers are made from the exact decimals.
Text that a spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@`` first) gets a leading ``'`` in the
CSVs.

The folder is written to a temporary folder next to it and then moved in place, so a reader never sees half a
report, and a rerun with the same warehouse rows writes the same bytes (rows in a fixed order, no clock in any
file, fixed document properties).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import shutil
import tempfile
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fb_commerce.finance.journal import JOURNAL_COLUMNS, journal_lines, load_accounts
from fb_commerce.warehouse.paths import data_dir
from fb_commerce.warehouse.types import Money, UtcDateTime

REPORTS_DIR = "reports"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MONEY = Money(18, 2)
TAX_LINE = Money(18, 4)
#: the figures of the summary and the task log, in their order
#: first characters that make a spreadsheet read a CSV cell as a formula
FORMULA_STARTS = frozenset("=+-@\t\r")
HEADLINES = ("gross_sales", "refunds", "fees", "tax", "payouts", "net")

Row = dict[str, Any]


# --- the business day -----------------------------------------------------------------------------------------


def business_day_bounds(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` in UTC of the merchant's business ``day`` (midnight to midnight in ``timezone``)."""
    zone = zoneinfo.ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def business_days(start: dt.datetime, end: dt.datetime, timezone: str) -> list[dt.date]:
    """The business days a data interval ``[start, end)`` covers (at least the day ``start`` falls in)."""
    zone = zoneinfo.ZoneInfo(timezone)
    first = start.astimezone(zone).date()
    end_local = end.astimezone(zone)
    last = end_local.date() if end_local.time() == dt.time() else end_local.date() + dt.timedelta(days=1)
    return [first + dt.timedelta(days=n) for n in range(max((last - first).days, 1))]


def reports_root() -> Path:
    """``<data folder>/reports`` (the data folder is ``$FB_COMMERCE_DATA_DIR``, else the repository's ``data/``)."""
    return data_dir() / REPORTS_DIR


# --- reading the views ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """A report query on the views: SQL with ``:start``/``:end`` (UTC) and ``:day`` bounds, and its column
    types (money columns re-quantised, timestamps read as UTC: SQLite keeps REALs and text)."""

    sql: str
    columns: tuple[str, ...]
    types: Mapping[str, sa.types.TypeEngine[Any]] = field(default_factory=dict)

    def rows(self, connection: Connection, **params: Any) -> list[Row]:
        """The rows for the bounds in ``params`` (those the SQL does not use are left out)."""
        used = {name: value for name, value in params.items() if re.search(rf":{name}\b", self.sql)}
        statement = (
            sa.text(self.sql)
            .bindparams(*(sa.bindparam(name, type_=_PARAM_TYPES[name]) for name in used))
            .columns(*(sa.column(c, self.types[c]) if c in self.types else sa.column(c) for c in self.columns))
        )
        return [dict(row._mapping) for row in connection.execute(statement, used)]


_PARAM_TYPES: dict[str, sa.types.TypeEngine[Any]] = {"start": UtcDateTime(), "end": UtcDateTime(), "day": sa.Date()}


def _types(money: Sequence[str] = (), when: Sequence[str] = (), tax: Sequence[str] = ()) -> dict[str, Any]:
    return {**dict.fromkeys(money, MONEY), **dict.fromkeys(when, UtcDateTime()), **dict.fromkeys(tax, TAX_LINE)}


CATEGORY_COLUMNS = ("sales", "shipping", "tax", "refunds", "fees", "tax_withheld", "net")


def select(view: str, columns: str, rest: str, types: Mapping[str, sa.types.TypeEngine[Any]]) -> Query:
    """``SELECT <columns> FROM <view> <rest>`` (columns: one text, space separated)."""
    names = tuple(columns.split())
    return Query(f"SELECT {', '.join(names)} FROM {view} {rest}", names, types)


IN_DAY = "WHERE {0} >= :start AND {0} < :end"

ORDERS = select(
    "fb_daily_orders",
    "order_id created_at state channel merchant_order_reference buyer_name currency items quantity subtotal"
    " shipping tax total tax_remitted_by shipments refunded",
    IN_DAY.format("created_at") + " ORDER BY created_at, order_id",
    _types(money=("subtotal", "shipping", "tax", "total", "refunded"), when=("created_at",)),
)
CASH = select(
    "fb_payout_cash",
    "payout_reference_id transfer_id status payout_date currency amount transactions "
    + " ".join(CATEGORY_COLUMNS)
    + " difference",
    IN_DAY.format("payout_date") + " ORDER BY payout_date, payout_reference_id, currency",
    _types(money=("amount", *CATEGORY_COLUMNS, "difference"), when=("payout_date",)),
)
PAYOUT_LINES = select(
    "fb_payout_lines",
    "payout_reference_id payout_status payout_date transaction_id transaction_type transaction_date order_id"
    " merchant_order_reference currency item_number item_id retailer_id product_name quantity price_per_unit"
    " item_amount item_tax tax_remitted_by gross " + " ".join(CATEGORY_COLUMNS),
    IN_DAY.format("payout_date") + " ORDER BY payout_date, payout_reference_id, transaction_id, item_number",
    _types(
        money=("price_per_unit", "item_amount", "item_tax", "gross", *CATEGORY_COLUMNS),
        when=("payout_date", "transaction_date"),
    ),
)
TAX_LINES = select(
    "fb_tax_by_jurisdiction",
    "currency jurisdiction tax_category imposition tax_remitted_by transaction_type transaction_id tax_amount",
    IN_DAY.format("transaction_date"),
    _types(tax=("tax_amount",)),
)
DAY_TRANSACTIONS = select(
    "fb_transaction_amounts",
    "transaction_id transaction_type currency gross " + " ".join(CATEGORY_COLUMNS),
    IN_DAY.format("transaction_date") + " ORDER BY transaction_id",
    _types(money=("gross", *CATEGORY_COLUMNS)),
)
#: what Meta owes at the start (opening) and at the end (closing) of the day, and the day's movements
BALANCE = Query(
    "SELECT currency,"
    " SUM(CASE WHEN moved_at < :start THEN amount ELSE 0 END) AS opening,"
    " SUM(CASE WHEN moved_at >= :start AND movement = 'transaction' THEN amount ELSE 0 END) AS net,"
    " SUM(CASE WHEN moved_at >= :start AND movement = 'payout' THEN amount ELSE 0 END) AS payouts,"
    " SUM(amount) AS closing"
    " FROM fb_balance_movements WHERE moved_at < :end GROUP BY currency ORDER BY currency",
    ("currency", "opening", "net", "payouts", "closing"),
    _types(money=("opening", "net", "payouts", "closing")),
)
#: in flight at the end of the day (fb_money_in_flight is now): not paid out by then
IN_FLIGHT = Query(
    "SELECT t.transaction_id, t.transaction_type, t.transaction_date AS since, t.order_id, t.currency, t.gross,"
    " t.fees, t.tax_withheld, t.net FROM fb_transaction_amounts t"
    " LEFT JOIN fb_payouts p ON p.payout_reference_id = t.payout_reference_id"
    " WHERE t.transaction_date < :end AND (t.payout_reference_id IS NULL OR p.payout_date IS NULL"
    " OR p.payout_date >= :end OR p.status <> 'COMPLETED') ORDER BY t.transaction_date, t.transaction_id",
    ("transaction_id", "transaction_type", "since", "order_id", "currency", "gross", "fees", "tax_withheld", "net"),
    _types(money=("gross", "fees", "tax_withheld", "net"), when=("since",)),
)
ISSUES = select(
    "fb_reconciliation_issues",
    "issue_key kind business_date status order_id shipment_id refund_id transaction_id payout_reference_id"
    " jurisdiction currency expected_amount actual_amount difference message first_seen_at last_seen_at"
    " resolved_at",
    # as the day's end saw them (first seen by the run judging the day at the latest; resolved later: still open
    # then), so a backfill run again over days a later run has checked writes the same folders
    "WHERE first_seen_at <= :end AND business_date <= :day AND (status = 'open' OR resolved_at >= :start)"
    " ORDER BY status, business_date, kind, issue_key",
    _types(
        money=("expected_amount", "actual_amount", "difference"),
        when=("first_seen_at", "last_seen_at", "resolved_at"),
    )
    | {"business_date": sa.Date()},
)
# --- shaping the rows -----------------------------------------------------------------------------------------


def _cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def tax_rows(lines: Sequence[Row]) -> list[Row]:
    """The day's tax lines summed per currency, jurisdiction, category, imposition and remitter: tax on sales,
    tax refunded, their net (four-decimal lines summed exactly, then rounded to cents)."""
    groups: dict[tuple[str, ...], Row] = {}
    for line in lines:
        key = tuple(
            str(line[c] or "") for c in ("currency", "jurisdiction", "tax_category", "imposition", "tax_remitted_by")
        )
        group = groups.setdefault(key, {"sales_tax": Decimal(0), "refunded_tax": Decimal(0), "ids": set()})
        amount = line["tax_amount"] or Decimal(0)
        group["refunded_tax" if line["transaction_type"] == "REFUND" else "sales_tax"] += amount
        group["ids"].add(line["transaction_id"])
    rows = []
    for key in sorted(groups):
        group = groups[key]
        currency, jurisdiction, category, imposition, remitter = key
        rows.append(
            {
                "currency": currency,
                "jurisdiction": jurisdiction,
                "tax_category": category,
                "imposition": imposition,
                "tax_remitted_by": remitter,
                "transactions": len(group["ids"]),
                "sales_tax": _cents(group["sales_tax"]),
                "refunded_tax": _cents(group["refunded_tax"]),
                "net_tax": _cents(group["sales_tax"] + group["refunded_tax"]),
            }
        )
    return rows


TAX_COLUMNS = (
    "currency",
    "jurisdiction",
    "tax_category",
    "imposition",
    "tax_remitted_by",
    "transactions",
    "sales_tax",
    "refunded_tax",
    "net_tax",
)


def headline_figures(transactions: Sequence[Row], cash: Sequence[Row]) -> dict[str, dict[str, Decimal]]:
    """Per currency: gross sales (what buyers paid on the day's SALEs), refunds, fees and tax of the day's
    transactions, payouts paid that day, and the net of the day's transactions."""
    figures: dict[str, dict[str, Decimal]] = {}

    def of(currency: str | None) -> dict[str, Decimal]:
        return figures.setdefault(currency or "", dict.fromkeys(HEADLINES, ZERO))

    for txn in transactions:
        figure = of(txn["currency"])
        if txn["transaction_type"] == "REFUND":
            figure["refunds"] += txn["gross"]
        else:
            figure["gross_sales"] += txn["gross"]
        figure["fees"] += txn["fees"]
        figure["tax"] += txn["tax"]
        figure["net"] += txn["net"]
    for payout in cash:
        if payout["status"] == "COMPLETED":
            of(payout["currency"])["payouts"] += payout["amount"] or ZERO
    return {currency: figures[currency] for currency in sorted(figures)}


# --- writing --------------------------------------------------------------------------------------------------


def cell(value: Any, zone: zoneinfo.ZoneInfo) -> str:
    """A value as CSV text: money with exactly two decimals, timestamps in the merchant's time zone."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        value = value.quantize(CENT, rounding=ROUND_HALF_UP)
        return f"{abs(value) if value == 0 else value:.2f}"  # never "-0.00"
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    # A text cell a spreadsheet would run as a formula (a buyer named "=HYPERLINK(...)") is quoted as text, as
    # OWASP advises for CSV files; the spreadsheet writes such cells as strings instead.
    return f"'{text}" if isinstance(value, str) and text[:1] in FORMULA_STARTS else text


def csv_text(columns: Sequence[str], rows: Sequence[Mapping[str, Any]], timezone: str) -> str:
    """RFC 4180 CSV (``\\r\\n`` line ends, quoted as needed) with a header."""
    zone = zoneinfo.ZoneInfo(timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(c), zone) for c in columns])
    return out.getvalue()


@dataclass
class Sheet:
    """One table of the day's report: a CSV file and a sheet of the spreadsheet."""

    name: str
    columns: tuple[str, ...]
    rows: list[Row]
    #: columns holding money (two decimals in the CSV, number cells with a 2-decimal format in the spreadsheet)
    money: frozenset[str] = frozenset()

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"


@dataclass
class DayReport:
    """What a business day's report holds; :func:`write_day_report` writes it."""

    day: dt.date
    timezone: str
    start: dt.datetime
    end: dt.datetime
    sheets: list[Sheet]
    figures: dict[str, dict[str, Decimal]]
    balance: list[Row]
    open_issues: list[Row]
    folder: Path | None = None
    files: list[str] = field(default_factory=list)

    def sheet(self, name: str) -> Sheet:
        return next(s for s in self.sheets if s.name == name)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (for XCom): the folder, the files, the figures as text."""
        return {
            "day": self.day.isoformat(),
            "folder": str(self.folder) if self.folder else None,
            "files": list(self.files),
            "figures": {c: {k: f"{v:.2f}" for k, v in f.items()} for c, f in self.figures.items()},
            "open_issues": len(self.open_issues),
        }


def _money_columns(query: Query) -> frozenset[str]:
    return frozenset(c for c, t in query.types.items() if isinstance(t, Money))


def build_day_report(engine: Engine, day: dt.date, timezone: str, accounts: Mapping[str, str]) -> DayReport:
    """Read one business day's report from the views (one read-only transaction: one consistent picture)."""
    start, end = business_day_bounds(day, timezone)
    zone = zoneinfo.ZoneInfo(timezone)
    bounds = {"start": start, "end": end}
    with engine.connect() as connection:
        orders = ORDERS.rows(connection, **bounds)
        cash = CASH.rows(connection, **bounds)
        lines = PAYOUT_LINES.rows(connection, **bounds)
        tax = tax_rows(TAX_LINES.rows(connection, **bounds))
        transactions = DAY_TRANSACTIONS.rows(connection, **bounds)
        balance = BALANCE.rows(connection, **bounds)
        in_flight = IN_FLIGHT.rows(connection, **bounds)
        issues = ISSUES.rows(connection, day=day, **bounds)
    for row in issues:  # what a later run changed is not the day's (the table keeps the latest state only)
        if row["resolved_at"] is not None and row["resolved_at"] >= end:
            row["status"], row["resolved_at"] = "open", None
        row["last_seen_at"] = min(row["last_seen_at"], end)
    issues.sort(key=lambda r: (r["status"], r["business_date"], r["kind"], r["issue_key"]))
    for row in in_flight:  # age at the end of the day, in whole days (the view leaves the clock to its reader)
        row["age_days"] = (end - row["since"]).days
    journal_input = [
        {**row, "payout_date": row["payout_date"].astimezone(zone).date().isoformat() if row["payout_date"] else None}
        for row in cash
    ]
    journal = [line.as_row() for line in journal_lines(journal_input, accounts)]
    sheets = [
        Sheet("orders", ORDERS.columns, orders, _money_columns(ORDERS)),
        Sheet("cash", CASH.columns, cash, _money_columns(CASH)),
        Sheet("payout_lines", PAYOUT_LINES.columns, lines, _money_columns(PAYOUT_LINES)),
        Sheet("tax", TAX_COLUMNS, tax, frozenset({"sales_tax", "refunded_tax", "net_tax"})),
        Sheet("balance", BALANCE.columns, balance, _money_columns(BALANCE)),
        Sheet("in_flight", (*IN_FLIGHT.columns, "age_days"), in_flight, _money_columns(IN_FLIGHT)),
        Sheet("issues", ISSUES.columns, issues, _money_columns(ISSUES)),
        Sheet("journal", JOURNAL_COLUMNS, journal, frozenset({"debit", "credit"})),
    ]
    return DayReport(
        day=day,
        timezone=timezone,
        start=start,
        end=end,
        sheets=sheets,
        figures=headline_figures(transactions, cash),
        balance=balance,
        open_issues=[i for i in issues if i["status"] == "open"],
    )


def workbook_name(day: dt.date) -> str:
    return f"finance_{day.isoformat()}.xlsx"


def _write_files(report: DayReport, folder: Path) -> list[str]:
    from fb_commerce.finance.summary import write_summary
    from fb_commerce.finance.workbook import write_workbook

    names = []
    for sheet in report.sheets:
        (folder / sheet.file_name).write_bytes(csv_text(sheet.columns, sheet.rows, report.timezone).encode("utf-8"))
        names.append(sheet.file_name)
    write_workbook(folder / workbook_name(report.day), report)
    names.append(workbook_name(report.day))
    write_summary(folder / "summary.html", report)
    names.append("summary.html")
    return sorted(names)


def replace_folder(target: Path, fill: Any) -> list[str]:
    """Write a folder atomically: ``fill(tmp)`` writes into a temporary folder next to ``target``, which then takes
    its place (the old one, if any, is moved aside first and deleted after). Returns what ``fill`` returns."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        result = fill(tmp)
        tmp.chmod(0o755)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old)  # onto an empty folder: allowed
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old)
        return list(result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_day_report(
    engine: Engine,
    day: dt.date,
    timezone: str,
    *,
    accounts_file: str | Path | None = None,
    root: Path | None = None,
) -> DayReport:
    """Build and write the report folder of ``day`` under ``root`` (default :func:`reports_root`)."""
    accounts = load_accounts(accounts_file)
    report = build_day_report(engine, day, timezone, accounts)
    target = (root or reports_root()) / day.isoformat()
    report.files = replace_folder(target, lambda tmp: _write_files(report, tmp))
    report.folder = target
    return report


__all__ = [
    "HEADLINES",
    "DayReport",
    "Sheet",
    "build_day_report",
    "business_day_bounds",
    "business_days",
    "csv_text",
    "headline_figures",
    "replace_folder",
    "reports_root",
    "tax_rows",
    "write_day_report",
]
