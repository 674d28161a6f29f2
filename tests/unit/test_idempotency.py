"""Idempotency keys: deterministic, short, alphanumeric, and new only when asked."""

from __future__ import annotations

import re
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from fb_commerce.graph.idempotency import idempotency_key


def test_same_write_same_key_whatever_the_dict_order():
    a = idempotency_key("ship", "123", {"items": [{"retailer_id": "A", "quantity": 1}], "carrier": "UPS"})
    b = idempotency_key("ship", "123", {"carrier": "UPS", "items": [{"quantity": 1, "retailer_id": "A"}]})
    assert a == b


def test_any_difference_changes_the_key():
    base = idempotency_key("ship", "123", {"q": 1})
    assert idempotency_key("ship", "124", {"q": 1}) != base
    assert idempotency_key("refund", "123", {"q": 1}) != base
    assert idempotency_key("ship", "123", {"q": 2}) != base
    assert idempotency_key("ship", "123", {"q": 1}, generation=1) != base


def test_decimals_canonicalise():
    assert idempotency_key("r", "1", {"amount": Decimal("10.50")}) == idempotency_key(
        "r", "1", {"amount": Decimal("10.5")}
    )


@given(
    op=st.text(max_size=200),
    target=st.text(max_size=200),
    payload=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=12,
    ),
)
def test_keys_are_at_most_100_alphanumeric_characters(op, target, payload):
    key = idempotency_key(op, target, payload)
    assert 64 <= len(key) <= 100
    assert re.fullmatch(r"[A-Za-z0-9]+", key)
    assert key == idempotency_key(op, target, payload)
