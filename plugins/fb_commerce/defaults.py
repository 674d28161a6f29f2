"""Defaults shared by the sandbox, the demo and the connection form.

The sandbox accepts exactly these credentials and ids unless told otherwise, so a fresh clone works with no setup.
They are not secrets: they only open the local sandbox.
"""

from __future__ import annotations

API_VERSION = "v25.0"
GRAPH_BASE_URL = "https://graph.facebook.com"

GRAPH_CONN_ID = "fb_commerce_default"
WAREHOUSE_CONN_ID = "fb_commerce_warehouse"
#: optional: an apprise connection where alerts go (without it they are log lines only)
ALERTS_CONN_ID = "fb_commerce_alerts"
CONN_TYPE = "fb_commerce"
POOL = "fb_graph_api"
POOL_SLOTS = 4

#: the port of the local Airflow UI and REST API (`make airflow`)
AIRFLOW_PORT = 8080

SANDBOX_HOST = "127.0.0.1"
SANDBOX_PORT = 8765
SANDBOX_ACCESS_TOKEN = "sandbox-access-token"
SANDBOX_APP_SECRET = "sandbox-app-secret"
SANDBOX_APP_ID = "100000000000001"
SANDBOX_BUSINESS_ID = "100000000000002"
SANDBOX_PAGE_ID = "100000000000003"
SANDBOX_CMS_ID = "100000000000004"
SANDBOX_CATALOG_ID = "100000000000005"
SANDBOX_FEED_ID = "100000000000006"
SANDBOX_SEED = 42
SANDBOX_ORDERS = 40
SANDBOX_PRODUCTS = 60
SANDBOX_DAYS = 14

#: the words of made-up product names and brands, shared by the sandbox's seed and the demo's product source
PRODUCT_ADJECTIVES = (
    "Classic",
    "Organic",
    "Handmade",
    "Vintage",
    "Everyday",
    "Premium",
    "Soft",
    "Bold",
    "Eco",
    "Travel",
)
PRODUCT_NOUNS = (
    "Tote Bag",
    "Candle",
    "Mug",
    "T-Shirt",
    "Hoodie",
    "Notebook",
    "Scarf",
    "Water Bottle",
    "Cap",
    "Sneakers",
    "Blanket",
    "Planter",
    "Backpack",
    "Socks",
    "Sunglasses",
)
PRODUCT_BRANDS = ("Northwind", "Acme Goods", "Bluebird", "Cedar & Co", "Lumen")
