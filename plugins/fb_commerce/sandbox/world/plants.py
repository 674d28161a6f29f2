"""Finance discrepancies planted on purpose (``POST /_sandbox/plants``), so reconciliation has known cases to find.

Each plant changes the world in one way and keeps everything else consistent, so that exactly one reconciliation
rule should fire for it:

- ``payout_short`` (``amount``, default 1.00): a payout pays ``amount`` less than the sum of its transactions' net;
- ``payout_failed``: a payout is FAILED (nothing reached the bank);
- ``missing_sale``: a shipment is captured (its payment names the SALE's id) but its SALE never appears: not
  listed, not paid out;
- ``tax_mismatch`` (``amount``, default 0.50, optional ``jurisdiction``): a SALE carries ``amount`` more tax than
  its shipment captured, in one jurisdiction (default: the first line's first one); what the buyer paid is
  unchanged (the items carry that much less), so where Meta remits the tax the withheld tax grows and the net
  shrinks by ``amount`` (its payout with it: a payout stays the sum of its transactions' net);
- ``fee_off_rate`` (``amount``, default 0.25): a SALE's processing fee is ``amount`` more than the schedule's (net
  and payout follow);
- ``late_transaction`` (``days``, default 2): a SALE appears ``days`` after its capture, dated then (not listed
  before; paid out ``payout_delay_days`` after it appears). Only a SALE not yet paid out can be made late.

Targets: payout plants take ``payout_reference_id``, SALE plants ``shipment_id`` or ``order_id`` (the order's first
shipment whose SALE is listed); ``next: true`` waits for the next SALE or payout made (``orders.ship`` and
``timeline.tick`` apply it then); ``pick: true`` lets the sandbox choose one deterministically for the seed
(optionally dated in [``since``, ``before``), Unix seconds; SALE picks skip orders with refunds; a picked late
SALE has not appeared yet once made late; picks keep plants apart: no picked SALE in a planted payout, no picked
payout holding a planted SALE). A target is planted once; when a later plant changes a planted payout's
transactions, the payout plant's ``changed`` tells the figures as they are now.

What a plant changed (``Plant.changed``) names the ids and gives ``currency``, ``expected_amount``,
``actual_amount`` and ``difference`` (= actual - expected) as strings, like ``fb_reconciliation_issues``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .clock import iso
from .model import Order, Payout, Plant, Shipment, Transaction
from .money import ZERO, parse_amount
from .money_flow import payout_day

if TYPE_CHECKING:
    from .store import Store

PAYOUT_KINDS = ("payout_short", "payout_failed")
SALE_KINDS = ("missing_sale", "tax_mismatch", "fee_off_rate", "late_transaction")
KINDS = PAYOUT_KINDS + SALE_KINDS
_DEFAULT_AMOUNTS = {"payout_short": "1.00", "tax_mismatch": "0.50", "fee_off_rate": "0.25"}
DEFAULT_LATE_DAYS = 2.0
_DAY = 86400.0


class PlantRefused(ValueError):
    """A plant cannot be made as asked (unknown kind or target, a target already planted, bad amount)."""


# --- planting ---------------------------------------------------------------------------------------------------


def plant(sb: Store, payload: dict[str, Any]) -> Plant:
    """Plant one discrepancy described by ``payload`` (see the module docstring); the caller holds the lock."""
    kind = str(payload.get("kind") or "")
    if kind not in KINDS:
        raise PlantRefused(f"kind must be one of {', '.join(KINDS)}")
    params = _params(kind, payload)
    record = Plant(f"plant-{len(sb.plants) + 1}", kind, {}, params)
    if kind in PAYOUT_KINDS:
        payout = _payout_target(sb, record, payload)
        if payout is not None:
            _check_payout(sb, record, payout)
            sb.plants.append(record)
            _apply_to_payout(sb, record, payout)
            return record
    else:
        found = _sale_target(sb, record, payload)
        if found is not None:
            order, shipment, txn = found
            _check_sale(sb, record, shipment, txn)
            sb.plants.append(record)
            _apply_to_sale(sb, record, order, shipment, txn)
            return record
    record.target = {"next": True}
    sb.plants.append(record)
    return record


def as_dict(record: Plant) -> dict[str, Any]:
    """A plant as the admin API answers it (a copy: later changes to the world do not show through)."""
    return asdict(record)


def _params(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if kind in _DEFAULT_AMOUNTS:
        amount = parse_amount(payload.get("amount", _DEFAULT_AMOUNTS[kind]))
        if amount is None or amount == 0 or (kind == "payout_short" and amount < 0):
            raise PlantRefused("amount must be a non-zero amount (positive for payout_short)")
        params["amount"] = str(amount)
    if kind == "tax_mismatch" and payload.get("jurisdiction"):
        params["jurisdiction"] = str(payload["jurisdiction"])
    if kind == "late_transaction":
        try:
            days = float(payload.get("days", DEFAULT_LATE_DAYS))
        except (TypeError, ValueError):
            raise PlantRefused("days must be a number") from None
        if not days > 0:
            raise PlantRefused("days must be > 0")
        params["days"] = days
    return params


def _planted(sb: Store, key: str) -> set[str]:
    return {str(p.target[key]) for p in sb.plants if key in p.target}


def _window(payload: dict[str, Any]) -> tuple[float, float]:
    try:
        since = float(payload["since"]) if payload.get("since") is not None else float("-inf")
        before = float(payload["before"]) if payload.get("before") is not None else float("inf")
    except (TypeError, ValueError):
        raise PlantRefused("since and before are Unix seconds") from None
    return since, before


def _pick(sb: Store, record: Plant, candidates: list[Any]) -> Any:
    if not candidates:
        raise PlantRefused(f"nothing left to plant {record.kind} on (in that window)")
    return random.Random(f"{sb.params.seed}:plant:{record.kind}:{record.id}").choice(candidates)


def _payout_target(sb: Store, record: Plant, payload: dict[str, Any]) -> Payout | None:
    ref = payload.get("payout_reference_id")
    if ref is not None:
        payout = sb.payouts.get(str(ref))
        if payout is None:
            raise PlantRefused(f"no payout {ref}")
        return payout
    if payload.get("next"):
        return None
    if payload.get("pick"):
        since, before = _window(payload)
        taken = _planted(sb, "payout_reference_id")
        candidates = [
            p
            for _, ref_id in sorted(sb.payout_keys, key=lambda k: k[1])
            if (p := sb.payouts[ref_id]).status == "COMPLETED" and ref_id not in taken and since <= p.date < before
        ]
        return _pick(sb, record, candidates)
    raise PlantRefused("name the target: payout_reference_id, next: true or pick: true")


def _payouts_of_planted_sales(sb: Store) -> set[str]:
    out: set[str] = set()
    for record in sb.plants:
        txn = sb.transactions.get(record.changed.get("transaction_id", ""))
        if txn is not None and txn.payout_reference_id is not None:
            out.add(txn.payout_reference_id)
        elif record.changed.get("removed_from_payout"):
            out.add(record.changed["removed_from_payout"])
    return out


def _listed_sale(sb: Store, shipment: Shipment) -> Transaction | None:
    return sb.transactions.get(shipment.transaction_id) if shipment.transaction_id else None


def _sale_target(sb: Store, record: Plant, payload: dict[str, Any]) -> tuple[Order, Shipment, Transaction] | None:
    shipment_id, order_id = payload.get("shipment_id"), payload.get("order_id")
    if shipment_id is not None:
        kind, shipment = sb.nodes.get(str(shipment_id), (None, None))
        if kind != "shipment" or not isinstance(shipment, Shipment):
            raise PlantRefused(f"no shipment {shipment_id}")
        txn = _listed_sale(sb, shipment)
        if txn is None:
            raise PlantRefused(f"shipment {shipment_id} has no listed SALE (already planted?)")
        return sb.orders[shipment.order_id], shipment, txn
    if order_id is not None:
        order = sb.orders.get(str(order_id))
        if order is None:
            raise PlantRefused(f"no order {order_id}")
        taken = _planted(sb, "shipment_id")
        for shipment in order.shipments:
            txn = _listed_sale(sb, shipment)
            if txn is not None and shipment.id not in taken:
                return order, shipment, txn
        raise PlantRefused(f"order {order_id} has no shipment with a listed SALE left to plant on")
    if payload.get("next"):
        return None
    if payload.get("pick"):
        since, before = _window(payload)
        taken = _planted(sb, "shipment_id")
        planted_payouts = _planted(sb, "payout_reference_id")
        candidates = []
        for order in sorted(sb.orders.values(), key=lambda o: o.id):
            if order.refunds:
                continue  # keep a planted SALE clear of the refund rules
            for shipment in order.shipments:
                txn = _listed_sale(sb, shipment)
                if (
                    txn is not None
                    and shipment.id not in taken
                    and txn.payout_reference_id not in planted_payouts
                    and since <= shipment.created < before
                    and (record.kind != "late_transaction" or _stays_in_flight(sb, record, shipment, txn))
                    and _fits(_check_sale, sb, record, shipment, txn)  # never pick what the plant would refuse
                ):
                    candidates.append((order, shipment, txn))
        return _pick(sb, record, candidates)
    raise PlantRefused("name the target: shipment_id, order_id, next: true or pick: true")


def _stays_in_flight(sb: Store, record: Plant, shipment: Shipment, txn: Transaction) -> bool:
    """A picked late SALE is one not paid out that will not have appeared yet once made late."""
    return txn.payout_reference_id is None and shipment.created + float(record.params["days"]) * _DAY > sb.now()


def _check_payout(sb: Store, record: Plant, payout: Payout) -> None:
    if payout.payout_reference_id in _planted(sb, "payout_reference_id"):
        raise PlantRefused(f"payout {payout.payout_reference_id} already has a plant")
    if record.kind == "payout_failed" and payout.status == "FAILED":
        raise PlantRefused(f"payout {payout.payout_reference_id} is already FAILED")
    if record.kind == "payout_short" and Decimal(record.params["amount"]) > payout.amount:
        raise PlantRefused(f"payout {payout.payout_reference_id} is only {payout.amount}")


def _check_sale(sb: Store, record: Plant, shipment: Shipment, txn: Transaction) -> None:
    if shipment.id in _planted(sb, "shipment_id"):
        raise PlantRefused(f"shipment {shipment.id} already has a plant")
    if record.kind == "late_transaction" and txn.payout_reference_id is not None:
        raise PlantRefused(f"transaction {txn.id} is already paid out: only an unpaid SALE can be made late")
    paid = sb.payouts.get(txn.payout_reference_id or "")
    if record.kind == "missing_sale" and paid is not None and paid.transaction_ids == [txn.id]:
        raise PlantRefused(f"transaction {txn.id} is its payout's only one: pick another shipment")
    if record.kind == "fee_off_rate" and txn.processing_fee - Decimal(record.params["amount"]) > 0:
        raise PlantRefused("a SALE's fee stays negative (or 0): amount too far below the schedule")
    wanted = record.params.get("jurisdiction")
    if wanted is not None and all(j.jurisdiction != wanted for j in txn.lines[0].tax_details):
        raise PlantRefused(f"no jurisdiction {wanted} on the first item of SALE {txn.id}")


# --- applying (now, or when the next SALE or payout is made) -----------------------------------------------------


def on_sale(sb: Store, order: Order, shipment: Shipment) -> None:
    """A shipment was just captured (``orders.ship``): the oldest SALE plant waiting for the next one that fits
    this SALE (e.g. its ``jurisdiction``) takes it."""
    txn = _listed_sale(sb, shipment)
    for waiting in _waiting(sb, SALE_KINDS):
        if txn is not None and _fits(_check_sale, sb, waiting, shipment, txn):
            _apply_to_sale(sb, waiting, order, shipment, txn)
            return


def on_payouts(sb: Store, made: list[Payout]) -> None:
    """Payouts were just made (``timeline.tick``): each takes the oldest payout plant waiting that fits it."""
    for payout in made:
        for waiting in _waiting(sb, PAYOUT_KINDS):
            if _fits(_check_payout, sb, waiting, payout):
                _apply_to_payout(sb, waiting, payout)
                break


def _waiting(sb: Store, kinds: tuple[str, ...]) -> list[Plant]:
    return [p for p in sb.plants if p.status == "waiting" and p.kind in kinds]


def _fits(check: Callable[..., None], *args: Any) -> bool:
    try:
        check(*args)
    except PlantRefused:
        return False
    return True


def _amounts(expected: Decimal, actual: Decimal) -> dict[str, str]:
    return {
        "currency": "USD",
        "expected_amount": f"{expected:.2f}",
        "actual_amount": f"{actual:.2f}",
        "difference": f"{actual - expected:.2f}",
    }


def _apply_to_payout(sb: Store, record: Plant, payout: Payout) -> None:
    record.target = {"payout_reference_id": payout.payout_reference_id}
    if record.kind == "payout_short":
        payout.amount -= Decimal(record.params["amount"])
    else:  # payout_failed: the amount never reached the bank
        payout.status = "FAILED"
    record.status = "applied"
    _describe_payout(sb, record, payout)


def _describe_payout(sb: Store, record: Plant, payout: Payout) -> None:
    ids = {"payout_reference_id": payout.payout_reference_id, "transfer_id": payout.transfer_id}
    if record.kind == "payout_short":
        expected = sum((sb.transactions[t].net for t in payout.transaction_ids), ZERO)
        record.changed = {**ids, **_amounts(expected, payout.amount)}
    else:
        record.changed = {**ids, "status": "FAILED", "amount": f"{payout.amount:.2f}", **_amounts(payout.amount, ZERO)}


def _payout_changed(sb: Store, payout: Payout) -> None:
    """A SALE plant changed what ``payout`` holds: a plant on that payout tells its figures as they are now."""
    for record in sb.plants:
        if record.status == "applied" and record.target.get("payout_reference_id") == payout.payout_reference_id:
            _describe_payout(sb, record, payout)


def _apply_to_sale(sb: Store, record: Plant, order: Order, shipment: Shipment, txn: Transaction) -> None:
    record.target = {"shipment_id": shipment.id}
    ids = {"order_id": order.id, "shipment_id": shipment.id, "transaction_id": txn.id}
    if record.kind == "missing_sale":
        record.changed = {**ids, "captured_at": iso(shipment.created), **_amounts(txn.gross, ZERO)}
        if txn.payout_reference_id is not None:  # never paid out either: its payout stays the sum of its nets
            payout = sb.payouts[txn.payout_reference_id]
            record.changed["removed_from_payout"] = payout.payout_reference_id
            payout.transaction_ids.remove(txn.id)
            payout.amount -= txn.net
            txn.payout_reference_id = None
            _payout_changed(sb, payout)
        sb.drop_transaction(txn)
        sb.missing_transactions[txn.id] = txn
    elif record.kind == "tax_mismatch":
        delta = Decimal(record.params["amount"])
        line = txn.lines[0]
        wanted = record.params.get("jurisdiction")
        part = next(j for j in line.tax_details if wanted in (None, j.jurisdiction))
        expected_part = part.amount
        part.amount += delta
        line.tax += delta
        txn.tax += delta
        txn.subtotal -= delta  # what the buyer paid stays the same: more of it is called tax
        if order.tax_remitted:
            txn.tax_withheld += delta
            _follow_net(sb, txn, -delta)
        record.changed = {
            **ids,
            "jurisdiction": part.jurisdiction,
            "jurisdiction_expected_amount": f"{expected_part:.2f}",
            "jurisdiction_actual_amount": f"{part.amount:.2f}",
            "tax_remitted": order.tax_remitted,
            **_amounts(shipment.tax_amount, txn.tax),
        }
    elif record.kind == "fee_off_rate":
        delta = Decimal(record.params["amount"])
        expected = txn.processing_fee
        txn.processing_fee -= delta  # more negative: Meta kept more
        _follow_net(sb, txn, -delta)
        record.changed = {**ids, **_amounts(expected, txn.processing_fee)}
    else:  # late_transaction: listed again under its later date, paid out after it appears
        sb.drop_transaction(txn)
        txn.date = shipment.created + float(record.params["days"]) * _DAY
        txn.payout_due = payout_day(sb, txn.date)
        sb.add_transaction(txn)
        record.changed = {
            **ids,
            "captured_at": iso(shipment.created),
            "transaction_date": iso(txn.date),
            "appears_at": txn.date,
            **_amounts(txn.gross, txn.gross),
        }
    record.status = "applied"


def _follow_net(sb: Store, txn: Transaction, delta: Decimal) -> None:
    """The net changed by ``delta``: a payout that already holds the transaction stays the sum of its nets."""
    if txn.payout_reference_id is not None:
        payout = sb.payouts[txn.payout_reference_id]
        payout.amount += delta
        _payout_changed(sb, payout)


__all__ = ["KINDS", "PAYOUT_KINDS", "SALE_KINDS", "PlantRefused", "as_dict", "on_payouts", "on_sale", "plant"]
