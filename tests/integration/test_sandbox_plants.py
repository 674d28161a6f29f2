"""Planted finance discrepancies over HTTP: each plant changes exactly what it says, the rest stays consistent.

"Consistent" is what reconciliation checks (docs/graph-api.md §3.1 signs): a payout is the sum of its
transactions' net; a SALE's gross (net - fee + tax withheld by Meta) is its payment's total; its tax is its
shipment's; its fee is the schedule's; every payment's SALE is listed. Each test plants one thing and finds exactly
that one exception to those rules, with the ids and amounts the plant answered.
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from support import ship_an_unshipped_order

from fb_commerce import defaults
from fb_commerce.demo import MISSING_SALE_AGE_DAYS, plant_finance_discrepancies
from fb_commerce.sandbox.client import SandboxAdminError, SandboxGraph
from fb_commerce.sandbox.world.plants import KINDS

CMS = defaults.SANDBOX_CMS_ID
PAGE = defaults.SANDBOX_PAGE_ID
DAY = 86400
_keys = itertools.count(1)
FIELDS = (
    "id,transaction_type,transaction_date,order_id,processing_fee,net_payment_amount,tax_details,payout_reference_id"
)


def amount(money: dict) -> Decimal:
    return Decimal(money["amount"])


def schedule_fee(total: Decimal) -> Decimal:
    if total <= Decimal("8.00"):
        return -min(Decimal("0.40"), total)
    return -(total * Decimal("0.05")).quantize(Decimal("0.01"))


@pytest.fixture
def graph(sandbox) -> SandboxGraph:
    return SandboxGraph(sandbox.url)


def exceptions(sandbox, graph: SandboxGraph) -> set[tuple]:
    """Every break of the consistency rules, as (rule, id, expected, actual), read over the Graph API alone."""
    orders = sandbox.admin.state(include="orders")["orders"]
    pages = graph.pages(f"{PAGE}/commerce_transactions", fields=FIELDS, limit=100)
    txns = {t["id"]: t for p in pages for t in p["data"]}
    payouts = [p for page in graph.pages(f"{PAGE}/commerce_payouts", limit=100) for p in page["data"]]
    found: set[tuple] = set()
    for payout in payouts:
        mine = [t for t in txns.values() if t.get("payout_reference_id") == payout["payout_reference_id"]]
        net = sum((amount(t["net_payment_amount"]) for t in mine), Decimal(0))
        if net != amount(payout["amount"]):
            found.add(("payout_short", payout["payout_reference_id"], net, amount(payout["amount"])))
        if payout["status"] != "COMPLETED":
            found.add(("payout_failed", payout["payout_reference_id"], amount(payout["amount"]), Decimal(0)))
    for order in orders:
        remitted = order["estimated_payment_details"]["tax_remitted"]
        for payment in graph.get(f"{order['id']}/payments").json()["data"]:
            shipment_id = payment["shipments"]["data"][0]["id"]
            txn = txns.get(payment["transaction_details"]["transaction_id"])
            total = amount(payment["total_amount"])
            if txn is None:
                found.add(("missing_sale", shipment_id, total, Decimal(0)))
                continue
            tax = sum(amount(r["item_tax_amount"]) for r in txn["tax_details"]["data"])
            fee = amount(txn["processing_fee"])
            gross = amount(txn["net_payment_amount"]) - fee + (tax if remitted else 0)
            assert gross == total, f"SALE {txn['id']}: gross {gross} is not its payment's {total}"
            if tax != amount(payment["tax"]):
                found.add(("tax_mismatch", shipment_id, amount(payment["tax"]), tax))
            if fee != schedule_fee(total):
                found.add(("fee_off_rate", shipment_id, schedule_fee(total), fee))
    return found


def as_found(plant: dict) -> tuple:
    changed = plant["changed"]
    key = changed.get("payout_reference_id") if plant["kind"].startswith("payout") else changed["shipment_id"]
    return (plant["kind"], key, Decimal(changed["expected_amount"]), Decimal(changed["actual_amount"]))


def unpaid_sale(sandbox) -> dict:
    """The latest shipment, its SALE listed but not paid out yet (captured in the last payout_delay_days)."""
    state = sandbox.admin.state(include="orders,transactions")
    txn = next(t for t in state["transactions"] if t["transaction_type"] == "SALE")  # newest first
    assert not txn.get("payout_reference_id")
    order = next(o for o in state["orders"] if o["id"] == txn["order_id"])
    shipment = next(s for s in order["shipments"]["data"] if s["id"] == txn["shipment_id"])
    return {"order": order, "shipment": shipment, "transaction": txn}


def listed(graph: SandboxGraph) -> dict[str, dict]:
    pages = graph.pages(f"{PAGE}/commerce_transactions", fields=f"{FIELDS},items", limit=100)
    return {t["id"]: t for p in pages for t in p["data"]}


def test_the_seeded_world_has_no_discrepancy(sandbox, graph) -> None:
    assert exceptions(sandbox, graph) == set()


def test_payout_short_by_an_amount(sandbox, graph) -> None:
    payout = sandbox.admin.state(include="payouts")["payouts"][-1]
    plant = sandbox.admin.plant("payout_short", payout_reference_id=payout["payout_reference_id"], amount="2.35")
    assert plant["status"] == "applied" and plant["target"] == {"payout_reference_id": payout["payout_reference_id"]}
    changed = plant["changed"]
    assert changed["transfer_id"] == payout["transfer_id"] and changed["currency"] == "USD"
    assert Decimal(changed["expected_amount"]) == amount(payout["amount"])
    assert Decimal(changed["actual_amount"]) == amount(payout["amount"]) - Decimal("2.35")
    assert changed["difference"] == "-2.35"
    assert exceptions(sandbox, graph) == {as_found(plant)}


def test_failed_payout(sandbox, graph) -> None:
    payout = sandbox.admin.state(include="payouts")["payouts"][0]
    plant = sandbox.admin.plant("payout_failed", payout_reference_id=payout["payout_reference_id"])
    assert plant["changed"]["status"] == "FAILED" and plant["changed"]["amount"] == payout["amount"]["amount"]
    assert exceptions(sandbox, graph) == {as_found(plant)}
    with pytest.raises(SandboxAdminError, match="already"):
        sandbox.admin.plant("payout_failed", payout_reference_id=payout["payout_reference_id"])


def test_missing_sale_of_a_paid_out_shipment(sandbox, graph) -> None:
    state = sandbox.admin.state(include="payouts,transactions")
    payout = next(p for p in state["payouts"] if len(p["transaction_ids"]) > 1)
    txn = next(t for t in state["transactions"] if t["id"] in payout["transaction_ids"] and t.get("shipment_id"))
    plant = sandbox.admin.plant("missing_sale", shipment_id=txn["shipment_id"])
    changed = plant["changed"]
    assert (changed["transaction_id"], changed["order_id"]) == (txn["id"], txn["order_id"])
    assert Decimal(changed["expected_amount"]) == amount(txn["total_amount"]) and changed["actual_amount"] == "0.00"
    assert exceptions(sandbox, graph) == {as_found(plant)}  # its payout no longer holds it: still the sum of nets
    assert txn["id"] not in listed(graph)
    after = sandbox.admin.state(include="payouts")["payouts"]
    paid = next(p for p in after if p["payout_reference_id"] == payout["payout_reference_id"])
    assert amount(paid["amount"]) == amount(payout["amount"]) - amount(txn["net_payment_amount"])
    assert txn["id"] not in paid["transaction_ids"]


@pytest.mark.parametrize("remitted", [True, False])
def test_tax_mismatch_in_one_jurisdiction(sandbox, graph, remitted) -> None:
    orders = sandbox.admin.state(include="orders")["orders"]
    order = next(
        o
        for o in orders
        if o["shipments"]["data"]
        and o["estimated_payment_details"]["tax_remitted"] is remitted
        and not o["refunds"]["data"]
    )
    plant = sandbox.admin.plant("tax_mismatch", order_id=order["id"], amount="0.07")
    changed = plant["changed"]
    assert changed["shipment_id"] == order["shipments"]["data"][0]["id"] and changed["difference"] == "0.07"
    assert changed["jurisdiction"] == order["shipping_address"]["state"] and changed["tax_remitted"] is remitted
    assert Decimal(changed["jurisdiction_actual_amount"]) - Decimal(changed["jurisdiction_expected_amount"]) == Decimal(
        "0.07"
    )
    # the buyer paid the same: the gross check in exceptions() holds, payouts stay the sum of their nets
    assert exceptions(sandbox, graph) == {as_found(plant)}
    txn = listed(graph)[changed["transaction_id"]]
    item_rows = [r for i in txn["items"]["data"] for r in i["tax_details"]["data"]]
    assert sum(amount(r["item_tax_amount"]) for r in item_rows) == Decimal(changed["actual_amount"])


def test_fee_off_rate(sandbox, graph) -> None:
    sale = unpaid_sale(sandbox)
    plant = sandbox.admin.plant("fee_off_rate", shipment_id=sale["shipment"]["id"], amount="0.25")
    changed = plant["changed"]
    assert Decimal(changed["actual_amount"]) == Decimal(changed["expected_amount"]) - Decimal("0.25") < 0
    assert exceptions(sandbox, graph) == {as_found(plant)}
    sandbox.admin.clock(7 * DAY)  # paid out with the lower net: the payout is still the sum of its nets
    assert exceptions(sandbox, graph) == {as_found(plant)}


def test_late_transaction_appears_days_after_its_capture(sandbox, graph) -> None:
    sale = unpaid_sale(sandbox)
    plant = sandbox.admin.plant("late_transaction", shipment_id=sale["shipment"]["id"], days=3)
    changed = plant["changed"]
    assert changed["captured_at"] == sale["transaction"]["transaction_date"]
    captured = datetime.fromisoformat(changed["captured_at"])
    assert datetime.fromisoformat(changed["transaction_date"]) == captured + timedelta(days=3)
    assert changed["appears_at"] > sandbox.admin.state(include="clock")["clock"]["now"]
    # in flight: captured, its SALE not listed yet
    expected = Decimal(changed["expected_amount"])
    assert exceptions(sandbox, graph) == {("missing_sale", sale["shipment"]["id"], expected, Decimal(0))}
    sandbox.admin.clock(3 * DAY)
    assert exceptions(sandbox, graph) == set()  # matched
    txn = listed(graph)[changed["transaction_id"]]
    assert txn["transaction_date"] == changed["transaction_date"] and "payout_reference_id" not in txn
    sandbox.admin.clock(6 * DAY)
    assert listed(graph)[changed["transaction_id"]]["payout_reference_id"]
    assert exceptions(sandbox, graph) == set()


def test_next_sale_and_next_payout(sandbox, graph) -> None:
    missing = sandbox.admin.plant("missing_sale", next=True)
    failed = sandbox.admin.plant("payout_failed", next=True)
    assert (missing["status"], missing["target"], missing["changed"]) == ("waiting", {"next": True}, {})
    order = ship_an_unshipped_order(sandbox, graph, f"plant{next(_keys)}", "P-1")
    sandbox.admin.clock(DAY + 1)  # the next payout is made at the next midnight
    plants = {p["id"]: p for p in sandbox.admin.plants()}
    missing, failed = plants[missing["id"]], plants[failed["id"]]
    assert missing["status"] == failed["status"] == "applied"
    assert missing["changed"]["order_id"] == order["id"]
    assert exceptions(sandbox, graph) == {as_found(missing), as_found(failed)}


def test_picks_are_deterministic_for_a_seed(sandbox) -> None:
    kinds = ("payout_short", "payout_failed", "missing_sale", "tax_mismatch", "fee_off_rate", "late_transaction")

    def plant_all() -> list[dict]:
        return [sandbox.admin.plant(kind, pick=True) for kind in kinds]

    anchor = int(time.time())  # now: the latest SALEs are not paid out yet (late_transaction can pick one)
    sandbox.admin.seed(seed=7, orders=80, anchor=anchor)
    first = plant_all()
    sandbox.admin.seed(seed=7, orders=80, anchor=anchor)
    assert plant_all() == first
    assert len({p["target"].get("shipment_id") or p["target"]["payout_reference_id"] for p in first}) == len(kinds)
    assert sandbox.admin.state(include="plants")["plants"] == first
    sandbox.admin.seed(seed=8, orders=80, anchor=anchor)
    assert plant_all() != first


def test_refusals(sandbox) -> None:
    with pytest.raises(SandboxAdminError, match="kind must be one of"):
        sandbox.admin.plant("payout_lost", pick=True)
    with pytest.raises(SandboxAdminError, match="name the target"):
        sandbox.admin.plant("missing_sale")
    with pytest.raises(SandboxAdminError, match="no payout"):
        sandbox.admin.plant("payout_short", payout_reference_id="1")
    with pytest.raises(SandboxAdminError, match="amount"):
        sandbox.admin.plant("payout_short", pick=True, amount="-1")
    sale = unpaid_sale(sandbox)
    sandbox.admin.plant("fee_off_rate", shipment_id=sale["shipment"]["id"])
    with pytest.raises(SandboxAdminError, match="already has a plant"):
        sandbox.admin.plant("tax_mismatch", shipment_id=sale["shipment"]["id"])
    assert len(sandbox.admin.plants()) == 1
    sandbox.admin.reset()
    assert sandbox.admin.plants() == []


def test_the_demo_plants_one_of_each_found_by_the_checks(sandbox, graph) -> None:
    now = sandbox.admin.state(include="clock")["clock"]["now"]
    planted = plant_finance_discrepancies(sandbox.url, since=now - 10 * DAY)
    assert sorted(p["kind"] for p in planted) == sorted(KINDS) and {p["status"] for p in planted} == {"applied"}
    targets = [p["target"].get("shipment_id") or p["target"]["payout_reference_id"] for p in planted]
    assert len(set(targets)) == len(targets)
    missing = next(p for p in planted if p["kind"] == "missing_sale")["changed"]
    assert datetime.fromisoformat(missing["captured_at"]).timestamp() < now - MISSING_SALE_AGE_DAYS * DAY
    late = next(p for p in planted if p["kind"] == "late_transaction")
    assert late["changed"]["appears_at"] > now
    in_flight = ("missing_sale", late["changed"]["shipment_id"], Decimal(late["changed"]["expected_amount"]), 0)
    assert exceptions(sandbox, graph) == {as_found(p) for p in planted if p is not late} | {in_flight}
    sandbox.admin.clock(2 * DAY)  # the late SALE appears: matched
    assert exceptions(sandbox, graph) == {as_found(p) for p in planted if p is not late}
    sandbox.admin.reset()
    now = sandbox.admin.state(include="clock")["clock"]["now"]
    again = plant_finance_discrepancies(sandbox.url, since=now - 10 * DAY)
    assert [p["target"] for p in again] == [p["target"] for p in planted]  # the same for the same seed


def test_a_later_plant_in_a_planted_payout_updates_its_figures(sandbox, graph) -> None:
    state = sandbox.admin.state(include="payouts,transactions")
    sales_of = {
        p["payout_reference_id"]: [
            t for t in state["transactions"] if t["id"] in p["transaction_ids"] and t.get("shipment_id")
        ]
        for p in state["payouts"]
    }
    payout = next(p for p in state["payouts"] if len(sales_of[p["payout_reference_id"]]) > 1)
    sales = sales_of[payout["payout_reference_id"]]
    short = sandbox.admin.plant("payout_short", payout_reference_id=payout["payout_reference_id"], amount="1.00")
    fee = sandbox.admin.plant("fee_off_rate", shipment_id=sales[0]["shipment_id"], amount="0.30")
    missing = sandbox.admin.plant("missing_sale", shipment_id=sales[-1]["shipment_id"])
    assert missing["changed"]["removed_from_payout"] == payout["payout_reference_id"]
    short = next(p for p in sandbox.admin.plants() if p["id"] == short["id"])
    expected = amount(payout["amount"]) - Decimal("0.30") - amount(sales[-1]["net_payment_amount"])
    assert (Decimal(short["changed"]["expected_amount"]), short["changed"]["difference"]) == (expected, "-1.00")
    assert exceptions(sandbox, graph) == {as_found(short), as_found(fee), as_found(missing)}


def test_a_waiting_plant_that_does_not_fit_the_next_sale_keeps_waiting(sandbox, graph) -> None:
    unfit = sandbox.admin.plant("fee_off_rate", next=True, amount="-100000.00")  # would make the fee positive
    fit = sandbox.admin.plant("tax_mismatch", next=True)
    order = ship_an_unshipped_order(sandbox, graph, f"plant{next(_keys)}", "P-2")
    plants = {p["id"]: p for p in sandbox.admin.plants()}
    assert plants[unfit["id"]]["status"] == "waiting"
    assert plants[fit["id"]]["status"] == "applied" and plants[fit["id"]]["changed"]["order_id"] == order["id"]
