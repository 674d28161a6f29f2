"""Every node, edge, parameter and enum value the pipelines send exists in Meta's generated SDK (facebook-business).

SDK 26 no longer carries the order write edges (acknowledge_order(s), update_shipment, cancellations, refunds),
the order read edges, nor commerce_transactions: for those, docs/graph-api.md (Meta's documentation pages) is
the authority, and this test only checks they are marked as such.
"""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest

from fb_commerce.graph import surface

pytest.importorskip("facebook_business")

#: edges of an order that docs/graph-api.md documents but SDK 26 dropped, or lists as edges rather than fields
ORDER_EDGES_NOT_FIELDS = {"items", "promotion_details"}


def sdk_class(name: str):
    module = importlib.import_module(f"facebook_business.adobjects.{name.lower()}")
    return getattr(module, name)


def sdk_param_types(cls, method: str) -> dict[str, str]:
    """The ``param_types`` literal inside a generated SDK method."""
    tree = ast.parse(inspect.getsource(getattr(cls, method)).strip().replace("\n    ", "\n"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "param_types":
            return ast.literal_eval(node.value)
    return {}


def field_names(cls) -> set[str]:
    return {v for k, v in vars(cls.Field).items() if not k.startswith("_") and isinstance(v, str)}


def enum_values(cls, enum: str) -> set[str]:
    return {v for k, v in vars(getattr(cls, enum)).items() if not k.startswith("_") and isinstance(v, str)}


@pytest.mark.parametrize(
    "endpoint", [e for e in surface.ENDPOINTS if e.sdk_class], ids=lambda e: f"{e.node}/{e.edge}:{e.method}"
)
def test_sdk_carries_the_endpoint_and_its_parameters(endpoint):
    cls = sdk_class(endpoint.sdk_class)
    assert hasattr(cls, endpoint.sdk_method), f"SDK {endpoint.sdk_class} has no {endpoint.sdk_method}"
    if endpoint.params:
        known = sdk_param_types(cls, endpoint.sdk_method)
        missing = [p for p in endpoint.params if p not in known]
        assert not missing, f"{endpoint.sdk_class}.{endpoint.sdk_method} does not take {missing}"


def test_endpoints_missing_from_the_sdk_are_documented_ones():
    documented_only = {(e.node, e.edge, e.method) for e in surface.ENDPOINTS if not e.sdk_class}
    assert documented_only <= {
        ("CommerceMerchantSettings", "order_management_apps", "POST"),
        ("CommerceMerchantSettings", "acknowledge_orders", "POST"),
        ("CommerceMerchantSettings", "commerce_transactions", "GET"),
        ("CommerceOrder", "acknowledge_order", "POST"),
        ("CommerceOrder", "update_shipment", "POST"),
        ("CommerceOrder", "cancellations", "POST"),
        ("CommerceOrder", "refunds", "POST"),
        ("CommerceOrder", "items", "GET"),
        ("CommerceOrder", "shipments", "GET"),
        ("CommerceOrder", "cancellations", "GET"),
        ("CommerceOrder", "refunds", "GET"),
        ("CommerceOrder", "returns", "GET"),
        ("CommerceOrder", "payments", "GET"),
    }


def test_order_fields_exist_on_the_sdk_order():
    known = field_names(sdk_class("CommerceOrder"))
    asked = set(surface.ORDER_FIELDS) - ORDER_EDGES_NOT_FIELDS
    assert asked <= known, asked - known


def test_order_states_and_filters_are_sdk_enum_values():
    order = sdk_class("CommerceOrder")
    assert set(surface.ORDER_STATES) <= enum_values(order, "State")
    assert {f.upper() for f in surface.ORDER_FILTERS} <= enum_values(order, "Filters")


def test_payout_fields_exist_on_the_sdk_payout():
    assert set(surface.PAYOUT_FIELDS) <= field_names(sdk_class("CommercePayout"))


def test_transaction_fields_exist_on_the_sdk_transaction_detail():
    known = field_names(sdk_class("CommerceOrderTransactionDetail"))
    asked = set(surface.TRANSACTION_FIELDS) - surface.TRANSACTION_FIELDS_NOT_IN_SDK
    assert asked <= known, asked - known
    # every field the SDK names is asked for; the rest are the documented ones only (docs/graph-api.md §3, §3.1)
    assert known <= set(surface.TRANSACTION_FIELDS), known - set(surface.TRANSACTION_FIELDS)
    assert {"id", "tax_details", "items"} == surface.TRANSACTION_FIELDS_NOT_IN_SDK


def test_the_transaction_order_details_are_the_order_fields_and_its_payments():
    assert surface.TRANSACTION_FIELDS["order_details"] == {**surface.ORDER_FIELDS, "payments": surface.PAYMENT_FIELDS}
    # SDK 26 carries no order edge at all (payments included): docs/graph-api.md §3 is the authority for it
    assert not hasattr(sdk_class("CommerceOrder"), "get_payments")
    assert "payments" not in field_names(sdk_class("CommerceOrder"))


def test_feed_upload_and_batch_status_fields_exist_in_the_sdk():
    assert set(surface.UPLOAD_SESSION_FIELDS) <= field_names(sdk_class("ProductFeedUpload"))
    error = sdk_class("ProductFeedUploadError")
    # samples is an edge of the error in the SDK (get_samples); the API inlines it with a nested selection
    assert set(surface.UPLOAD_ERROR_FIELDS) - {"samples"} <= field_names(error)
    assert hasattr(error, "get_samples")
    assert set(surface.BATCH_STATUS_FIELDS) <= field_names(sdk_class("CheckBatchRequestStatus"))


def test_product_read_back_fields_exist_on_the_sdk_product_item():
    assert set(surface.PRODUCT_READ_BACK_FIELDS) <= field_names(sdk_class("ProductItem"))


def test_catalog_enums_are_sdk_values():
    item = sdk_class("ProductItem")
    assert set(surface.AVAILABILITY) <= enum_values(item, "Availability")
    assert set(surface.CONDITION) <= enum_values(item, "Condition")
    batch = sdk_param_types(sdk_class("ProductCatalog"), "create_items_batch")
    assert "item_type" in batch and "requests" in batch


def test_batch_methods_and_item_type_match_the_sdk_batch_request():
    # SDK 26 types item_type as a free string; PRODUCT_ITEM is what docs/graph-api.md §2.2 documents.
    assert sdk_param_types(sdk_class("ProductCatalog"), "create_items_batch")["item_type"] == "string"
    assert set(surface.BATCH_METHODS) == {"CREATE", "UPDATE", "DELETE"}
