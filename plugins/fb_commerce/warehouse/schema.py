"""The warehouse tables: the single source of truth (migrations are checked against this MetaData).

Conventions, the same in every table:

- money is :class:`~fb_commerce.warehouse.types.Money` (``NUMERIC(18, 2)``, Decimal in Python) next to a
  ``currency`` column (ISO 4217), never a float;
- timestamps are :class:`~fb_commerce.warehouse.types.UtcDateTime` (aware UTC in and out, on both dialects);
  Meta's own timestamps keep Meta's names (``created_at``, ``updated_at``), our bookkeeping ones are
  ``first_seen_at``, ``synced_at``, ``created_at`` of outbox rows...;
- ``raw`` keeps the JSON object exactly as Meta returned it, so a column can be added and back-filled later;
- defaults are *server* defaults, so rows written by the bulk path (COPY), by raw SQL or by the merchant's OMS
  get them too; nothing relies on SQLAlchemy ``onupdate`` (ON CONFLICT updates would not run it);
- columns marked ``info={"bookkeeping": True}`` (``synced_at``...) change on every write and are ignored when
  :func:`fb_commerce.warehouse.upsert.upsert` decides whether a row changed (``skip_unchanged=True``);
- IDs are strings (Meta's ids are numeric strings; treat them as text);
- no CHECK constraints on status and enum columns: the pipelines validate them and mark a bad row failed with
  a message, which a constraint violation at insert time would prevent.

Each table's comment says who writes it and who reads it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fb_commerce.warehouse.types import JSON_TEXT_TYPE, JSON_TYPE, RATE, Money, UtcDateTime

# Named constraints and indexes: Alembic's batch mode on SQLite (table copy-and-move) needs names to find them
# again, and PostgreSQL and SQLite then agree on every name. Names are kept under PostgreSQL's 63-character
# limit.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

ID = sa.String(255)  # Meta ids, merchant ids, request ids: generous, since a too-short VARCHAR fails on PostgreSQL
CODE = sa.String(64)  # enum-like values: states, reason codes, statuses
CURRENCY = sa.String(3)
BOOKKEEPING = {"bookkeeping": True}


# --- column helpers -----------------------------------------------------------------------------------------


def _money(name: str, comment: str | None = None, *, precision: int = 18, scale: int = 2) -> sa.Column:
    return sa.Column(name, Money(precision, scale), comment=comment)


def _json(name: str, comment: str | None = None, json_type: sa.types.TypeEngine[Any] = JSON_TYPE) -> sa.Column:
    return sa.Column(name, json_type, comment=comment)


def _now(name: str, comment: str | None = None) -> sa.Column:
    """A NOT NULL timestamp that defaults to the time of the insert."""
    return sa.Column(
        name, UtcDateTime(), nullable=False, server_default=sa.func.now(), info=BOOKKEEPING, comment=comment
    )


def _counter(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0"))


def _read_back_columns(raw_type: sa.types.TypeEngine[Any] = JSON_TYPE) -> list[sa.Column]:
    """Bookkeeping of a table copied from Meta: when we first and last saw the object, and the object."""
    return [
        _now("first_seen_at", "When this object was first stored."),
        _now("synced_at", "When this object was last read from Meta."),
        _json("raw", "The object as Meta returned it.", raw_type),
    ]


def _outbox_table(name: str, *columns: sa.Column, comment: str) -> sa.Table:
    """A table the OMS queues requests in and fb_order_updates drains: the request, then its delivery
    state."""
    return sa.Table(
        name,
        metadata,
        sa.Column("request_id", ID, primary_key=True, comment="Chosen by the OMS; idempotency keys derive from it."),
        sa.Column("order_id", ID, nullable=False),
        *columns,
        sa.Column("status", CODE, nullable=False, server_default=sa.text("'pending'"), comment="pending|sent|failed"),
        _counter("attempts"),
        sa.Column("idempotency_key", sa.String(100), comment="Key sent to Meta; a retry replays it."),
        sa.Column("last_error_code", sa.Integer()),
        sa.Column("last_error_message", sa.Text()),
        _now("created_at", "When the request was queued."),
        _now("updated_at", "Last status change."),
        sa.Column("sent_at", UtcDateTime()),
        _json("response", "Meta's answer to the last attempt."),
        sa.Index(f"ix_{name}_status_created_at", "status", "created_at"),
        sa.Index(f"ix_{name}_order_id", "order_id"),
        comment=comment,
    )


def _order_edge_table(name: str, id_column: str, *columns: sa.schema.SchemaItem, comment: str) -> sa.Table:
    """Objects read back from an order's edge (/shipments, /cancellations...): Meta's id, the order, the
    object's own columns, then when we saw it and what Meta sent."""
    return sa.Table(
        name,
        metadata,
        sa.Column(id_column, ID, primary_key=True),
        sa.Column("order_id", ID, nullable=False),
        *columns,
        *_read_back_columns(),
        sa.Index(f"ix_{name}_order_id", "order_id"),
        comment=comment,
    )


