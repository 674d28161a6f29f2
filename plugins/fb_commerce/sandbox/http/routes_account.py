"""Graph endpoints about who is calling and the shop: /me, permissions, Page, commerce account, app registration."""

from __future__ import annotations

from typing import Any

from fb_commerce import defaults

from .fields import Schema, key
from .graph import SETTINGS, GraphRequest, route

USER = Schema("User", {"id": key("id"), "name": key("name")}, defaults=("id", "name"))
PAGE = Schema(
    "Page",
    {
        "id": key("id"),
        "name": key("name"),
        # Graph answers a Page's commerce_merchant_settings as an edge: {"data": [{"id": <cms_id>}]}.
        "commerce_merchant_settings": lambda p, c: {"data": [{"id": defaults.SANDBOX_CMS_ID}]},
    },
    defaults=("id", "name"),
)
CMS = Schema(
    "CommerceMerchantSettings",
    {
        "id": key("id"),
        "display_name": key("display_name"),
        "contact_email": key("contact_email"),
        "merchant_status": lambda c_, c: "enabled",
        "merchant_page": lambda c_, c: {
            "id": defaults.SANDBOX_PAGE_ID,
            "name": c.nodes[defaults.SANDBOX_PAGE_ID][1]["name"],
        },
        "facebook_channel": lambda c_, c: {"status": "ENABLED"},
        "instagram_channel": lambda c_, c: {"status": "ENABLED"},
        "checkout_config": lambda c_, c: "ONSITE",  # a string in the SDK's field types
        "payment_provider": lambda c_, c: "PAYPAL",
        "terms": lambda c_, c: "https://shop.example.com/terms",
        "privacy_policy_localized": lambda c_, c: "https://shop.example.com/privacy",
        "offsite_iab_checkout_enabled_countries": lambda c_, c: [],
        "korea_ftc_listing": lambda c_, c: None,
        "shops_ads_setup": lambda c_, c: {"status": "NOT_SETUP"},
    },
    defaults=("id", "display_name"),
)
SETUP_STATUS = Schema(
    "CommerceMerchantSettingsSetupStatus",
    {
        "shop_setup": lambda s, c: "SETUP",
        "payment_setup": lambda s, c: "SETUP",
        "review_status": lambda s, c: {"status": "APPROVED", "reasons": []},
        "marketplace_approval_status": lambda s, c: "APPROVED",
        "marketplace_approval_status_details": lambda s, c: {},
        "deals_setup": lambda s, c: "NOT_SETUP",
    },
    defaults=("shop_setup", "payment_setup", "review_status"),
)
APP = Schema("Application", {"id": key("id"), "name": key("name")}, defaults=("id", "name"))


@route("user", None)
def get_me(req: GraphRequest, me: dict[str, Any]) -> dict[str, Any]:
    return USER.render(me, req.fields(), req.view())


@route("user", "permissions")
def get_permissions(req: GraphRequest, me: dict[str, Any]) -> dict[str, Any]:
    return {"data": [{"permission": p, "status": "granted"} for p in req.sb.config.permissions]}


@route("page", None)
def get_page(req: GraphRequest, page: dict[str, Any]) -> dict[str, Any]:
    return PAGE.render(page, req.fields(), req.view())


@route("page", "commerce_merchant_settings", permissions=SETTINGS)
def get_page_cms(req: GraphRequest, page: dict[str, Any]) -> dict[str, Any]:
    return req.render_list([req.sb.nodes[defaults.SANDBOX_CMS_ID][1]], CMS)


@route("business", None)
def get_business(req: GraphRequest, business: dict[str, Any]) -> dict[str, Any]:
    return USER.render(business, req.fields(), req.view())


@route("application", None)
def get_application(req: GraphRequest, app: dict[str, Any]) -> dict[str, Any]:
    return APP.render(app, req.fields(), req.view())


@route("cms", None, permissions=SETTINGS)
def get_cms(req: GraphRequest, cms: dict[str, Any]) -> dict[str, Any]:
    return CMS.render(cms, req.fields(), req.view())


@route("cms", "setup_status", permissions=SETTINGS)
def get_setup_status(req: GraphRequest, cms: dict[str, Any]) -> dict[str, Any]:
    return {"data": [SETUP_STATUS.render(cms, req.fields(), req.view())]}


@route("cms", "order_management_apps", permissions=SETTINGS)
def get_order_management_apps(req: GraphRequest, cms: dict[str, Any]) -> dict[str, Any]:
    apps = [req.sb.nodes[app_id][1] for app_id in req.sb.order_management_apps]
    return req.render_list(apps, APP)


@route("cms", "order_management_apps", "POST", permissions=SETTINGS, write=True)
def register_order_management_app(req: GraphRequest, cms: dict[str, Any]) -> dict[str, Any]:
    """Called once per shop with the app's token: orders then wait in CREATED for acknowledgement."""
    if defaults.SANDBOX_APP_ID not in req.sb.order_management_apps:
        req.sb.order_management_apps.append(defaults.SANDBOX_APP_ID)
    return {"success": True}


@route("cms", "order_management_apps", "DELETE", permissions=SETTINGS, write=True)
def unregister_order_management_app(req: GraphRequest, cms: dict[str, Any]) -> dict[str, Any]:
    """Reverts the shop to manual processing: new orders go straight to IN_PROGRESS."""
    req.sb.order_management_apps.clear()
    return {"success": True}
