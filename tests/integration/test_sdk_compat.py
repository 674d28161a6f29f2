"""Meta's official Python SDK (facebook-business 26.0.3) pointed at the sandbox.

The SDK is generated from Meta's API schema, so it is the best machine-readable check that the sandbox speaks the
same paths, parameters, field names and enums. Where SDK 26 no longer carries an endpoint (it dropped the order
write edges acknowledge_order(s), cancellations, refunds and update_shipment, and commerce_transactions on the
commerce account), docs/graph-api.md is the authority and the sandbox's own tests cover them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("facebook_business")

from facebook_business.adobjects.checkbatchrequeststatus import CheckBatchRequestStatus
from facebook_business.adobjects.commercemerchantsettings import CommerceMerchantSettings
from facebook_business.adobjects.commercemerchantsettingssetupstatus import (
    CommerceMerchantSettingsSetupStatus,
)
from facebook_business.adobjects.commerceorder import CommerceOrder
from facebook_business.adobjects.commerceordertransactiondetail import CommerceOrderTransactionDetail
from facebook_business.adobjects.commercepayout import CommercePayout
from facebook_business.adobjects.page import Page
from facebook_business.adobjects.productcatalog import ProductCatalog
from facebook_business.adobjects.productfeed import ProductFeed
from facebook_business.adobjects.productfeedupload import ProductFeedUpload
from facebook_business.adobjects.productfeeduploaderror import ProductFeedUploadError
from facebook_business.adobjects.productfeeduploaderrorsample import ProductFeedUploadErrorSample
from facebook_business.adobjects.productitem import ProductItem
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError

from fb_commerce import defaults
from fb_commerce.graph.surface import BATCH_STATUS_FIELDS
from fb_commerce.sandbox.http import routes_account, routes_catalog, routes_orders
from fb_commerce.sandbox.http.views_catalog import PRODUCT, UPLOAD, UPLOAD_ERROR
from fb_commerce.sandbox.http.views_finance import PAYOUT, TRANSACTION
from fb_commerce.sandbox.http.views_orders import CANCELLATION, ITEM, ORDER, REFUND, RETURN, SHIPMENT
from fb_commerce.sandbox.world import catalog_fields
from fb_commerce.sandbox.world.model import ORDER_STATES
from fb_commerce.sandbox.world.orders import CANCEL_REASONS, REFUND_REASONS

REFERENCE = "docs/graph-api.md"
CMS = defaults.SANDBOX_CMS_ID


def sdk_fields(cls: type) -> set[str]:
    return {v for k, v in vars(cls.Field).items() if not k.startswith("_") and isinstance(v, str)}


def enum_values(enum: type) -> set[str]:
    return {v for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, str)}


@pytest.fixture
def api(sandbox) -> FacebookAdsApi:
    """The official client, initialised as a merchant would, then redirected from graph.facebook.com."""
    api = FacebookAdsApi.init(
        app_id=defaults.SANDBOX_APP_ID,
        app_secret=defaults.SANDBOX_APP_SECRET,
        access_token=defaults.SANDBOX_ACCESS_TOKEN,
        api_version=defaults.API_VERSION,
        crash_log=False,
    )
    # FacebookSession.GRAPH is the base URL the SDK joins with the version and path (facebook_business/api.py);
    # the SDK already sends access_token and appsecret_proof on every call.
    api._session.GRAPH = sandbox.url
    return api


# --- calls through the official client ------------------------------------------------------------------------


def test_sdk_lists_and_pages_orders(sandbox, api) -> None:
    cursor = CommerceMerchantSettings(CMS).get_commerce_orders(
        fields=[
            CommerceOrder.Field.id,
            CommerceOrder.Field.order_status,
            CommerceOrder.Field.buyer_details,
            CommerceOrder.Field.channel,
        ],
        params={"state": [CommerceOrder.State.created, CommerceOrder.State.in_progress], "limit": 3},
    )
    orders = list(cursor)
    truth = [o for o in sandbox.admin.state(include="orders")["orders"] if o["state"] in ("CREATED", "IN_PROGRESS")]
    assert sorted(o[CommerceOrder.Field.id] for o in orders) == sorted(o["id"] for o in truth)
    assert {o[CommerceOrder.Field.order_status]["state"] for o in orders} == {"CREATED", "IN_PROGRESS"}
    filtered = CommerceMerchantSettings(CMS).get_commerce_orders(
        params={"state": [CommerceOrder.State.completed], "filters": [CommerceOrder.Filters.has_refunds]}
    )
    assert {o["id"] for o in filtered} == {
        o["id"]
        for o in sandbox.admin.state(include="orders")["orders"]
        if o["state"] == "COMPLETED" and o["refunds"]["data"]
    }
    on_page = Page(defaults.SANDBOX_PAGE_ID).get_commerce_orders(params={"limit": 100})
    assert {o["id"] for o in on_page} == {
        o["id"] for o in sandbox.admin.state(include="orders")["orders"] if o["state"] == "CREATED"
    }


def test_sdk_cursor_stops_at_an_empty_page(sandbox, api) -> None:
    """A finding, not a sandbox bug: the SDK's Cursor ends at the first empty page even when paging.next is there
    (facebook_business/api.py Cursor.load_next_page returns len(queue) > 0). Our own client must follow next."""
    sandbox.admin.config(page_scan_budget=2)
    truth = {o["id"] for o in sandbox.admin.state(include="orders")["orders"] if o["refunds"]["data"]}
    seen = {
        o["id"]
        for o in CommerceMerchantSettings(CMS).get_commerce_orders(
            params={"state": list(ORDER_STATES), "filters": [CommerceOrder.Filters.has_refunds]}
        )
    }
    assert seen < truth


def test_sdk_reads_an_order(sandbox, api) -> None:
    order_id = next(o["id"] for o in sandbox.admin.state(include="orders")["orders"] if o["state"] == "COMPLETED")
    order = CommerceOrder(order_id).api_get(fields=sorted(sdk_fields(CommerceOrder)))
    assert order[CommerceOrder.Field.order_status]["state"] == CommerceOrder.State.completed
    assert order[CommerceOrder.Field.channel] in ("facebook", "instagram")
    assert set(order[CommerceOrder.Field.estimated_payment_details]) >= {"subtotal", "tax", "total_amount"}


def test_sdk_creates_a_shipment(sandbox, api) -> None:
    order = next(
        o
        for o in sandbox.admin.state(include="orders")["orders"]
        if o["state"] == "IN_PROGRESS" and all(i["status"]["fulfilled"] == 0 for i in o["items"]["data"])
    )
    item = order["items"]["data"][0]
    result = CommerceOrder(order["id"]).create_shipment(
        params={
            "idempotency_key": "sdkship0001",
            "items": [{"retailer_id": item["retailer_id"], "quantity": 1}],
            "tracking_info": {"carrier": "FEDEX", "tracking_number": "SDK-TRACK-1", "shipping_method_name": "Ground"},
            "external_shipment_id": "SDK_1",
            "merchant_order_reference": order["merchant_order_reference"],
        }
    )
    assert "success" not in result  # the SDK's ObjectParser strips {"success": true} from write answers
    shipped = next(o for o in sandbox.admin.state(include="orders")["orders"] if o["id"] == order["id"])
    assert shipped["shipments"]["data"][0]["external_shipment_id"] == "SDK_1"
    with pytest.raises(FacebookRequestError) as failure:
        CommerceOrder(order["id"]).create_shipment(
            params={
                "idempotency_key": "sdkship0002",
                "tracking_info": {"carrier": "FEDEX", "tracking_number": "SDK-TRACK-1"},
            }
        )
    assert failure.value.api_error_subcode() == 2382045 and failure.value.api_error_code() == 100


def test_sdk_lists_payouts(sandbox, api) -> None:
    payouts = list(CommerceMerchantSettings(CMS).get_commerce_payouts(fields=sorted(sdk_fields(CommercePayout))))
    truth = sandbox.admin.state(include="payouts")["payouts"]
    assert {p[CommercePayout.Field.payout_reference_id] for p in payouts} == {p["payout_reference_id"] for p in truth}
    assert all(p[CommercePayout.Field.status] in ("COMPLETED", "FAILED") for p in payouts)


def test_sdk_lists_transactions_on_the_page(sandbox, api) -> None:
    """SDK 26 keeps commerce_transactions on the Page only (dropped on the commerce account, docs/graph-api.md §3)."""
    txns = list(
        Page(defaults.SANDBOX_PAGE_ID).get_commerce_transactions(
            fields=sorted(sdk_fields(CommerceOrderTransactionDetail)), params={"limit": 100}
        )
    )
    assert len(txns) == len(sandbox.admin.state(include="transactions")["transactions"])
    assert {t[CommerceOrderTransactionDetail.Field.transaction_type] for t in txns} == {"SALE", "REFUND"}


def test_sdk_reads_setup(sandbox, api) -> None:
    cms = CommerceMerchantSettings(CMS).api_get(fields=sorted(sdk_fields(CommerceMerchantSettings)))
    assert cms[CommerceMerchantSettings.Field.display_name]
    status = list(
        CommerceMerchantSettings(CMS).get_setup_status(fields=sorted(sdk_fields(CommerceMerchantSettingsSetupStatus)))
    )
    assert status[0][CommerceMerchantSettingsSetupStatus.Field.shop_setup] == "SETUP"
    apps = list(CommerceMerchantSettings(CMS).get_order_management_apps())
    assert [a["id"] for a in apps] == [defaults.SANDBOX_APP_ID]
    via_page = list(Page(defaults.SANDBOX_PAGE_ID).get_commerce_merchant_settings())
    assert via_page[0]["id"] == CMS


def test_sdk_items_batch_and_status(sandbox, api) -> None:
    sandbox.admin.config(batch_delay_seconds=0)
    catalog = ProductCatalog(defaults.SANDBOX_CATALOG_ID)
    # The SDK types `requests` as a map and warns about the list docs/graph-api.md documents; both work.
    with pytest.warns(UserWarning, match="requests"):
        response = _send_items_batch(catalog)
    handle = response["handles"][0]
    statuses = list(
        catalog.get_check_batch_request_status(params={"handle": handle, "load_ids_of_invalid_requests": True})
    )
    status = statuses[0]
    assert status[CheckBatchRequestStatus.Field.status] == "FINISHED"
    assert status[CheckBatchRequestStatus.Field.ids_of_invalid_requests] == ["NOT-THERE"]
    assert status[CheckBatchRequestStatus.Field.errors_total_count] == 1


def _send_items_batch(catalog: ProductCatalog):
    return catalog.create_items_batch(
        params={
            "item_type": "PRODUCT_ITEM",
            "allow_upsert": True,
            "requests": [
                {
                    "method": "UPDATE",
                    "data": {
                        "id": "SKU-00001",
                        "quantity_to_sell_on_facebook": 3,
                        "availability": ProductItem.Availability.in_stock,
                    },
                },
                {"method": "DELETE", "data": {"id": "NOT-THERE"}},
            ],
        }
    )


def test_sdk_uploads_a_feed_file(sandbox, api, tmp_path: Path) -> None:
    sandbox.admin.config(upload_delay_seconds=0)
    feed_file = tmp_path / "catalog.csv"
    header = ",".join(catalog_fields.REQUIRED)
    feed_file.write_text(
        header + "\nSDK-1,Title,Desc,in stock,new,5.00 USD,https://shop.example.com/1,"
        "https://cdn.example.com/1.jpg,Acme\nSDK-2,,Desc,in stock,new,5.00 USD,"
        "https://shop.example.com/2,https://cdn.example.com/2.jpg,Acme\n"
    )
    created = ProductFeed(defaults.SANDBOX_FEED_ID).create_upload(params={"file": str(feed_file)})
    upload_id = created["id"]
    import time

    deadline = time.monotonic() + 10
    while True:
        session = ProductFeedUpload(upload_id).api_get(fields=sorted(sdk_fields(ProductFeedUpload)))
        if session.get(ProductFeedUpload.Field.end_time) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert session[ProductFeedUpload.Field.filename] == "catalog.csv"
    assert session[ProductFeedUpload.Field.num_persisted_items] == 1
    assert session[ProductFeedUpload.Field.input_method] == ProductFeedUpload.InputMethod.manual_upload
    errors = list(ProductFeedUpload(upload_id).get_errors(fields=sorted(sdk_fields(ProductFeedUploadError))))
    assert errors[0][ProductFeedUploadError.Field.severity] == "fatal"
    uploads = list(ProductFeed(defaults.SANDBOX_FEED_ID).get_uploads())
    assert uploads[0]["id"] == upload_id


def test_sdk_no_longer_carries_order_write_edges() -> None:
    """SDK 26 dropped these (docs/graph-api.md §"Status warning"); Meta's pages (summarised there) are the authority,
    and the sandbox implements them as it describes (see test_sandbox_orders.py)."""
    for dropped in (
        "create_acknowledge_order",
        "create_cancellation",
        "create_refund",
        "create_update_shipment",
        "create_item_update",
        "get_items",
        "get_shipments",
        "get_refunds",
        "get_cancellations",
    ):
        assert not hasattr(CommerceOrder, dropped), f"SDK now has {dropped}: compare it with the sandbox"
    assert not hasattr(CommerceMerchantSettings, "create_acknowledge_order")
    assert not hasattr(CommerceMerchantSettings, "get_commerce_transactions")
    assert hasattr(CommerceOrder, "create_shipment")


# --- names and enums against the SDK's generated classes ------------------------------------------------------


@pytest.mark.parametrize(
    ("sdk_class", "schema"),
    [
        (CommerceOrder, ORDER),
        (CommercePayout, PAYOUT),
        (CommerceOrderTransactionDetail, TRANSACTION),
        (ProductFeedUpload, UPLOAD),
        (ProductFeedUploadError, UPLOAD_ERROR),
        (CommerceMerchantSettings, routes_account.CMS),
        (CommerceMerchantSettingsSetupStatus, routes_account.SETUP_STATUS),
    ],
    ids=lambda x: getattr(x, "__name__", getattr(x, "node_type", "")),
)
def test_sandbox_serves_every_sdk_field(sdk_class: type, schema) -> None:
    assert sdk_fields(sdk_class) <= schema.field_names


def test_sandbox_product_fields_are_sdk_product_item_fields() -> None:
    assert PRODUCT.field_names <= sdk_fields(ProductItem)


def test_sandbox_extras_are_known() -> None:
    """Fields the sandbox serves beyond the SDK are edges/fields docs/graph-api.md documents or named sandbox extras."""
    extras = {
        "CommerceOrder": {
            "items",
            "shipments",
            "cancellations",
            "refunds",
            "returns",
            "payments",
            "promotion_details",
            "promotions",
            "pre_order_details",
        },
        "CommercePayout": {"transaction_count"},
        "CommerceOrderTransactionDetail": {
            "id",
            "tax_details",
            "items",
            "subtotal_amount",
            "shipping_amount",
            "tax_amount",
            "total_amount",
            "shipment_id",
            "refund_id",
        },
    }
    for sdk_class, schema in (
        (CommerceOrder, ORDER),
        (CommercePayout, PAYOUT),
        (CommerceOrderTransactionDetail, TRANSACTION),
    ):
        assert schema.field_names - sdk_fields(sdk_class) == extras[schema.node_type]


def test_error_sample_and_batch_status_names() -> None:
    assert sdk_fields(ProductFeedUploadErrorSample) == {"id", "retailer_id", "row_number"}
    assert sdk_fields(CheckBatchRequestStatus) == set(BATCH_STATUS_FIELDS)  # every field, and only those we ask


def test_reference_fields_of_edges_the_sdk_dropped() -> None:
    """No SDK class left for items/shipments/cancellations/refunds/returns: check docs/graph-api.md's field lists."""
    assert {
        "id",
        "retailer_id",
        "product_id",
        "quantity",
        "price_per_unit",
        "product_name",
        "selected_shipping_option",
        "status",
        "customization",
        "tax_details",
    } <= ITEM.field_names
    assert {"id", "external_shipment_id", "items", "tracking_info"} <= SHIPMENT.field_names
    assert {"id", "items", "cancel_reason"} <= CANCELLATION.field_names
    assert {"id", "items", "refund_reason", "refund_amount"} <= REFUND.field_names
    assert {
        "id",
        "return_status",
        "return_message",
        "merchant_return_id",
        "item_return_quantities",
        "item_return_reasons",
        "items",
        "order",
        "return_buyer_images",
    } <= RETURN.field_names
    assert set(CANCEL_REASONS) == {
        "CUSTOMER_REQUESTED",
        "OUT_OF_STOCK",
        "INVALID_ADDRESS",
        "SUSPICIOUS_ORDER",
        "CANCEL_REASON_OTHER",
    }
    assert {
        "BUYERS_REMORSE",
        "DAMAGED_GOODS",
        "NOT_AS_DESCRIBED",
        "QUALITY_ISSUE",
        "REFUND_REASON_OTHER",
        "WRONG_ITEM",
        "FACEBOOK_INITIATED",
    } <= set(REFUND_REASONS)


