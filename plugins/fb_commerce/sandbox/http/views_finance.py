"""How payouts and transactions render (SDK CommercePayout / CommerceOrderTransactionDetail names)."""

from __future__ import annotations

from typing import Any

from ..world.clock import day, iso
from ..world.model import Transaction
from ..world.money import money
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


def _items(t: Transaction, ctx: Any) -> dict[str, Any]:
    order = ctx.orders[t.order_id]
    out = []
    for line in t.lines:
        item = order.item(line["item_id"])
        out.append(
            {
                "id": line["item_id"],
                "retailer_id": item.retailer_id if item else None,
                "product_id": item.product_id if item else None,
                "quantity": line["quantity"],
                "price_per_unit": _m(item.price_per_unit) if item else None,
                "amount": _m(line["amount"]),
                "tax": _m(line["tax"]),
            }
        )
    return {"data": out}


def _tax_details(t: Transaction, ctx: Any) -> dict[str, Any]:
    order = ctx.orders[t.order_id]
    return {
        "tax_category": "FB_GENERAL",
        "jurisdiction": order.shipping_address["state"],
        "imposition": "SALES_TAX",
        "item_tax_rate": f"{order.tax_rate}%",
        "item_tax_amount": _m(t.tax),
        "tax_remitted": order.tax_remitted,
        "tax_withheld": _m(t.tax_withheld),
    }


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
        "tax_rate": lambda t, c: f"{c.orders[t.order_id].tax_rate}%;0%",
        "tax_details": _tax_details,
        "transfer_id": lambda t, c: c.payouts[t.payout_reference_id].transfer_id if t.payout_reference_id else None,
        "payout_reference_id": attr("payout_reference_id"),
        "items": _items,
        # Sandbox extras (the SDK names none of these): what the transaction captured or gave back.
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
