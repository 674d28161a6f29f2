"""Operators of the customer-service DAGs (fb_cs_refund, fb_cs_cancel, fb_cs_update_tracking): thin glue between
the trigger form and :mod:`fb_commerce.cs.actions`, which checks, queues and audits; the order's queue is then
sent with fb_order_updates' own drain (:func:`fb_commerce.orders.updates.send.drain`).

The colour of a run: green when the action reached Meta (or the form was empty: nothing asked, nothing done, the
tasks are skipped; or a second person declined the refund: their decision is recorded and nothing is sent);
red when it was refused (the reasons are in the log and in fb_cs_actions), when Meta refused it, or when it is
still pending after the retries (fb_order_updates keeps sending it every 5 minutes).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param

from fb_commerce.cs.reasons import CANCEL_REASONS, REFUND_REASONS
from fb_commerce.operators.base import FbCommerceOperator, fail_task, releases_warehouse

if TYPE_CHECKING:
    from fb_commerce.cs.actions import Form

#: the DAG of each action
DAG_IDS = {"refund": "fb_cs_refund", "cancel": "fb_cs_cancel", "update_tracking": "fb_cs_update_tracking"}
AMOUNT_PATTERN = r"^[0-9]+(\.[0-9]{1,2})?$"


# --- the trigger forms -----------------------------------------------------------------------------------------


def _order_param() -> Param:
    return Param(
        None,
        type=["null", "string"],
        title="Order",
        description="Meta's order id or the merchant reference (FB-000123). Empty: nothing is done.",
        section="Order",
    )


def _items_param(what: str, example: str) -> Param:
    return Param(
        None,
        type=["null", "array"],
        items={"type": "string"},
        title="Items",
        description=f"One item per line: the SKU (or Meta's item id) and {what}, e.g. {example}.",
        section="What",
    )


def _repeat_param() -> Param:
    return Param(
        None,
        type=["null", "string"],
        title="Repeat key",
        description=(
            "Leave empty. The same form submitted twice is done once; to do exactly the same again on purpose, "
            "write any new word here."
        ),
        section="Repeat",
    )


def _amount_param(title: str, description: str) -> Param:
    return Param(
        None, type=["null", "string"], pattern=AMOUNT_PATTERN, title=title, description=description, section="What"
    )


def _flag_param(default: bool, title: str, description: str) -> Param:
    return Param(default, type="boolean", title=title, description=description, section="What")


def _reason_param(default: str, reasons: dict[str, str]) -> Param:
    """Meta's reason codes as a list the form shows in cs's words."""
    return Param(default, type="string", enum=list(reasons), values_display=reasons, title="Reason", section="Reason")


def _text_param(title: str, section: str, description: str | None = None) -> Param:
    # a null description is not valid JSON Schema: none at all then
    described: dict[str, Any] = {"description": description} if description else {}
    return Param(None, type=["null", "string"], maxLength=1000, title=title, section=section, **described)


def form_params(action_type: str) -> dict[str, Param]:
    """The trigger form of an action's DAG: typed params, reasons with readable labels, sections."""
    if action_type == "refund":
        return {
            "order": _order_param(),
            "full_refund": _flag_param(
                False,
                "Full refund",
                "Refund everything shipped and not refunded yet, with the shipping (leave items empty).",
            ),
            "items": _items_param("a quantity, or an amount before tax with a dot", "'SKU-1 2' or 'SKU-1 12.50'"),
            "shipping_refund": _amount_param("Shipping refund", "Shipping to give back, e.g. 4.00."),
            "return_shipping_deduction": _amount_param(
                "Return shipping deduction", "Kept from the refund for the return label, e.g. 5.00."
            ),
            "reason_code": _reason_param("REFUND_REASON_OTHER", REFUND_REASONS),
            "reason_text": _text_param("Message to the buyer", "Reason", "Shown to the buyer with the refund."),
            "return_id": Param(
                None,
                type=["null", "string"],
                title="Return",
                description="The buyer's return this refund settles (its id), if any.",
                section="Reason",
            ),
            "repeat_key": _repeat_param(),
        }
    if action_type == "cancel":
        return {
            "order": _order_param(),
            "whole_order": _flag_param(
                False, "Whole order", "Cancel the whole order (only while nothing shipped; leave items empty)."
            ),
            "items": _items_param("the quantity to cancel", "'SKU-1 1'"),
            "restock": _flag_param(True, "Restock", "Put the units back in stock."),
            "reason_code": _reason_param("CUSTOMER_REQUESTED", CANCEL_REASONS),
            "reason_description": _text_param("Details", "Reason"),
            "repeat_key": _repeat_param(),
        }
    if action_type == "update_tracking":
        return {
            "order": _order_param(),
            "shipment": Param(
                None,
                type=["null", "string"],
                title="Shipment",
                description="Meta's shipment id, or the external shipment id the OMS gave it.",
                section="Shipment",
            ),
            "carrier": Param(
                None,
                type=["null", "string"],
                title="Carrier",
                description="Meta's carrier code, e.g. ups, fedex, usps, dhl, other.",
                section="Shipment",
            ),
            "tracking_number": Param(None, type=["null", "string"], title="Tracking number", section="Shipment"),
            "shipping_method": Param(None, type=["null", "string"], title="Shipping method", section="Shipment"),
            "repeat_key": _repeat_param(),
        }
    raise ValueError(f"no form for {action_type!r}")


