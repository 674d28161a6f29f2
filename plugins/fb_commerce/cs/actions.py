"""Customer-service actions: refund, cancel, change tracking. Checked, queued in the outbox, audited.

There is one way to write to Meta: the outbox tables that fb_order_updates drains (docs/outbox-contract.md). A
customer-service action is one outbox row, built from a form and checked *before* it is queued by the very
checks the drain applies (:func:`fb_commerce.orders.updates.validate.validate`), against the stored order moved
forward by what Meta applied since the last orders sync and by the order's requests still queued
(:func:`fb_commerce.orders.updates.send.outlook`), or against Meta's live state when a Graph client is given
(``live``). A form that cannot be done is refused in plain words and nothing is queued; the drain checks the
row again before it sends it.

Idempotency: the row's ``request_id`` is derived from the action, the order, the outbox values the form gives
and the form's ``submission_id`` (the web page puts a one-time token in each form it renders). Submitting the
same form twice (a double click, a reloaded page, a DAG run triggered twice with the same conf) gives the same
request id, so the second submission finds the row queued and adds nothing: it lands once at Meta. The same
refund done again on purpose is a new form (a new token on the page; another reason text or a new
``submission_id`` in the DAG).

Audit: every submission gets an ``action_id`` and rows in ``fb_cs_actions``, one per step, never updated:
``refused`` (with the reasons), ``awaiting_approval``/``approved``/``declined`` (refunds above the approval
amount, DAG), ``queued`` (the outbox row), then ``sent`` or ``failed`` (Meta's code and message), appended by
:func:`action_status` when it first sees the outbox row settled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fb_commerce.cs.lookup import jsonable, money_text, order_id_of
from fb_commerce.cs.reasons import CANCEL_REASONS, REFUND_REASONS
from fb_commerce.orders.updates.requests import (
    CANCEL,
    FAILED,
    PENDING,
    REFUND,
    SENT,
    UPDATE_TRACKING,
    OutboxRequest,
    RequestKind,
)
from fb_commerce.warehouse import schema

SOURCES = ("web", "dag", "cli")
#: returns a refund may settle: not refused and not settled already
OPEN_RETURN_STATUSES = ("REQUESTED", "APPROVED")

# the steps of an action in fb_cs_actions
REFUSED, AWAITING_APPROVAL, APPROVED, DECLINED, QUEUED = (
    "refused",
    "awaiting_approval",
    "approved",
    "declined",
    "queued",
)
STEPS = (REFUSED, AWAITING_APPROVAL, APPROVED, DECLINED, QUEUED, SENT, FAILED)
ACTION_KINDS: dict[str, RequestKind] = {"refund": REFUND, "cancel": CANCEL, "update_tracking": UPDATE_TRACKING}


# --- the forms -----------------------------------------------------------------------------------------------


@dataclass
class ItemLine:
    """One item of a form: the item (Meta's item id, or the SKU when only one line has it) and how much."""

    item: str
    quantity: int | None = None
    amount: Decimal | None = None


@dataclass
class RefundForm:
    """A refund of shipped units (items by quantity or amount before tax), and/or shipping.

    ``full_refund`` refunds everything shipped and not refunded, with the shipping (``items`` then empty).
    ``return_shipping_deduction`` is kept from the refund for the return label. ``reason_text`` is shown to the
    buyer. ``return_id`` names the buyer's return this refund settles.
    """

    order: str
    reason_code: str
    items: list[ItemLine] = field(default_factory=list)
    full_refund: bool = False
    shipping_refund: Decimal | None = None
    return_shipping_deduction: Decimal | None = None
    reason_text: str | None = None
    return_id: str | None = None
    submission_id: str | None = None


@dataclass
class CancelForm:
    """A cancellation of unshipped units (``items``), or of the whole order while nothing shipped."""

    order: str
    reason_code: str = "CUSTOMER_REQUESTED"
    items: list[ItemLine] = field(default_factory=list)
    whole_order: bool = False
    reason_description: str | None = None
    restock: bool = True
    submission_id: str | None = None


@dataclass
class TrackingForm:
    """New carrier and tracking number for a shipment (Meta's shipment id or our external shipment id)."""

    order: str
    shipment: str
    carrier: str
    tracking_number: str
    shipping_method: str | None = None
    submission_id: str | None = None


Form = RefundForm | CancelForm | TrackingForm


@dataclass
class ActionResult:
    """What became of a submission: ``queued`` (``request_id`` is the outbox row) or ``refused`` (``reasons``
    say why in plain words; nothing was queued). ``repeat_of`` is set when the same form was already queued:
    nothing new was queued, ``request_id`` is that row."""

    action_id: str
    status: str
    reasons: list[str]
    request_id: str | None
    order_id: str | None = None
    action_type: str = ""
    repeat: bool = False
    #: what the refund gives back (items + shipping - deduction), when known
    amount: Decimal | None = None
    currency: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["amount"] = money_text(self.amount)
        return data


@dataclass
class ActionStatus:
    """An action as it stands: its last step, and its outbox row's delivery state.

    ``status`` is the action's: refused, awaiting_approval, declined, pending (queued, not answered yet),
    sent or failed; ``message`` says why (the reasons, or Meta's message).
    """

    action_id: str
    action_type: str
    order_id: str | None
    status: str
    message: str | None
    request_id: str | None
    outbox_status: str | None = None
    attempts: int = 0
    error_code: int | None = None
    sent_at: dt.datetime | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return jsonable(self)


# --- forms from plain values (a DAG's params, a web form) ----------------------------------------------------

_ITEM_TEXT = re.compile(r"^\s*(?P<item>\S+)\s*(?:[x*:=]\s*)?(?P<value>[0-9]+(?:\.[0-9]+)?)?\s*$", re.IGNORECASE)


def item_lines(values: Any) -> tuple[list[ItemLine], list[str]]:
    """Items written one per line as ``<item> <quantity>`` or ``<item> <amount>`` (the amount with a dot:
    ``SKU-1 2``, ``SKU-1 x 2``, ``SKU-1 12.50``); the item is Meta's item id or the SKU. Returns the lines and
    what could not be read."""
    if values is None or values == "":
        return [], []
    if isinstance(values, str):
        values = values.splitlines()
    lines: list[ItemLine] = []
    problems: list[str] = []
    for number, raw in enumerate(values, start=1):
        if isinstance(raw, Mapping):
            lines.append(ItemLine(str(raw.get("item") or ""), raw.get("quantity"), raw.get("amount")))
            continue
        text = str(raw or "").strip()
        if not text:
            continue
        found = _ITEM_TEXT.match(text)
        if found is None or found.group("value") is None:
            problems.append(
                f"Items, line {number} ({text!r}): write the item and a quantity or an amount, "
                "e.g. 'SKU-1 2' or 'SKU-1 12.50'"
            )
            continue
        value = found.group("value")
        if "." in value:
            lines.append(ItemLine(found.group("item"), amount=Decimal(value)))
        else:
            lines.append(ItemLine(found.group("item"), quantity=int(value)))
    return lines, problems


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"))


def read_form(action_type: str, values: Mapping[str, Any]) -> tuple[Form, list[str]]:
    """The form of ``action_type`` (refund, cancel, update_tracking) from plain values, and what could not be
    read (item lines); amounts stay text until checked."""
    lines, problems = item_lines(values.get("items"))
    order, submission_id = str(values.get("order") or "").strip(), _text(values.get("repeat_key"))
    form: Form
    if action_type == "refund":
        form = RefundForm(
            reason_code=str(values.get("reason_code") or ""),
            items=lines,
            full_refund=_flag(values.get("full_refund")),
            shipping_refund=values.get("shipping_refund") or None,
            return_shipping_deduction=values.get("return_shipping_deduction") or None,
            reason_text=values.get("reason_text"),
            return_id=values.get("return_id"),
            order=order,
            submission_id=submission_id,
        )
    elif action_type == "cancel":
        form = CancelForm(
            reason_code=str(values.get("reason_code") or ""),
            items=lines,
            whole_order=_flag(values.get("whole_order")),
            reason_description=values.get("reason_description"),
            restock=_flag(values.get("restock", True)),
            order=order,
            submission_id=submission_id,
        )
    elif action_type == "update_tracking":
        form = TrackingForm(
            shipment=str(values.get("shipment") or ""),
            carrier=str(values.get("carrier") or ""),
            tracking_number=str(values.get("tracking_number") or ""),
            shipping_method=values.get("shipping_method"),
            order=order,
            submission_id=submission_id,
        )
    else:
        raise ValueError(f"action {action_type!r} is not one of {', '.join(ACTION_KINDS)}")
    return form, problems


def refuse(
    bind: Engine | Connection,
    form: Form,
    reasons: list[str],
    *,
    actor: str,
    source: str,
    order_id: str | None = None,
    action_id: str | None = None,
    run_id: str | None = None,
) -> ActionResult:
    """Record ``form`` as refused for ``reasons`` (plain words), queueing nothing."""
    action_id = action_id or f"cs-{uuid.uuid4().hex}"
    append_step(
        bind,
        action_id,
        REFUSED,
        action_type=_action_type(form),
        order_id=order_id,
        actor=actor,
        source=source,
        parameters=_parameters(form),
        run_id=run_id,
        error_message="; ".join(reasons),
        result={"reasons": reasons},
    )
    return ActionResult(action_id, REFUSED, reasons, None, order_id=order_id, action_type=_action_type(form))


def _parameters(form: Form) -> dict[str, Any]:
    """The form as submitted, as the audit keeps it."""
    return {"form_type": type(form).__name__, **_jsonable(form)}


# --- plain words ---------------------------------------------------------------------------------------------

_ITEM_WHERE = re.compile(r"items\[\d+\] \(item_id ([^)]*)\)")
_COLUMN_WORDS = {
    "shipping_refund:": "shipping refund:",
    "return_shipping_deduction:": "return shipping deduction:",
    "reason_code:": "reason:",
    "tracking_number:": "tracking number:",
    "carrier:": "carrier:",
    "items:": "items:",
}


def _plain_words(problem: str, names: Mapping[str, str]) -> str:
    """A problem of the outbox checks, with items named by their product rather than their position."""
    text = _ITEM_WHERE.sub(lambda m: f"item {names.get(m.group(1), m.group(1))}", problem)
    text = re.sub(r"\.(quantity|amount):", r" \1:", text)
    for column, words in _COLUMN_WORDS.items():
        if text.startswith(column):
            text = words + text[len(column) :]
    return text[:1].upper() + text[1:]


def _jsonable(value: Any) -> Any:
    """As submitted: amounts exactly as typed (a string), not rounded for display."""
    return jsonable(value, str)


# --- from a form to an outbox row ----------------------------------------------------------------------------


@dataclass
class _Draft:
    """A form made into outbox values, or the reasons it cannot be."""

    kind: RequestKind
    order_id: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    currency: str | None = None


def _text(value: str | None) -> str | None:
    value = None if value is None else str(value).strip()
    return value or None


def _decimal(value: Any, what: str, reasons: list[str]) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        reasons.append(f"{what}: {value!r} is not an amount like 12.34")
        return None
    if not number.is_finite() or number <= 0:
        reasons.append(f"{what}: must be more than 0, not {value}")
        return None
    return number


def _order_items(conn: Connection, order_id: str) -> list[Mapping[str, Any]]:
    items = schema.fb_order_items
    query = sa.select(items.c.item_id, items.c.retailer_id, items.c.product_name).where(items.c.order_id == order_id)
    return [dict(row) for row in conn.execute(query).mappings()]


def _resolve_lines(
    conn: Connection, draft: _Draft, lines: list[ItemLine], measures: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Form lines as outbox ``items`` by item id; an unknown or ambiguous item is a reason."""
    assert draft.order_id is not None
    rows = _order_items(conn, draft.order_id)
    for row in rows:
        label = row["product_name"] or row["retailer_id"] or row["item_id"]
        draft.names[str(row["item_id"])] = f'"{label}" ({row["retailer_id"] or row["item_id"]})'
    entries = []
    for line in lines:
        key = str(line.item).strip()
        matches = [r for r in rows if str(r["item_id"]) == key] or [r for r in rows if r["retailer_id"] == key]
        if not matches:
            draft.reasons.append(f"Order {draft.order_id} has no item {key!r}")
            continue
        if len(matches) > 1:
            draft.reasons.append(f"SKU {key} is on {len(matches)} lines of the order: choose the line by its item id")
            continue
        item_id = str(matches[0]["item_id"])
        entry: dict[str, Any] = {"item_id": item_id}
        given = 0
        if line.quantity not in (None, 0, ""):
            given += 1
            entry["quantity"] = line.quantity
        if "amount" in measures and line.amount not in (None, ""):
            amount = _decimal(line.amount, f"{draft.names.get(item_id, item_id)} amount", draft.reasons)
            if amount is not None:
                given += 1
                entry["amount"] = str(amount)
        if given != 1:
            what = "a quantity or an amount (one of them)" if "amount" in measures else "a quantity"
            draft.reasons.append(f"Item {draft.names.get(item_id, item_id)}: give {what}")
            continue
        entries.append(entry)
    return entries


def _return_open(conn: Connection, order_id: str, return_id: str) -> str | None:
    """Why the return cannot be settled by a refund of this order (None: it can)."""
    returns = schema.fb_returns
    row = conn.execute(
        sa.select(returns.c.order_id, returns.c.return_status).where(returns.c.return_id == return_id)
    ).first()
    if row is None or str(row.order_id) != order_id:
        return f"Return {return_id} is not a return of order {order_id}"
    if row.return_status not in OPEN_RETURN_STATUSES:
        return f"Return {return_id} is {row.return_status}: only a requested or approved return can be settled"
    return None


def _draft_refund(conn: Connection, draft: _Draft, form: RefundForm) -> None:
    if form.reason_code not in REFUND_REASONS:
        draft.reasons.append(f"Reason: choose one of {', '.join(REFUND_REASONS.values())}")
    shipping = _decimal(form.shipping_refund, "Shipping refund", draft.reasons)
    deduction = _decimal(form.return_shipping_deduction, "Return shipping deduction", draft.reasons)
    if form.full_refund and form.items:
        draft.reasons.append("Full refund refunds every item: leave the items empty, or untick full refund")
    items = None if form.full_refund else _resolve_lines(conn, draft, form.items, ("quantity", "amount"))
    if not form.full_refund and not form.items and shipping is None:
        draft.reasons.append("Nothing to refund: choose items, a shipping refund, or a full refund")
    return_id = _text(form.return_id)
    if return_id is not None and draft.order_id is not None:
        why = _return_open(conn, draft.order_id, return_id)
        if why:
            draft.reasons.append(why)
    draft.fields = {
        "items": items,
        "currency": draft.currency,
        "shipping_refund": shipping,
        "return_shipping_deduction": deduction,
        "reason_code": form.reason_code,
        "reason_text": _text(form.reason_text),
        "return_id": return_id,
    }


def _draft_cancel(conn: Connection, draft: _Draft, form: CancelForm) -> None:
    if form.reason_code not in CANCEL_REASONS:
        draft.reasons.append(f"Reason: choose one of {', '.join(CANCEL_REASONS.values())}")
    if form.whole_order and form.items:
        draft.reasons.append("Whole order cancels every item: leave the items empty, or untick whole order")
    if not form.whole_order and not form.items:
        draft.reasons.append("Nothing to cancel: choose items, or the whole order")
    items = None if form.whole_order else _resolve_lines(conn, draft, form.items, ("quantity",))
    draft.fields = {
        "items": items,
        "reason_code": form.reason_code,
        "reason_description": _text(form.reason_description),
        "restock_items": bool(form.restock),
    }


def _draft_tracking(conn: Connection, draft: _Draft, form: TrackingForm) -> None:
    assert draft.order_id is not None
    shipments = schema.fb_shipments
    key = str(form.shipment or "").strip()
    found = conn.execute(
        sa.select(shipments.c.shipment_id, shipments.c.external_shipment_id).where(
            shipments.c.order_id == draft.order_id,
            sa.or_(shipments.c.shipment_id == key, shipments.c.external_shipment_id == key),
        )
    ).first()
    shipment: dict[str, Any]
    if not key:
        draft.reasons.append("Shipment: choose the shipment whose tracking changes")
        shipment = {}
    elif found is not None and str(found.shipment_id) == key:
        shipment = {"shipment_id": key}
    else:
        # An external id of a shipment we queued and Meta has not been read back for yet is checked by validate.
        shipment = {"external_shipment_id": key}
    if not _text(form.tracking_number):
        draft.reasons.append("Tracking number: required")
    if not _text(form.carrier):
        draft.reasons.append("Carrier: required")
    draft.fields = {
        "request_type": UPDATE_TRACKING.name,
        **shipment,
        "carrier": _text(form.carrier),
        "tracking_number": _text(form.tracking_number),
        "shipping_method": _text(form.shipping_method),
    }


def _action_type(form: Form) -> str:
    if isinstance(form, RefundForm):
        return "refund"
    if isinstance(form, CancelForm):
        return "cancel"
    return "update_tracking"


def request_id_of(action_type: str, order_id: str, fields: Mapping[str, Any], submission_id: str | None) -> str:
    """The outbox ``request_id`` of a form: the same action, order, values and submission give the same id."""
    canonical = json.dumps(
        {"action": action_type, "order": order_id, "fields": _jsonable(dict(fields)), "submission": submission_id},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return f"cs-{action_type}-{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"


# --- checks --------------------------------------------------------------------------------------------------


@dataclass
class Checked:
    """A form checked against its order: the outbox request it would queue, or the reasons it cannot be."""

    action_type: str
    order_id: str | None
    reasons: list[str]
    request: OutboxRequest | None
    repeat: bool = False
    amount: Decimal | None = None
    currency: str | None = None


def _existing_row(conn: Connection, kind: RequestKind, request_id: str) -> bool:
    table = schema.metadata.tables[kind.table]
    return conn.execute(sa.select(table.c.request_id).where(table.c.request_id == request_id)).first() is not None


def _refund_amount(request: OutboxRequest, effect: Any, remaining: Any) -> Decimal | None:
    """What a checked refund gives back: items (quantities at their price, amounts) + shipping - deduction."""
    order = remaining.orders.get(request.order_id)
    if order is None or effect is None:
        return None
    total = effect.shipping_refund
    for item_id, quantity in effect.refunded_quantity.items():
        price = order.items[item_id].price_per_unit
        if price is None:
            return None
        total += price * quantity
    for value in effect.refunded_amount.values():
        total += value
    deduction = request.get("return_shipping_deduction")
    return total - Decimal(str(deduction)) if deduction is not None else total


def check(engine: Engine | Connection, form: Form, *, live: Any = None) -> Checked:
    """Check ``form`` as :func:`refund`, :func:`cancel` or :func:`update_tracking` would, queueing nothing.

    :param live: a GraphClient: the order is checked against Meta's state now instead of the warehouse's copy.
    """
    from fb_commerce.cs.lookup import connected
    from fb_commerce.orders.updates.send import outlook
    from fb_commerce.orders.updates.validate import validate

    action_type = _action_type(form)
    kind = ACTION_KINDS[action_type]
    with connected(engine) as conn:
        order_id = order_id_of(conn, str(form.order or ""))
        if order_id is None:
            reason = f"No order {form.order!r} in the warehouse (Meta's order id or the merchant reference)"
            return Checked(action_type, None, [reason], None)
        currency = conn.execute(
            sa.select(schema.fb_orders.c.currency).where(schema.fb_orders.c.order_id == order_id)
        ).scalar()
        draft = _Draft(kind, order_id, currency=currency)
        if isinstance(form, RefundForm):
            _draft_refund(conn, draft, form)
        elif isinstance(form, CancelForm):
            _draft_cancel(conn, draft, form)
        else:
            _draft_tracking(conn, draft, form)
        fields = {k: v for k, v in draft.fields.items() if v is not None or k == "items"}
        request_id = request_id_of(action_type, order_id, fields, _text(form.submission_id))
        request = OutboxRequest(
            kind=kind,
            request_id=request_id,
            order_id=order_id,
            created_at=dt.datetime.now(dt.UTC),
            fields={"request_id": request_id, "order_id": order_id, **fields},
        )
        if draft.reasons:
            return Checked(action_type, order_id, draft.reasons, None, currency=currency)
        if _existing_row(conn, kind, request_id):
            return Checked(action_type, order_id, [], request, repeat=True, currency=currency)
        live_state = None
        if live is not None:
            from fb_commerce.cs.live import live_remaining, read_live

            live_state = live_remaining(read_live(live, order_id))
        numbers = [str(fields["tracking_number"])] if fields.get("tracking_number") else []
        remaining, _queued = outlook(conn, order_id, numbers, remaining=live_state)
        verdict = validate(request, remaining)
        reasons = [_plain_words(problem, draft.names) for problem in verdict.problems]
        amount = _refund_amount(request, verdict.effect, remaining) if kind is REFUND and verdict.ok else None
        return Checked(action_type, order_id, reasons, None if reasons else request, amount=amount, currency=currency)


# --- queueing and the audit ----------------------------------------------------------------------------------


def append_step(
    bind: Engine | Connection,
    action_id: str,
    step: str,
    *,
    action_type: str,
    order_id: str | None,
    actor: str | None,
    source: str | None,
    parameters: Any = None,
    request_id: str | None = None,
    run_id: str | None = None,
    error_code: int | None = None,
    error_message: str | None = None,
    result: Any = None,
) -> bool:
    """Append one step of an action to fb_cs_actions; False when that step is already recorded (a retried task
    records it once)."""
    from fb_commerce.warehouse.upsert import insert_ignore

    if step not in STEPS:
        raise ValueError(f"step {step!r} is not one of {', '.join(STEPS)}")
    row = {
        "action_id": action_id,
        "status": step,
        "action_type": action_type,
        "order_id": order_id,
        "requested_by": actor,
        "source": source,
        "run_id": run_id,
        "parameters": _jsonable(parameters),
        "request_id": request_id,
        "error_code": error_code,
        "error_message": error_message,
        "result": _jsonable(result),
        "created_at": dt.datetime.now(dt.UTC),
    }
    return insert_ignore(bind, schema.fb_cs_actions, [row]) == 1


def _queue(conn: Connection, request: OutboxRequest) -> bool:
    """Insert the outbox row, pending; False when a row with its request_id is there already."""
    from fb_commerce.warehouse.upsert import insert_ignore

    row = {k: v for k, v in request.fields.items() if v is not None}
    row["created_at"] = request.created_at
    return insert_ignore(conn, schema.metadata.tables[request.kind.table], [row]) == 1


def submit(
    engine: Engine,
    form: Form,
    *,
    actor: str,
    source: str,
    live: Any = None,
    action_id: str | None = None,
    run_id: str | None = None,
) -> ActionResult:
    """Check ``form``, queue its outbox row and record the action (one transaction); see the module docstring.

    :param actor: who: the Airflow user (web, dag) or the OS user (cli).
    :param source: ``web``, ``dag`` or ``cli``.
    :param live: a GraphClient, to check against Meta's state now.
    :param action_id: the submission's id (default: a new one); a DAG run passes its own so a retried task
        records the action once.
    """
    if source not in SOURCES:
        raise ValueError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    if not actor or not str(actor).strip():
        raise ValueError("actor: who submits the action is required")
    action_id = action_id or f"cs-{uuid.uuid4().hex}"
    checked = check(engine, form, live=live)
    if checked.reasons or checked.request is None:
        return refuse(
            engine,
            form,
            checked.reasons,
            actor=actor,
            source=source,
            order_id=checked.order_id,
            action_id=action_id,
            run_id=run_id,
        )
    request = checked.request
    with engine.begin() as conn:
        new = False if checked.repeat else _queue(conn, request)
        details = {"amount": money_text(checked.amount), "currency": checked.currency, "repeat": not new}
        append_step(
            conn,
            action_id,
            QUEUED,
            action_type=checked.action_type,
            order_id=checked.order_id,
            actor=actor,
            source=source,
            parameters=_parameters(form),
            request_id=request.request_id,
            run_id=run_id,
            result=details,
        )
    return ActionResult(
        action_id=action_id,
        status=QUEUED,
        reasons=[],
        request_id=request.request_id,
        order_id=checked.order_id,
        action_type=checked.action_type,
        repeat=not new,
        amount=checked.amount,
        currency=checked.currency,
    )


def refund(
    engine: Engine, form: RefundForm, *, actor: str, source: str, live: Any = None, **options: Any
) -> ActionResult:
    """Refund shipped units and/or shipping (see :func:`submit`)."""
    return submit(engine, form, actor=actor, source=source, live=live, **options)


def cancel(
    engine: Engine, form: CancelForm, *, actor: str, source: str, live: Any = None, **options: Any
) -> ActionResult:
    """Cancel unshipped units or the whole order (see :func:`submit`)."""
    return submit(engine, form, actor=actor, source=source, live=live, **options)


def update_tracking(
    engine: Engine, form: TrackingForm, *, actor: str, source: str, live: Any = None, **options: Any
) -> ActionResult:
    """Change a shipment's carrier and tracking number (see :func:`submit`)."""
    return submit(engine, form, actor=actor, source=source, live=live, **options)


# --- where an action stands ----------------------------------------------------------------------------------


def action_status(engine: Engine, action_id: str) -> ActionStatus | None:
    """The action's steps and its outbox row's state now; None when there is no such action.

    When the outbox row is settled (sent, or failed with Meta's message) and the action has no such step yet,
    the step is appended, so the audit shows the outcome once a page or a DAG has looked.
    """
    actions = schema.fb_cs_actions
    with engine.connect() as conn:
        steps = [
            dict(row)
            for row in conn.execute(
                sa.select(actions).where(actions.c.action_id == action_id).order_by(actions.c.created_at)
            ).mappings()
        ]
    if not steps:
        return None
    first, by_step = steps[0], {s["status"]: s for s in steps}
    kind = ACTION_KINDS.get(first["action_type"])
    request_id = next((s["request_id"] for s in steps if s.get("request_id")), None)
    status = ActionStatus(
        action_id=action_id,
        action_type=first["action_type"],
        order_id=first["order_id"],
        status=steps[-1]["status"],
        message=steps[-1].get("error_message"),
        request_id=request_id,
        steps=steps,
    )
    if REFUSED in by_step or DECLINED in by_step:
        status.status = REFUSED if REFUSED in by_step else DECLINED
        status.message = by_step[status.status].get("error_message")
        return status
    if request_id is None or kind is None:
        return status
    table = schema.metadata.tables[kind.table]
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(
                table.c.status,
                table.c.attempts,
                table.c.last_error_code,
                table.c.last_error_message,
                table.c.sent_at,
                table.c.response,
            ).where(table.c.request_id == request_id)
        ).first()
    if row is None:
        return status
    status.outbox_status, status.attempts = row.status, int(row.attempts or 0)
    status.error_code, status.sent_at = row.last_error_code, row.sent_at
    status.status = {PENDING: "pending", SENT: SENT, FAILED: FAILED}.get(row.status, row.status)
    status.message = row.last_error_message
    if row.status in (SENT, FAILED) and row.status not in by_step:
        queued = by_step.get(QUEUED, first)
        append_step(
            engine,
            action_id,
            row.status,
            action_type=first["action_type"],
            order_id=first["order_id"],
            actor=queued.get("requested_by"),
            source=queued.get("source"),
            request_id=request_id,
            run_id=queued.get("run_id"),
            error_code=row.last_error_code if row.status == FAILED else None,
            error_message=row.last_error_message if row.status == FAILED else None,
            result={"sent_at": row.sent_at, "response": row.response},
        )
    return status