# --- orders (read from Meta by fb_orders_sync) --------------------------------------------------------------

fb_orders = sa.Table(
    "fb_orders",
    metadata,
    sa.Column("order_id", ID, primary_key=True),
    sa.Column("state", CODE, nullable=False, comment="FB_PROCESSING|CREATED|IN_PROGRESS|COMPLETED"),
    sa.Column("channel", CODE, comment="facebook|instagram"),
    sa.Column("created_at", UtcDateTime(), comment="Meta's `created`."),
    sa.Column("updated_at", UtcDateTime(), comment="Meta's `last_updated`."),
    sa.Column("merchant_order_reference", ID, comment="Our OMS reference; unique, immutable once acknowledged."),
    sa.Column("merchant_order_id", ID),
    sa.Column("buyer_name", sa.Text()),
    sa.Column("buyer_email", sa.String(320)),
    sa.Column("buyer_email_search", sa.String(320), comment="buyer_email in lower case, for search (0006_cs)."),
    sa.Column(
        "buyer_name_search",
        sa.Text(),
        comment="buyer_name for search: accents removed, case folded, words joined by one space (0006_cs).",
    ),
    sa.Column(
        "buyer_name_search_last_first",
        sa.Text(),
        comment="buyer_name_search with its last word first, so a last name is found by its start too.",
    ),
    sa.Column("marketing_opt_in", sa.Boolean(), comment="buyer_details.email_remarketing_option"),
    sa.Column("ship_by_date", sa.Date()),
    sa.Column("ship_to_name", sa.Text()),
    sa.Column("ship_to_street1", sa.Text()),
    sa.Column("ship_to_street2", sa.Text()),
    sa.Column("ship_to_city", sa.Text()),
    sa.Column("ship_to_state", sa.Text()),
    sa.Column("ship_to_postal_code", CODE),
    sa.Column("ship_to_country", CODE),
    sa.Column("currency", CURRENCY),
    _money("subtotal", "estimated_payment_details.subtotal.items"),
    _money("shipping", "estimated_payment_details.subtotal.shipping"),
    _money("tax", "estimated_payment_details.tax"),
    _money("total", "estimated_payment_details.total_amount"),
    sa.Column("tax_remitted", sa.Boolean(), comment="True when Meta remits the tax (marketplace facilitator)."),
    sa.Column("is_test_order", sa.Boolean()),
    _json("promotion_details", "Read-only pass-through."),
    sa.Column("acknowledged_at", UtcDateTime()),
    _counter("acknowledge_attempts"),
    sa.Column("acknowledge_error_code", sa.Integer()),
    sa.Column("acknowledge_error_message", sa.Text()),
    # json, not jsonb, on PostgreSQL: a few kB an order, stored with every page, never queried into (0010).
    *_read_back_columns(JSON_TEXT_TYPE),
    sa.UniqueConstraint("merchant_order_reference"),  # NULLs are distinct on both dialects: unique when set
    sa.Index("ix_fb_orders_state_updated_at", "state", "updated_at"),
    sa.Index("ix_fb_orders_updated_at", "updated_at"),
    sa.Index("ix_fb_orders_created_at", "created_at"),
    # Customer-service lookups (0006_cs): e-mail whatever its case, a name by the start of its first or last word
    # (text_pattern_ops: PostgreSQL uses the index for LIKE 'prefix%' whatever the database's collation), state
    # with a date range. Stored columns rather than expression indexes: SQLite's batch migrations cannot reflect
    # an expression index and would drop it on the next rebuild of the table.
    sa.Index("ix_fb_orders_buyer_email_search", "buyer_email_search"),
    sa.Index(
        "ix_fb_orders_buyer_name_search",
        "buyer_name_search",
        postgresql_ops={"buyer_name_search": "text_pattern_ops"},
    ),
    sa.Index(
        "ix_fb_orders_buyer_name_search_last_first",
        "buyer_name_search_last_first",
        postgresql_ops={"buyer_name_search_last_first": "text_pattern_ops"},
    ),
    sa.Index("ix_fb_orders_state_created_at", "state", "created_at"),
    comment=(
        "Orders as read from Meta. Written by fb_orders_sync (upsert by order_id); read by fb_order_updates, "
        "finance reconciliation and reports, and customer-service lookups."
    ),
)

