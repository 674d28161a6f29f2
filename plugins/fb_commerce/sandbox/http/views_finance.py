"""How payouts and transactions render (SDK CommercePayout / CommerceOrderTransactionDetail names)."""

from __future__ import annotations

from typing import Any

from ..world.clock import day, iso
from ..world.model import JurisdictionTax, Transaction
from ..world.money import money
from ..world.money_flow import jurisdiction_totals
from .fields import Schema, attr
from .views_orders import ORDER


def _m(amount: Any) -> dict[str, str]:
    return money(amount, "USD")


PAYOUT = Schema(
    "CommercePayout",
    {
        "amount": lambda p, c: _m(p.amount),
        "payout_date": lambda p, c: day(p.date),
        "payout_reference_id": attr("payout_reference_id"),
        "status": attr("status"),
        "transfer_id": attr("transfer_id"),
        "transaction_count": lambda p, c: len(p.transaction_ids),  # sandbox extra
    },
    defaults=("amount", "payout_date", "payout_reference_id", "status", "transfer_id"),
)


def _tax_rows(parts: list[JurisdictionTax]) -> dict[str, Any]:
    """``tax_details`` as docs/graph-api.md §3.1 shows it: ``{data: [...]}``, one row per jurisdiction."""
    return {
        "data": [
            {
                "tax_category": "FB_GENERAL",
                "jurisdiction": part.jurisdiction,
                "imposition": "SALES_TAX",
                "item_tax_rate": f"{part.rate}%",
                "item_tax_amount": _m(part.amount),
            }
            for part in parts
        ]
    }


def _items(t: Transaction, ctx: Any) -> dict[str, Any]:
    """Items as §3.1 lists them: ``id`` is the retailer id; each item has its own per-jurisdiction tax rows."""
    order = ctx.orders[t.order_id]
    out = []
    for line in t.lines:
        item = order.item(line.item_id)
        out.append(
            {
                "id": item.retailer_id if item else None,
                "product_id": item.product_id if item else None,
                "quantity": line.quantity,
                "price_per_unit": _m(item.price_per_unit) if item else None,
                "tax_details": _tax_rows(line.tax_details),
            }
        )
    return {"data": out}


def _order(t: Transaction, ctx: Any) -> Any:
    return ctx.orders[t.order_id]


TRANSACTION = Schema(
    "CommerceOrderTransactionDetail",
    {
        "id": attr("id"),
        "transaction_type": attr("type"),
        "transaction_date": lambda t, c: iso(t.date),
        "order_details": _order,
        "order_id": attr("order_id"),
        "merchant_order_id": lambda t, c: c.orders[t.order_id].merchant_order_reference,
        "order_created": lambda t, c: iso(c.orders[t.order_id].created),
        "postal_code": lambda t, c: c.orders[t.order_id].shipping_address["postal_code"],
        "state": lambda t, c: c.orders[t.order_id].shipping_address["state"],
        "processing_fee": lambda t, c: _m(t.processing_fee),
        "net_payment_amount": lambda t, c: _m(t.net),
        "tax_rate": lambda t, c: f"{c.orders[t.order_id].tax_rate}%",  # the total of the jurisdictions' rates
        "tax_details": lambda t, c: _tax_rows(jurisdiction_totals(t)),
        "transfer_id": lambda t, c: c.payouts[t.payout_reference_id].transfer_id if t.payout_reference_id else None,
        "payout_reference_id": attr("payout_reference_id"),
        "items": _items,
        # Sandbox extras (neither the docs nor the SDK name these; product code must not rely on them): what the
        # transaction captured (SALE) or gave back (REFUND), and the shipment or refund it stands for.
        "subtotal_amount": lambda t, c: _m(t.subtotal),
        "shipping_amount": lambda t, c: _m(t.shipping),
        "tax_amount": lambda t, c: _m(t.tax),
        "total_amount": lambda t, c: _m(t.gross),
        "shipment_id": lambda t, c: t.source_id if t.type == "SALE" else None,
        "refund_id": lambda t, c: t.source_id if t.type == "REFUND" else None,
    },
    defaults=(
        "id",
        "transaction_type",
        "transaction_date",
        "order_details",
        "processing_fee",
        "net_payment_amount",
        "tax_rate",
        "payout_reference_id",
    ),
    edges={"order_details": (ORDER, False)},
)

__all__ = ["PAYOUT", "TRANSACTION"]
