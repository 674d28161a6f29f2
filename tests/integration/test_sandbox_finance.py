"""Finance over HTTP: transactions and payouts agree with what was shipped and refunded."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from support import ship_an_unshipped_order

from fb_commerce import defaults
from fb_commerce.sandbox.client import SandboxGraph

CMS = defaults.SANDBOX_CMS_ID
_keys = itertools.count(1)


@pytest.fixture
def graph(sandbox) -> SandboxGraph:
    return SandboxGraph(sandbox.url)


def amount(money: dict) -> Decimal:
    return Decimal(money["amount"])


def fee(total: Decimal) -> Decimal:
    """The documented rule: 5% of the shipment total, or a flat 0.40 at or below 8.00; negative, as Meta sends
    a SALE's fee (docs/graph-api.md §3.1)."""
    if total <= Decimal("8.00"):
        return -min(Decimal("0.40"), total)
    return -(total * Decimal("0.05")).quantize(Decimal("0.01"))


def rows(details: dict) -> list[dict]:
    """``tax_details`` come as ``{data: [...]}``, one row per jurisdiction."""
    assert set(details) == {"data"}
    return details["data"]


def all_transactions(graph: SandboxGraph, **params) -> list[dict]:
    fields = (
        "id,transaction_type,transaction_date,order_id,merchant_order_id,processing_fee,net_payment_amount,"
        "tax_rate,tax_details,payout_reference_id,transfer_id,items,shipment_id,refund_id,total_amount,tax_amount,"
        "order_details{id,merchant_order_id}"
    )
    pages = graph.pages(f"{CMS}/commerce_transactions", fields=fields, limit=50, **params)
    return [t for p in pages for t in p["data"]]


def all_payouts(graph: SandboxGraph, **params) -> list[dict]:
    pages = graph.pages(f"{CMS}/commerce_payouts", limit=10, **params)
    return [p for page in pages for p in page["data"]]


def test_one_sale_per_shipment_and_one_refund_per_refund(sandbox, graph) -> None:
    orders = sandbox.admin.state(include="orders")["orders"]
    txns = all_transactions(graph)
    sales = {t["shipment_id"]: t for t in txns if t["transaction_type"] == "SALE"}
    refunds = {t["refund_id"]: t for t in txns if t["transaction_type"] == "REFUND"}
    shipments = {s["id"]: (o, s) for o in orders for s in o["shipments"]["data"]}
    refund_records = {r["id"]: (o, r) for o in orders for r in o["refunds"]["data"]}
    assert set(sales) == set(shipments) and shipments
    assert set(refunds) == set(refund_records) and refund_records
    for shipment_id, txn in sales.items():
        order, shipment = shipments[shipment_id]
        assert txn["order_id"] == order["id"] == txn["order_details"]["id"]
        # items carry the retailer id as `id` (docs/graph-api.md §3.1)
        assert {i["id"]: i["quantity"] for i in txn["items"]["data"]} == {
            i["retailer_id"]: i["quantity"] for i in shipment["items"]["data"]
        }
        tax = sum(amount(i["tax"]["final_tax"]) for i in shipment["items"]["data"])
        assert sum(amount(r["item_tax_amount"]) for r in rows(txn["tax_details"])) == tax
        total = amount(txn["total_amount"])
        assert amount(txn["processing_fee"]) == fee(total) < 0
        withheld = tax if order["estimated_payment_details"]["tax_remitted"] else Decimal(0)
        assert amount(txn["net_payment_amount"]) == total + fee(total) - withheld > 0
    for refund_id, txn in refunds.items():
        order, record = refund_records[refund_id]
        assert amount(txn["total_amount"]) == -amount(record["refund_amount"]["total"])
        assert amount(txn["processing_fee"]) == 0 and txn["processing_fee"]["amount"] == "0.00"  # no fee back
        assert amount(txn["net_payment_amount"]) < 0


