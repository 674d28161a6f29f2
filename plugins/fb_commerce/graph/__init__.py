"""Graph API client: auth + appsecret_proof, paging, errors, retries, usage headers, idempotency keys.

Plain Python (requests + tenacity), no Airflow: the Airflow hook wraps it, and the CLI and tests use it directly.
"""

from __future__ import annotations

from fb_commerce.graph.client import GraphClient, GraphSettings
from fb_commerce.graph.errors import (
    GraphAuthError,
    GraphCommerceError,
    GraphConnectionError,
    GraphError,
    GraphInvalidParameterError,
    GraphRateLimitWait,
    GraphThrottledError,
    GraphTransientError,
)
from fb_commerce.graph.idempotency import idempotency_key

__all__ = [
    "GraphAuthError",
    "GraphClient",
    "GraphCommerceError",
    "GraphConnectionError",
    "GraphError",
    "GraphInvalidParameterError",
    "GraphRateLimitWait",
    "GraphSettings",
    "GraphThrottledError",
    "GraphTransientError",
    "idempotency_key",
]
