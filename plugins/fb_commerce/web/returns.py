"""Returns awaiting customer service: REQUESTED by the buyer, not yet answered, oldest first (the web page's list,
read by :func:`fb_commerce.cs.lookup.awaiting_returns`)."""

from __future__ import annotations

from fb_commerce.cs.lookup import AwaitingReturn, awaiting_returns

__all__ = ["AwaitingReturn", "awaiting_returns"]
