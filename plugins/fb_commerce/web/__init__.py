"""The customer-service page: a FastAPI app (server-rendered with Jinja2) that Airflow's API server mounts under
``/fb-commerce`` through the plugin in :mod:`fb_commerce.web.plugin`.

Airflow gives a mounted app no authentication (docs/airflow.md §8): every route here checks the logged-in Airflow
user and its permissions itself (:mod:`fb_commerce.web.auth`). The pages only show and call what
:mod:`fb_commerce.cs` offers; there is no second way to look up an order or to write to Meta.
"""

from fb_commerce import defaults

#: where the API server mounts the app, and the path of its entry in Airflow's navigation
URL_PREFIX = "/fb-commerce"


def page_url(airflow_url: str = f"http://127.0.0.1:{defaults.AIRFLOW_PORT}") -> str:
    """The search page's address on the Airflow API server at ``airflow_url`` (default: `make airflow`'s)."""
    return f"{airflow_url.rstrip('/')}{URL_PREFIX}/"
