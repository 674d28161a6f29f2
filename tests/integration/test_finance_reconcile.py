"""Reconciliation rules (include/sql/finance/reconcile/*.sql) and their runner, on SQLite and PostgreSQL.

A small clean shop is written straight into the warehouse (an order shipped, captured, sold, partly refunded and
paid out, to the cent); each test breaks one thing and runs the rules: the rule finds its case, ignores the same
case while it is in flight, and resolves it once fixed; keys are stable and reruns leave identical rows.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fb_commerce.finance.reconcile import (
    ReconcileError,
    ReconcileSettings,
    business_days_before,
    load_rules,
    open_issues,
    reconcile,
)
from fb_commerce.warehouse import schema
from fb_commerce.warehouse.upsert import upsert

UTC = dt.UTC
# Tuesday 2026-03-10 00:00 UTC: the run of Monday 03-09 with 5 look-back days reads [03-04, 03-10)
AS_OF = dt.datetime(2026, 3, 10, tzinfo=UTC)
WINDOW = (dt.datetime(2026, 3, 4, tzinfo=UTC), AS_OF)
DAY1 = dt.datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # older than 3 business days before AS_OF (Thu 03-05 00:00)
LATE = dt.datetime(2026, 3, 9, 10, 0, tzinfo=UTC)  # within 3 business days: in flight
SEEN = dt.datetime(2026, 3, 1, tzinfo=UTC)
KINDS = (
    "fee_off_schedule",
    "payout_amount_mismatch",
    "payout_failed",
    "payout_missing",
    "refund_amount_mismatch",
    "refund_missing",
    "sale_amount_mismatch",
    "sale_missing",
    "tax_mismatch",
    "transaction_order_missing",
)


def D(text: str) -> Decimal:
    return Decimal(text)


def fee_for(gross: Decimal) -> Decimal:
    """The published schedule (5 %, or 0.40 at or below 8.00), negative as Meta sends it on a SALE."""
    fee = min(D("0.40"), gross) if gross <= D("8.00") else (gross * D("0.05")).quantize(D("0.01"), "ROUND_HALF_UP")
    return -fee


class Shop:
    """Writes consistent orders, shipments, payments, transactions, refunds and payouts into the warehouse."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.payout_net: dict[str, Decimal] = {}
        self.payout_currency: dict[str, str] = {}

    def order(self, order_id: str, *, currency: str = "USD", remitted: bool = False, at: dt.datetime = DAY1) -> None:
        upsert(
            self.engine,
            schema.fb_orders,
            [
                {
                    "order_id": order_id,
                    "state": "COMPLETED",
                    "created_at": at - dt.timedelta(hours=1),
                    "currency": currency,
                    "tax_remitted": remitted,
                    "ship_to_state": "CA",
                }
            ],
        )

    def sale(
        self,
        order_id: str,
        shipment_id: str,
        *,
        items: str,
        shipping: str = "0.00",
        tax: str = "0.00",
        at: dt.datetime = DAY1,
        payout: str | None = "P1",
        currency: str = "USD",
        remitted: bool = False,
        transaction: bool = True,
        payment: bool = True,
    ) -> str:
        gross = D(items) + D(shipping) + D(tax)
        fee = fee_for(gross)
        net = gross + fee - (D(tax) if remitted else 0)
        transaction_id = f"T-{shipment_id}"
        upsert(
            self.engine,
            schema.fb_shipments,
            [{"shipment_id": shipment_id, "order_id": order_id, "first_seen_at": at, "synced_at": at}],
        )
        if payment:
            upsert(
                self.engine,
                schema.fb_payments,
                [
                    {
                        "payment_id": f"PAY-{shipment_id}",
                        "order_id": order_id,
                        "shipment_id": shipment_id,
                        "transaction_id": transaction_id if transaction else None,
                        "currency": currency,
                        "items_amount": D(items),
                        "shipping_amount": D(shipping),
                        "tax_amount": D(tax),
                        "total_amount": gross,
                        "tax_remitted": remitted,
                        "captured_amount": gross,
                        "capture_time": at,
                    }
                ],
            )
        if transaction:
            self.transaction(
                transaction_id, "SALE", order_id, at, fee=fee, net=net, tax=D(tax), payout=payout, currency=currency
            )
        return transaction_id

    def refund(
        self,
        order_id: str,
        refund_id: str,
        *,
        total: str,
        tax: str = "0.00",
        at: dt.datetime = DAY1 + dt.timedelta(hours=2),
        payout: str | None = "P1",
        currency: str = "USD",
        remitted: bool = False,
        transaction: bool = True,
    ) -> str:
        upsert(
            self.engine,
            schema.fb_refunds,
            [
                {
                    "refund_id": refund_id,
                    "order_id": order_id,
                    "currency": currency,
                    "tax": -D(tax),  # Meta sends refund tax negative
                    "total": D(total),
                    "first_seen_at": at,
                    "synced_at": at,
                }
            ],
        )
        transaction_id = f"T-{refund_id}"
        if transaction:
            net = -D(total) + (D(tax) if remitted else 0)
            self.transaction(
                transaction_id,
                "REFUND",
                order_id,
                at,
                fee=D("0.00"),
                net=net,
                tax=-D(tax),
                payout=payout,
                currency=currency,
            )
        return transaction_id

    def transaction(
        self,
        transaction_id: str,
        kind: str,
        order_id: str,
        at: dt.datetime,
        *,
        fee: Decimal,
        net: Decimal,
        tax: Decimal,
        payout: str | None,
        currency: str = "USD",
    ) -> None:
        upsert(
            self.engine,
            schema.fb_transactions,
            [
                {
                    "transaction_id": transaction_id,
                    "transaction_type": kind,
                    "transaction_date": at,
                    "order_id": order_id,
                    "payout_reference_id": payout,
                    "currency": currency,
                    "processing_fee": fee,
                    "net_payment_amount": net,
                    "tax_amount": tax,
                }
            ],
        )
        if payout:
            self.payout_net[payout] = self.payout_net.get(payout, D("0")) + net
            self.payout_currency[payout] = currency

    def pay_out(self, *, at: dt.datetime = DAY1 + dt.timedelta(days=1), status: str = "COMPLETED") -> None:
        """One payout per reference named so far, for exactly the net of its transactions."""
        upsert(
            self.engine,
            schema.fb_payouts,
            [
                {
                    "payout_reference_id": ref,
                    "status": status,
                    "amount": net,
                    "currency": self.payout_currency[ref],
                    "payout_date": at,
                }
                for ref, net in self.payout_net.items()
            ],
        )


