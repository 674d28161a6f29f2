"""The day's spreadsheet: one sheet per report table, written with XlsxWriter.

- money cells are numbers (made from the exact decimal: ``float(Decimal)`` is the nearest double, which Excel
  shows as the same cents) with the format ``#,##0.00``; counts are numbers; timestamps are text in the merchant's
  time zone, as in the CSVs, so both show the same thing;
- the header row is bold and frozen, and filters are on;
- the file is the same bytes on every run: the document's created date is the business day (XlsxWriter would put
  the clock there), and in memory XlsxWriter stamps the zip members with a fixed date (no temporary files whose
  times and modes would leak in).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fb_commerce.finance.reports import DayReport

MONEY_FORMAT = "#,##0.00"
WIDTH = 18


def write_workbook(path: Path, report: DayReport) -> None:
    """Write ``report``'s sheets to ``path`` (``.xlsx``)."""
    import xlsxwriter

    zone = zoneinfo.ZoneInfo(report.timezone)
    workbook = xlsxwriter.Workbook(
        str(path), {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False}
    )
    created = dt.datetime.combine(report.day, dt.time())  # naive: XlsxWriter writes it as is
    workbook.set_properties(
        {
            "title": f"Meta Commerce finance report {report.day.isoformat()}",
            "author": "fb-commerce",
            "created": created,
            "comments": f"Business day {report.day.isoformat()} ({report.timezone})",
        }
    )
    header = workbook.add_format({"bold": True, "bottom": 1})
    money = workbook.add_format({"num_format": MONEY_FORMAT})
    for sheet in report.sheets:
        worksheet = workbook.add_worksheet(sheet.name)
        worksheet.freeze_panes(1, 0)
        worksheet.set_column(0, max(len(sheet.columns) - 1, 0), WIDTH)
        for col, name in enumerate(sheet.columns):
            worksheet.write_string(0, col, name, header)
        for number, row in enumerate(sheet.rows, start=1):
            for col, name in enumerate(sheet.columns):
                _write(worksheet, number, col, row.get(name), money if name in sheet.money else None, zone)
        worksheet.autofilter(0, 0, max(len(sheet.rows), 1), max(len(sheet.columns) - 1, 0))
    workbook.close()


def _write(worksheet: Any, row: int, col: int, value: Any, money: Any, zone: zoneinfo.ZoneInfo) -> None:
    if value is None:
        worksheet.write_blank(row, col, None, money)
    elif isinstance(value, bool):
        worksheet.write_boolean(row, col, value)
    elif isinstance(value, Decimal):
        worksheet.write_number(row, col, float(value), money)
    elif isinstance(value, int):
        worksheet.write_number(row, col, value)
    elif isinstance(value, dt.datetime):
        worksheet.write_string(row, col, value.astimezone(zone).isoformat())
    elif isinstance(value, dt.date):
        worksheet.write_string(row, col, value.isoformat())
    else:
        worksheet.write_string(row, col, str(value))


__all__ = ["MONEY_FORMAT", "write_workbook"]
