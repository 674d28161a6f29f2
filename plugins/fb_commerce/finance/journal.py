"""The journal of a payout: balanced double-entry lines, with account names from the merchant's mapping file.

The mapping file (default ``include/finance/accounts.csv``, documented in ``include/finance/README.md``) names the
general-ledger account of each category. A payout's entry (categories as in the ``fb_payout_cash`` view, signs as
they add to the payout):

=======================  ======  ============================================================================
category                 side    amount
=======================  ======  ============================================================================
``bank``                 debit   the payout amount, when Meta paid it (status COMPLETED)
``meta_receivable``      debit   what the lines add up to but the bank did not get (net - bank: a short or
                                 failed payout); a credit when the bank got more
``fees``                 debit   Meta's processing fees (minus the fees refunded)
``refunds``              debit   what the buyers got back (without tax)
``tax_remitted_by_meta`` debit   the tax Meta withheld to remit as marketplace facilitator
``sales``                credit  the items sold
``shipping_income``      credit  the shipping charged
``sales_tax_payable``    credit  the tax collected (minus the tax refunded)
=======================  ======  ============================================================================

Debits = bank + (net - bank) - fees - refunds - tax_withheld = sales + shipping + tax = credits, because the view's
categories add up to ``net`` by construction. A negative amount goes to the other side; zero lines are left out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from fb_commerce.catalog.mapping import include_dir

ACCOUNTS_FILE = Path("finance") / "accounts.csv"
HEADER = ("category", "account")
#: category -> the side a positive amount goes to, in the order the lines are written
CATEGORIES: dict[str, str] = {
    "bank": "debit",
    "meta_receivable": "debit",
    "fees": "debit",
    "refunds": "debit",
    "tax_remitted_by_meta": "debit",
    "sales": "credit",
    "shipping_income": "credit",
    "sales_tax_payable": "credit",
}
JOURNAL_COLUMNS = ("entry", "date", "currency", "line", "category", "account", "debit", "credit", "memo")


class AccountMappingError(ValueError):
    """The account mapping file cannot be used; the message names the file and the line."""


def default_accounts_path() -> Path:
    """``<include>/finance/accounts.csv``."""
    return include_dir() / ACCOUNTS_FILE


def load_accounts(path: str | Path | None = None) -> dict[str, str]:
    """The category -> account mapping read from ``path`` (default :func:`default_accounts_path`), validated:
    the header, every category known, once, with a non-empty account, and none missing. ``#`` lines are comments.
    """
    path = Path(path) if path else default_accounts_path()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AccountMappingError(f"{path}: cannot read the account mapping ({exc})") from None
    accounts: dict[str, str] = {}
    header_seen = False
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        where = f"{path} line {number}"
        if not header_seen:
            if tuple(c.lower() for c in cells) != HEADER:
                raise AccountMappingError(f"{where}: the header must be {','.join(HEADER)}, not {','.join(cells)}")
            header_seen = True
            continue
        if len(cells) != 2:
            raise AccountMappingError(f"{where}: expected 2 columns (category,account), found {len(cells)}")
        category, account = cells
        if category not in CATEGORIES:
            raise AccountMappingError(
                f"{where}: unknown category {category!r} (expected one of {', '.join(CATEGORIES)})"
            )
        if category in accounts:
            raise AccountMappingError(f"{where}: category {category!r} is mapped twice")
        if not account:
            raise AccountMappingError(f"{where}: category {category!r} has no account name")
        accounts[category] = account
    if not header_seen:
        raise AccountMappingError(f"{path}: empty; expected the header {','.join(HEADER)} and one line per category")
    missing = [c for c in CATEGORIES if c not in accounts]
    if missing:
        raise AccountMappingError(f"{path}: no account for {', '.join(missing)}")
    return accounts


@dataclass(frozen=True)
class JournalLine:
    """One line of a payout's journal entry."""

    entry: str
    date: str
    currency: str
    line: int
    category: str
    account: str
    debit: Decimal
    credit: Decimal
    memo: str

    def as_row(self) -> dict[str, Any]:
        return {column: getattr(self, column) for column in JOURNAL_COLUMNS}


def payout_amounts(cash: Mapping[str, Any]) -> dict[str, Decimal]:
    """The signed amount of each category for one ``fb_payout_cash`` row (positive: the category's own side)."""
    zero = Decimal("0.00")
    net = cash["net"] or zero
    bank = (cash["amount"] or zero) if cash["status"] == "COMPLETED" and cash["payout_date"] is not None else zero
    return {
        "bank": bank,
        "meta_receivable": net - bank,
        "fees": -(cash["fees"] or zero),
        "refunds": -(cash["refunds"] or zero),
        "tax_remitted_by_meta": -(cash["tax_withheld"] or zero),
        "sales": cash["sales"] or zero,
        "shipping_income": cash["shipping"] or zero,
        "sales_tax_payable": cash["tax"] or zero,
    }


def journal_lines(cash_rows: Iterable[Mapping[str, Any]], accounts: Mapping[str, str]) -> list[JournalLine]:
    """The journal: one balanced entry per payout (and currency) of ``cash_rows``, in their order.

    Each row needs ``payout_reference_id``, ``status``, ``payout_date`` (text, the merchant's date), ``currency``,
    ``amount``, ``transactions`` and the category totals of the ``fb_payout_cash`` view.
    """
    zero = Decimal("0.00")
    lines: list[JournalLine] = []
    for cash in cash_rows:
        number = 0
        count = cash["transactions"]
        lines_text = f"{count} transaction" + ("" if count == 1 else "s")
        memo = f"Meta payout {cash['payout_reference_id']} ({cash['status']}, {lines_text})"
        for category, amount in payout_amounts(cash).items():
            if amount == 0:
                continue
            number += 1
            debit_side = (CATEGORIES[category] == "debit") == (amount > 0)
            lines.append(
                JournalLine(
                    entry=str(cash["payout_reference_id"]),
                    date=str(cash["payout_date"] or ""),
                    currency=str(cash["currency"] or ""),
                    line=number,
                    category=category,
                    account=accounts[category],
                    debit=abs(amount) if debit_side else zero,
                    credit=zero if debit_side else abs(amount),
                    memo=memo,
                )
            )
    return lines


__all__ = [
    "CATEGORIES",
    "JOURNAL_COLUMNS",
    "AccountMappingError",
    "JournalLine",
    "default_accounts_path",
    "journal_lines",
    "load_accounts",
    "payout_amounts",
]