def clean_shop(engine: Engine) -> Shop:
    """Three orders: one partly refunded, one whose tax Meta remits, one with two shipments; all paid out."""
    shop = Shop(engine)
    shop.order("O1")
    shop.sale("O1", "S1", items="20.00", shipping="5.00", tax="2.00")
    shop.refund("O1", "R1", total="10.00")
    shop.order("O2", remitted=True)
    shop.sale("O2", "S2", items="6.00", tax="0.50", remitted=True)  # 6.50: the flat 0.40 fee
    shop.order("O3")
    shop.sale("O3", "S3a", items="30.00", shipping="3.00", tax="2.45")
    shop.sale("O3", "S3b", items="12.30", shipping="1.00", tax="0.99", at=DAY1 + dt.timedelta(hours=5))
    shop.pay_out()
    return shop


def run(
    engine: Engine,
    *,
    kinds: tuple[str, ...] | None = None,
    run_id: str = "run-1",
    window: tuple[dt.datetime, dt.datetime] = WINDOW,
    timezone: str = "UTC",
    folder: Any = None,
    **settings: Any,
):
    return reconcile(
        engine,
        window_start=window[0],
        window_end=window[1],
        timezone=timezone,
        run_id=run_id,
        settings=ReconcileSettings(**settings),
        kinds=kinds,
        folder=folder,
    )