fb_order_items = sa.Table(
    "fb_order_items",
    metadata,
    sa.Column(
        "order_id",
        ID,
        sa.ForeignKey("fb_orders.order_id", ondelete="CASCADE"),
        primary_key=True,
        nullable=False,
    ),
    sa.Column("item_id", ID, primary_key=True, nullable=False, comment="Meta's line-item id."),
    sa.Column("retailer_id", ID, comment="The merchant's SKU (feed id)."),
    sa.Column("product_id", ID),
    sa.Column("product_name", sa.Text()),
    sa.Column("quantity", sa.Integer(), nullable=False),
    sa.Column("quantity_in_progress", sa.Integer(), comment="From the item's status: not yet shipped."),
    sa.Column("quantity_fulfilled", sa.Integer()),
    sa.Column("quantity_cancelled", sa.Integer()),
    _money("price_per_unit"),
    sa.Column("currency", CURRENCY),
    _money("tax", "tax_details.estimated_tax (fixed at creation)."),
    _money("captured_tax", "tax_details.captured_tax.total_tax (grows as items ship)."),
    sa.Column("shipping_option_name", sa.Text()),
    _money("shipping_option_price"),
    _money("shipping_option_tax"),
    _now("synced_at"),
    # No raw here: the item as Meta returned it is in its order's raw (items.data), stored once (0003_pgspeed2).
    sa.Index("ix_fb_order_items_retailer_id", "retailer_id"),
    comment=(
        "Order lines. Written by fb_orders_sync with their order; read by fb_order_updates (what is "
        "shippable, cancellable, refundable), finance and customer service. Each line as Meta returned it is "
        "in fb_orders.raw (items.data)."
    ),
)

fb_shipments = _order_edge_table(
    "fb_shipments",
    "shipment_id",
    sa.Column("external_shipment_id", ID),
    sa.Column("carrier", CODE),
    sa.Column("tracking_number", ID),
    sa.Column("shipping_method_name", sa.Text()),
    _json("items", "[{id, retailer_id, product_id, quantity, tax}]"),
    sa.Index("ix_fb_shipments_external_shipment_id", "external_shipment_id"),
    comment=(
        "Shipments as read back from Meta (/{order}/shipments). Written by fb_orders_sync; read by "
        "fb_order_updates (what is left to ship), the late-shipment check and finance."
    ),
)

fb_cancellations = _order_edge_table(
    "fb_cancellations",
    "cancellation_id",
    sa.Column("reason_code", CODE),
    sa.Column("reason_description", sa.Text()),
    sa.Column("restock_items", sa.Boolean()),
    _json("items", "[{id|retailer_id, quantity}]; null means the whole order."),
    comment=(
        "Cancellations as read back from Meta, including those Meta made itself. Written by fb_orders_sync; "
        "read by finance, customer service and the merchant's OMS."
    ),
)

fb_refunds = _order_edge_table(
    "fb_refunds",
    "refund_id",
    sa.Column("reason_code", CODE),
    sa.Column("reason_text", sa.Text()),
    sa.Column("currency", CURRENCY),
    _money("subtotal"),
    _money("shipping"),
    _money("tax"),
    _money("total"),
    _json("items", "[{id, retailer_id, product_id, quantity, refund_subtotal}]"),
    comment=(
        "Refunds as read back from Meta (refund_amount split into columns). Written by fb_orders_sync; read "
        "by finance reconciliation and customer service."
    ),
)

fb_returns = _order_edge_table(
    "fb_returns",
    "return_id",
    sa.Column("merchant_return_id", ID),
    sa.Column("return_status", CODE, comment="REQUESTED|APPROVED|DISAPPROVED|REFUNDED|MERCHANT_MARKED_COMPLETED"),
    sa.Column("return_message", sa.Text()),
    sa.Column("created_at", UtcDateTime()),
    _json("items"),
    _json("item_return_quantities", "[{key: item id, value: quantity}]"),
    _json("item_return_reasons", "[{key: item id, value: reason}]"),
    # 0008_lookup: the returns awaiting customer service, oldest first (cs.lookup.awaiting_returns)
    sa.Index("ix_fb_returns_return_status_created_at", "return_status", "created_at"),
    comment=(
        "Returns (beta API) as read back from Meta. Written by fb_orders_sync; read by customer service "
        "(refund of a return) and finance."
    ),
)

