"""Where the new-orders trigger got to: orders of the same second are new once, older ones never."""

from __future__ import annotations

from fb_commerce.triggers.orders import NewOrders

T = 1_790_000_000


def order(oid: str, second: int) -> dict:
    import datetime as dt

    return {"id": oid, "last_updated": dt.datetime.fromtimestamp(second, tz=dt.UTC).isoformat()}


def ids(orders: list[dict]) -> list[str]:
    return [o["id"] for o in orders]


def test_orders_are_new_once():
    position = NewOrders(T)
    assert ids(position.take([order("a", T + 5)])) == ["a"]
    assert ids(position.take([order("a", T + 5)])) == [], "seen: the listing repeats the newest second"
    assert position.since == T + 5


def test_a_second_order_in_the_same_second_is_still_new():
    position = NewOrders(T)
    position.take([order("a", T + 5)])
    assert ids(position.take([order("a", T + 5), order("b", T + 5)])) == ["b"]
    assert ids(position.take([order("a", T + 5), order("b", T + 5), order("c", T + 6)])) == ["c"]
    assert position.since == T + 6 and position.seen == {"c"}


def test_older_orders_never_count():
    position = NewOrders(T)
    assert position.take([order("old", T - 1)]) == []
    assert ids(position.take([order("x", T), order("y", T + 2)])) == ["x", "y"]
    assert position.since == T + 2