def issues(engine: Engine, status: str | None = "open") -> list[dict[str, Any]]:
    table = schema.fb_reconciliation_issues
    query = sa.select(table).order_by(table.c.issue_key)
    if status:
        query = query.where(table.c.status == status)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def all_rows(engine: Engine) -> list[tuple[Any, ...]]:
    table = schema.fb_reconciliation_issues
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(table).order_by(table.c.issue_key))]


def only(engine: Engine, kind: str) -> dict[str, Any]:
    found = issues(engine)
    assert [i["kind"] for i in found] == [kind], found
    return found[0]


def set_row(engine: Engine, table: sa.Table, where: sa.ColumnElement[bool], **values: Any) -> None:
    with engine.begin() as conn:
        assert conn.execute(sa.update(table).where(where).values(**values)).rowcount == 1


# --- the clean shop -------------------------------------------------------------------------------------------


def test_rule_files_are_the_documented_kinds():
    assert tuple(load_rules()) == KINDS


def test_a_clean_shop_has_no_issue(warehouse_engine):
    clean_shop(warehouse_engine)
    result = run(warehouse_engine)
    assert issues(warehouse_engine, None) == []
    assert set(result.kinds) == set(KINDS)
    assert result.totals().found == 0
    assert result.first_day == dt.date(2026, 3, 4) and result.last_day == dt.date(2026, 3, 9)


# --- each rule alone ------------------------------------------------------------------------------------------


def test_payout_short_is_found_then_resolved(warehouse_engine):
    clean_shop(warehouse_engine)
    payouts = schema.fb_payouts
    set_row(warehouse_engine, payouts, payouts.c.payout_reference_id == "P1", amount=D("68.50"))
    run(warehouse_engine)
    issue = only(warehouse_engine, "payout_amount_mismatch")
    assert issue["issue_key"] == "payout_amount_mismatch|currency=USD|payout=P1"
    assert (issue["expected_amount"], issue["actual_amount"], issue["difference"]) == (
        D("68.51"),
        D("68.50"),
        D("-0.01"),
    )
    assert issue["business_date"] == dt.date(2026, 3, 5)
    assert (issue["first_run_id"], issue["last_run_id"], issue["resolved_at"]) == ("run-1", "run-1", None)
    assert issue["first_seen_at"] == issue["last_seen_at"] == AS_OF

    assert run(warehouse_engine, tolerance=D("0.01")).kinds["payout_amount_mismatch"].resolved == 1
    set_row(warehouse_engine, payouts, payouts.c.payout_reference_id == "P1", amount=D("68.51"))
    counts = run(warehouse_engine, run_id="run-2").kinds["payout_amount_mismatch"]
    assert (counts.found, counts.new, counts.resolved, counts.open) == (0, 0, 0, 0)
    (resolved,) = issues(warehouse_engine, "resolved")
    assert resolved["resolved_at"] == AS_OF


def test_payout_failed(warehouse_engine):
    clean_shop(warehouse_engine)
    payouts = schema.fb_payouts
    set_row(warehouse_engine, payouts, payouts.c.payout_reference_id == "P1", status="FAILED")
    run(warehouse_engine)
    issue = only(warehouse_engine, "payout_failed")
    assert (issue["expected_amount"], issue["actual_amount"]) == (D("68.51"), D("0.00"))
    set_row(warehouse_engine, payouts, payouts.c.payout_reference_id == "P1", status="COMPLETED")
    run(warehouse_engine, run_id="run-2")
    assert [i["kind"] for i in issues(warehouse_engine, "resolved")] == ["payout_failed"]