# --- finance (fb_finance_nightly) ---------------------------------------------------------------------------

fb_payouts = sa.Table(
    "fb_payouts",
    metadata,
    sa.Column("payout_reference_id", ID, primary_key=True),
    sa.Column("transfer_id", ID),
    sa.Column("status", CODE, comment="COMPLETED|FAILED"),
    _money("amount"),
    sa.Column("currency", CURRENCY),
    sa.Column("payout_date", UtcDateTime(), comment="Null while not yet paid."),
    *_read_back_columns(),
    sa.Index("ix_fb_payouts_payout_date", "payout_date"),
    comment="Payouts (commerce_payouts). Written by fb_finance_nightly (upsert, backfillable); read by "
    "reconciliation and the cash report.",
)

fb_transactions = sa.Table(
    "fb_transactions",
    metadata,
    sa.Column("transaction_id", ID, primary_key=True),
    sa.Column("transaction_type", CODE, comment="SALE|REFUND"),
    sa.Column("transaction_date", UtcDateTime()),
    sa.Column("order_id", ID),
    sa.Column("merchant_order_id", ID),
    sa.Column("order_created_at", UtcDateTime()),
    sa.Column("payout_reference_id", ID),
    sa.Column("transfer_id", ID),
    sa.Column("currency", CURRENCY),
    _money("processing_fee"),
    _money("net_payment_amount"),
    _money("tax_amount", "Sum of the tax detail lines' item_tax_amount."),
    sa.Column("tax_rate", CODE, comment='As Meta states it, e.g. "0%;0%".'),
    sa.Column("postal_code", CODE),
    sa.Column("state", CODE, comment="Buyer's state or region (tax jurisdiction)."),
    _json("items"),
    _json("tax_details", "The tax_details list as returned; one row each in fb_transaction_tax_details."),
    *_read_back_columns(),
    sa.Index("ix_fb_transactions_transaction_date", "transaction_date"),
    sa.Index("ix_fb_transactions_order_id", "order_id"),
    sa.Index("ix_fb_transactions_payout_reference_id", "payout_reference_id"),
    comment="Transactions (commerce_transactions): sales and refunds with fees and tax. Written by "
    "fb_finance_nightly (upsert); read by reconciliation and the cash and tax reports.",
)

fb_transaction_tax_details = sa.Table(
    "fb_transaction_tax_details",
    metadata,
    sa.Column(
        "transaction_id",
        ID,
        sa.ForeignKey("fb_transactions.transaction_id", ondelete="CASCADE"),
        primary_key=True,
        nullable=False,
    ),
    sa.Column("line_number", sa.Integer(), primary_key=True, nullable=False, comment="Position in tax_details."),
    sa.Column("retailer_id", ID),
    sa.Column("tax_category", CODE),
    sa.Column("jurisdiction", sa.Text()),
    sa.Column("imposition", CODE),
    sa.Column("item_tax_rate", RATE),
    _money("item_tax_amount", precision=18, scale=4),
    sa.Column("currency", CURRENCY),
    comment=(
        "Tax detail lines of a transaction (tax_category, jurisdiction, imposition, rate, amount). Written by"
        " fb_finance_nightly (replaced per transaction); read by the tax report and reconciliation."
    ),
)

fb_payments = sa.Table(
    "fb_payments",
    metadata,
    sa.Column("payment_id", ID, primary_key=True),
    sa.Column("order_id", ID, nullable=False),
    sa.Column("shipment_id", ID, comment="The shipment this payment captured (one payment per shipment)."),
    sa.Column("external_shipment_id", ID),
    sa.Column("transaction_id", ID, comment="transaction_details.transaction_id: the SALE transaction."),
    sa.Column("currency", CURRENCY),
    _money("items_amount", "subtotal.items: the shipped items' price."),
    _money("shipping_amount", "subtotal.shipping: the shipment's prorated share of shipping."),
    _money("tax_amount"),
    _money("total_amount"),
    sa.Column("tax_remitted", sa.Boolean(), comment="True when Meta remits this tax (marketplace facilitator)."),
    _money("captured_amount", "transaction_details.captured_amount; NULL: capture failed (cannot be refunded)."),
    sa.Column("capture_time", UtcDateTime()),
    *_read_back_columns(),
    sa.Index("ix_fb_payments_order_id", "order_id"),
    sa.Index("ix_fb_payments_transaction_id", "transaction_id"),
    sa.Index("ix_fb_payments_shipment_id", "shipment_id"),  # 0007_reconcile: sale_missing's join
    comment=(
        "Payments of an order (/{order}/payments), one per shipment. Written by fb_finance_nightly for the "
        "orders its transactions name (upsert); read by reconciliation (what a SALE should capture)."
    ),
)

