"""Money after the sale: one SALE transaction per shipment, one REFUND per refund, payouts grouping them.

Rules (sandbox choices, consistent everywhere and documented in the README):
- a shipment captures its items, its prorated share of shipping and the tax of the shipped units;
- processing fee per SALE: 5% of the captured total, or a flat 0.40 when the total is 8.00 or less
  (``SandboxConfig.processing_fee_rate`` / ``flat_fee`` / ``flat_fee_threshold``); refunds give no fee back;
- signs are Meta's (docs/graph-api.md §3.1): a SALE's ``processing_fee`` is negative and its net positive, a
  REFUND's fee is 0 (>= 0) and its net negative;
- where Meta remits the tax itself (``tax_remitted``, marketplace-facilitator states) the tax is withheld from the
  payout: ``net_payment_amount = total + processing_fee - withheld tax``;
- each item's tax is split over the order's jurisdictions (state, county, city, district) in proportion to their
  rates, cumulatively in a fixed order, so the jurisdictions' cents add up exactly to the item's tax in every
  transaction, and an item's SALEs (REFUNDs) add up per jurisdiction to the split of all it captured (gave back);
- transactions captured on one UTC day are paid out together ``payout_delay_days`` later (at that midnight); a day
  whose net sum is not positive rolls over into the next day's payout; a payout's amount is the sum of its
  transactions' net.
"""

from __future__ import annotations

import heapq
import random
from decimal import Decimal
from typing import TYPE_CHECKING

from .clock import day_start
from .model import JurisdictionTax, Order, Payout, Refund, Shipment, Transaction, TransactionLine
from .money import ZERO, cents, prorate

if TYPE_CHECKING:
    from .store import Store


def processing_fee(sb: Store, total: Decimal) -> Decimal:
    """The fee on a SALE of ``total``, signed as Meta sends it: negative (a cost to the merchant)."""
    cfg = sb.config
    if total <= Decimal(cfg.flat_fee_threshold):
        return ZERO - min(Decimal(cfg.flat_fee), total)  # ZERO - x: never a "-0.00"
    return ZERO - cents(total * Decimal(cfg.processing_fee_rate))


def _shares(order: Order, tax: Decimal) -> list[tuple[str, Decimal, Decimal]]:
    """(jurisdiction, rate, share) of a non-negative ``tax`` by rate, allocated cumulatively: the cents add up."""
    jurisdictions = order.tax_jurisdictions or [(order.shipping_address["state"], order.tax_rate)]
    whole = sum((rate for _, rate in jurisdictions), Decimal(0))
    out: list[tuple[str, Decimal, Decimal]] = []
    running, allocated = Decimal(0), ZERO
    for name, rate in jurisdictions:
        running += rate
        share = prorate(tax, running, whole) if whole else (tax if not out else ZERO)
        out.append((name, rate, share - allocated))
        allocated = share
    return out


def split_tax(order: Order, tax: Decimal, before: Decimal, sign: int = 1) -> list[JurisdictionTax]:
    """An item's ``tax`` in one transaction over the order's jurisdictions, given the ``before`` it captured (or
    gave back) in earlier ones: the split of ``before + tax`` minus the split of ``before``. So the jurisdictions add
    up exactly to ``tax`` and an item's transactions add up, jurisdiction by jurisdiction, to the split of its whole
    tax; ``sign`` -1 books it given back (a REFUND)."""
    after, prior = _shares(order, before + tax), _shares(order, before)
    out = []
    for (name, rate, total), (_, _, earlier) in zip(after, prior, strict=True):
        part = total - earlier
        out.append(JurisdictionTax(name, rate, ZERO - part if sign < 0 else part))  # ZERO - x: never a "-0.00"
    return out


def jurisdiction_totals(txn: Transaction) -> list[JurisdictionTax]:
    """The transaction's tax per jurisdiction: the sum of its lines', in the order's jurisdiction order."""
    totals: dict[str, JurisdictionTax] = {}
    for line in txn.lines:
        for part in line.tax_details:
            total = totals.setdefault(part.jurisdiction, JurisdictionTax(part.jurisdiction, part.rate, ZERO))
            total.amount += part.amount
    return list(totals.values())


