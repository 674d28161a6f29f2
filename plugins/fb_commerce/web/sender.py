"""Runs of the sender (fb_order_updates) triggered as the logged-in user, through Airflow's REST API.

The user's own token is forwarded, so Airflow checks their permission again, records them as the run's
triggering user and writes its audit log (docs/airflow.md §8).
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from fastapi import Request

from fb_commerce.web.auth import SENDER_DAG_ID, WebUser


class SenderError(Exception):
    """The run could not be triggered; ``code`` is the API's HTTP status (0: not reached)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def api_root(request: Request) -> str:
    """Airflow's REST API: under ``[api] base_url`` when set, else where this request came in."""
    from airflow.api_fastapi.app import API_BASE_URL, API_ROOT_PATH

    if API_BASE_URL.startswith(("http://", "https://")):
        return f"{API_BASE_URL}api/v2"
    return f"{request.url.scheme}://{request.url.netloc}{API_ROOT_PATH}api/v2"


def _call(request: Request, user: WebUser, method: str, path: str, **kwargs: object) -> httpx.Response:
    try:
        return httpx.request(
            method,
            f"{api_root(request)}/{path}",
            headers={"Authorization": f"Bearer {user.token}"},
            timeout=30,
            **kwargs,  # type: ignore[arg-type]
        )
    except httpx.HTTPError as exc:
        raise SenderError(0, f"Airflow's API did not answer: {exc.__class__.__name__}") from None


def trigger_sender(request: Request, user: WebUser, what: str) -> str:
    """Trigger a run of the sender now; return its run id."""
    response = _call(
        request,
        user,
        "POST",
        f"dags/{SENDER_DAG_ID}/dagRuns",
        json={"logical_date": None, "conf": {}, "note": f"Customer service ({user.name}): {what}"},
    )
    if response.status_code != 200:
        raise SenderError(response.status_code, f"Airflow refused to trigger {SENDER_DAG_ID}: {response.text[:300]}")
    return str(response.json()["dag_run_id"])


def sender_run_state(request: Request, user: WebUser, run_id: str) -> dict[str, object]:
    """The run's state, and whether the sender is paused (then a triggered run waits)."""
    run = _call(request, user, "GET", f"dags/{SENDER_DAG_ID}/dagRuns/{quote(run_id, safe='')}")
    dag = _call(request, user, "GET", f"dags/{SENDER_DAG_ID}")
    return {
        "state": run.json().get("state") if run.status_code == 200 else f"unknown (HTTP {run.status_code})",
        "paused": bool(dag.json().get("is_paused")) if dag.status_code == 200 else None,
    }