fb_reconciliation_issues = sa.Table(
    "fb_reconciliation_issues",
    metadata,
    sa.Column(
        "issue_key", ID, primary_key=True, comment="Deterministic: the rule and the ids involved (same on every run)."
    ),
    sa.Column("kind", CODE, nullable=False, comment="The rule that found it: its file name in reconcile/."),
    sa.Column("business_date", sa.Date(), nullable=False, comment="The merchant's day the checked money belongs to."),
    sa.Column("status", sa.String(16), nullable=False, comment="open|resolved"),
    sa.Column("order_id", ID),
    sa.Column("shipment_id", ID),
    sa.Column("refund_id", ID),
    sa.Column("transaction_id", ID),
    sa.Column("payout_reference_id", ID),
    sa.Column("jurisdiction", sa.Text(), comment="For tax rules: the jurisdiction compared."),
    sa.Column("currency", CURRENCY),
    _money("expected_amount"),
    _money("actual_amount"),
    _money("difference", "actual - expected."),
    sa.Column("message", sa.Text(), nullable=False, comment="What is wrong, in finance's words."),
    _json("details"),
    sa.Column("first_seen_at", UtcDateTime(), nullable=False),
    sa.Column("last_seen_at", UtcDateTime(), nullable=False),
    sa.Column("resolved_at", UtcDateTime(), comment="When a later run found it matched; NULL while open."),
    sa.Column("first_run_id", ID, comment="Airflow run that first found it."),
    sa.Column("last_run_id", ID, comment="Airflow run that last found it (or resolved it)."),
    sa.Index("ix_fb_reconciliation_issues_status_kind", "status", "kind"),
    sa.Index("ix_fb_reconciliation_issues_business_date", "business_date"),
    sa.Index("ix_fb_reconciliation_issues_order_id", "order_id"),
    comment=(
        "Discrepancies between orders, payments, transactions, payouts and tax, one row per issue key. Written "
        "by fb_finance_nightly (upserted; resolved, never deleted, when a later run finds it matched); read by "
        "finance and the reports."
    ),
)

# --- outbox: the OMS writes, fb_order_updates drains --------------------------------------------------------

fb_shipment_requests = _outbox_table(
    "fb_shipment_requests",
    sa.Column("request_type", CODE, nullable=False, server_default=sa.text("'ship'"), comment="ship|update_tracking"),
    _json("items", "[{retailer_id|item_id, quantity}]; null ships everything unfulfilled."),
    sa.Column("carrier", CODE),
    sa.Column("tracking_number", ID),
    sa.Column("shipping_method", sa.Text()),
    sa.Column("external_shipment_id", ID, comment="[A-Za-z0-9_]; also names the shipment a tracking update changes."),
    sa.Column("shipment_id", ID, comment="Meta's shipment id, for update_tracking instead of external_shipment_id."),
    sa.Column("fulfillment_location_id", ID),
    _json("fulfillment_address", "{street_1, street_2, city, state, country, postal_code}"),
    comment=(
        "Shipments and tracking updates to send. Written by the merchant's OMS (status pending); drained by "
        "fb_order_updates, which sets status, attempts, errors and sent_at."
    ),
)

fb_cancellation_requests = _outbox_table(
    "fb_cancellation_requests",
    _json("items", "[{retailer_id|item_id, quantity}]; null cancels the whole order."),
    sa.Column("reason_code", CODE, comment="CUSTOMER_REQUESTED|OUT_OF_STOCK|INVALID_ADDRESS|..."),
    sa.Column("reason_description", sa.Text()),
    sa.Column("restock_items", sa.Boolean(), nullable=False, server_default=sa.false()),
    comment=("Cancellations to send. Written by the OMS and by customer-service DAGs; drained by fb_order_updates."),
)

