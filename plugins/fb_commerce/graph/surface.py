"""The part of the Graph API this project uses: endpoints, fields, parameters and enum values, in one place.

Pipelines take their field lists, parameter names and enums from here, and a test checks every entry against
Meta's generated SDK classes (facebook-business), so a typo or a dropped field is caught before Meta rejects it.
Where the SDK no longer carries an endpoint (SDK 26 dropped the order write edges and commerce_transactions),
docs/graph-api.md is the authority and the entry says so in ``sdk_class``'s absence.
"""

from __future__ import annotations

from dataclasses import dataclass

from fb_commerce.graph.fields import FieldSpec

# --- Orders (docs/graph-api.md §1.3) ----------------------------------------------------------------------------------

ORDER_STATES = ("FB_PROCESSING", "CREATED", "IN_PROGRESS", "COMPLETED")
#: states the pipelines act on; FB_PROCESSING orders are stored but never acted on
ACTIONABLE_ORDER_STATES = ("CREATED", "IN_PROGRESS", "COMPLETED")
ORDER_FILTERS = ("no_shipments", "has_cancellations", "no_cancellations", "has_refunds", "no_refunds")

MONEY = ("amount", "currency")
ORDER_ITEM_FIELDS: dict[str, FieldSpec | None] = {
    "id": None,
    "retailer_id": None,
    "product_id": None,
    "product_name": None,
    "quantity": None,
    "price_per_unit": MONEY,
    "tax_details": {"estimated_tax": MONEY, "captured_tax": {"total_tax": MONEY}},
    "selected_shipping_option": {
        "name": None,
        "price": MONEY,
        "calculated_tax": MONEY,
        "estimated_shipping_time": ("min_days", "max_days"),
    },
    "status": None,
}
#: every order field docs/graph-api.md lists; items are an edge, asked for inline with a nested selection
ORDER_FIELDS: dict[str, FieldSpec | None] = {
    "id": None,
    "order_status": ("state",),
    "created": None,
    "last_updated": None,
    "channel": None,
    "merchant_order_id": None,
    "is_test_order": None,
    "ship_by_date": None,
    "buyer_details": ("name", "email", "email_remarketing_option"),
    "shipping_address": ("name", "street1", "street2", "city", "state", "postal_code", "country"),
    "estimated_payment_details": {
        "subtotal": {"items": MONEY, "shipping": MONEY},
        "tax": MONEY,
        "total_amount": MONEY,
        "tax_remitted": None,
    },
    "selected_shipping_option": {"name": None, "price": MONEY, "calculated_tax": MONEY},
    # edges expanded inline: the selection names the edge's own fields, the answer wraps them in {"data": [...]}
    "promotion_details": (
        "applied_after_tax",
        "applied_amount",
        "campaign_name",
        "promotion_id",
        "target_granularity",
        "sponsor",
        "coupon_code",
        "retailer_id",
    ),
    "items": ORDER_ITEM_FIELDS,
}

ACKNOWLEDGE_MAX_ORDERS = 100

#: the order edges read back (docs/graph-api.md §1.5-1.8), asked for inline with these selections
LINE_ITEM_REF = ("id", "retailer_id", "product_id", "quantity")
SHIPMENT_FIELDS: dict[str, FieldSpec | None] = {
    "id": None,
    "external_shipment_id": None,
    "tracking_info": ("carrier", "tracking_number", "shipping_method_name"),
    "items": {**dict.fromkeys(LINE_ITEM_REF), "tax": {"final_tax": MONEY}},
}
CANCELLATION_FIELDS: dict[str, FieldSpec | None] = {
    "id": None,
    "items": LINE_ITEM_REF,
    "cancel_reason": ("reason_code", "reason_description"),
}
REFUND_FIELDS: dict[str, FieldSpec | None] = {
    "id": None,
    "items": {**dict.fromkeys(LINE_ITEM_REF), "refund_subtotal": MONEY},
    "refund_reason": ("reason_code", "reason_text"),
    "refund_amount": {"subtotal": MONEY, "shipping": MONEY, "tax": MONEY, "total": MONEY},
}
RETURN_FIELDS = (
    "id",
    "return_status",
    "return_message",
    "merchant_return_id",
    "item_return_quantities",
    "item_return_reasons",
    "items",
)
READ_BACK_EDGE_FIELDS: dict[str, FieldSpec] = {
    "shipments": SHIPMENT_FIELDS,
    "cancellations": CANCELLATION_FIELDS,
    "refunds": REFUND_FIELDS,
    "returns": RETURN_FIELDS,
}

# --- Order writes (docs/graph-api.md §1.4-1.7) ------------------------------------------------------------------------