def test_enums_match_the_sdk() -> None:
    assert enum_values(CommerceOrder.State) == set(ORDER_STATES)
    assert {v.lower() for v in enum_values(CommerceOrder.Filters)} == set(routes_orders._FILTERS)
    assert enum_values(ProductItem.Availability) == catalog_fields.AVAILABILITY
    assert enum_values(ProductItem.Condition) == catalog_fields.CONDITION
    assert {"Manual Upload", "User initiated server fetch"} <= enum_values(ProductFeedUpload.InputMethod)
    assert enum_values(CheckBatchRequestStatus.ErrorPriority) == set(routes_catalog._PRIORITY)


def test_sdk_param_names_of_the_calls_the_sandbox_reads() -> None:
    """Every parameter the sandbox reads on these calls is one the SDK's generated method declares."""
    import inspect

    def declared(method) -> set[str]:
        source = inspect.getsource(method)
        block = source.split("param_types = {", 1)[1].split("}", 1)[0]
        return {line.split(":")[0].strip().strip("'\"") for line in block.splitlines() if ":" in line}

    assert {"state", "filters", "updated_after", "updated_before"} <= declared(
        CommerceMerchantSettings.get_commerce_orders
    )
    assert {"start_time", "end_time"} <= declared(CommerceMerchantSettings.get_commerce_payouts)
    assert {
        "items",
        "tracking_info",
        "external_shipment_id",
        "merchant_order_reference",
        "idempotency_key",
        "fulfillment",
        "shipment_origin_postal_code",
    } <= declared(CommerceOrder.create_shipment)
    assert {"item_type", "requests", "allow_upsert"} <= declared(ProductCatalog.create_items_batch)
    assert {"handle", "load_ids_of_invalid_requests", "error_priority"} <= declared(
        ProductCatalog.get_check_batch_request_status
    )
    assert {"file", "url", "update_only"} <= declared(ProductFeed.create_upload)
    assert {"start_time", "end_time", "payout_reference_id"} <= declared(Page.get_commerce_transactions)
