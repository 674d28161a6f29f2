"""The Airflow plugin of the package: mounts the customer-service app and adds it to Airflow's navigation.

Found through the package's ``airflow.plugins`` entry point (pyproject.toml); the plugins folder skips the package
(plugins/.airflowignore), so it is loaded once.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from fb_commerce.web import URL_PREFIX


class FbCommercePlugin(AirflowPlugin):
    """The customer-service page inside Airflow (``/fb-commerce``), with an entry under Browse."""

    name = "fb_commerce"
    external_views = [
        {
            "name": "Customer service",
            "href": f"{URL_PREFIX.lstrip('/')}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "fb-commerce",
        }
    ]

    # Every Airflow process loads plugins (a task runner for macros, too); only the API server reads the apps, so
    # the FastAPI app and what it imports are built when it does, not in every task.
    @cached_property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        from fb_commerce.web.app import create_app

        return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "fb-commerce customer service"}]