ACKNOWLEDGE_ORDER_PARAMS = ("idempotency_key", "merchant_order_reference")
ACKNOWLEDGE_ORDERS_PARAMS = ("idempotency_key", "orders")
SHIPMENT_PARAMS = (
    "idempotency_key",
    "items",
    "tracking_info",
    "external_shipment_id",
    "merchant_order_reference",
    "fulfillment",
)
TRACKING_INFO_KEYS = ("carrier", "tracking_number", "shipping_method_name")
UPDATE_SHIPMENT_PARAMS = ("idempotency_key", "external_shipment_id", "shipment_id", "tracking_info")
CANCELLATION_PARAMS = ("idempotency_key", "cancel_reason", "restock_items", "items")
CANCEL_REASON_CODES = (
    "CUSTOMER_REQUESTED",
    "OUT_OF_STOCK",
    "INVALID_ADDRESS",
    "SUSPICIOUS_ORDER",
    "CANCEL_REASON_OTHER",
)
REFUND_PARAMS = ("idempotency_key", "reason_code", "reason_text", "items", "shipping", "deductions", "return_id")
REFUND_REASON_CODES = (
    "BUYERS_REMORSE",
    "DAMAGED_GOODS",
    "NOT_AS_DESCRIBED",
    "QUALITY_ISSUE",
    "REFUND_REASON_OTHER",
    "WRONG_ITEM",
    "FACEBOOK_INITIATED",
)
DEDUCTION_TYPES = ("RETURN_SHIPPING",)
#: samples of Meta's carrier codes (the full list is on Meta's carrier-codes page; any snake_case code is sent)
CARRIERS = ("dhl", "dhl_ecommerce_us", "eagle", "fedex", "ontrac", "tnt", "ups", "usps", "other")

# --- Catalog (docs/graph-api.md §2) -----------------------------------------------------------------------------------

FEED_CREATE_PARAMS = ("name", "update_schedule", "schedule", "delimiter", "encoding")
FEED_UPLOAD_PARAMS = ("file", "url", "update_only")
UPLOAD_SESSION_FIELDS = (
    "id",
    "start_time",
    "end_time",
    "error_count",
    "warning_count",
    "num_detected_items",
    "num_persisted_items",
    "num_invalid_items",
    "num_deleted_items",
    "input_method",
    "url",
    "filename",
)
UPLOAD_ERROR_FIELDS = (
    "id",
    "summary",
    "description",
    "severity",
    "error_type",
    "affected_surfaces",
    "samples",
    "total_count",
)
ITEMS_BATCH_PARAMS = ("item_type", "requests", "allow_upsert")
ITEMS_BATCH_MAX_REQUESTS = 5000
ITEMS_BATCH_MAX_BYTES = 28 * 1024 * 1024
BATCH_METHODS = ("CREATE", "UPDATE", "DELETE")
BATCH_STATUS_PARAMS = ("handle", "load_ids_of_invalid_requests")
BATCH_STATUS_FIELDS = (
    "handle",
    "status",
    "errors",
    "errors_total_count",
    "warnings",
    "warnings_total_count",
    "ids_of_invalid_requests",
)
#: what the inventory sync reads back of products Meta restocked (GET /{catalog_id}/products?filter=...)
PRODUCT_READ_BACK_FIELDS = ("retailer_id", "availability", "quantity_to_sell_on_facebook")
PRODUCTS_PARAMS = ("filter",)
AVAILABILITY = ("in stock", "out of stock")
CONDITION = ("new", "refurbished", "used")

# --- Finance (docs/graph-api.md §3) -----------------------------------------------------------------------------------

PAYOUT_FIELDS = ("amount", "payout_date", "payout_reference_id", "status", "transfer_id")
#: one tax line (docs/graph-api.md §3, §3.1: one row per jurisdiction, wrapped as {data: [...]})
TAX_DETAIL_FIELDS = ("tax_category", "jurisdiction", "imposition", "item_tax_rate", "item_tax_amount")
#: an item of a transaction (§3.1); ``id`` is the retailer id
TRANSACTION_ITEM_FIELDS: dict[str, FieldSpec | None] = {
    "id": None,
    "product_id": None,
    "quantity": None,
    "price_per_unit": None,
    "tax_details": TAX_DETAIL_FIELDS,
}
#: a payment of an order (docs/graph-api.md §3 "Payments of an order": one per shipment)
PAYMENT_FIELDS: dict[str, FieldSpec | None] = {
    "id": None,
    "subtotal": {"items": MONEY, "shipping": MONEY},
    "tax": MONEY,
    "tax_remitted": None,
    "total_amount": MONEY,
    "shipments": ("id", "external_shipment_id"),
    "transaction_details": {"transaction_id": None, "processor": None, "captured_amount": MONEY, "capture_time": None},
}
#: the order of a transaction: every order field, and its payments edge expanded inline (docs/graph-api.md §4
#: field expansion), so what a SALE captured comes with the transaction and costs no call of its own
TRANSACTION_ORDER_FIELDS: dict[str, FieldSpec | None] = {**ORDER_FIELDS, "payments": PAYMENT_FIELDS}
#: every transaction field docs/graph-api.md §3 lists, with the SDK's additions; the order is read whole
TRANSACTION_FIELDS: dict[str, FieldSpec | None] = {
    "id": None,
    "transaction_type": None,
    "transaction_date": None,
    "order_details": TRANSACTION_ORDER_FIELDS,
    "order_id": None,
    "merchant_order_id": None,
    "order_created": None,
    "postal_code": None,
    "state": None,
    "processing_fee": None,
    "net_payment_amount": None,
    "tax_rate": None,
    "tax_details": TAX_DETAIL_FIELDS,
    "payout_reference_id": None,
    "transfer_id": None,
    "items": TRANSACTION_ITEM_FIELDS,
}
#: transaction fields docs/graph-api.md lists that the SDK's CommerceOrderTransactionDetail does not name
TRANSACTION_FIELDS_NOT_IN_SDK = frozenset({"id", "tax_details", "items"})
FINANCE_WINDOW_PARAMS = ("start_time", "end_time")


