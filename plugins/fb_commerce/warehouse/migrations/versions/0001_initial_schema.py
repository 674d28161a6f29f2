"""Initial warehouse schema: every table the README lists.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Written out in full (not ``metadata.create_all``) so that this revision stays what it is when schema.py
changes; the test suite checks that the result matches schema.py exactly. Types are the plain SQLAlchemy types
behind the project's ``UtcDateTime`` (``DateTime(timezone=True)``) and ``Money`` (``Numeric``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# JSON on SQLite, JSONB on PostgreSQL (comparable; Python None stored as SQL NULL).
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def _now(name: str, comment: str | None = None) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.func.now(),
        nullable=False,
        comment=comment,
    )


def _read_back_columns() -> list[sa.Column]:
    """Bookkeeping of a table copied from Meta (first_seen_at, synced_at, raw)."""
    return [
        _now("first_seen_at", "When this object was first stored."),
        _now("synced_at", "When this object was last read from Meta."),
        sa.Column("raw", JSON, comment="The object as Meta returned it."),
    ]


def _request_id() -> sa.Column:
    return sa.Column(
        "request_id",
        sa.String(length=255),
        nullable=False,
        comment="Chosen by the OMS; idempotency keys derive from it.",
    )


def _outbox_columns() -> list[sa.Column]:
    """Delivery state of an outbox row (status, attempts, errors, timestamps, Meta's answer)."""
    return [
        sa.Column(
            "status",
            sa.String(length=64),
            server_default=sa.text("'pending'"),
            nullable=False,
            comment="pending|sent|failed",
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), comment="Key sent to Meta; a retry replays it."),
        sa.Column("last_error_code", sa.Integer()),
        sa.Column("last_error_message", sa.Text()),
        _now("created_at", "When the request was queued."),
        _now("updated_at", "Last status change."),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("response", JSON, comment="Meta's answer to the last attempt."),
    ]


# Children before parents, for the downgrade.
TABLES_CHILDREN_FIRST = (
    "fb_order_items",
    "fb_transaction_tax_details",
    "fb_feed_upload_errors",
    "fb_batch_request_items",
    "merchant_products",
    "fb_cs_actions",
    "fb_sync_state",
    "fb_batch_requests",
    "fb_catalog_sync_state",
    "fb_feed_rejects",
    "fb_feed_uploads",
    "fb_refund_requests",
    "fb_cancellation_requests",
    "fb_shipment_requests",
    "fb_reconciliation_issues",
    "fb_transactions",
    "fb_payouts",
    "fb_returns",
    "fb_refunds",
    "fb_cancellations",
    "fb_shipments",
    "fb_orders",
)


