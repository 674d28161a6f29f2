"""The sandbox as the HTTP face sees it: the data store with its seed and its clock wired in.

``Store`` holds the data and knows no behaviour; the behaviour modules change a ``Store``. This class sits on top of
both, so dependencies point one way: ``store`` <- behaviour (``orders``, ``catalog``, ``money_flow``, ``timeline``,
``seed``) <- ``sandbox`` <- ``http``.
"""

from __future__ import annotations

from fb_commerce import defaults

from . import timeline
from .seed import populate
from .store import SeedParams, Store


class Sandbox(Store):
    """Everything the fake Commerce Platform knows, seeded and ticking. Change it only while holding ``lock``."""

    def __init__(
        self,
        seed: int = defaults.SANDBOX_SEED,
        orders: int = defaults.SANDBOX_ORDERS,
        products: int = defaults.SANDBOX_PRODUCTS,
        days: int = defaults.SANDBOX_DAYS,
        anchor: float | None = None,
    ) -> None:
        super().__init__(SeedParams(seed, orders, products, days, anchor))
        self.reset()

    def reset(self) -> None:
        """Back to the seed the sandbox started with: faults off, clock back, stats zeroed, default config."""
        with self.lock:
            self.reset_settings()
            self.load(self.initial)

    def load(self, params: SeedParams) -> None:
        """Replace the world with a freshly seeded one (config, faults and stats are kept)."""
        with self.lock:
            self.params = params
            self.clear()
            populate(self, params)

    def tick(self, now: float | None = None) -> None:
        """Apply everything that became due: orders leave FB_PROCESSING, payouts, finished uploads and batches."""
        timeline.tick(self, now)

    def advance(self, seconds: float) -> float:
        """Move the virtual clock forward by ``seconds`` and apply what became due."""
        return timeline.advance(self, seconds)
