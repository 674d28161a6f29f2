"""The journal's account mapping (validated, errors name the line) and the journal itself (balanced, by property)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fb_commerce.finance.journal import CATEGORIES, AccountMappingError, journal_lines, load_accounts

GOOD = "category,account\n" + "".join(f"{c},Account {c}\n" for c in CATEGORIES)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accounts.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_mapping_is_valid_and_complete() -> None:
    assert set(load_accounts()) == set(CATEGORIES)


def test_comments_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    accounts = load_accounts(write(tmp_path, "# mine\n\n" + GOOD))
    assert accounts["bank"] == "Account bank"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,account\n", "line 1: the header must be category,account"),
        (GOOD + "bnak,1000\n", "line 10: unknown category 'bnak'"),
        (GOOD + "bank,1001 Other\n", "line 10: category 'bank' is mapped twice"),
        (GOOD.replace("sales,Account sales", "sales,"), "line 7: category 'sales' has no account name"),
        (GOOD.replace("fees,Account fees", "fees,a,b"), "line 4: expected 2 columns"),
        ("category,account\nbank,1000\n", "no account for meta_receivable, fees"),
        ("# nothing\n", "empty"),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(AccountMappingError, match=r"accounts\.csv") as error:
        load_accounts(write(tmp_path, text))
    assert message in str(error.value)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AccountMappingError, match="cannot read"):
        load_accounts(tmp_path / "nope.csv")


cents = st.decimals(min_value=-10_000, max_value=10_000, places=2, allow_nan=False, allow_infinity=False)


@given(
    sales=cents,
    shipping=cents,
    tax=cents,
    refunds=cents,
    fees=cents,
    withheld=cents,
    short=cents,
    status=st.sampled_from(["COMPLETED", "FAILED"]),
)
def test_every_entry_balances(sales, shipping, tax, refunds, fees, withheld, short, status) -> None:
    net = sales + shipping + tax + refunds + fees + withheld  # the view's identity
    cash = {
        "payout_reference_id": "P",
        "status": status,
        "payout_date": "2026-11-20",
        "currency": "USD",
        "amount": net + short,
        "transactions": 1,
        "sales": sales,
        "shipping": shipping,
        "tax": tax,
        "refunds": refunds,
        "fees": fees,
        "tax_withheld": withheld,
        "net": net,
    }
    lines = journal_lines([cash], load_accounts())
    assert sum(line.debit for line in lines) == sum(line.credit for line in lines)
    assert all(line.debit >= 0 and line.credit >= 0 and (line.debit == 0) != (line.credit == 0) for line in lines)
    bank = [line for line in lines if line.category == "bank"]
    assert bank == [] if status == "FAILED" or net + short == 0 else bank[0].debit - bank[0].credit == net + short
    assert D(0) not in {line.debit + line.credit for line in lines}