def test_tax_is_detailed_per_jurisdiction_and_adds_up_to_the_cent(sandbox, graph) -> None:
    orders = {o["id"]: o for o in sandbox.admin.state(include="orders")["orders"]}
    txns = all_transactions(graph)
    seen_rates = set()
    for txn in txns:
        order = orders[txn["order_id"]]
        assert txn["tax_rate"] == f"{order['tax_rate']}%"  # the total, e.g. "8.25%"
        lines = rows(txn["tax_details"])
        assert lines[0]["jurisdiction"] == order["shipping_address"]["state"]
        jurisdictions = [r["jurisdiction"] for r in lines]
        rates = [Decimal(r["item_tax_rate"].removesuffix("%")) for r in lines]
        assert sum(rates) == Decimal(order["tax_rate"])
        seen_rates.add(len(lines))
        per_item: Counter = Counter()
        for item in txn["items"]["data"]:
            assert set(item) == {"id", "product_id", "quantity", "price_per_unit", "tax_details"}
            item_rows = rows(item["tax_details"])
            assert [r["jurisdiction"] for r in item_rows] == jurisdictions
            assert [r["item_tax_rate"] for r in item_rows] == [r["item_tax_rate"] for r in lines]
            for r in item_rows:
                assert r["imposition"] == "SALES_TAX" and r["tax_category"]
                per_item[r["jurisdiction"]] += amount(r["item_tax_amount"])
                sign = 1 if txn["transaction_type"] == "SALE" else -1
                assert sign * amount(r["item_tax_amount"]) >= 0
        assert {j: amount(r["item_tax_amount"]) for j, r in zip(jurisdictions, lines, strict=True)} == {
            j: per_item[j] for j in jurisdictions
        }
        assert sum(per_item.values()) == amount(txn["tax_amount"])
    assert {1, 2, 3, 4} <= seen_rates  # single-rate states up to Chicago's four jurisdictions