def test_missing_sale_is_in_flight_then_overdue_then_resolved(warehouse_engine):
    shop = clean_shop(warehouse_engine)
    shop.order("O4")
    shop.sale("O4", "S4", items="9.00", at=LATE, transaction=False)  # captured Monday: in flight on Tuesday
    shop.sale("O4", "S5", items="11.00", at=DAY1, transaction=False, payment=False)  # no payment stored either
    run(warehouse_engine)
    issue = only(warehouse_engine, "sale_missing")
    assert issue["issue_key"] == "sale_missing|currency=USD|order=O4|shipment=S5"
    assert issue["expected_amount"] is None  # no payment stored: what it captured is not known

    # the SALE arrives late, unnamed by any payment: paired with the unnamed shipment, the issue resolves
    shop.transaction("T-S5", "SALE", "O4", LATE, fee=fee_for(D("11.00")), net=D("10.45"), tax=D("0"), payout=None)
    run(warehouse_engine, run_id="run-2")
    assert issues(warehouse_engine) == []
    assert [i["kind"] for i in issues(warehouse_engine, "resolved")] == ["sale_missing"]


def test_sale_named_by_its_payment_but_absent(warehouse_engine):
    shop = clean_shop(warehouse_engine)
    with warehouse_engine.begin() as conn:
        conn.execute(sa.delete(schema.fb_transactions).where(schema.fb_transactions.c.transaction_id == "T-S3b"))
    shop.payout_net["P1"] -= D("13.58")
    shop.pay_out()
    run(warehouse_engine)
    issue = only(warehouse_engine, "sale_missing")
    assert (issue["shipment_id"], issue["transaction_id"], issue["expected_amount"]) == ("S3b", "T-S3b", D("14.29"))


def test_sale_amount_and_fee(warehouse_engine):
    clean_shop(warehouse_engine)
    txns = schema.fb_transactions
    # 1 cent more net: the SALE's gross is off, and so is the payout
    set_row(warehouse_engine, txns, txns.c.transaction_id == "T-S3a", net_payment_amount=D("33.69"))
    run(warehouse_engine, kinds=("sale_amount_mismatch",))
    issue = only(warehouse_engine, "sale_amount_mismatch")
    assert (issue["expected_amount"], issue["actual_amount"], issue["shipment_id"]) == (D("35.45"), D("35.46"), "S3a")
    # a fee 1 cent low with the net 1 cent high keeps the gross: only the fee rule sees it
    set_row(warehouse_engine, txns, txns.c.transaction_id == "T-S3a", processing_fee=D("-1.76"))
    result = run(warehouse_engine, kinds=("sale_amount_mismatch", "fee_off_schedule"), run_id="run-2")
    assert result.kinds["sale_amount_mismatch"].resolved == 1
    issue = only(warehouse_engine, "fee_off_schedule")
    assert (issue["expected_amount"], issue["actual_amount"]) == (D("-1.77"), D("-1.76"))


def test_fee_schedule_is_configurable(warehouse_engine):
    clean_shop(warehouse_engine)
    run(warehouse_engine, kinds=("fee_off_schedule",), fee_rate=D("0.029"), flat_fee=D("0.30"))
    found = issues(warehouse_engine)
    assert {i["transaction_id"]: i["expected_amount"] for i in found} == {
        "T-S1": D("-0.78"),  # 2.9 % of 27.00 = 0.783
        "T-S2": D("-0.30"),
        "T-S3a": D("-1.03"),  # 2.9 % of 35.45 = 1.028
        "T-S3b": D("-0.41"),  # 2.9 % of 14.29 = 0.414
    }


def test_refund_missing_in_flight_overdue_and_amount(warehouse_engine):
    shop = clean_shop(warehouse_engine)
    shop.refund("O3", "R3", total="5.00", at=LATE, transaction=False)  # in flight
    run(warehouse_engine)
    assert issues(warehouse_engine) == []
    shop.refund("O3", "R2", total="4.00", at=DAY1 + dt.timedelta(hours=6), transaction=False)
    run(warehouse_engine, run_id="run-2")
    # R2 and R3 are the order's refunds in order; no REFUND transaction: R2 is overdue, R3 still in flight
    issue = only(warehouse_engine, "refund_missing")
    assert (issue["refund_id"], issue["expected_amount"]) == ("R2", D("-4.00"))
    # the REFUND arrives, 1 cent short
    shop.transaction("T-R2", "REFUND", "O3", LATE, fee=D("0"), net=D("-3.99"), tax=D("0"), payout=None)
    run(warehouse_engine, run_id="run-3")
    issue = only(warehouse_engine, "refund_amount_mismatch")
    assert (issue["refund_id"], issue["transaction_id"], issue["expected_amount"], issue["actual_amount"]) == (
        "R2",
        "T-R2",
        D("-4.00"),
        D("-3.99"),
    )
    assert [i["kind"] for i in issues(warehouse_engine, "resolved")] == ["refund_missing"]


