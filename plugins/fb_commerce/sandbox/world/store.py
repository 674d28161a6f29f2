"""The sandbox's data store: stores, indexes, ids, virtual time and the lock around every change.

Plain Python, no FastAPI, and no behaviour: the order state machine lives in ``orders``, money in ``money_flow``,
products and feeds in ``catalog``, what time makes happen in ``timeline`` and the seeded history in ``seed``. They all
change a ``Store`` while holding ``Store.lock`` and import this module, never the other way round;
:class:`~fb_commerce.sandbox.world.sandbox.Sandbox` puts store and behaviour together.
"""

from __future__ import annotations

import heapq
import random
import threading
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fb_commerce import defaults

from .clock import VirtualClock
from .config import SandboxConfig
from .faults import FaultConfig
from .idempotency import IdempotencyStore
from .model import (
    FB_PROCESSING,
    ORDER_STATES,
    BatchRequest,
    Feed,
    Order,
    Payout,
    Plant,
    Product,
    Return,
    Transaction,
    Upload,
)
from .stats import Stats
from .usage import UsageMeter

# Id ranges per kind, so an id says what it is and ids stay the same for the same seed.
_ID_BASES = {
    "order": 3_000_000_000_000_000,
    "item": 3_100_000_000_000_000,
    "shipment": 3_200_000_000_000_000,
    "cancellation": 3_300_000_000_000_000,
    "refund": 3_400_000_000_000_000,
    "return": 3_500_000_000_000_000,
    "product": 3_600_000_000_000_000,
    "feed": 3_700_000_000_000_000,
    "upload": 3_800_000_000_000_000,
    "transaction": 3_900_000_000_000_000,
    "payout": 4_000_000_000_000_000,
    "transfer": 4_100_000_000_000_000,
    "batch": 4_200_000_000_000_000,
}


@dataclass(frozen=True)
class SeedParams:
    """What a world is generated from; ``anchor`` (Unix seconds) is "now" for the seeded history."""

    seed: int = defaults.SANDBOX_SEED
    orders: int = defaults.SANDBOX_ORDERS
    products: int = defaults.SANDBOX_PRODUCTS
    days: int = defaults.SANDBOX_DAYS
    anchor: float | None = None


