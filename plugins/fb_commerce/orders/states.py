"""Order states by name, from the Graph surface registry (docs/graph-api.md §1.2)."""

from __future__ import annotations

from fb_commerce.graph.surface import ORDER_FILTERS, ORDER_STATES

FB_PROCESSING, CREATED, IN_PROGRESS, COMPLETED = ORDER_STATES
#: states in which an order was acknowledged and may carry shipments
ACKNOWLEDGED_STATES = (IN_PROGRESS, COMPLETED)

HAS_CANCELLATIONS = "has_cancellations"
HAS_REFUNDS = "has_refunds"
assert {HAS_CANCELLATIONS, HAS_REFUNDS} <= set(ORDER_FILTERS), "order filters renamed in graph.surface"
