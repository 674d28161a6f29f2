"""Money after the sale: one SALE transaction per shipment, one REFUND per refund, payouts grouping them.

Rules (sandbox choices, consistent everywhere and documented in the README):
- a shipment captures its items, its prorated share of shipping and the tax of the shipped units;
- processing fee per SALE: 5% of the captured total, or a flat 0.40 when the total is 8.00 or less
  (``SandboxConfig.processing_fee_rate`` / ``flat_fee`` / ``flat_fee_threshold``); refunds give no fee back;
- where Meta remits the tax itself (``tax_remitted``, marketplace-facilitator states) the tax is withheld from the
  payout: ``net_payment_amount = total - processing_fee - withheld tax``;
- transactions captured on one UTC day are paid out together ``payout_delay_days`` later (at that midnight); a day
  whose net sum is not positive rolls over to the next day.
"""

from __future__ import annotations

import heapq
import random
from decimal import Decimal
from typing import TYPE_CHECKING

from .clock import day_start
from .model import Order, Payout, Refund, Shipment, Transaction
from .money import ZERO, cents

if TYPE_CHECKING:
    from .store import Store


def processing_fee(sb: Store, total: Decimal) -> Decimal:
    cfg = sb.config
    if total <= Decimal(cfg.flat_fee_threshold):
        return min(Decimal(cfg.flat_fee), total)
    return cents(total * Decimal(cfg.processing_fee_rate))


def record_sale(sb: Store, order: Order, shipment: Shipment, now: float) -> Transaction:
    lines = [
        {"item_id": sl.item_id, "quantity": sl.quantity, "amount": sl.amount, "tax": sl.tax} for sl in shipment.lines
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
        payout_due=_payout_day(sb, now),
    )
    shipment.transaction_id = txn.id
    sb.add_transaction(txn)
    return txn


def record_refund(sb: Store, order: Order, refund: Refund, now: float) -> Transaction:
    lines = [
        {"item_id": rl.item_id, "quantity": rl.quantity, "amount": -rl.subtotal, "tax": -rl.tax} for rl in refund.lines
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
        payout_due=_payout_day(sb, now),
    )
    refund.transaction_id = txn.id
    sb.add_transaction(txn)
    return txn


def _payout_day(sb: Store, captured: float) -> float:
    """Everything captured on one UTC day is paid out together, ``payout_delay_days`` later (at that midnight)."""
    return day_start(captured + sb.config.payout_delay_days * 86400)


def run_payouts(sb: Store, now: float) -> list[Payout]:
    """Pay out every transaction due by ``now``, one payout per UTC due day."""
    due: dict[float, list[Transaction]] = {}
    while sb.pending_payouts and sb.pending_payouts[0][0] <= now:
        _, txn_id = heapq.heappop(sb.pending_payouts)
        txn = sb.transactions[txn_id]
        due.setdefault(txn.payout_due, []).append(txn)
    made: list[Payout] = []
    for day in sorted(due):
        txns = due[day]
        amount = sum((t.net for t in txns), ZERO)
        if amount <= 0:
            for t in txns:  # nothing to pay that day: roll into the next day's payout
                t.payout_due = day + 86400
                heapq.heappush(sb.pending_payouts, (t.payout_due, t.id))
            continue
        ref = sb.new_id("payout")
        failed = random.Random(f"{sb.params.seed}:payout:{ref}").random() < sb.config.payout_failure_rate
        payout = Payout(
            ref,
            sb.new_id("transfer"),
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
