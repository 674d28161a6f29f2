"""Reading Meta's finance edges for a time window: ``commerce_payouts`` and ``commerce_transactions``.

Both edges are called on the Page id, as Meta's reporting pages do (docs/graph-api.md §3.1: SDK commit ``3ac00cd``
dropped ``commerce_transactions`` from the commerce account's class), with the commerce account (CMS) id as the
fallback when the connection names no Page. A window is ``[start, end)`` in Unix seconds (``start_time``,
``end_time``); pages are followed to the end with the client's own paging, so the calls made are the pages Meta
serves and nothing more. Every field docs/graph-api.md lists is asked for (``graph.surface``).

A transaction's order comes with its ``payments`` edge expanded inline (nested field expansion, docs/graph-api.md
§4), so the payments cost no call; :func:`order_payment_pages` reads ``/{order_id}/payments`` only for an order
whose transaction came without them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from fb_commerce.graph.client import GraphClient
from fb_commerce.graph.surface import PAYMENT_FIELDS, PAYOUT_FIELDS, TRANSACTION_FIELDS
from fb_commerce.warehouse.sync_state import unix_seconds

#: the largest page the finance edges serve (docs/graph-api.md gives none; 100 as for orders)
MAX_PAGE_SIZE = 100

PAYOUTS = "commerce_payouts"
TRANSACTIONS = "commerce_transactions"
PAYMENTS = "payments"


def finance_node(page_id: str | None, cms_id: str | None) -> str:
    """The node the finance edges are called on: the Page, else the commerce account."""
    node = (page_id or "").strip() or (cms_id or "").strip()
    if not node:
        raise ValueError("finance needs the connection's page_id (or, as a fallback, its cms_id)")
    return node


def window_params(start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """``start_time``/``end_time`` of ``[start, end)``; refuses an empty or reversed window."""
    if end <= start:
        raise ValueError(f"finance window ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    return {"start_time": unix_seconds(start), "end_time": unix_seconds(end)}


def _pages(
    client: GraphClient, node: str, edge: str, fields: Any, start: dt.datetime, end: dt.datetime, page_size: int
) -> Iterator[dict[str, Any]]:
    limit = max(1, min(page_size, MAX_PAGE_SIZE))
    return client.iter_pages(f"{node}/{edge}", fields=fields, params=window_params(start, end), limit=limit)


def payout_pages(
    client: GraphClient, node: str, start: dt.datetime, end: dt.datetime, *, page_size: int = MAX_PAGE_SIZE
) -> Iterator[dict[str, Any]]:
    """Pages of payouts whose payout date falls in ``[start, end)``, every field."""
    return _pages(client, node, PAYOUTS, PAYOUT_FIELDS, start, end, page_size)


def transaction_pages(
    client: GraphClient, node: str, start: dt.datetime, end: dt.datetime, *, page_size: int = MAX_PAGE_SIZE
) -> Iterator[dict[str, Any]]:
    """Pages of transactions dated in ``[start, end)``, every field (items, tax details and the order inline)."""
    return _pages(client, node, TRANSACTIONS, TRANSACTION_FIELDS, start, end, page_size)


def order_payment_pages(client: GraphClient, order_id: str) -> Iterator[dict[str, Any]]:
    """Pages of an order's payments (one per shipment), every field."""
    return client.iter_pages(f"{order_id}/{PAYMENTS}", fields=PAYMENT_FIELDS, limit=MAX_PAGE_SIZE)
