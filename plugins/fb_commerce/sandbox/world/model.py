"""The sandbox's records: plain dataclasses, no behaviour beyond derived quantities.

Money is Decimal (cents), time is float Unix seconds of the virtual clock, ids are strings like Graph's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .money import ZERO

FB_PROCESSING = "FB_PROCESSING"
CREATED = "CREATED"
IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
ORDER_STATES = (FB_PROCESSING, CREATED, IN_PROGRESS, COMPLETED)


@dataclass(slots=True)
class LineItem:
    """One order line. ``shipping`` is this line's share of the order's shipping charge."""

    id: str
    retailer_id: str
    product_id: str
    product_name: str
    quantity: int
    price_per_unit: Decimal
    tax: Decimal  # estimated tax of the whole line, fixed at creation
    shipping: Decimal
    shipped: int = 0
    cancelled: int = 0
    refunded_qty: int = 0
    refunded_amount: Decimal = ZERO  # pre-tax amount refunded on this line
    refunded_tax: Decimal = ZERO
    captured_tax: Decimal = ZERO
    option: dict[str, Any] = field(default_factory=dict)  # the order's shipping option (shared, read-only)

    @property
    def subtotal(self) -> Decimal:
        return self.price_per_unit * self.quantity

    @property
    def open_quantity(self) -> int:
        return self.quantity - self.shipped - self.cancelled


@dataclass(slots=True)
class ShipmentLine:
    item_id: str
    quantity: int
    amount: Decimal  # items subtotal captured for these units
    tax: Decimal  # tax captured for these units


@dataclass(slots=True)
class Shipment:
    id: str
    order_id: str
    external_shipment_id: str | None
    lines: list[ShipmentLine]
    tracking_info: dict[str, Any]
    fulfillment: dict[str, Any] | None
    created: float
    shipping_amount: Decimal
    transaction_id: str | None = None

    @property
    def items_amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def tax_amount(self) -> Decimal:
        return sum((line.tax for line in self.lines), ZERO)


@dataclass(slots=True)
class Cancellation:
    id: str
    order_id: str
    lines: list[tuple[str, int]]  # (item_id, quantity)
    reason_code: str
    reason_description: str | None
    restock_items: bool
    created: float
    initiated_by: str  # MERCHANT or FACEBOOK (Meta's own SLA cancellations)


@dataclass(slots=True)
class RefundLine:
    item_id: str
    quantity: int
    subtotal: Decimal
    tax: Decimal


@dataclass(slots=True)
class Refund:
    id: str
    order_id: str
    lines: list[RefundLine]
    reason_code: str
    reason_text: str | None
    shipping: Decimal
    shipping_tax: Decimal
    deductions: Decimal
    return_id: str | None
    created: float
    initiated_by: str
    transaction_id: str | None = None

    @property
    def subtotal(self) -> Decimal:
        return sum((line.subtotal for line in self.lines), ZERO)

    @property
    def tax(self) -> Decimal:
        return sum((line.tax for line in self.lines), ZERO) + self.shipping_tax

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.shipping + self.tax - self.deductions


@dataclass(slots=True)
class Return:
    id: str
    order_id: str
    status: str
    merchant_return_id: str | None
    lines: list[tuple[str, int, str]]  # (item_id, quantity, reason)
    message: str | None
    created: float


@dataclass(slots=True)
class Order:
    """A commerce order and everything that happened to it."""

    id: str
    cms_id: str
    channel: str
    created: float
    last_updated: float
    state: str
    currency: str
    items: list[LineItem]
    buyer: dict[str, Any]
    shipping_address: dict[str, Any]
    shipping_option: dict[str, Any]  # name, estimated_shipping_time; price is shipping_total
    shipping_total: Decimal
    tax_rate: Decimal  # percent, e.g. Decimal("8.25"): the sum of the jurisdictions' rates
    tax_remitted: bool
    ship_by: float
    is_test_order: bool
    processing_until: float | None = None
    merchant_order_reference: str | None = None
    acknowledged_count: int = 0
    acknowledged_at: float | None = None
    promotions: list[dict[str, Any]] = field(default_factory=list)
    shipments: list[Shipment] = field(default_factory=list)
    cancellations: list[Cancellation] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    returns: list[Return] = field(default_factory=list)
    # (jurisdiction, percent) in a fixed order, state first, e.g. [("TX", 6.25), ("AUSTIN CITY, TX", 2.00)]
    tax_jurisdictions: list[tuple[str, Decimal]] = field(default_factory=list)
    captured_shipping: Decimal = ZERO
    refunded_shipping: Decimal = ZERO

    @property
    def key(self) -> tuple[int, int]:
        """Sort key: newest first (then highest id); immutable so cursors stay valid while the state changes."""
        return (-int(self.created * 1000), -int(self.id))

    @property
    def items_subtotal(self) -> Decimal:
        return sum((i.subtotal for i in self.items), ZERO)

    @property
    def estimated_tax(self) -> Decimal:
        return sum((i.tax for i in self.items), ZERO)

    @property
    def total(self) -> Decimal:
        return self.items_subtotal + self.shipping_total + self.estimated_tax

    def item(self, item_id: str) -> LineItem | None:
        return next((i for i in self.items if i.id == item_id), None)

    def item_by_retailer_id(self, retailer_id: str) -> LineItem | None:
        return next((i for i in self.items if i.retailer_id == retailer_id), None)


@dataclass(slots=True)
class Product:
    """A catalog item, stored in feed vocabulary (``title``, ``link``, ``price`` as "9.99 USD")."""

    id: str
    retailer_id: str
    title: str
    description: str
    price: str
    availability: str
    condition: str
    brand: str
    link: str
    image_link: str
    quantity: int | None = None
    sale_price: str | None = None
    extra: dict[str, str] | None = None
    updated: float = 0.0
    source: str = "seed"  # seed, feed:<feed_id> or batch


@dataclass(slots=True)
class Feed:
    id: str
    catalog_id: str
    name: str
    created: float
    schedule: Any = None
    update_schedule: Any = None
    ingestion_source_type: str = "primary_feed"
    delimiter: str = "AUTODETECT"
    upload_ids: list[str] = field(default_factory=list)


@dataclass
class FeedError:
    """One error kind of an upload session, with every row it hit (samples are the first few)."""

    summary: str
    description: str
    severity: str  # fatal | warning
    error_type: str
    rows: list[tuple[int, str]] = field(default_factory=list)  # (row_number, retailer_id)


@dataclass
class Upload:
    """A feed upload session."""

    id: str
    feed_id: str
    start: float
    input_method: str
    update_only: bool
    filename: str | None = None
    url: str | None = None
    path: Path | None = None
    due: float = 0.0
    end: float | None = None
    parsed: Any = None  # feeds.ParseResult once the background parse finished
    errors: list[FeedError] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    error_report_requested: float | None = None


@dataclass
class BatchRequest:
    """An items_batch handle: requests validated and applied when the handle finishes."""

    handle: str
    catalog_id: str
    created: float
    due: float
    requests: list[Any]
    allow_upsert: bool
    status: str = "IN_PROGRESS"
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    invalid_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class JurisdictionTax:
    """The tax of one transaction line in one jurisdiction (docs/graph-api.md §3.1: a row of ``tax_details``)."""

    jurisdiction: str
    rate: Decimal  # percent
    amount: Decimal  # signed like the line: negative on a REFUND


@dataclass(slots=True)
class TransactionLine:
    """One item of a transaction: what it captured (SALE, positive) or gave back (REFUND, negative)."""

    item_id: str
    quantity: int
    amount: Decimal
    tax: Decimal
    tax_details: list[JurisdictionTax]


@dataclass(slots=True)
class Transaction:
    """A finance transaction: one SALE per shipment, one REFUND per refund.

    Signs are Meta's (docs/graph-api.md §3.1): ``processing_fee`` is negative on a SALE (a cost) and 0 or positive
    on a REFUND; ``net`` is positive on a SALE and negative on a REFUND. ``date`` is when the transaction appears
    (a late one, see ``plants``, is dated when it shows up, after its capture).
    """

    id: str
    type: str  # SALE | REFUND
    date: float
    order_id: str
    source_id: str  # shipment id or refund id
    lines: list[TransactionLine]
    subtotal: Decimal
    shipping: Decimal
    tax: Decimal
    processing_fee: Decimal
    tax_withheld: Decimal  # tax Meta remits itself (marketplace-facilitator states): not paid out
    payout_due: float
    payout_reference_id: str | None = None

    @property
    def gross(self) -> Decimal:
        return self.subtotal + self.shipping + self.tax

    @property
    def net(self) -> Decimal:
        return self.gross + self.processing_fee - self.tax_withheld


@dataclass(slots=True)
class Payout:
    payout_reference_id: str
    transfer_id: str
    date: float
    amount: Decimal
    currency: str
    status: str
    transaction_ids: list[str]


@dataclass(slots=True)
class Plant:
    """A finance discrepancy planted through the admin API (``plants``): what it targets and what it changed.

    ``target`` names what it hit (``payout_reference_id``, ``shipment_id``, ``order_id``) or ``{"next": True}``
    until the next SALE or payout it waits for is made; ``changed`` is filled once applied.
    """

    id: str
    kind: str
    target: dict[str, Any]
    params: dict[str, Any]
    status: str = "waiting"  # waiting | applied
    changed: dict[str, Any] = field(default_factory=dict)
