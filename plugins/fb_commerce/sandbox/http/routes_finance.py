"""Graph endpoints of finance reporting (docs/graph-api.md §3): payouts and transactions of the commerce account."""

from __future__ import annotations

from typing import Any

from .graph import REPORTS, GraphRequest, route
from .views_finance import PAYOUT, TRANSACTION

_FINANCE: dict[str, Any] = {"permissions": REPORTS}


def _window(req: GraphRequest) -> tuple[int | None, int | None]:
    return req.int_param("start_time"), req.int_param("end_time")


def _budget(req: GraphRequest, *filters: Any) -> int | None:
    return req.sb.config.page_scan_budget if any(f is not None for f in filters) else None


def list_payouts(req: GraphRequest, owner: Any) -> dict[str, Any]:
    """Payouts whose payout date falls in [start_time, end_time), newest first."""
    start, end = _window(req)
    payouts = req.sb.payouts

    def accept(k: Any) -> Any:
        payout = payouts[k[1]]
        ok = (start is None or payout.date >= start) and (end is None or payout.date < end)
        return payout if ok else None

    return req.page([req.sb.payout_keys], accept, PAYOUT, budget=_budget(req, start, end))


def list_transactions(req: GraphRequest, owner: Any) -> dict[str, Any]:
    """Transactions dated in [start_time, end_time), optionally of one payout, newest first.

    A transaction dated after now (a planted late one) has not appeared yet: it is not listed before its date."""
    start, end = _window(req)
    now = req.sb.now()
    ref = req.param("payout_reference_id")
    txns = req.sb.transactions
    if ref is not None:
        payout = req.sb.payouts.get(str(ref))
        keys = sorted((-int(txns[t].date * 1000), t) for t in payout.transaction_ids) if payout else []
    else:
        keys = req.sb.transaction_keys

    def accept(k: Any) -> Any:
        txn = txns[k[1]]
        ok = txn.date <= now and (start is None or txn.date >= start) and (end is None or txn.date < end)
        return txn if ok else None

    return req.page([keys], accept, TRANSACTION, budget=_budget(req, start, end))


# The reference lists both edges on the commerce account and on the Page.
for _kind in ("cms", "page"):
    route(_kind, "commerce_payouts", **_FINANCE)(list_payouts)
    route(_kind, "commerce_transactions", **_FINANCE)(list_transactions)
