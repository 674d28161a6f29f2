"""What virtual time makes happen: orders leave FB_PROCESSING, payouts are made, uploads and batches finish.

Every read and write of the API, the admin clock and the seed call :func:`tick` first, so the world a request
sees has applied everything that became due by then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import plants
from .catalog import finish_batch, finish_upload
from .model import CREATED, IN_PROGRESS
from .money_flow import run_payouts

if TYPE_CHECKING:
    from .store import Store


def tick(sb: Store, now: float | None = None) -> None:
    """Apply everything that became due by ``now`` (default: the virtual clock's now); the caller holds the lock."""
    now = sb.now() if now is None else now
    for due, order in sb.pop_processing(now):
        # Without a registered order-management app finalized orders skip CREATED (docs/graph-api.md §1.1).
        sb.set_state(order, CREATED if sb.order_management_apps else IN_PROGRESS, due)
    if sb.pending_payouts and sb.pending_payouts[0][0] <= now:
        plants.on_payouts(sb, run_payouts(sb, now))  # a discrepancy planted for "the next payout" takes one
    for upload in [u for u in sb.open_uploads if u.due <= now and u.parsed is not None]:
        finish_upload(sb, upload, max(upload.due, upload.start))
    for batch in [b for b in sb.open_batches if b.due <= now]:
        finish_batch(sb, batch, batch.due)


def advance(sb: Store, seconds: float) -> float:
    """Move the virtual clock forward and apply what became due; returns the new now."""
    with sb.lock:
        now = sb.clock.advance(seconds)
        tick(sb, now)
        return now
