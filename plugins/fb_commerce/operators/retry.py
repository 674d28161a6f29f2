"""A retry policy that reads Graph errors: fail at once when retrying cannot help, wait as long as Meta says."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk.definitions.retry_policy import RetryAction, RetryDecision, RetryPolicy


class GraphRetryPolicy(RetryPolicy):
    """Task-level retries for Graph API work.

    - Meta asked to wait longer than a worker should sleep (GraphRateLimitWait): retry after that wait.
    - Token, permission or invalid-parameter errors: fail now; the next try would fail the same way.
    - Anything else: the task's own retries and delay.
    """

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int, context: Any = None) -> RetryDecision:
        from fb_commerce.graph.errors import GraphAuthError, GraphInvalidParameterError, GraphRateLimitWait

        if isinstance(exception, GraphRateLimitWait):
            delay = dt.timedelta(seconds=max(exception.regain_seconds, 60))
            return RetryDecision.retry(delay, reason=f"Meta asks to wait {delay}")
        if isinstance(exception, GraphAuthError | GraphInvalidParameterError):
            return RetryDecision.fail(reason=f"{type(exception).__name__} will not heal by retrying")
        return RetryDecision(action=RetryAction.DEFAULT)

    def serialize(self) -> dict[str, Any]:
        return {"__type": "GraphRetryPolicy"}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> GraphRetryPolicy:
        return cls()
