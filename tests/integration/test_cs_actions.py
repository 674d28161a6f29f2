"""Customer-service actions (fb_commerce.cs.actions) on SQLite and PostgreSQL: each refusal rule, the outbox row
and the audit, and the same form submitted twice queued once."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from support import CS_NOW, meta_order

from fb_commerce.cs import actions
from fb_commerce.cs.actions import CancelForm, ItemLine, RefundForm, TrackingForm
from fb_commerce.orders.reference import default_reference
from fb_commerce.orders.store import PageRows, store_page
from fb_commerce.warehouse import schema
from fb_commerce.warehouse.upsert import upsert

SHIPPED_AND_OPEN = {"in_progress": 1, "fulfilled": 1, "cancelled": 0}
OPEN = {"in_progress": 1, "fulfilled": 0, "cancelled": 0}
ORDERS = [
    meta_order(
        "20001",
        "Jean Dupont",
        "jean@example.com",
        items=[("i1", "SKU-1", 2, "10.00", SHIPPED_AND_OPEN), ("i2", "SKU-2", 1, "5.00", OPEN)],
    ),
    meta_order("20002", "Ana Lima", "ana@example.com", state="FB_PROCESSING"),
    meta_order("20003", "Bo Chen", "bo@example.com"),
]


@pytest.fixture
def engine(warehouse_engine):
    store_page(warehouse_engine, PageRows.of(ORDERS, CS_NOW), generator=default_reference)
    upsert(
        warehouse_engine,
        schema.fb_shipments,
        [
            {
                "shipment_id": "s1",
                "order_id": "20001",
                "external_shipment_id": "ext1",
                "carrier": "ups",
                "tracking_number": "1Z1",
                "items": [{"id": "i1", "retailer_id": "SKU-1", "quantity": 1}],
            },
            {
                "shipment_id": "s9",
                "order_id": "20003",
                "carrier": "ups",
                "tracking_number": "1Z9",
                "items": [{"id": "i1", "quantity": 1}],
            },
        ],
    )
    upsert(
        warehouse_engine,
        schema.fb_returns,
        [
            {"return_id": "r1", "order_id": "20001", "return_status": "REQUESTED"},
            {"return_id": "r2", "order_id": "20001", "return_status": "REFUNDED"},
            {"return_id": "r3", "order_id": "20003", "return_status": "REQUESTED"},
        ],
    )
    return warehouse_engine


def submit(engine, form):
    return actions.submit(engine, form, actor="agent.smith", source="cli")


def refund(**fields) -> RefundForm:
    return RefundForm(**{"order": "20001", "reason_code": "DAMAGED_GOODS", **fields})


def one(item: str, quantity: int | None = None, amount: str | None = None) -> list[ItemLine]:
    return [ItemLine(item, quantity, Decimal(amount) if amount else None)]


def refused(engine, form) -> str:
    result = submit(engine, form)
    assert result.status == "refused", result
    assert result.request_id is None
    return " | ".join(result.reasons)


def outbox_rows(engine, table: str) -> list[dict]:
    t = schema.metadata.tables[table]
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t)).mappings()]


def audit(engine) -> list[dict]:
    t = schema.fb_cs_actions
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.created_at)).mappings()]


# --- refusals ------------------------------------------------------------------------------------------------


def test_unknown_order_and_item(engine) -> None:
    assert "No order 'nope'" in refused(engine, refund(order="nope", items=one("SKU-1", 1)))
    assert "has no item 'SKU-404'" in refused(engine, refund(items=one("SKU-404", 1)))


def test_refund_of_an_unshipped_item(engine) -> None:
    assert "not shipped, so not charged: cancel it instead" in refused(engine, refund(items=one("SKU-2", 1)))


def test_refund_of_more_than_was_paid(engine) -> None:
    reasons = refused(engine, refund(items=one("SKU-1", 2)))
    assert '"Product SKU-1" (SKU-1) quantity: 2 is more than the 1 shipped and not refunded' in reasons
    assert "10.01 is more than the 10.00 charged" in refused(engine, refund(items=one("i1", amount="10.01")))
    assert "4.01 is more than the 4.00 shipping charged" in refused(engine, refund(shipping_refund=Decimal("4.01")))
    assert "leaves nothing of the 10.00 refunded" in refused(
        engine, refund(items=one("SKU-1", 1), return_shipping_deduction=Decimal("10.00"))
    )


def test_refund_needs_something_a_reason_and_an_open_return(engine) -> None:
    assert "Nothing to refund" in refused(engine, refund())
    assert "Reason: choose one of" in refused(engine, refund(reason_code="FACEBOOK_INITIATED", items=one("SKU-1", 1)))
    assert "give a quantity or an amount" in refused(engine, refund(items=[ItemLine("SKU-1", 1, Decimal("1"))]))
    assert "Return r2 is REFUNDED" in refused(engine, refund(items=one("SKU-1", 1), return_id="r2"))
    assert "Return r3 is not a return of order 20001" in refused(engine, refund(items=one("SKU-1", 1), return_id="r3"))


def test_cancel_after_shipping(engine) -> None:
    reasons = refused(engine, CancelForm(order="20001", items=one("SKU-1", 2)))
    assert "2 is more than the 1 unshipped and not cancelled (the rest is shipped: refund it instead)" in reasons
    assert "has shipped items" in refused(engine, CancelForm(order="20001", whole_order=True))


def test_cancel_rules(engine) -> None:
    assert "FB_PROCESSING" in refused(engine, CancelForm(order="20002", whole_order=True))
    assert "Nothing to cancel" in refused(engine, CancelForm(order="20001"))
    assert "Reason: choose one of" in refused(
        engine, CancelForm(order="20001", reason_code="BORED", items=one("i2", 1))
    )


def test_tracking_rules(engine) -> None:
    assert "has no shipment nope" in refused(
        engine, TrackingForm(order="20001", shipment="nope", carrier="ups", tracking_number="1Z2")
    )
    assert "1Z9 is already used by shipment s9 of order 20003" in refused(
        engine, TrackingForm(order="20001", shipment="s1", carrier="ups", tracking_number="1Z9")
    )
    assert "Tracking number: required" in refused(
        engine, TrackingForm(order="20001", shipment="s1", carrier="ups", tracking_number=" ")
    )


# --- queued once, audited ------------------------------------------------------------------------------------


def test_refund_is_queued_once_and_audited(engine) -> None:
    form = refund(items=one("SKU-1", 1), reason_text="Sorry!", return_id="r1", shipping_refund=Decimal("4.00"))
    first = submit(engine, form)
    assert (first.status, first.reasons, first.repeat) == ("queued", [], False)
    assert first.amount == Decimal("14.00") and first.currency == "EUR"
    (row,) = outbox_rows(engine, "fb_refund_requests")
    assert row["request_id"] == first.request_id and row["status"] == "pending"
    assert row["items"] == [{"item_id": "i1", "quantity": 1}]
    assert (row["reason_code"], row["reason_text"], row["return_id"]) == ("DAMAGED_GOODS", "Sorry!", "r1")
    assert row["shipping_refund"] == Decimal("4.00") and row["currency"] == "EUR"

    second = submit(engine, form)  # a double click
    assert second.status == "queued" and second.repeat and second.request_id == first.request_id
    assert second.action_id != first.action_id
    assert len(outbox_rows(engine, "fb_refund_requests")) == 1
    steps = audit(engine)
    assert [(s["status"], s["requested_by"], s["source"], s["request_id"]) for s in steps] == [
        ("queued", "agent.smith", "cli", first.request_id),
        ("queued", "agent.smith", "cli", first.request_id),
    ]
    assert steps[0]["parameters"]["items"] == [{"item": "SKU-1", "quantity": 1, "amount": None}]
    assert steps[1]["result"]["repeat"] is True

    # The queued refund took the shipped unit: another refund of it is refused before it reaches Meta.
    assert "more than the 0 shipped and not refunded" in refused(engine, refund(items=one("SKU-1", 1), reason_text="x"))


def test_a_new_submission_id_is_a_new_request(engine) -> None:
    a = submit(engine, CancelForm(order="20001", items=one("i2", 1), submission_id="form-1"))
    b = submit(engine, CancelForm(order="20001", items=one("i2", 1), submission_id="form-1"))
    assert a.request_id == b.request_id and b.repeat
    c = submit(engine, CancelForm(order="20001", items=one("i2", 1), submission_id="form-2"))
    assert c.status == "refused" and "more than the 0 unshipped" in c.reasons[0]


def test_refusal_is_audited_and_queues_nothing(engine) -> None:
    result = submit(engine, refund(items=one("SKU-2", 1)))
    assert outbox_rows(engine, "fb_refund_requests") == []
    (step,) = audit(engine)
    assert step["action_id"] == result.action_id and step["status"] == "refused"
    assert "cancel it instead" in step["error_message"]
    status = actions.action_status(engine, result.action_id)
    assert status is not None and status.status == "refused" and "cancel it instead" in status.message


def test_action_status_records_the_outcome_once(engine) -> None:
    result = submit(engine, TrackingForm(order="20001", shipment="ext1", carrier="dhl", tracking_number="JD01"))
    assert result.status == "queued"
    (row,) = outbox_rows(engine, "fb_shipment_requests")
    assert (row["request_type"], row["external_shipment_id"], row["carrier"]) == ("update_tracking", "ext1", "dhl")
    status = actions.action_status(engine, result.action_id)
    assert status.status == "pending" and status.outbox_status == "pending"
    table = schema.fb_shipment_requests
    with engine.begin() as conn:
        conn.execute(
            sa.update(table)
            .where(table.c.request_id == result.request_id)
            .values(status="failed", last_error_code=2382045, last_error_message="Duplicate tracking number")
        )
    for _ in range(2):
        status = actions.action_status(engine, result.action_id)
        assert (status.status, status.error_code, status.message) == ("failed", 2382045, "Duplicate tracking number")
    assert [s["status"] for s in audit(engine)] == ["queued", "failed"]
    assert audit(engine)[1]["error_message"] == "Duplicate tracking number"
    assert actions.action_status(engine, "no-such-action") is None


def test_who_and_from_where_are_required(engine) -> None:
    with pytest.raises(ValueError, match="source"):
        actions.submit(engine, refund(items=one("SKU-1", 1)), actor="a", source="email")
    with pytest.raises(ValueError, match="actor"):
        actions.submit(engine, refund(items=one("SKU-1", 1)), actor=" ", source="web")