def test_refund_transaction_without_refund(warehouse_engine):
    shop = clean_shop(warehouse_engine)
    shop.transaction("T-X", "REFUND", "O2", DAY1, fee=D("0"), net=D("-1.00"), tax=D("0"), payout=None)
    run(warehouse_engine, kinds=("refund_amount_mismatch",))
    issue = only(warehouse_engine, "refund_amount_mismatch")
    assert (issue["transaction_id"], issue["refund_id"], issue["actual_amount"]) == ("T-X", None, D("-1.00"))


def test_transaction_order_missing(warehouse_engine):
    shop = clean_shop(warehouse_engine)
    shop.transaction("T-Y", "SALE", "O-unknown", DAY1, fee=D("-0.40"), net=D("4.60"), tax=D("0"), payout=None)
    run(warehouse_engine, kinds=("transaction_order_missing",))
    issue = only(warehouse_engine, "transaction_order_missing")
    assert (issue["order_id"], issue["expected_amount"], issue["actual_amount"], issue["difference"]) == (
        "O-unknown",
        None,
        D("4.60"),
        None,
    )
    shop.order("O-unknown")
    run(warehouse_engine, kinds=("transaction_order_missing",), run_id="run-2")
    assert issues(warehouse_engine) == []


def test_tax_mismatch_per_transaction_waits_for_money_in_flight(warehouse_engine):
    shop = clean_shop(warehouse_engine)
    txns = schema.fb_transactions
    set_row(warehouse_engine, txns, txns.c.transaction_id == "T-S1", tax_amount=D("1.99"))
    shop.refund("O3", "R3", total="2.10", tax="0.10", at=LATE, transaction=False)  # O3: a refund in flight
    run(warehouse_engine, kinds=("tax_mismatch",))
    issue = only(warehouse_engine, "tax_mismatch")
    assert (issue["order_id"], issue["shipment_id"], issue["transaction_id"]) == ("O1", "S1", "T-S1")
    assert (issue["expected_amount"], issue["actual_amount"]) == (D("2.00"), D("1.99"))
    # O3's REFUND arrives giving back 0.09 of tax where the refund gave back 0.10
    shop.transaction("T-R3", "REFUND", "O3", LATE, fee=D("0"), net=D("-2.10"), tax=D("-0.09"), payout=None)
    set_row(warehouse_engine, txns, txns.c.transaction_id == "T-S1", tax_amount=D("2.00"))
    run(warehouse_engine, kinds=("tax_mismatch",), run_id="run-2")
    issue = only(warehouse_engine, "tax_mismatch")
    assert (issue["order_id"], issue["refund_id"], issue["transaction_id"]) == ("O3", "R3", "T-R3")
    assert (issue["expected_amount"], issue["actual_amount"]) == (D("-0.10"), D("-0.09"))
    assert [i["transaction_id"] for i in issues(warehouse_engine, "resolved")] == ["T-S1"]


def test_payout_missing_after_the_payout_window(warehouse_engine):
    shop = clean_shop(warehouse_engine)
    shop.order("O5")
    shop.sale("O5", "S6", items="40.00", payout=None)
    run(warehouse_engine, kinds=("payout_missing",))
    assert issues(warehouse_engine) == []  # 6 days old: within the 7-day payout window
    run(warehouse_engine, kinds=("payout_missing",), payout_window_days=5)
    issue = only(warehouse_engine, "payout_missing")
    assert (issue["transaction_id"], issue["expected_amount"], issue["actual_amount"]) == (
        "T-S6",
        D("38.00"),
        D("0.00"),
    )
    txns = schema.fb_transactions
    set_row(warehouse_engine, txns, txns.c.transaction_id == "T-S6", payout_reference_id="P9")
    run(warehouse_engine, kinds=("payout_missing",), payout_window_days=5, run_id="run-2")
    assert (
        only(warehouse_engine, "payout_missing")["message"] == "Transaction names a payout that is not in the warehouse"
    )


