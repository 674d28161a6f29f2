"""Provider metadata: makes `fb_commerce` a connection type with its own form in the Airflow UI.

Airflow 3.2+ reads the form from here (``conn-fields`` / ``ui-field-behaviour``) instead of hook class methods.
Extra fields are stored as ``extra__fb_commerce__<name>``; the hook also accepts the bare ``<name>``.
"""

from __future__ import annotations

from typing import Any

from fb_commerce import __version__


def _text(label: str, description: str) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": {"type": ["string", "null"]}}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "fb-commerce-pipelines",
        "name": "Meta Commerce Platform (fb-commerce pipelines)",
        "description": "Catalog, orders and finance between a merchant and Meta's Commerce Platform.",
        "versions": [__version__],
        "hooks": [
            {
                "integration-name": "Meta Commerce Platform",
                "python-modules": ["fb_commerce.hooks.graph", "fb_commerce.hooks.warehouse"],
            }
        ],
        "triggers": [{"integration-name": "Meta Commerce Platform", "python-modules": ["fb_commerce.triggers"]}],
        "connection-types": [
            {
                "hook-class-name": "fb_commerce.hooks.graph.FbCommerceHook",
                "hook-name": "Meta Commerce (Graph API)",
                "connection-type": "fb_commerce",
                "ui-field-behaviour": {
                    "hidden-fields": ["login", "schema", "port"],
                    "relabeling": {"host": "Graph API base URL", "password": "Access token"},
                    "placeholders": {
                        "host": "empty = https://graph.facebook.com (the sandbox: http://127.0.0.1:8765)",
                        "password": "system-user access token",
                    },
                },
                "conn-fields": {
                    "app_secret": {
                        "label": "App secret",
                        "description": "Signs every call with appsecret_proof. Never logged.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "api_version": {
                        "label": "API version",
                        "description": "Graph API version, e.g. v25.0.",
                        "schema": {"type": ["string", "null"], "default": "v25.0"},
                    },
                    "cms_id": _text("Commerce account (CMS) id", "Commerce Merchant Settings id of the shop."),
                    "catalog_id": _text("Catalog id", "Product catalog the feed and inventory go to."),
                    "feed_id": _text("Product feed id", "Empty: fb_catalog_feed creates one."),
                    "page_id": _text("Page id", "Facebook Page of the shop."),
                },
            }
        ],
    }
