"""The Catalog Batch API calls: send one ``items_batch`` and read a handle's status (docs/graph-api.md §2.2).

Plain functions over :class:`~fb_commerce.graph.client.GraphClient`; the trigger runs :func:`read_status` in a
thread, the sync code runs both directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fb_commerce.catalog.inventory_delta import BatchPlan
from fb_commerce.graph.client import GraphClient
from fb_commerce.graph.errors import GraphError
from fb_commerce.graph.surface import BATCH_STATUS_FIELDS

FINISHED = "FINISHED"
# Meta documents no status enum (unconfirmed); WooCommerce treats IN_PROGRESS as pending. These mean "not done";
# anything else is an end state, and only FINISHED is a success.
PENDING_STATUSES = frozenset({"", "IN_PROGRESS", "PENDING", "STARTED", "QUEUED", "DISPATCHED"})
# A DELETE of an item Meta no longer has reached its goal: the item is gone.
_ALREADY_GONE = re.compile(r"does not exist|not found|no such item", re.IGNORECASE)
# A per-item warning says a value of ours was not applied when it names a field an inventory UPDATE carries, or
# says in so many words that a value or field was dropped. Meta's warnings mean "the bad field was dropped, the
# rest ingested" (feed upload errors, severity warning; items_batch "warns about unsupported fields but still
# ingests the fields it recognizes"); advisory ones about fields the sync never sends, such as Meta's example
# "These fields have missing information: ... providing google_product_category information", change nothing we
# sent and do not hold an item back.
_SENT_FIELD = re.compile(
    r"\b(availability|quantity_to_sell_on_facebook|inventory|quantity|price|sale_price)\b", re.IGNORECASE
)
_VALUE_DROPPED = re.compile(
    r"ignor|not (?:been )?applied|could not be (?:applied|saved|updated|used)|dropped|discarded|"
    r"unrecogni[sz]ed|unknown field|not supported",
    re.IGNORECASE,
)


def is_pending(status: str | None) -> bool:
    """Whether a handle with this status may still change (None: never checked)."""
    return status is None or status.strip().upper() in PENDING_STATUSES


def already_gone(message: str | None) -> bool:
    """Whether an error message says the item does not exist (a DELETE of it has nothing left to do)."""
    return bool(message and _ALREADY_GONE.search(message))


def value_not_applied(message: str | None) -> bool:
    """Whether a per-item warning says a value the sync sent was not applied (see ``_SENT_FIELD``)."""
    return bool(message and (_SENT_FIELD.search(message) or _VALUE_DROPPED.search(message)))


@dataclass(frozen=True)
class BatchStatus:
    """A handle's answer from ``check_batch_request_status``."""

    handle: str
    status: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    errors_total_count: int = 0
    warnings_total_count: int = 0
    invalid_ids: list[str] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        """Not finished yet."""
        return is_pending(self.status)

    @property
    def succeeded(self) -> bool:
        """Finished normally (items not named in ``invalid_ids`` were accepted)."""
        return self.status.strip().upper() == FINISHED

    def messages_by_id(self) -> dict[str, str]:
        """The error messages of each invalid request, by retailer id (several joined with "; ")."""
        messages: dict[str, list[str]] = {}
        for error in self.errors:
            if isinstance(error, dict) and error.get("id"):
                messages.setdefault(str(error["id"]), []).append(str(error.get("message") or "invalid request"))
        return {retailer_id: "; ".join(texts) for retailer_id, texts in messages.items()}

    def not_applied_by_id(self) -> dict[str, str]:
        """The per-item warnings saying a value was not applied, by retailer id (several joined with "; ").

        A warning of that kind without an id cannot be pinned to an item: it is filed under ``""``, which
        stands for every item of the handle.
        """
        messages: dict[str, list[str]] = {}
        for warning in self.warnings:
            text = str(warning.get("message") or "")
            if value_not_applied(text):
                messages.setdefault(str(warning.get("id") or ""), []).append(text)
        return {retailer_id: "; ".join(texts) for retailer_id, texts in messages.items()}

    def advisories(self) -> list[str]:
        """The warnings that do not say a value was not applied (kept with the handle, logged)."""
        return [
            f"{w.get('id') or '(no id)'}: {w.get('message')}"
            for w in self.warnings
            if not value_not_applied(str(w.get("message") or ""))
        ]

    def summary(self) -> dict[str, Any]:
        """The answer without its long lists, for the ``raw`` column and logs."""
        return {
            "handle": self.handle,
            "status": self.status,
            "errors_total_count": self.errors_total_count,
            "warnings_total_count": self.warnings_total_count,
            "invalid_requests": len(self.invalid_ids),
        }


def send_batch(client: GraphClient, catalog_id: str, plan: BatchPlan, *, allow_upsert: bool = False) -> str:
    """POST one ``items_batch`` (a JSON body: no form-encoding blow-up of the 28 MB budget); return its handle.

    ``allow_upsert`` is false by default: the inventory sync only updates products Meta has, and an UPDATE must
    never create a half-filled product when one was deleted on Meta's side.
    """
    answer = client.post(f"{catalog_id}/items_batch", json=plan.body(allow_upsert))
    handles = [str(h) for h in answer.get("handles") or [] if h]
    if not handles:
        raise GraphError(f"items_batch answered without a handle: {str(answer)[:300]}")
    # One call gives one handle in every answer seen; should Meta split a call, the first handle stands for it.
    return handles[0]


def _count(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def read_status(client: GraphClient, catalog_id: str, handle: str, *, load_ids: bool = True) -> BatchStatus:
    """The status of ``handle``; with ``load_ids`` also the retailer ids of the invalid requests."""
    params: dict[str, Any] = {"handle": handle}
    fields: tuple[str, ...] = BATCH_STATUS_FIELDS
    if load_ids:
        params["load_ids_of_invalid_requests"] = "true"
    else:
        fields = tuple(f for f in fields if f != "ids_of_invalid_requests")
    answer = client.get(f"{catalog_id}/check_batch_request_status", fields=fields, params=params)
    data = answer.get("data")
    entry = data[0] if isinstance(data, list) and data else answer
    errors = [e for e in entry.get("errors") or [] if isinstance(e, dict)]
    warnings = [w for w in entry.get("warnings") or [] if isinstance(w, dict)]
    return BatchStatus(
        handle=str(entry.get("handle") or handle),
        status=str(entry.get("status") or ""),
        errors=errors,
        warnings=warnings,
        errors_total_count=_count(entry.get("errors_total_count"), len(errors)),
        warnings_total_count=_count(entry.get("warnings_total_count"), len(warnings)),
        invalid_ids=[str(i) for i in entry.get("ids_of_invalid_requests") or []],
    )