def upgrade() -> None:
    """Create every warehouse table and index."""
    op.create_table(
        "fb_orders",
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column(
            "state",
            sa.String(length=64),
            nullable=False,
            comment="FB_PROCESSING|CREATED|IN_PROGRESS|COMPLETED",
        ),
        sa.Column("channel", sa.String(length=64), comment="facebook|instagram"),
        sa.Column("created_at", sa.DateTime(timezone=True), comment="Meta's `created`."),
        sa.Column("updated_at", sa.DateTime(timezone=True), comment="Meta's `last_updated`."),
        sa.Column(
            "merchant_order_reference",
            sa.String(length=255),
            comment="Our OMS reference; unique, immutable once acknowledged.",
        ),
        sa.Column("merchant_order_id", sa.String(length=255)),
        sa.Column("buyer_name", sa.Text()),
        sa.Column("buyer_email", sa.String(length=320)),
        sa.Column("marketing_opt_in", sa.Boolean(), comment="buyer_details.email_remarketing_option"),
        sa.Column("ship_by_date", sa.Date()),
        sa.Column("ship_to_name", sa.Text()),
        sa.Column("ship_to_street1", sa.Text()),
        sa.Column("ship_to_street2", sa.Text()),
        sa.Column("ship_to_city", sa.Text()),
        sa.Column("ship_to_state", sa.Text()),
        sa.Column("ship_to_postal_code", sa.String(length=64)),
        sa.Column("ship_to_country", sa.String(length=64)),
        sa.Column("currency", sa.String(length=3)),
        sa.Column(
            "subtotal",
            sa.Numeric(precision=18, scale=2),
            comment="estimated_payment_details.subtotal.items",
        ),
        sa.Column(
            "shipping",
            sa.Numeric(precision=18, scale=2),
            comment="estimated_payment_details.subtotal.shipping",
        ),
        sa.Column("tax", sa.Numeric(precision=18, scale=2), comment="estimated_payment_details.tax"),
        sa.Column(
            "total",
            sa.Numeric(precision=18, scale=2),
            comment="estimated_payment_details.total_amount",
        ),
        sa.Column(
            "tax_remitted",
            sa.Boolean(),
            comment="True when Meta remits the tax (marketplace facilitator).",
        ),
        sa.Column("is_test_order", sa.Boolean()),
        sa.Column("promotion_details", JSON, comment="Read-only pass-through."),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.Column("acknowledge_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("acknowledge_error_code", sa.Integer()),
        sa.Column("acknowledge_error_message", sa.Text()),
        *_read_back_columns(),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_fb_orders")),
        sa.UniqueConstraint("merchant_order_reference", name=op.f("uq_fb_orders_merchant_order_reference")),
        comment=(
            "Orders as read from Meta. Written by fb_orders_sync (upsert by order_id); read by "
            "fb_order_updates, finance reconciliation and reports, and customer-service lookups."
        ),
    )
    op.create_index("ix_fb_orders_buyer_email", "fb_orders", ["buyer_email"])
    op.create_index("ix_fb_orders_created_at", "fb_orders", ["created_at"])
    op.create_index("ix_fb_orders_state_updated_at", "fb_orders", ["state", "updated_at"])
    op.create_index("ix_fb_orders_updated_at", "fb_orders", ["updated_at"])

    op.create_table(
        "fb_order_items",
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False, comment="Meta's line-item id."),
        sa.Column("retailer_id", sa.String(length=255), comment="The merchant's SKU (feed id)."),
        sa.Column("product_id", sa.String(length=255)),
        sa.Column("product_name", sa.Text()),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("quantity_in_progress", sa.Integer(), comment="From the item's status: not yet shipped."),
        sa.Column("quantity_fulfilled", sa.Integer()),
        sa.Column("quantity_cancelled", sa.Integer()),
        sa.Column("price_per_unit", sa.Numeric(precision=18, scale=2)),
        sa.Column("currency", sa.String(length=3)),
        sa.Column(
            "tax",
            sa.Numeric(precision=18, scale=2),
            comment="tax_details.estimated_tax (fixed at creation).",
        ),
        sa.Column(
            "captured_tax",
            sa.Numeric(precision=18, scale=2),
            comment="tax_details.captured_tax.total_tax (grows as items ship).",
        ),
        sa.Column("shipping_option_name", sa.Text()),
        sa.Column("shipping_option_price", sa.Numeric(precision=18, scale=2)),
        sa.Column("shipping_option_tax", sa.Numeric(precision=18, scale=2)),
        _now("synced_at"),
        sa.Column("raw", JSON),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["fb_orders.order_id"],
            name=op.f("fk_fb_order_items_order_id_fb_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "item_id", name=op.f("pk_fb_order_items")),
        comment=(
            "Order lines. Written by fb_orders_sync with their order; read by fb_order_updates (what is "
            "shippable, cancellable, refundable), finance and customer service."
        ),
    )
    op.create_index("ix_fb_order_items_retailer_id", "fb_order_items", ["retailer_id"])

    op.create_table(
        "fb_shipments",
        sa.Column("shipment_id", sa.String(length=255), nullable=False),
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("external_shipment_id", sa.String(length=255)),
        sa.Column("carrier", sa.String(length=64)),
        sa.Column("tracking_number", sa.String(length=255)),
        sa.Column("shipping_method_name", sa.Text()),
        sa.Column("items", JSON, comment="[{id, retailer_id, product_id, quantity, tax}]"),
        *_read_back_columns(),
        sa.PrimaryKeyConstraint("shipment_id", name=op.f("pk_fb_shipments")),
        comment=(
            "Shipments as read back from Meta (/{order}/shipments). Written by fb_orders_sync; read by "
            "fb_order_updates (what is left to ship), the late-shipment check and finance."
        ),
    )
    op.create_index("ix_fb_shipments_external_shipment_id", "fb_shipments", ["external_shipment_id"])
    op.create_index("ix_fb_shipments_order_id", "fb_shipments", ["order_id"])

    op.create_table(
        "fb_cancellations",
        sa.Column("cancellation_id", sa.String(length=255), nullable=False),
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("reason_code", sa.String(length=64)),
        sa.Column("reason_description", sa.Text()),
        sa.Column("restock_items", sa.Boolean()),
        sa.Column("items", JSON, comment="[{id|retailer_id, quantity}]; null means the whole order."),
        *_read_back_columns(),
        sa.PrimaryKeyConstraint("cancellation_id", name=op.f("pk_fb_cancellations")),
        comment=(
            "Cancellations as read back from Meta, including those Meta made itself. Written by "
            "fb_orders_sync; read by finance, customer service and the merchant's OMS."
        ),
    )
    op.create_index("ix_fb_cancellations_order_id", "fb_cancellations", ["order_id"])

    op.create_table(
        "fb_refunds",
        sa.Column("refund_id", sa.String(length=255), nullable=False),
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("reason_code", sa.String(length=64)),
        sa.Column("reason_text", sa.Text()),
        sa.Column("currency", sa.String(length=3)),
        sa.Column("subtotal", sa.Numeric(precision=18, scale=2)),
        sa.Column("shipping", sa.Numeric(precision=18, scale=2)),
        sa.Column("tax", sa.Numeric(precision=18, scale=2)),
        sa.Column("total", sa.Numeric(precision=18, scale=2)),
        sa.Column("items", JSON, comment="[{id, retailer_id, product_id, quantity, refund_subtotal}]"),
        *_read_back_columns(),
        sa.PrimaryKeyConstraint("refund_id", name=op.f("pk_fb_refunds")),
        comment=(
            "Refunds as read back from Meta (refund_amount split into columns). Written by fb_orders_sync; "
            "read by finance reconciliation and customer service."
        ),
    )
    op.create_index("ix_fb_refunds_order_id", "fb_refunds", ["order_id"])

    op.create_table(
        "fb_returns",
        sa.Column("return_id", sa.String(length=255), nullable=False),
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("merchant_return_id", sa.String(length=255)),
        sa.Column(
            "return_status",
            sa.String(length=64),
            comment="REQUESTED|APPROVED|DISAPPROVED|REFUNDED|MERCHANT_MARKED_COMPLETED",
        ),
        sa.Column("return_message", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("items", JSON),
        sa.Column("item_return_quantities", JSON, comment="[{key: item id, value: quantity}]"),
        sa.Column("item_return_reasons", JSON, comment="[{key: item id, value: reason}]"),
        *_read_back_columns(),
        sa.PrimaryKeyConstraint("return_id", name=op.f("pk_fb_returns")),
        comment=(
            "Returns (beta API) as read back from Meta. Written by fb_orders_sync; read by customer service"
            " (refund of a return) and finance."
        ),
    )
    op.create_index("ix_fb_returns_order_id", "fb_returns", ["order_id"])

    op.create_table(
        "fb_payouts",
        sa.Column("payout_reference_id", sa.String(length=255), nullable=False),
        sa.Column("transfer_id", sa.String(length=255)),
        sa.Column("status", sa.String(length=64), comment="COMPLETED|FAILED"),
        sa.Column("amount", sa.Numeric(precision=18, scale=2)),
        sa.Column("currency", sa.String(length=3)),
        sa.Column("payout_date", sa.DateTime(timezone=True), comment="Null while not yet paid."),
        *_read_back_columns(),
        sa.PrimaryKeyConstraint("payout_reference_id", name=op.f("pk_fb_payouts")),
        comment=(
            "Payouts (commerce_payouts). Written by fb_finance_nightly (upsert, backfillable); read by "
            "reconciliation and the cash report."
        ),
    )
    op.create_index("ix_fb_payouts_payout_date", "fb_payouts", ["payout_date"])

    op.create_table(
        "fb_transactions",
        sa.Column("transaction_id", sa.String(length=255), nullable=False),
        sa.Column("transaction_type", sa.String(length=64), comment="SALE|REFUND"),
        sa.Column("transaction_date", sa.DateTime(timezone=True)),
        sa.Column("order_id", sa.String(length=255)),
        sa.Column("merchant_order_id", sa.String(length=255)),
        sa.Column("order_created_at", sa.DateTime(timezone=True)),
        sa.Column("payout_reference_id", sa.String(length=255)),
        sa.Column("transfer_id", sa.String(length=255)),
        sa.Column("currency", sa.String(length=3)),
        sa.Column("processing_fee", sa.Numeric(precision=18, scale=2)),
        sa.Column("net_payment_amount", sa.Numeric(precision=18, scale=2)),
        sa.Column(
            "tax_amount",
            sa.Numeric(precision=18, scale=2),
            comment="Sum of the tax detail lines' item_tax_amount.",
        ),
        sa.Column("tax_rate", sa.String(length=64), comment='As Meta states it, e.g. "0%;0%".'),
        sa.Column("postal_code", sa.String(length=64)),
        sa.Column("state", sa.String(length=64), comment="Buyer's state or region (tax jurisdiction)."),
        sa.Column("items", JSON),
        sa.Column(
            "tax_details",
            JSON,
            comment="The tax_details list as returned; one row each in fb_transaction_tax_details.",
        ),
        *_read_back_columns(),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_fb_transactions")),
        comment=(
            "Transactions (commerce_transactions): sales and refunds with fees and tax. Written by "
            "fb_finance_nightly (upsert); read by reconciliation and the cash and tax reports."
        ),
    )
    op.create_index("ix_fb_transactions_order_id", "fb_transactions", ["order_id"])
    op.create_index("ix_fb_transactions_payout_reference_id", "fb_transactions", ["payout_reference_id"])
    op.create_index("ix_fb_transactions_transaction_date", "fb_transactions", ["transaction_date"])

    op.create_table(
        "fb_transaction_tax_details",
        sa.Column("transaction_id", sa.String(length=255), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False, comment="Position in tax_details."),
        sa.Column("retailer_id", sa.String(length=255)),
        sa.Column("tax_category", sa.String(length=64)),
        sa.Column("jurisdiction", sa.Text()),
        sa.Column("imposition", sa.String(length=64)),
        sa.Column("item_tax_rate", sa.Numeric(precision=12, scale=6)),
        sa.Column("item_tax_amount", sa.Numeric(precision=18, scale=4)),
        sa.Column("currency", sa.String(length=3)),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["fb_transactions.transaction_id"],
            name=op.f("fk_fb_transaction_tax_details_transaction_id_fb_transactions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("transaction_id", "line_number", name=op.f("pk_fb_transaction_tax_details")),
        comment=(
            "Tax detail lines of a transaction (tax_category, jurisdiction, imposition, rate, amount). "
            "Written by fb_finance_nightly (replaced per transaction); read by the tax report and "
            "reconciliation."
        ),
    )

    op.create_table(
        "fb_reconciliation_issues",
        sa.Column(
            "issue_key",
            sa.String(length=255),
            nullable=False,
            comment="Deterministic: check, date and the ids involved.",
        ),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("check_name", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), server_default=sa.text("'error'"), nullable=False),
        sa.Column(
            "status",
            sa.String(length=16),
            server_default=sa.text("'open'"),
            nullable=False,
            comment="open|resolved",
        ),
        sa.Column("order_id", sa.String(length=255)),
        sa.Column("transaction_id", sa.String(length=255)),
        sa.Column("payout_reference_id", sa.String(length=255)),
        sa.Column("currency", sa.String(length=3)),
        sa.Column("expected_amount", sa.Numeric(precision=18, scale=2)),
        sa.Column("actual_amount", sa.Numeric(precision=18, scale=2)),
        sa.Column("difference", sa.Numeric(precision=18, scale=2)),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", JSON),
        sa.Column("run_id", sa.String(length=255), comment="Airflow run that found it."),
        _now("detected_at"),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("issue_key", name=op.f("pk_fb_reconciliation_issues")),
        comment=(
            "Discrepancies between orders, transactions, payouts and tax. Written by fb_finance_nightly "
            "(the day's issues are replaced on a rerun or backfill); read by finance."
        ),
    )
    op.create_index(
        "ix_fb_reconciliation_issues_business_date_check_name",
        "fb_reconciliation_issues",
        ["business_date", "check_name"],
    )
    op.create_index("ix_fb_reconciliation_issues_order_id", "fb_reconciliation_issues", ["order_id"])

    op.create_table(
        "fb_shipment_requests",
        _request_id(),
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column(
            "request_type",
            sa.String(length=64),
            server_default=sa.text("'ship'"),
            nullable=False,
            comment="ship|update_tracking",
        ),
        sa.Column(
            "items",
            JSON,
            comment="[{retailer_id|item_id, quantity}]; null ships everything unfulfilled.",
        ),
        sa.Column("carrier", sa.String(length=64)),
        sa.Column("tracking_number", sa.String(length=255)),
        sa.Column("shipping_method", sa.Text()),
        sa.Column(
            "external_shipment_id",
            sa.String(length=255),
            comment="[A-Za-z0-9_]; also names the shipment a tracking update changes.",
        ),
        sa.Column(
            "shipment_id",
            sa.String(length=255),
            comment="Meta's shipment id, for update_tracking instead of external_shipment_id.",
        ),
        sa.Column("fulfillment_location_id", sa.String(length=255)),
        sa.Column(
            "fulfillment_address",
            JSON,
            comment="{street_1, street_2, city, state, country, postal_code}",
        ),
        *_outbox_columns(),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_fb_shipment_requests")),
        comment=(
            "Shipments and tracking updates to send. Written by the merchant's OMS (status pending); "
            "drained by fb_order_updates, which sets status, attempts, errors and sent_at."
        ),
    )
    op.create_index("ix_fb_shipment_requests_order_id", "fb_shipment_requests", ["order_id"])
    op.create_index(
        "ix_fb_shipment_requests_status_created_at",
        "fb_shipment_requests",
        ["status", "created_at"],
    )

    op.create_table(
        "fb_cancellation_requests",
        _request_id(),
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("items", JSON, comment="[{retailer_id|item_id, quantity}]; null cancels the whole order."),
        sa.Column(
            "reason_code",
            sa.String(length=64),
            comment="CUSTOMER_REQUESTED|OUT_OF_STOCK|INVALID_ADDRESS|...",
        ),
        sa.Column("reason_description", sa.Text()),
        sa.Column("restock_items", sa.Boolean(), server_default=sa.false(), nullable=False),
        *_outbox_columns(),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_fb_cancellation_requests")),
        comment=(
            "Cancellations to send. Written by the OMS and by customer-service DAGs; drained by fb_order_updates."
        ),
    )
    op.create_index("ix_fb_cancellation_requests_order_id", "fb_cancellation_requests", ["order_id"])
    op.create_index(
        "ix_fb_cancellation_requests_status_created_at",
        "fb_cancellation_requests",
        ["status", "created_at"],
    )

    op.create_table(
        "fb_refund_requests",
        _request_id(),
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column(
            "items",
            JSON,
            comment="[{retailer_id|item_id, quantity | amount}]; null refunds the whole order.",
        ),
        sa.Column("currency", sa.String(length=3)),
        sa.Column("shipping_refund", sa.Numeric(precision=18, scale=2)),
        sa.Column(
            "return_shipping_deduction",
            sa.Numeric(precision=18, scale=2),
            comment="RETURN_SHIPPING deduction.",
        ),
        sa.Column(
            "reason_code",
            sa.String(length=64),
            comment="BUYERS_REMORSE|DAMAGED_GOODS|...|REFUND_REASON_OTHER",
        ),
        sa.Column("reason_text", sa.Text(), comment="Shown to the buyer."),
        sa.Column("return_id", sa.String(length=255)),
        *_outbox_columns(),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_fb_refund_requests")),
        comment=("Refunds to send. Written by the OMS and by customer-service DAGs; drained by fb_order_updates."),
    )
    op.create_index("ix_fb_refund_requests_order_id", "fb_refund_requests", ["order_id"])
    op.create_index("ix_fb_refund_requests_status_created_at", "fb_refund_requests", ["status", "created_at"])

    op.create_table(
        "fb_feed_uploads",
        sa.Column("upload_id", sa.String(length=255), nullable=False, comment="Meta's upload session id."),
        sa.Column("feed_id", sa.String(length=255), nullable=False),
        sa.Column("catalog_id", sa.String(length=255)),
        sa.Column(
            "run_id",
            sa.String(length=255),
            comment="Airflow run that generated and uploaded the file.",
        ),
        sa.Column("file_name", sa.Text()),
        sa.Column("file_format", sa.String(length=16), comment="csv|tsv|xml"),
        sa.Column("file_bytes", sa.BigInteger()),
        sa.Column("file_sha256", sa.String(length=64)),
        sa.Column("rows_written", sa.Integer(), comment="Products in the file."),
        sa.Column("rows_rejected", sa.Integer(), comment="Products quarantined in fb_feed_rejects."),
        sa.Column("input_method", sa.String(length=64)),
        sa.Column("url", sa.Text(), comment="Where Meta fetched the file, when uploaded by URL."),
        sa.Column("status", sa.String(length=64), server_default=sa.text("'in_progress'"), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True)),
        sa.Column("end_time", sa.DateTime(timezone=True)),
        sa.Column("error_count", sa.Integer()),
        sa.Column("warning_count", sa.Integer()),
        sa.Column("num_detected_items", sa.Integer()),
        sa.Column("num_persisted_items", sa.Integer()),
        sa.Column("num_invalid_items", sa.Integer()),
        sa.Column("num_deleted_items", sa.Integer()),
        sa.Column("error_report_status", sa.String(length=64)),
        sa.Column("error_report_url", sa.Text()),
        _now("requested_at"),
        _now("synced_at"),
        sa.Column("raw", JSON),
        sa.PrimaryKeyConstraint("upload_id", name=op.f("pk_fb_feed_uploads")),
        comment=(
            "Feed upload sessions and their final counts. Written by fb_catalog_feed; read by engineers and"
            " the setup check."
        ),
    )
    op.create_index("ix_fb_feed_uploads_feed_id_requested_at", "fb_feed_uploads", ["feed_id", "requested_at"])

    op.create_table(
        "fb_feed_upload_errors",
        sa.Column("upload_id", sa.String(length=255), nullable=False),
        sa.Column("error_number", sa.Integer(), nullable=False, comment="Position in what Meta sent."),
        sa.Column(
            "source",
            sa.String(length=16),
            server_default=sa.text("'errors'"),
            nullable=False,
            comment="errors|report",
        ),
        sa.Column("severity", sa.String(length=16), comment="fatal|warning"),
        sa.Column("summary", sa.Text()),
        sa.Column("description", sa.Text()),
        sa.Column("retailer_id", sa.String(length=255)),
        sa.Column("row_number", sa.Integer()),
        sa.Column("total_count", sa.Integer()),
        sa.Column("samples", JSON),
        sa.Column("affected_surfaces", JSON),
        sa.Column("raw", JSON),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["fb_feed_uploads.upload_id"],
            name=op.f("fk_fb_feed_upload_errors_upload_id_fb_feed_uploads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("upload_id", "error_number", name=op.f("pk_fb_feed_upload_errors")),
        comment=(
            "Errors Meta reported for an upload session (/errors sample or the full report). Written by "
            "fb_catalog_feed (replaced per upload); read by engineers and merchandisers."
        ),
    )
    op.create_index("ix_fb_feed_upload_errors_retailer_id", "fb_feed_upload_errors", ["retailer_id"])

    op.create_table(
        "fb_feed_rejects",
        sa.Column("run_id", sa.String(length=255), nullable=False, comment="Feed generation run."),
        sa.Column("row_number", sa.Integer(), nullable=False, comment="Row in the product source."),
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column("retailer_id", sa.Text(), comment="As found in the source, possibly invalid."),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), comment="The offending value, truncated."),
        sa.Column("upload_id", sa.String(length=255)),
        _now("rejected_at"),
        sa.PrimaryKeyConstraint("run_id", "row_number", "field", name=op.f("pk_fb_feed_rejects")),
        comment=(
            "Products quarantined by feed validation, one row per bad field. Written by fb_catalog_feed "
            "(replaced per run); read by merchandisers, who fix the source."
        ),
    )

    op.create_table(
        "fb_catalog_sync_state",
        sa.Column("retailer_id", sa.String(length=255), nullable=False),
        sa.Column("availability", sa.String(length=64)),
        sa.Column("quantity", sa.Integer(), comment="quantity_to_sell_on_facebook"),
        sa.Column("price", sa.Numeric(precision=18, scale=2)),
        sa.Column("sale_price", sa.Numeric(precision=18, scale=2)),
        sa.Column("currency", sa.String(length=3)),
        sa.Column("row_hash", sa.String(length=64), comment="Hash of the synced fields, for a cheap delta."),
        sa.Column(
            "last_handle",
            sa.String(length=255),
            comment="items_batch handle that carried the last accepted change.",
        ),
        _now("synced_at"),
        sa.PrimaryKeyConstraint("retailer_id", name=op.f("pk_fb_catalog_sync_state")),
        comment=(
            "What Meta last accepted per product. Written by fb_catalog_feed and fb_inventory_sync (only "
            "after a batch handle finished without an error for the item); read by fb_inventory_sync to "
            "compute the delta."
        ),
    )

    op.create_table(
        "fb_batch_requests",
        sa.Column("handle", sa.String(length=255), nullable=False),
        sa.Column("catalog_id", sa.String(length=255)),
        sa.Column(
            "item_type",
            sa.String(length=64),
            server_default=sa.text("'PRODUCT_ITEM'"),
            nullable=False,
        ),
        sa.Column("run_id", sa.String(length=255)),
        sa.Column("request_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "status",
            sa.String(length=64),
            comment="Meta's status from check_batch_request_status; null until checked.",
        ),
        sa.Column("errors_total_count", sa.Integer()),
        sa.Column("warnings_total_count", sa.Integer()),
        sa.Column("ids_of_invalid_requests", JSON),
        sa.Column("errors", JSON),
        sa.Column("warnings", JSON),
        _now("sent_at"),
        sa.Column("checked_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("check_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("raw", JSON, comment="Last status answer."),
        sa.PrimaryKeyConstraint("handle", name=op.f("pk_fb_batch_requests")),
        comment=(
            "items_batch calls and their status. Written by fb_inventory_sync (on send, then by the status "
            "check); read by fb_inventory_sync and engineers."
        ),
    )
    op.create_index("ix_fb_batch_requests_status", "fb_batch_requests", ["status"])

    op.create_table(
        "fb_batch_request_items",
        sa.Column("handle", sa.String(length=255), nullable=False),
        sa.Column("retailer_id", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False, comment="CREATE|UPDATE|DELETE"),
        sa.Column("availability", sa.String(length=64)),
        sa.Column("quantity", sa.Integer()),
        sa.Column("price", sa.Numeric(precision=18, scale=2)),
        sa.Column("sale_price", sa.Numeric(precision=18, scale=2)),
        sa.Column("currency", sa.String(length=3)),
        sa.Column("row_hash", sa.String(length=64)),
        sa.Column(
            "status",
            sa.String(length=16),
            server_default=sa.text("'pending'"),
            nullable=False,
            comment="pending|synced|failed",
        ),
        sa.Column("error_message", sa.Text()),
        sa.ForeignKeyConstraint(
            ["handle"],
            ["fb_batch_requests.handle"],
            name=op.f("fk_fb_batch_request_items_handle_fb_batch_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("handle", "retailer_id", name=op.f("pk_fb_batch_request_items")),
        comment=(
            "What each items_batch call carried, per product, so fb_catalog_sync_state is updated in SQL "
            "once the handle finished. Written and read by fb_inventory_sync."
        ),
    )
    op.create_index("ix_fb_batch_request_items_retailer_id", "fb_batch_request_items", ["retailer_id"])

    op.create_table(
        "fb_sync_state",
        sa.Column(
            "name",
            sa.String(length=255),
            nullable=False,
            comment="e.g. orders, cancellations, payouts.",
        ),
        sa.Column("watermark", sa.DateTime(timezone=True)),
        _now("updated_at"),
        sa.Column("extra", JSON),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_fb_sync_state")),
        comment=(
            "Watermarks of the incremental pulls. Written by each sync after its rows are committed; read "
            "by the same sync on its next run."
        ),
    )

    op.create_table(
        "fb_cs_actions",
        sa.Column("action_id", sa.String(length=255), nullable=False),
        sa.Column("action_type", sa.String(length=64), nullable=False, comment="cancel|refund|return|..."),
        sa.Column("order_id", sa.String(length=255)),
        sa.Column("requested_by", sa.Text(), comment="The agent (Airflow user or CLI user)."),
        sa.Column("source", sa.String(length=64), comment="dag|cli|web"),
        sa.Column("run_id", sa.String(length=255)),
        sa.Column("parameters", JSON, comment="The form as submitted."),
        sa.Column("status", sa.String(length=64), nullable=False, comment="rejected|queued|sent|failed"),
        sa.Column("request_id", sa.String(length=255), comment="Outbox row it queued, if any."),
        sa.Column("error_code", sa.Integer()),
        sa.Column("error_message", sa.Text()),
        sa.Column("result", JSON),
        _now("created_at"),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("action_id", name=op.f("pk_fb_cs_actions")),
        comment=(
            "Audit trail of customer-service actions (append only). Written by the fb_cs_* DAGs and the "
            "CLI; read by customer service and auditors."
        ),
    )
    op.create_index("ix_fb_cs_actions_created_at", "fb_cs_actions", ["created_at"])
    op.create_index("ix_fb_cs_actions_order_id", "fb_cs_actions", ["order_id"])

    op.create_table(
        "merchant_products",
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("description", sa.Text()),
        sa.Column("price", sa.Numeric(precision=18, scale=2)),
        sa.Column("sale_price", sa.Numeric(precision=18, scale=2)),
        sa.Column("sale_price_start", sa.DateTime(timezone=True)),
        sa.Column("sale_price_end", sa.DateTime(timezone=True)),
        sa.Column(
            "currency",
            sa.String(length=16),
            comment="Wider than ISO 4217 on purpose: validation reports bad codes.",
        ),
        sa.Column("stock", sa.Integer()),
        sa.Column("brand", sa.Text()),
        sa.Column("url", sa.Text()),
        sa.Column("image_url", sa.Text()),
        sa.Column("category", sa.Text(), comment="Google product category."),
        sa.Column("condition", sa.String(length=64)),
        sa.Column("item_group_id", sa.String(length=255)),
        sa.Column("gtin", sa.String(length=64)),
        sa.Column("size", sa.String(length=64)),
        sa.Column("color", sa.String(length=64)),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_merchant_products")),
        comment=(
            "The merchant's products (demo source; production may point the feed query at its own "
            "database). Written by the merchant (the demo seeds it); read by the feed mapping SQL in "
            "include/sql/catalog/."
        ),
    )
    op.create_index("ix_merchant_products_updated_at", "merchant_products", ["updated_at"])


def downgrade() -> None:
    """Drop every warehouse table (their indexes go with them)."""
    for table in TABLES_CHILDREN_FIRST:
        op.drop_table(table)