# --- shared glue -------------------------------------------------------------------------------------------------


def _who(context: Any) -> str:
    """The user who triggered the run (Airflow 3 records it on the run)."""
    user = getattr(context["dag_run"], "triggering_user_name", None)
    return str(user) if user else "unknown (no triggering user)"


def _action_id(context: Any) -> str:
    """One action per run, so a retried task records it once."""
    return f"dag:{context['dag'].dag_id}:{context['run_id']}"


def _skip(message: str) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    raise AirflowSkipException(message)


class CsActionOperator(FbCommerceOperator):
    """Base of the customer-service operators: the form of the run, who asked, and the action's id.

    :param action_type: refund, cancel or update_tracking.
    """

    template_fields: Sequence[str] = FbCommerceOperator.template_fields

    def __init__(self, *, action_type: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.action_type = action_type

    def form(self, context: Any) -> tuple[Form, list[str]]:
        """The run's form; skips the task when no order was given (an empty trigger form asks for nothing)."""
        from fb_commerce.cs.actions import read_form

        params = dict(context["params"])
        if not str(params.get("order") or "").strip():
            _skip("No order in the form: nothing to do (fill in the order to act on one)")
        return read_form(self.action_type, params)

    def refused(self, reasons: list[str]) -> None:
        for reason in reasons:
            self.log.error("Refused: %s", reason)
        fail_task(f"The {self.action_type.replace('_', ' ')} was refused, nothing was sent: " + "; ".join(reasons))


class CheckRefundOperator(CsActionOperator):
    """Checks the refund form (nothing queued) and says whether it needs a second person's approval.

    :param approval_amount: refunds giving back more than this (in the order's currency) wait for approval
        (templated; the DAG takes it from the Airflow Variable ``fb_cs_refund_approval_amount``, never from the
        form, so the person asking cannot raise it).
    """

    template_fields: Sequence[str] = (*CsActionOperator.template_fields, "approval_amount")

    def __init__(self, *, approval_amount: str | Decimal = "100.00", **kwargs: Any) -> None:
        super().__init__(action_type="refund", **kwargs)
        self.approval_amount = approval_amount

    def threshold(self) -> Decimal:
        try:
            value = Decimal(str(self.approval_amount).strip())
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or value < 0:
            fail_task(f"approval_amount: {self.approval_amount!r} is not an amount like 100.00")
        return value

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, Any]:
        from fb_commerce.cs import actions

        threshold = self.threshold()
        form, problems = self.form(context)
        engine = self.warehouse()
        actor, action_id, run_id = _who(context), _action_id(context), context["run_id"]
        checked = actions.check(engine, form, live=self.graph().client)
        reasons = problems + checked.reasons
        if reasons:
            actions.refuse(
                engine,
                form,
                reasons,
                actor=actor,
                source="dag",
                order_id=checked.order_id,
                action_id=action_id,
                run_id=run_id,
            )
            self.refused(reasons)
        amount = checked.amount
        # The same form already queued queues nothing new: nothing to approve.
        needs = not checked.repeat and (amount is None or amount > threshold)
        summary = (
            "The same refund is already queued: nothing new"
            if checked.repeat
            else (
                f"Refund of {actions.money_text(amount) or 'an unknown amount'} {checked.currency or ''} on order "
                f"{checked.order_id}, asked by {actor}. Form: {actions.jsonable(form, str)}"
            )
        )
        if needs:
            actions.append_step(
                engine,
                action_id,
                actions.AWAITING_APPROVAL,
                action_type="refund",
                order_id=checked.order_id,
                actor=actor,
                source="dag",
                parameters={"form_type": type(form).__name__, **actions.jsonable(form, str)},
                run_id=run_id,
                result={"amount": actions.money_text(amount), "approval_amount": str(threshold)},
            )
            self.log.info("%s: above %s, waits for a second person's approval", summary, threshold)
        else:
            self.log.info("%s: not above %s, no approval needed", summary, threshold)
        return {
            "order_id": checked.order_id,
            "amount": actions.money_text(amount),
            "currency": checked.currency,
            "needs_approval": needs,
            "requested_by": actor,
            "summary": summary,
        }