fb_refund_requests = _outbox_table(
    "fb_refund_requests",
    _json("items", "[{retailer_id|item_id, quantity | amount}]; null refunds the whole order."),
    sa.Column("currency", CURRENCY),
    _money("shipping_refund"),
    _money("return_shipping_deduction", "RETURN_SHIPPING deduction."),
    sa.Column("reason_code", CODE, comment="BUYERS_REMORSE|DAMAGED_GOODS|...|REFUND_REASON_OTHER"),
    sa.Column("reason_text", sa.Text(), comment="Shown to the buyer."),
    sa.Column("return_id", ID),
    comment="Refunds to send. Written by the OMS and by customer-service DAGs; drained by fb_order_updates.",
)

# --- catalog (fb_catalog_feed, fb_inventory_sync) -----------------------------------------------------------

fb_feed_uploads = sa.Table(
    "fb_feed_uploads",
    metadata,
    sa.Column("upload_id", ID, primary_key=True, comment="Meta's upload session id."),
    sa.Column("feed_id", ID, nullable=False),
    sa.Column("catalog_id", ID),
    sa.Column("run_id", ID, comment="Airflow run that generated and uploaded the file."),
    sa.Column("file_name", sa.Text()),
    sa.Column("file_format", sa.String(16), comment="csv|tsv|xml"),
    sa.Column("file_bytes", sa.BigInteger()),
    sa.Column("file_sha256", sa.String(64)),
    sa.Column("rows_written", sa.Integer(), comment="Products in the file."),
    sa.Column("rows_rejected", sa.Integer(), comment="Products quarantined in fb_feed_rejects."),
    sa.Column("input_method", CODE),
    sa.Column("url", sa.Text(), comment="Where Meta fetched the file, when uploaded by URL."),
    sa.Column("status", CODE, nullable=False, server_default=sa.text("'in_progress'")),
    sa.Column("start_time", UtcDateTime()),
    sa.Column("end_time", UtcDateTime()),
    sa.Column("error_count", sa.Integer()),
    sa.Column("warning_count", sa.Integer()),
    sa.Column("num_detected_items", sa.Integer()),
    sa.Column("num_persisted_items", sa.Integer()),
    sa.Column("num_invalid_items", sa.Integer()),
    sa.Column("num_deleted_items", sa.Integer()),
    sa.Column("error_report_status", CODE),
    sa.Column("error_report_url", sa.Text()),
    _now("requested_at"),
    _now("synced_at"),
    _json("raw"),
    sa.Index("ix_fb_feed_uploads_feed_id_requested_at", "feed_id", "requested_at"),
    comment="Feed upload sessions and their final counts. Written by fb_catalog_feed; read by engineers and "
    "the setup check.",
)

fb_feed_upload_errors = sa.Table(
    "fb_feed_upload_errors",
    metadata,
    sa.Column(
        "upload_id",
        ID,
        sa.ForeignKey("fb_feed_uploads.upload_id", ondelete="CASCADE"),
        primary_key=True,
        nullable=False,
    ),
    sa.Column("error_number", sa.Integer(), primary_key=True, nullable=False, comment="Position in what Meta sent."),
    sa.Column("source", sa.String(16), nullable=False, server_default=sa.text("'errors'"), comment="errors|report"),
    sa.Column("severity", sa.String(16), comment="fatal|warning"),
    sa.Column("summary", sa.Text()),
    sa.Column("description", sa.Text()),
    sa.Column("retailer_id", ID),
    sa.Column("row_number", sa.Integer()),
    sa.Column("total_count", sa.Integer()),
    _json("samples"),
    _json("affected_surfaces"),
    _json("raw"),
    sa.Index("ix_fb_feed_upload_errors_retailer_id", "retailer_id"),
    comment="Errors Meta reported for an upload session (/errors sample or the full report). Written by "
    "fb_catalog_feed (replaced per upload); read by engineers and merchandisers.",
)

fb_feed_rejects = sa.Table(
    "fb_feed_rejects",
    metadata,
    sa.Column("run_id", ID, primary_key=True, nullable=False, comment="Feed generation run."),
    sa.Column("row_number", sa.Integer(), primary_key=True, nullable=False, comment="Row in the product source."),
    sa.Column("field", sa.String(100), primary_key=True, nullable=False),
    sa.Column("retailer_id", sa.Text(), comment="As found in the source, possibly invalid."),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("value", sa.Text(), comment="The offending value, truncated."),
    sa.Column("upload_id", ID),
    _now("rejected_at"),
    comment=(
        "Products quarantined by feed validation, one row per bad field. Written by fb_catalog_feed (replaced"
        " per run); read by merchandisers, who fix the source."
    ),
)