# --- per currency, keys, reruns -------------------------------------------------------------------------------


def test_currencies_are_never_added(warehouse_engine):
    shop = clean_shop(warehouse_engine)
    shop.order("E1", currency="EUR")
    shop.sale("E1", "SE1", items="50.00", currency="EUR", payout="P1")  # a EUR sale in a USD payout
    run(warehouse_engine, kinds=("payout_amount_mismatch",))
    found = {i["currency"]: (i["expected_amount"], i["actual_amount"]) for i in issues(warehouse_engine)}
    # the USD side still matches; the EUR transactions are reported on their own
    assert found == {"EUR": (D("47.50"), D("0.00"))}


def test_rerun_is_identical_and_keys_are_stable(warehouse_engine):
    shop = clean_shop(warehouse_engine)
    txns, payouts = schema.fb_transactions, schema.fb_payouts
    set_row(warehouse_engine, payouts, payouts.c.payout_reference_id == "P1", amount=D("1.00"), status="FAILED")
    set_row(warehouse_engine, txns, txns.c.transaction_id == "T-S1", processing_fee=D("-1.00"))
    shop.transaction("T-Y", "SALE", "O-unknown", DAY1, fee=D("-0.40"), net=D("4.60"), tax=D("0"), payout=None)
    first = run(warehouse_engine)
    rows = all_rows(warehouse_engine)
    assert first.totals().new == first.totals().found == len(rows) > 4
    again = run(warehouse_engine)
    assert all_rows(warehouse_engine) == rows
    assert again.totals().new == 0 and again.totals().found == len(rows)
    # a later run sees the same issues under the same keys: only last seen and last run move
    later = run(
        warehouse_engine,
        window=(WINDOW[0], WINDOW[1] + dt.timedelta(days=1)),
        run_id="run-2",
        kinds=("payout_failed", "fee_off_schedule"),
    )
    assert later.totals().new == 0
    moved = {i["issue_key"]: i for i in issues(warehouse_engine) if i["last_run_id"] == "run-2"}
    assert set(moved) == {
        "payout_failed|currency=USD|payout=P1",
        "fee_off_schedule|currency=USD|payout=P1|order=O1|transaction=T-S1",
    }
    assert {i["first_run_id"] for i in moved.values()} == {"run-1"}
    assert {i["last_seen_at"] for i in moved.values()} == {AS_OF + dt.timedelta(days=1)}


def test_a_backfill_of_an_older_day_does_not_undo_a_later_run(warehouse_engine):
    clean_shop(warehouse_engine)
    payouts = schema.fb_payouts
    set_row(warehouse_engine, payouts, payouts.c.payout_reference_id == "P1", status="FAILED")
    run(warehouse_engine, kinds=("payout_failed",))
    set_row(warehouse_engine, payouts, payouts.c.payout_reference_id == "P1", status="COMPLETED")
    older = run(
        warehouse_engine,
        window=(WINDOW[0], WINDOW[1] - dt.timedelta(days=1)),
        run_id="backfill",
        kinds=("payout_failed",),
    )
    assert older.kinds["payout_failed"].resolved == 0  # the later run's finding stands
    assert only(warehouse_engine, "payout_failed")["last_run_id"] == "run-1"


def test_business_date_is_the_merchants_day(warehouse_engine):
    clean_shop(warehouse_engine)
    payouts = schema.fb_payouts
    late_evening = dt.datetime(2026, 3, 6, 2, 0, tzinfo=UTC)  # 03-05 in New York
    set_row(warehouse_engine, payouts, payouts.c.payout_reference_id == "P1", status="FAILED", payout_date=late_evening)
    run(warehouse_engine, timezone="America/New_York", kinds=("payout_failed",))
    assert only(warehouse_engine, "payout_failed")["business_date"] == dt.date(2026, 3, 5)
    assert open_issues(warehouse_engine)[0]["kind"] == "payout_failed"


