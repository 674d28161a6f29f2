"""The reasons a customer-service form offers, with the words it shows (cheap to import: DAG files read it).

Codes are Meta's (docs/graph-api.md §1.6 cancellations, §1.7 refunds); ``FACEBOOK_INITIATED`` is Meta's own refund
reason and is not offered to the merchant.
"""

from __future__ import annotations

from fb_commerce.graph import surface

REFUND_REASONS: dict[str, str] = {
    "BUYERS_REMORSE": "Buyer changed their mind",
    "DAMAGED_GOODS": "Arrived damaged",
    "NOT_AS_DESCRIBED": "Not as described",
    "QUALITY_ISSUE": "Quality not as expected",
    "WRONG_ITEM": "Wrong item sent",
    "REFUND_REASON_OTHER": "Another reason",
}
CANCEL_REASONS: dict[str, str] = {
    "CUSTOMER_REQUESTED": "Buyer asked to cancel",
    "OUT_OF_STOCK": "Out of stock",
    "INVALID_ADDRESS": "Address cannot be delivered to",
    "SUSPICIOUS_ORDER": "Suspicious order",
    "CANCEL_REASON_OTHER": "Another reason",
}
if not set(REFUND_REASONS) <= set(surface.REFUND_REASON_CODES) or set(CANCEL_REASONS) != set(
    surface.CANCEL_REASON_CODES
):  # pragma: no cover - a programming error, caught by any import
    raise AssertionError("cs.reasons out of step with graph.surface")