@dataclass(frozen=True)
class Endpoint:
    """One Graph call the project makes: node type, edge, method and parameters.

    ``sdk_class``/``sdk_method`` name the generated SDK method when the SDK carries it; None means the SDK
    dropped it and docs/graph-api.md (Meta's documentation pages) is the authority.
    """

    node: str
    edge: str
    method: str
    params: tuple[str, ...] = ()
    sdk_class: str | None = None
    sdk_method: str | None = None


ENDPOINTS = (
    Endpoint("CommerceMerchantSettings", "", "GET", (), "CommerceMerchantSettings", "api_get"),
    Endpoint("CommerceMerchantSettings", "setup_status", "GET", (), "CommerceMerchantSettings", "get_setup_status"),
    Endpoint(
        "CommerceMerchantSettings",
        "order_management_apps",
        "GET",
        (),
        "CommerceMerchantSettings",
        "get_order_management_apps",
    ),
    Endpoint(
        "CommerceMerchantSettings",
        "commerce_orders",
        "GET",
        ("state", "filters", "updated_after", "updated_before"),
        "CommerceMerchantSettings",
        "get_commerce_orders",
    ),
    Endpoint(
        "CommerceMerchantSettings",
        "commerce_payouts",
        "GET",
        ("start_time", "end_time"),
        "CommerceMerchantSettings",
        "get_commerce_payouts",
    ),
    Endpoint("CommerceMerchantSettings", "order_management_apps", "POST"),
    Endpoint("CommerceMerchantSettings", "acknowledge_orders", "POST", ACKNOWLEDGE_ORDERS_PARAMS),
    Endpoint(
        "CommerceMerchantSettings", "commerce_transactions", "GET", ("start_time", "end_time", "payout_reference_id")
    ),
    # finance is read on the Page (docs/graph-api.md §3.1), the commerce account being the fallback
    Endpoint("Page", "commerce_payouts", "GET", FINANCE_WINDOW_PARAMS, "Page", "get_commerce_payouts"),
    Endpoint(
        "Page",
        "commerce_transactions",
        "GET",
        (*FINANCE_WINDOW_PARAMS, "payout_reference_id"),
        "Page",
        "get_commerce_transactions",
    ),
    Endpoint("CommerceOrder", "", "GET", (), "CommerceOrder", "api_get"),
    Endpoint("CommerceOrder", "shipments", "POST", SHIPMENT_PARAMS, "CommerceOrder", "create_shipment"),
    Endpoint("CommerceOrder", "acknowledge_order", "POST", ACKNOWLEDGE_ORDER_PARAMS),
    Endpoint("CommerceOrder", "update_shipment", "POST", UPDATE_SHIPMENT_PARAMS),
    Endpoint("CommerceOrder", "cancellations", "POST", CANCELLATION_PARAMS),
    Endpoint("CommerceOrder", "refunds", "POST", REFUND_PARAMS),
    Endpoint("CommerceOrder", "items", "GET"),
    Endpoint("CommerceOrder", "shipments", "GET"),
    Endpoint("CommerceOrder", "cancellations", "GET"),
    Endpoint("CommerceOrder", "refunds", "GET"),
    Endpoint("CommerceOrder", "returns", "GET"),
    # finance: only for an order whose transaction came without its payments expanded
    Endpoint("CommerceOrder", "payments", "GET"),
    Endpoint("ProductCatalog", "", "GET", (), "ProductCatalog", "api_get"),
    Endpoint("ProductCatalog", "product_feeds", "POST", FEED_CREATE_PARAMS, "ProductCatalog", "create_product_feed"),
    Endpoint("ProductCatalog", "products", "GET", PRODUCTS_PARAMS, "ProductCatalog", "get_products"),
    Endpoint("ProductCatalog", "items_batch", "POST", ITEMS_BATCH_PARAMS, "ProductCatalog", "create_items_batch"),
    Endpoint(
        "ProductCatalog",
        "check_batch_request_status",
        "GET",
        BATCH_STATUS_PARAMS,
        "ProductCatalog",
        "get_check_batch_request_status",
    ),
    Endpoint("ProductFeed", "", "GET", (), "ProductFeed", "api_get"),
    Endpoint("ProductFeed", "uploads", "POST", FEED_UPLOAD_PARAMS, "ProductFeed", "create_upload"),
    Endpoint("ProductFeedUpload", "", "GET", (), "ProductFeedUpload", "api_get"),
    Endpoint("ProductFeedUpload", "errors", "GET", ("error_priority",), "ProductFeedUpload", "get_errors"),
    Endpoint("ProductFeedUpload", "error_report", "POST", (), "ProductFeedUpload", "create_error_report"),
)