class RefundApprovalOperator(FbCommerceOperator, ApprovalOperator):
    """A second person approves or rejects a refund above the approval amount (Airflow's human-in-the-loop
    approval); below it the task passes at once. The decision and who made it go into fb_cs_actions. An approval
    by the person who asked does not count: the task fails and nothing is sent.

    :param check_task_id: the task whose answer says whether approval is needed.
    """

    template_fields: Sequence[str] = (*FbCommerceOperator.template_fields, *ApprovalOperator.template_fields)

    def __init__(self, *, check_task_id: str = "check_refund", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_task_id = check_task_id

    def _checked(self, context: Any) -> dict[str, Any]:
        return context["ti"].xcom_pull(task_ids=self.check_task_id) or {}

    def execute(self, context: Any) -> Any:
        checked = self._checked(context)
        if not checked.get("needs_approval"):
            self.log.info("Not above the approval amount: no approval needed")
            return {"approval": "not needed"}
        return super().execute(context)

    @releases_warehouse
    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from fb_commerce.cs import actions

        checked = self._checked(context)
        chosen = (event.get("chosen_options") or [None])[0]
        responder = event.get("responded_by_user") or {}
        name = (
            str(responder.get("name") or responder.get("id") or "unknown")
            if isinstance(responder, dict)
            else str(responder)
        )
        step = actions.APPROVED if chosen == self.APPROVE else actions.DECLINED
        why = None
        if step == actions.APPROVED and name == checked.get("requested_by"):
            step, why = actions.DECLINED, f"{name} asked for this refund and cannot approve it: a second person must"
        actions.append_step(
            self.warehouse(),
            _action_id(context),
            step,
            action_type="refund",
            order_id=checked.get("order_id"),
            actor=name,
            source="dag",
            run_id=context["run_id"],
            error_message=why,
            result={"chosen": chosen, "responded_at": event.get("responded_at")},
        )
        if why:
            fail_task(why)
        self.log.info("Refund %s by %s", step, name)
        return super().execute_complete(context, event)


class SubmitActionOperator(CsActionOperator):
    """Checks the form again (against Meta's state now), queues its outbox row and records the action
    (:func:`fb_commerce.cs.actions.submit`, source ``dag``, the triggering user). Returns the result."""

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, Any]:
        from fb_commerce.cs import actions

        form, problems = self.form(context)
        engine = self.warehouse()
        who = {"actor": _who(context), "source": "dag", "action_id": _action_id(context), "run_id": context["run_id"]}
        if problems:
            actions.refuse(engine, form, problems, **who)
            self.refused(problems)
        result = actions.submit(engine, form, live=self.graph().client, **who)
        if result.status != actions.QUEUED:
            self.refused(result.reasons)
        self.log.info(
            "Queued as %s (order %s)%s",
            result.request_id,
            result.order_id,
            ": the same form was already queued, nothing new" if result.repeat else "",
        )
        return result.as_dict()


class SendActionOperator(FbCommerceOperator):
    """Sends the order's queue to Meta with fb_order_updates' drain, then records how the action ended: sent
    (green), refused by Meta (red, Meta's message), or still pending after a temporary error (the task is
    retried; fb_order_updates sends it later too).

    :param submit_task_id: the task that queued the action.
    """

    def __init__(self, *, submit_task_id: str = "submit", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.submit_task_id = submit_task_id

    @releases_warehouse
    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowException

        from fb_commerce.cs.actions import action_status
        from fb_commerce.orders.updates.send import drain

        submitted = context["ti"].xcom_pull(task_ids=self.submit_task_id)
        engine = self.warehouse()
        hook = self.graph()
        try:
            result = drain(engine, hook.client.post, [submitted["order_id"]])
        finally:
            hook.log_summary()
        for line in result.lines():
            self.log.info("%s", line)
        status = action_status(engine, submitted["action_id"])
        if status is None:  # pragma: no cover - submit recorded it
            fail_task(f"action {submitted['action_id']} is not in fb_cs_actions")
        if status.status == "sent":
            self.log.info("Sent to Meta at %s (%s)", status.sent_at, status.request_id)
            return status.as_dict()
        if status.status == "failed":
            fail_task(f"Meta refused {status.request_id} (code {status.error_code}): {status.message}")
        if result.stopped_by is not None:
            raise result.stopped_by
        raise AirflowException(
            f"{status.request_id} is still {status.status} after a temporary error ({status.message}); "
            "retried, and fb_order_updates sends it too"
        )