def split(tax: Decimal, rates: list[Decimal]) -> list[Decimal]:
    """The documented allocation: by rate, cumulatively, half-up to the cent."""
    out, running, allocated = [], Decimal(0), Decimal(0)
    for rate in rates:
        running += rate
        share = (tax * running / sum(rates)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if sum(rates) else 0
        out.append(share - allocated)
        allocated = share
    return out


def test_an_items_sales_add_up_per_jurisdiction_to_the_split_of_its_tax(sandbox, graph) -> None:
    orders = {o["id"]: o for o in sandbox.admin.state(include="orders")["orders"]}
    per_item: Counter = Counter()
    rates: dict[str, list[Decimal]] = {}
    for txn in all_transactions(graph):
        if txn["transaction_type"] != "SALE":
            continue
        rates[txn["order_id"]] = [Decimal(r["item_tax_rate"].removesuffix("%")) for r in rows(txn["tax_details"])]
        for item in txn["items"]["data"]:
            for n, r in enumerate(rows(item["tax_details"])):
                per_item[(txn["order_id"], item["id"], n)] += amount(r["item_tax_amount"])
    several = 0
    for order_id, order_rates in rates.items():
        for item in orders[order_id]["items"]["data"]:
            captured = amount(item["tax_details"]["captured_tax"]["total_tax"])
            got = [per_item[(order_id, item["retailer_id"], n)] for n in range(len(order_rates))]
            assert got == split(captured, order_rates), (order_id, item["retailer_id"])
            several += len(order_rates) > 1 and captured > 0
    assert several


def test_captured_money_matches_items_and_shipping(sandbox, graph) -> None:
    orders = sandbox.admin.state(include="orders")["orders"]
    txns = all_transactions(graph)
    sale_total = Counter()
    for t in txns:
        if t["transaction_type"] == "SALE":
            sale_total[t["order_id"]] += amount(t["total_amount"])
    for order in orders:
        items = order["items"]["data"]
        shipped_value = sum(amount(i["price_per_unit"]) * i["status"]["fulfilled"] for i in items)
        if not shipped_value:
            assert sale_total[order["id"]] == 0
            continue
        fully = all(i["status"]["in_progress"] == 0 and i["status"]["cancelled"] == 0 for i in items)
        est = order["estimated_payment_details"]
        if fully:  # everything shipped: exactly what the buyer was charged
            assert sale_total[order["id"]] == amount(est["total_amount"])
        else:
            assert sale_total[order["id"]] <= amount(est["total_amount"])
        payments = graph.get(f"{order['id']}/payments").json()["data"]
        assert len(payments) == len(order["shipments"]["data"])
        assert sum(amount(p["total_amount"]) for p in payments) == sale_total[order["id"]]


def test_payouts_group_transactions(sandbox, graph) -> None:
    payouts = all_payouts(graph)
    assert payouts and {p["status"] for p in payouts} <= {"COMPLETED", "FAILED"}
    assert set(payouts[0]) == {"amount", "payout_date", "payout_reference_id", "status", "transfer_id"}
    txns = all_transactions(graph)
    for payout in payouts:
        mine = [t for t in txns if t.get("payout_reference_id") == payout["payout_reference_id"]]
        assert mine and all(t["transfer_id"] == payout["transfer_id"] for t in mine)
        assert payout["transfer_id"].startswith("po_")
        assert sum(amount(t["net_payment_amount"]) for t in mine) == amount(payout["amount"])
        by_ref = all_transactions(graph, payout_reference_id=payout["payout_reference_id"])
        assert {t["id"] for t in by_ref} == {t["id"] for t in mine}
        paid = datetime.fromisoformat(payout["payout_date"]).replace(tzinfo=UTC).date()
        for t in mine:
            captured = datetime.fromisoformat(t["transaction_date"]).date()
            assert (paid - captured).days in (5, 6)  # 5 days after capture (a day rolls over if not positive)
    unpaid = [t for t in txns if not t.get("payout_reference_id")]
    assert unpaid, "recent captures are not paid out yet"


def test_clock_advance_pays_out_a_new_shipment(sandbox, graph) -> None:
    order = ship_an_unshipped_order(sandbox, graph, f"fin{next(_keys)}", "FIN-1")
    sale = next(t for t in all_transactions(graph) if t["order_id"] == order["id"])
    assert "payout_reference_id" not in sale
    before = {p["payout_reference_id"] for p in all_payouts(graph)}
    sandbox.admin.clock(6 * 86400)
    sale = next(t for t in all_transactions(graph) if t["order_id"] == order["id"])
    assert sale["payout_reference_id"] and sale["payout_reference_id"] not in before
    state = sandbox.admin.state(include="payouts,transactions")
    payout = next(p for p in state["payouts"] if p["payout_reference_id"] == sale["payout_reference_id"])
    assert sale["id"] in payout["transaction_ids"]


def test_time_windows(sandbox, graph) -> None:
    txns = all_transactions(graph)
    dates = sorted(int(datetime.fromisoformat(t["transaction_date"]).timestamp()) for t in txns)
    start, end = dates[len(dates) // 3], dates[2 * len(dates) // 3]
    windowed = all_transactions(graph, start_time=start, end_time=end)
    assert windowed and all(
        start <= int(datetime.fromisoformat(t["transaction_date"]).timestamp()) < end for t in windowed
    )
    assert len(windowed) == sum(1 for d in dates if start <= d < end)
    payouts = all_payouts(graph)
    day = sorted(p["payout_date"] for p in payouts)[-1]
    ts = int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())
    assert [p["payout_date"] for p in all_payouts(graph, start_time=ts)] == [day] * len(
        [p for p in payouts if p["payout_date"] == day]
    )
    assert graph.get(f"{CMS}/commerce_payouts", start_time="yesterday").json()["error"]["code"] == 100
    page_view = graph.get(f"{defaults.SANDBOX_PAGE_ID}/commerce_payouts").json()["data"]
    assert page_view == graph.get(f"{CMS}/commerce_payouts").json()["data"]


def test_reports_permission(sandbox, graph) -> None:
    sandbox.admin.config(permissions=["commerce_account_read_orders"])
    assert graph.get(f"{CMS}/commerce_transactions").status_code == 403