class Store:
    """Everything the fake Commerce Platform knows. Change it only while holding ``lock``."""

    def __init__(self, params: SeedParams) -> None:
        self.lock = threading.RLock()
        self.clock = VirtualClock()
        self.initial = params
        self.params = params
        self.reset_settings()
        self.clear()

    # --- lifecycle --------------------------------------------------------------------------------------------

    def reset_settings(self) -> None:
        """Faults off, clock back, stats zeroed, default config (the world itself is left as it is)."""
        with self.lock:
            self.clock.reset()
            self.config = SandboxConfig()
            self.faults = FaultConfig()
            self.stats = Stats()
            self.usage = UsageMeter(self.config.app_calls_per_minute)

    def clear(self) -> None:
        """Empty the world: no orders, products, money or ids (config, faults and stats are kept)."""
        for upload in getattr(self, "open_uploads", []):  # spooled files of sessions that never finished
            if upload.path is not None:
                upload.path.unlink(missing_ok=True)
        self.seq = 0
        self._counters: dict[str, int] = {}
        self.nodes: dict[str, tuple[str, Any]] = {}
        self.orders: dict[str, Order] = {}
        self.orders_by_key: dict[tuple[int, int], Order] = {}
        self.state_index: dict[str, list[tuple[int, int]]] = {s: [] for s in ORDER_STATES}
        self._processing: list[tuple[float, str]] = []  # heap of (leaves FB_PROCESSING at, order id)
        self.products: dict[str, Product] = {}
        self._product_keys: list[tuple[str]] | None = None
        self.feeds: dict[str, Feed] = {}
        self.uploads: dict[str, Upload] = {}
        self.open_uploads: list[Upload] = []
        self.batches: dict[str, BatchRequest] = {}
        self.open_batches: list[BatchRequest] = []
        self.batch_calls: dict[str, deque[float]] = {}
        self.transactions: dict[str, Transaction] = {}
        self.transaction_keys: list[tuple[int, str]] = []
        self.pending_payouts: list[tuple[float, str]] = []  # heap of (payout due, transaction id)
        self.payouts: dict[str, Payout] = {}
        self.payout_keys: list[tuple[int, str]] = []
        self.plants: list[Plant] = []  # planted finance discrepancies, in the order they were planted
        self.missing_transactions: dict[str, Transaction] = {}  # planted "missing SALE"s: never listed nor paid
        self.returns: dict[str, Return] = {}
        self.tracking_numbers: dict[str, str] = {}  # tracking number -> shipment id (one number per shipment)
        self.order_management_apps: list[str] = []
        self.inflight: set[str] = set()  # orders with a write being processed (2361050 for a second one)
        self.idempotency = IdempotencyStore()
        self.live_rng = random.Random(f"{self.params.seed}:live")

    # --- ids and nodes ----------------------------------------------------------------------------------------

    def new_id(self, kind: str) -> str:
        n = self._counters.get(kind, 0) + 1
        self._counters[kind] = n
        return str(_ID_BASES[kind] + n)

    def register(self, node_id: str, kind: str, obj: Any) -> None:
        self.nodes[node_id] = (kind, obj)

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    def now(self) -> float:
        return self.clock.now()

    # --- orders -----------------------------------------------------------------------------------------------

    def add_order(self, order: Order) -> None:
        self.orders[order.id] = order
        self.orders_by_key[order.key] = order
        self.register(order.id, "order", order)
        insort(self.state_index[order.state], order.key)
        if order.state == FB_PROCESSING and order.processing_until is not None:
            heapq.heappush(self._processing, (order.processing_until, order.id))

    def set_state(self, order: Order, state: str, at: float) -> None:
        if order.state != state:
            keys = self.state_index[order.state]
            i = bisect_left(keys, order.key)
            if i < len(keys) and keys[i] == order.key:
                del keys[i]
            insort(self.state_index[state], order.key)
            order.state = state
        order.last_updated = max(order.last_updated, at)

    def touch(self, order: Order, at: float) -> None:
        order.last_updated = max(order.last_updated, at)

    # --- products ---------------------------------------------------------------------------------------------

    def product_keys(self) -> list[tuple[str]]:
        """Retailer ids in sorted order, rebuilt lazily after changes (listing a million items stays cheap)."""
        if self._product_keys is None:
            self._product_keys = sorted((rid,) for rid in self.products)
        return self._product_keys

    def products_changed(self) -> None:
        self._product_keys = None

    # --- finance ----------------------------------------------------------------------------------------------

    def add_transaction(self, txn: Transaction) -> None:
        self.transactions[txn.id] = txn
        insort(self.transaction_keys, (-int(txn.date * 1000), txn.id))
        heapq.heappush(self.pending_payouts, (txn.payout_due, txn.id))

    def drop_transaction(self, txn: Transaction) -> None:
        """Take a transaction off the lists (its stale payout-queue entry is skipped when it comes up)."""
        self.transactions.pop(txn.id, None)
        key = (-int(txn.date * 1000), txn.id)
        i = bisect_left(self.transaction_keys, key)
        if i < len(self.transaction_keys) and self.transaction_keys[i] == key:
            del self.transaction_keys[i]

    def add_payout(self, payout: Payout) -> None:
        self.payouts[payout.payout_reference_id] = payout
        insort(self.payout_keys, (-int(payout.date), payout.payout_reference_id))

    # --- time -------------------------------------------------------------------------------------------------

    def pop_processing(self, now: float) -> Iterator[tuple[float, Order]]:
        """Orders whose FB_PROCESSING window ended by ``now`` (with when it ended), taken off the wait list."""
        while self._processing and self._processing[0][0] <= now:
            due, order_id = heapq.heappop(self._processing)
            order = self.orders.get(order_id)
            if order is not None and order.state == FB_PROCESSING:
                order.processing_until = None
                yield due, order