# --- the runner's contract ------------------------------------------------------------------------------------


def test_a_rule_returning_one_issue_twice_is_refused(warehouse_engine, tmp_path):
    (tmp_path / "twice.sql").write_text(
        "SELECT :window_start AS event_at, 'O1' AS order_id, NULL AS shipment_id, NULL AS refund_id,"
        " NULL AS transaction_id, NULL AS payout_reference_id, NULL AS jurisdiction, 'USD' AS currency,"
        " 1 AS expected_cents, 2 AS actual_cents, 'x' AS message FROM fb_orders;\n"
    )
    clean_shop(warehouse_engine)
    with pytest.raises(ReconcileError, match="rule twice returned two rows"):
        run(warehouse_engine, folder=tmp_path)
    assert issues(warehouse_engine, None) == []


def test_a_rule_outside_its_window_or_with_an_unknown_parameter_is_refused(warehouse_engine, tmp_path):
    (tmp_path / "early.sql").write_text(
        "SELECT :as_of AS event_at, NULL AS order_id, NULL AS shipment_id, NULL AS refund_id,"
        " NULL AS transaction_id, NULL AS payout_reference_id, NULL AS jurisdiction, 'USD' AS currency,"
        " 1 AS expected_cents, 2 AS actual_cents, 'x' AS message\n"
    )
    with pytest.raises(ReconcileError, match="outside the window"):
        run(warehouse_engine, folder=tmp_path)
    (tmp_path / "early.sql").write_text("SELECT :typo AS event_at\n")
    with pytest.raises(ReconcileError, match="unknown parameter"):
        run(warehouse_engine, folder=tmp_path)


def test_a_staged_step_is_read_by_the_rules_and_a_failing_one_is_named(warehouse_engine, tmp_path):
    (tmp_path / "staged").mkdir()
    (tmp_path / "staged" / "start.sql").write_text("-- the window's start, once\nSELECT :window_start AS at;\n")
    (tmp_path / "from_staged.sql").write_text(
        "SELECT s.at AS event_at, 'O1' AS order_id, NULL AS shipment_id, NULL AS refund_id,"
        " NULL AS transaction_id, NULL AS payout_reference_id, NULL AS jurisdiction, 'USD' AS currency,"
        " 1 AS expected_cents, 2 AS actual_cents, 'x' AS message FROM tmp_fb_staged_start AS s\n"
    )
    result = run(warehouse_engine, folder=tmp_path)
    assert result.kinds["from_staged"].found == 1
    assert only(warehouse_engine, "from_staged")["business_date"] == WINDOW[0].date()
    (tmp_path / "staged" / "start.sql").write_text("SELECT nothing FROM no_such_table\n")
    with pytest.raises(ReconcileError, match="staged step start failed"):
        run(warehouse_engine, folder=tmp_path)


def test_business_days_before_skips_weekends():
    assert business_days_before(AS_OF, 3, "UTC") == dt.datetime(2026, 3, 5, tzinfo=UTC)  # Tue -> Thu
    saturday = dt.datetime(2026, 3, 7, 12, tzinfo=UTC)
    assert business_days_before(saturday, 1, "UTC") == dt.datetime(2026, 3, 6, 12, tzinfo=UTC)
    assert business_days_before(AS_OF, 0, "UTC") == AS_OF
    # midnight in New York, 3 business days before, is a midnight in New York
    ny = dt.datetime(2026, 3, 10, 4, tzinfo=UTC)
    assert business_days_before(ny, 3, "America/New_York") == dt.datetime(2026, 3, 5, 5, tzinfo=UTC)


def test_settings_are_checked():
    with pytest.raises(ReconcileError, match="tolerance must be whole cents"):
        ReconcileSettings(tolerance=D("0.001"))
    with pytest.raises(ReconcileError, match="sale_business_days"):
        ReconcileSettings(sale_business_days=-1)
