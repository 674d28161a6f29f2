"""Acknowledgement batches, their idempotency keys, and the FB_PROCESSING refusal sequence (no HTTP)."""

from __future__ import annotations

import datetime as dt

import pytest

from fb_commerce.graph.errors import GraphCommerceError, GraphInvalidParameterError
from fb_commerce.orders.acknowledge import (
    CANNOT_ACKNOWLEDGE,
    PendingOrder,
    acknowledge_batch,
    batch_key,
    batches,
    payload,
)

CMS = "100000000000004"
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def pending(n: int, start: int = 1) -> list[PendingOrder]:
    return [PendingOrder(f"30000000000{i:05d}", f"FB-{i:06d}", T0) for i in range(start, start + n)]


def refusal(*order_ids: str) -> GraphCommerceError:
    text = "Cannot acknowledge orders that are still FB_PROCESSING" + (": " + ", ".join(order_ids) if order_ids else "")
    return GraphCommerceError(text, code=100, subcode=CANNOT_ACKNOWLEDGE, http_status=400)


class FakeMeta:
    """Answers like Meta: refuses a batch holding a processing order, replays answers by key."""

    def __init__(self, processing: set[str] = frozenset(), name_them: bool = True) -> None:
        self.processing = set(processing)
        self.name_them = name_them
        self.calls: list[tuple[str, list[str]]] = []
        self.answers: dict[str, object] = {}

    def __call__(self, orders: list[dict[str, str]], key: str) -> dict:
        ids = [o["id"] for o in orders]
        self.calls.append((key, ids))
        if key not in self.answers:
            stuck = [i for i in ids if i in self.processing]
            if stuck:
                self.answers[key] = refusal(*(stuck if self.name_them else ()))
            else:
                self.answers[key] = {
                    "orders": [
                        {"id": i, "state": "IN_PROGRESS"}
                        if not i.endswith("99")
                        else {"id": i, "error": {"error_code": 2361003, "error_message": "Invalid Order ID"}}
                        for i in ids
                    ]
                }
        answer = self.answers[key]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_batches_hold_at_most_100_in_order():
    orders = pending(250)
    sizes = [len(b) for b in batches(orders)]
    assert sizes == [100, 100, 50] and [o for b in batches(orders) for o in b] == orders
    assert [len(b) for b in batches(orders, 500)] == [100, 100, 50], "Meta's limit is never exceeded"
    assert [len(b) for b in batches(orders, 30)][:2] == [30, 30]
    assert list(batches([])) == []


def test_payload_names_orders_and_their_references():
    assert payload(pending(1)) == [{"id": "3000000000000001", "merchant_order_reference": "FB-000001"}]


def test_keys_are_deterministic_and_change_with_what_they_cover():
    batch = pending(3)
    key = batch_key(CMS, batch)
    assert key == batch_key(CMS, list(batch)) and key.isalnum() and len(key) <= 100
    assert batch_key(CMS, batch, generation=1) != key
    assert batch_key(CMS, batch[:2]) != key
    assert batch_key(CMS, [batch[1], batch[0], batch[2]]) != key
    changed = [PendingOrder(batch[0].order_id, batch[0].reference, T0 + dt.timedelta(seconds=1)), *batch[1:]]
    assert batch_key(CMS, changed) != key, "a change at Meta (new last_updated) gives a new key"
    assert batch_key("other-cms", batch) != key


def test_per_order_results_are_kept():
    batch = [*pending(2), PendingOrder("3000000000000099", "FB-000099", T0)]
    outcomes, calls = acknowledge_batch(FakeMeta(), CMS, batch)
    assert calls == 1
    assert [(o.order_id, o.acknowledged, o.error_code) for o in outcomes] == [
        ("3000000000000001", True, None),
        ("3000000000000002", True, None),
        ("3000000000000099", False, 2361003),
    ]


def test_an_order_missing_from_the_answer_is_not_counted_acknowledged():
    outcomes, _ = acknowledge_batch(lambda orders, key: {"orders": []}, CMS, pending(1))
    assert not outcomes[0].acknowledged and "no result" in outcomes[0].error_message


def test_named_processing_orders_are_dropped_and_the_rest_sent_with_the_next_generation():
    batch = pending(5)
    meta = FakeMeta(processing={batch[1].order_id, batch[3].order_id})
    outcomes, calls = acknowledge_batch(meta, CMS, batch)
    assert calls == 2
    rest = [batch[0], batch[2], batch[4]]
    assert meta.calls == [
        (batch_key(CMS, batch, 0), [o.order_id for o in batch]),
        (batch_key(CMS, rest, 1), [o.order_id for o in rest]),
    ]
    failed = {o.order_id for o in outcomes if not o.acknowledged}
    assert failed == {batch[1].order_id, batch[3].order_id}
    assert all(o.error_code == CANNOT_ACKNOWLEDGE for o in outcomes if not o.acknowledged)
    assert sum(o.acknowledged for o in outcomes) == 3


def test_unnamed_refusals_are_bisected_until_the_culprit_stands_alone():
    batch = pending(8)
    meta = FakeMeta(processing={batch[5].order_id}, name_them=False)
    outcomes, calls = acknowledge_batch(meta, CMS, batch)
    assert [o.order_id for o in outcomes if not o.acknowledged] == [batch[5].order_id]
    assert sum(o.acknowledged for o in outcomes) == 7
    assert calls == 7  # 8 -> 4+4 -> 2+2 -> 1+1
    assert len({key for key, _ in meta.calls}) == calls, "every call has its own key"


def test_a_rerun_replays_the_same_sequence_of_keys():
    batch = pending(6)
    first = FakeMeta(processing={batch[2].order_id})
    acknowledge_batch(first, CMS, batch)
    second = FakeMeta(processing={batch[2].order_id})
    second.answers = first.answers  # Meta remembers its answers by key
    outcomes, _ = acknowledge_batch(second, CMS, batch)
    assert [key for key, _ in second.calls] == [key for key, _ in first.calls]
    assert sum(o.acknowledged for o in outcomes) == 5


def test_other_errors_end_the_batch():
    def broken(orders, key):
        raise GraphInvalidParameterError("orders must be a list", code=100)

    with pytest.raises(GraphInvalidParameterError):
        acknowledge_batch(broken, CMS, pending(2))

    def other_rule(orders, key):
        raise GraphCommerceError("CMS disabled", code=100, subcode=2382052)

    with pytest.raises(GraphCommerceError):
        acknowledge_batch(other_rule, CMS, pending(2))