fb_catalog_sync_state = sa.Table(
    "fb_catalog_sync_state",
    metadata,
    sa.Column("retailer_id", ID, primary_key=True),
    sa.Column("availability", CODE),
    sa.Column("quantity", sa.Integer(), comment="quantity_to_sell_on_facebook"),
    _money("price"),
    _money("sale_price"),
    sa.Column("currency", CURRENCY),
    sa.Column("row_hash", sa.String(64), comment="Hash of the synced fields, for a cheap delta."),
    sa.Column("last_handle", ID, comment="items_batch handle that carried the last accepted change."),
    _now("synced_at"),
    comment=(
        "What Meta last accepted per product. Written by fb_catalog_feed and fb_inventory_sync (only after a "
        "batch handle finished without an error for the item); read by fb_inventory_sync to compute the "
        "delta."
    ),
)

fb_batch_requests = sa.Table(
    "fb_batch_requests",
    metadata,
    sa.Column("handle", ID, primary_key=True),
    sa.Column("catalog_id", ID),
    sa.Column("item_type", CODE, nullable=False, server_default=sa.text("'PRODUCT_ITEM'")),
    sa.Column("run_id", ID),
    _counter("request_count"),
    sa.Column("status", CODE, comment="Meta's status from check_batch_request_status; null until checked."),
    sa.Column("errors_total_count", sa.Integer()),
    sa.Column("warnings_total_count", sa.Integer()),
    _json("ids_of_invalid_requests"),
    _json("errors"),
    _json("warnings"),
    _now("sent_at"),
    sa.Column("checked_at", UtcDateTime()),
    sa.Column("finished_at", UtcDateTime()),
    _counter("check_attempts"),
    _json("raw", "Last status answer."),
    sa.Index("ix_fb_batch_requests_status", "status"),
    comment=(
        "items_batch calls and their status. Written by fb_inventory_sync (on send, then by the status "
        "check); read by fb_inventory_sync and engineers."
    ),
)

fb_batch_request_items = sa.Table(
    "fb_batch_request_items",
    metadata,
    sa.Column(
        "handle",
        ID,
        sa.ForeignKey("fb_batch_requests.handle", ondelete="CASCADE"),
        primary_key=True,
        nullable=False,
    ),
    sa.Column("retailer_id", ID, primary_key=True, nullable=False),
    sa.Column("method", sa.String(16), nullable=False, comment="CREATE|UPDATE|DELETE"),
    sa.Column("availability", CODE),
    sa.Column("quantity", sa.Integer()),
    _money("price"),
    _money("sale_price"),
    sa.Column("currency", CURRENCY),
    sa.Column("row_hash", sa.String(64)),
    sa.Column(
        "status",
        sa.String(16),
        nullable=False,
        server_default=sa.text("'pending'"),
        comment="pending|synced|failed",
    ),
    sa.Column("error_message", sa.Text()),
    sa.Index("ix_fb_batch_request_items_retailer_id", "retailer_id"),
    comment=(
        "What each items_batch call carried, per product, so fb_catalog_sync_state is updated in SQL once the"
        " handle finished. Written and read by fb_inventory_sync."
    ),
)

# --- state and audit ----------------------------------------------------------------------------------------

fb_sync_state = sa.Table(
    "fb_sync_state",
    metadata,
    sa.Column("name", ID, primary_key=True, comment="e.g. orders, cancellations, payouts."),
    sa.Column("watermark", UtcDateTime()),
    _now("updated_at"),
    _json("extra"),
    comment=(
        "Watermarks of the incremental pulls. Written by each sync after its rows are committed; read by the "
        "same sync on its next run."
    ),
)