def _before(order: Order, item_id: str, tax: Decimal, refunded: bool) -> Decimal:
    """What the item captured (or gave back) before this transaction: its running total already includes ``tax``."""
    item = order.item(item_id)
    if item is None:
        return ZERO
    return (item.refunded_tax if refunded else item.captured_tax) - tax


def record_sale(sb: Store, order: Order, shipment: Shipment, now: float) -> Transaction:
    lines = [
        TransactionLine(
            sl.item_id,
            sl.quantity,
            sl.amount,
            sl.tax,
            split_tax(order, sl.tax, _before(order, sl.item_id, sl.tax, refunded=False)),
        )
        for sl in shipment.lines
    ]
    tax = shipment.tax_amount
    gross = shipment.items_amount + shipment.shipping_amount + tax
    txn = Transaction(
        id=sb.new_id("transaction"),
        type="SALE",
        date=now,
        order_id=order.id,
        source_id=shipment.id,
        lines=lines,
        subtotal=shipment.items_amount,
        shipping=shipment.shipping_amount,
        tax=tax,
        processing_fee=processing_fee(sb, gross),
        tax_withheld=tax if order.tax_remitted else ZERO,
        payout_due=payout_day(sb, now),
    )
    shipment.transaction_id = txn.id
    sb.add_transaction(txn)
    return txn


def record_refund(sb: Store, order: Order, refund: Refund, now: float) -> Transaction:
    lines = [
        TransactionLine(
            rl.item_id,
            rl.quantity,
            -rl.subtotal,
            -rl.tax,
            split_tax(order, rl.tax, _before(order, rl.item_id, rl.tax, refunded=True), sign=-1),
        )
        for rl in refund.lines
    ]
    # Deductions (return shipping kept by the merchant) reduce what goes back: book them against the subtotal.
    txn = Transaction(
        id=sb.new_id("transaction"),
        type="REFUND",
        date=now,
        order_id=order.id,
        source_id=refund.id,
        lines=lines,
        subtotal=-(refund.subtotal - refund.deductions),
        shipping=-refund.shipping,
        tax=-refund.tax,
        processing_fee=ZERO,
        tax_withheld=-refund.tax if order.tax_remitted else ZERO,
        payout_due=payout_day(sb, now),
    )
    refund.transaction_id = txn.id
    sb.add_transaction(txn)
    return txn


def payout_day(sb: Store, appeared: float) -> float:
    """Everything that appeared on one UTC day is paid out together, ``payout_delay_days`` later (at that midnight)."""
    return day_start(appeared + sb.config.payout_delay_days * 86400)


def run_payouts(sb: Store, now: float) -> list[Payout]:
    """Pay out every transaction due by ``now``, one payout per UTC due day."""
    due: dict[float, list[Transaction]] = {}
    taken: set[str] = set()
    while sb.pending_payouts and sb.pending_payouts[0][0] <= now:
        when, txn_id = heapq.heappop(sb.pending_payouts)
        txn = sb.transactions.get(txn_id)
        if txn is None or txn.payout_reference_id is not None or txn.payout_due != when or txn_id in taken:
            continue  # a planted change moved or removed it since it was queued
        taken.add(txn_id)
        due.setdefault(txn.payout_due, []).append(txn)
    made: list[Payout] = []
    days = sorted(due)
    carried: list[Transaction] = []
    for index, day in enumerate(days):
        txns = carried + due[day]
        carried = []
        amount = sum((t.net for t in txns), ZERO)
        if amount <= 0:
            # nothing to pay that day: roll into the next day's payout. When that day is due too (a run catching up
            # on several days), join it here: queued again, they would come back alone and roll on for ever.
            if index + 1 < len(days):
                for t in txns:
                    t.payout_due = days[index + 1]
                carried = txns
                continue
            for t in txns:
                t.payout_due = day + 86400
                heapq.heappush(sb.pending_payouts, (t.payout_due, t.id))
            continue
        ref = sb.new_id("payout")
        failed = random.Random(f"{sb.params.seed}:payout:{ref}").random() < sb.config.payout_failure_rate
        payout = Payout(
            ref,
            f"po_{sb.new_id('transfer')}",  # docs/graph-api.md §3.1: transfer ids look like po_...
            day,
            cents(amount),
            "USD",
            "FAILED" if failed else "COMPLETED",
            [t.id for t in txns],
        )
        for t in txns:
            t.payout_reference_id = ref
        sb.add_payout(payout)
        made.append(payout)
    return made
