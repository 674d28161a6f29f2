"""Defaults every fb-commerce DAG shares. Cheap to import: DAG files read it at parse time."""

from __future__ import annotations

import datetime as dt

from fb_commerce.defaults import POOL

OWNER = "fb-commerce"
START_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

#: for tasks that call the Graph API: they share the pool that bounds concurrent calls
GRAPH_TASK_ARGS = {"pool": POOL}

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 3,
    "retry_delay": dt.timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(minutes=30),
}
