"""Orders as text for a terminal (``fb-commerce orders show|find``) and as JSON for scripts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from fb_commerce.cs.lookup import MentionedKeys, OrderHit, OrderView, money_text


def json_text(data: Any) -> str:
    """``data`` (already JSON-friendly) as indented JSON."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def _when(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _money(value: Any, currency: str | None) -> str:
    text = money_text(value)
    return "-" if text is None else f"{text} {currency or ''}".rstrip()


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    cells = [[str(h) for h in headers], *[["-" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def format_order(view: OrderView, differences: list[str] | None = None) -> str:
    """What ``fb-commerce orders show`` prints: the order in sections, then the timeline."""
    c = view.currency
    address = view.shipping_address
    street = ", ".join(x for x in (address.get("street1"), address.get("street2")) if x)
    town = " ".join(x for x in (address.get("postal_code"), address.get("city"), address.get("state")) if x)
    lines = [
        f"Order {view.order_id}  reference {view.merchant_order_reference or '-'}  {view.state}"
        f"  {view.channel or '-'}{'  (test order)' if view.is_test_order else ''}",
        f"  placed {_when(view.created_at)}, updated at Meta {_when(view.updated_at)}, "
        f"acknowledged {_when(view.acknowledged_at)}, ship by {_when(view.ship_by_date)}",
        f"  warehouse copy read from Meta {_when(view.synced_at)}",
        "",
        f"Buyer: {view.buyer_name or '-'} <{view.buyer_email or '-'}>, marketing e-mails: "
        f"{_yes_no(view.marketing_opt_in)}",
        f"Ship to: {address.get('name') or '-'}, {street or '-'}, {town or '-'}, {address.get('country') or '-'}",
        f"Paid: items {_money(view.subtotal, c)}, shipping {_money(view.shipping, c)}, tax {_money(view.tax, c)}, "
        f"total {_money(view.total, c)}",
        "",
        "Items:",
        *_table(
            (
                "item",
                "sku",
                "product",
                "price",
                "ordered",
                "shipped",
                "cancelled",
                "refunded",
                "returned",
                "can ship",
                "can cancel",
                "can refund",
            ),
            [
                (
                    i.item_id,
                    i.retailer_id,
                    i.product_name,
                    money_text(i.price_per_unit),
                    i.ordered,
                    i.shipped,
                    i.cancelled,
                    f"{i.refunded} ({money_text(i.refunded_amount)})",
                    i.returned,
                    i.can_ship,
                    i.can_cancel,
                    f"{i.can_refund} ({money_text(i.can_refund_amount) or '?'})",
                )
                for i in view.items
            ],
        ),
        f"  shipping refunded {_money(view.shipping_refunded, c)}, "
        f"can still refund {_money(view.can_refund_shipping, c)}",
    ]

    def section(title: str, headers: Sequence[str], rows: list[Sequence[Any]]) -> None:
        lines.append("")
        lines.append(f"{title}: {'none' if not rows else len(rows)}")
        if rows:
            lines.extend(_table(headers, rows))

    section(
        "Shipments",
        ("shipment", "external id", "carrier", "tracking", "items"),
        [
            (
                s["shipment_id"],
                s.get("external_shipment_id"),
                s.get("carrier"),
                s.get("tracking_number"),
                _lines(s.get("items")),
            )
            for s in view.shipments
        ],
    )
    section(
        "Cancellations",
        ("cancellation", "reason", "restock", "items"),
        [
            (
                x["cancellation_id"],
                x.get("reason_code"),
                _yes_no(x.get("restock_items")),
                _lines(x.get("items")) or "whole order",
            )
            for x in view.cancellations
        ],
    )
    section(
        "Refunds",
        ("refund", "reason", "items", "shipping", "tax", "total"),
        [
            (
                r["refund_id"],
                r.get("reason_code"),
                money_text(r.get("subtotal")),
                money_text(r.get("shipping")),
                money_text(r.get("tax")),
                _money(r.get("total"), r.get("currency")),
            )
            for r in view.refunds
        ],
    )
    section(
        "Returns",
        ("return", "status", "opened", "message"),
        [
            (r["return_id"], r.get("return_status"), _when(r.get("created_at")), r.get("return_message"))
            for r in view.returns
        ],
    )
    section(
        "Payments",
        ("payment", "shipment", "items", "shipping", "tax", "total", "captured"),
        [
            (
                p["payment_id"],
                p.get("shipment_id"),
                money_text(p.get("items_amount")),
                money_text(p.get("shipping_amount")),
                money_text(p.get("tax_amount")),
                money_text(p.get("total_amount")),
                money_text(p.get("captured_amount")),
            )
            for p in view.payments
        ],
    )
    section(
        "Transactions",
        ("transaction", "type", "date", "fee", "net", "payout"),
        [
            (
                t["transaction_id"],
                t.get("transaction_type"),
                _when(t.get("transaction_date")),
                money_text(t.get("processing_fee")),
                money_text(t.get("net_payment_amount")),
                t.get("payout_reference_id"),
            )
            for t in view.transactions
        ],
    )
    section(
        "Payouts",
        ("payout", "status", "date", "amount"),
        [
            (
                p["payout_reference_id"],
                p.get("status"),
                _when(p.get("payout_date")),
                _money(p.get("amount"), p.get("currency")),
            )
            for p in view.payouts
        ],
    )
    section(
        "Requests to Meta (outbox)",
        ("request", "kind", "status", "attempts", "queued", "message"),
        [
            (
                q["request_id"],
                q["kind"],
                q["status"],
                q["attempts"],
                _when(q.get("created_at")),
                q.get("last_error_message"),
            )
            for q in view.requests
        ],
    )
    section(
        "Customer-service actions",
        ("action", "what", "status", "by", "from", "when", "why"),
        [
            (
                a["action_id"],
                a.get("action_type"),
                a.get("status"),
                a.get("requested_by"),
                a.get("source"),
                _when(a.get("created_at")),
                a.get("error_message"),
            )
            for a in view.actions
        ],
    )
    lines.append("")
    lines.append("Timeline:")
    lines.extend(f"  {_when(e.at)}  {e.what}{'  ' + e.detail if e.detail else ''}" for e in view.timeline)
    if differences is not None:
        lines.append("")
        if differences:
            lines.append("Meta now differs from the warehouse:")
            lines.extend(f"  - {d}" for d in differences)
        else:
            lines.append("Meta now: the same as the warehouse.")
    return "\n".join(lines)


def _lines(items: Any) -> str:
    parts = []
    for line in items or ():
        if isinstance(line, dict):
            parts.append(f"{line.get('quantity', '?')} x {line.get('retailer_id') or line.get('id') or '?'}")
    return ", ".join(parts)


def format_hits(hits: Sequence[OrderHit], keys: MentionedKeys | None = None) -> str:
    """What ``fb-commerce orders find`` prints: what a pasted e-mail mentions, then one line per order."""
    lines = []
    if keys is not None:
        lines.append(
            f"The text mentions: sender {keys.sender or '-'}; addresses {', '.join(keys.emails) or '-'}; "
            f"ids or references {', '.join(keys.tokens[:20]) or '-'}"
        )
    if not hits:
        lines.append("No order found.")
        return "\n".join(lines)
    lines.extend(
        _table(
            ("order", "reference", "state", "placed", "buyer", "e-mail", "total", "found by"),
            [
                (
                    h.order_id,
                    h.merchant_order_reference,
                    h.state,
                    _when(h.created_at),
                    h.buyer_name,
                    h.buyer_email,
                    _money(h.total, h.currency),
                    ", ".join(h.matched_by),
                )
                for h in hits
            ],
        )
    )
    return "\n".join(lines)