fb_alerts = sa.Table(
    "fb_alerts",
    metadata,
    sa.Column(
        "condition",
        CODE,
        primary_key=True,
        comment="stuck_created|ship_by_at_risk|return_unanswered|orders_sync_stale, or daily_digest.",
    ),
    sa.Column(
        "subject",
        ID,
        primary_key=True,
        comment="What it is about: the order id, the return id, 'orders' (freshness), the UTC day (digest).",
    ),
    sa.Column("order_id", ID),
    sa.Column("merchant_order_reference", ID),
    sa.Column("detail", sa.Text(), comment="What was seen, as in the notification."),
    sa.Column("first_seen_at", UtcDateTime(), nullable=False),
    sa.Column("last_seen_at", UtcDateTime(), nullable=False),
    sa.Column("notified_at", UtcDateTime(), comment="When it was sent (or only logged: no notifier); NULL: not yet."),
    sa.Column("resolved_at", UtcDateTime(), comment="When the condition was no longer seen; NULL: open."),
    sa.Index("ix_fb_alerts_resolved_at", "resolved_at"),
    comment=(
        "One row per alert condition, so each is notified once, and one per day's digest. Written and read by "
        "the alert tasks of fb_orders_sync and fb_setup_check."
    ),
)

fb_cs_actions = sa.Table(
    "fb_cs_actions",
    metadata,
    sa.Column("action_id", ID, primary_key=True, comment="One customer-service submission (a form sent once)."),
    sa.Column(
        "status",
        CODE,
        primary_key=True,
        comment="What happened to it, one row each: refused|awaiting_approval|approved|declined|queued|sent|failed.",
    ),
    sa.Column("action_type", CODE, nullable=False, comment="refund|cancel|update_tracking"),
    sa.Column("order_id", ID),
    sa.Column(
        "requested_by", sa.Text(), comment="Who: the Airflow user (web, dag) or the OS user (cli); the approver."
    ),
    sa.Column("source", CODE, comment="web|dag|cli"),
    sa.Column("run_id", ID, comment="The fb_cs_* DAG run, when it came from one."),
    _json("parameters", "The form as submitted."),
    sa.Column("request_id", ID, comment="The outbox row it queued (fb_*_requests.request_id)."),
    sa.Column("error_code", sa.Integer(), comment="Meta's code when Meta refused it."),
    sa.Column("error_message", sa.Text(), comment="Why it was refused (our checks) or failed (Meta's message)."),
    _json("result", "Details: the reasons, Meta's answer, the submission it repeats."),
    _now("created_at", "When this happened."),
    sa.Index("ix_fb_cs_actions_order_id", "order_id"),
    sa.Index("ix_fb_cs_actions_created_at", "created_at"),
    sa.Index("ix_fb_cs_actions_request_id", "request_id"),
    comment=(
        "Audit trail of customer-service actions: one row per submission and step, never updated or deleted "
        "(0006_cs). Written by fb_commerce.cs.actions (the web page, the fb_cs_* DAGs, the CLI); read by "
        "customer service (the order's page) and auditors."
    ),
)

# --- the merchant's side ------------------------------------------------------------------------------------

merchant_products = sa.Table(
    "merchant_products",
    metadata,
    sa.Column("sku", ID, primary_key=True),
    sa.Column("name", sa.Text()),
    sa.Column("description", sa.Text()),
    _money("price"),
    _money("sale_price"),
    sa.Column("sale_price_start", UtcDateTime()),
    sa.Column("sale_price_end", UtcDateTime()),
    sa.Column("currency", sa.String(16), comment="Wider than ISO 4217 on purpose: validation reports bad codes."),
    sa.Column("stock", sa.Integer()),
    sa.Column("brand", sa.Text()),
    sa.Column("url", sa.Text()),
    sa.Column("image_url", sa.Text()),
    sa.Column("category", sa.Text(), comment="Google product category."),
    sa.Column("condition", CODE),
    sa.Column("item_group_id", ID),
    sa.Column("gtin", CODE),
    sa.Column("size", CODE),
    sa.Column("color", CODE),
    sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
    _now("updated_at"),
    sa.Index("ix_merchant_products_updated_at", "updated_at"),
    comment="The merchant's products (demo source; production may point the feed query at its own database). "
    "Written by the merchant (the demo seeds it); read by the feed mapping SQL in include/sql/catalog/.",
)


OUTBOX_TABLES: tuple[sa.Table, ...] = (fb_shipment_requests, fb_cancellation_requests, fb_refund_requests)
OUTBOX_STATUSES: tuple[str, ...] = ("pending", "sent", "failed")


def bookkeeping_columns(table: sa.Table) -> frozenset[str]:
    """Names of the columns of ``table`` that change on every write (ignored when comparing rows)."""
    return frozenset(c.name for c in table.columns if c.info.get("bookkeeping"))
