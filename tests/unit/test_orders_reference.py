"""merchant_order_reference: the default format, generators by dotted path, numbering from the counter."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fb_commerce.orders.reference import (
    ReferenceGeneratorError,
    default_reference,
    generate_references,
    load_generator,
    set_references,
)
from fb_commerce.warehouse.engine import create_warehouse_engine
from fb_commerce.warehouse.schema import fb_orders, metadata


def by_channel(order, number):
    return f"{order['channel'].upper()}/{number}"


def ignores_the_number(order, number):
    return "SAME"


def not_a_string(order, number):
    return number


NOT_CALLABLE = 42


@pytest.fixture
def engine(tmp_path):
    engine = create_warehouse_engine(f"sqlite:///{tmp_path / 'w.db'}")
    metadata.create_all(engine)
    return engine


def orders(*ids: str, channel: str = "instagram") -> list[dict]:
    return [{"order_id": oid, "channel": channel} for oid in ids]


def insert(engine, *ids: str, reference: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(fb_orders), [{"order_id": oid, "state": "CREATED", "merchant_order_reference": reference}
                                            for oid in ids])


def references(engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(fb_orders.c.order_id, fb_orders.c.merchant_order_reference)).all())


def test_default_is_short_padded_and_sortable():
    assert default_reference({}, 123) == "FB-000123"
    assert default_reference({}, 1234567) == "FB-1234567"
    assert default_reference({}, 9) < default_reference({}, 10)


def test_generators_load_by_dotted_path():
    assert load_generator(None) is default_reference and load_generator("  ") is default_reference
    assert load_generator(f"{__name__}.by_channel") is by_channel
    assert load_generator(f"{__name__}:by_channel") is by_channel


@pytest.mark.parametrize("path", ["nodots", "no_such_module_xyz.f", f"{__name__}.missing", f"{__name__}.NOT_CALLABLE"])
def test_bad_paths_say_what_is_wrong(path):
    with pytest.raises(ReferenceGeneratorError, match="reference generator"):
        load_generator(path)


def test_numbers_continue_across_transactions(engine):
    with engine.begin() as conn:
        first = generate_references(conn, orders("1", "2"), default_reference)
    with engine.begin() as conn:
        second = generate_references(conn, orders("3"), by_channel)
    assert first == {"1": "FB-000001", "2": "FB-000002"} and second == {"3": "INSTAGRAM/3"}


def test_a_rolled_back_page_gives_its_numbers_back(engine):
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            generate_references(conn, orders("1"), default_reference)
            raise RuntimeError("page failed")
    with engine.begin() as conn:
        assert generate_references(conn, orders("1"), default_reference) == {"1": "FB-000001"}


def test_a_reference_already_used_is_skipped(engine):
    insert(engine, "old", reference="FB-000002")  # adopted from Meta, looks like ours
    with engine.begin() as conn:
        assert generate_references(conn, orders("a", "b", "c"), default_reference) == {
            "a": "FB-000001", "c": "FB-000003", "b": "FB-000004"}


def test_a_generator_that_cannot_avoid_a_clash_is_an_error(engine):
    insert(engine, "old", reference="SAME")
    with engine.begin() as conn, pytest.raises(ReferenceGeneratorError, match="already in use"):
        generate_references(conn, orders("a"), ignores_the_number)
    with engine.begin() as conn, pytest.raises(ReferenceGeneratorError, match="same reference to two orders"):
        generate_references(conn, orders("a", "b"), ignores_the_number)


def test_unusable_values_are_refused(engine):
    with engine.begin() as conn, pytest.raises(ReferenceGeneratorError, match="non-empty string"):
        generate_references(conn, orders("a"), not_a_string)
    with engine.begin() as conn, pytest.raises(ReferenceGeneratorError, match="at most 128"):
        generate_references(conn, orders("a"), lambda order, number: "x" * 129)


def test_a_stored_reference_is_never_overwritten(engine):
    insert(engine, "a", reference="FB-000001")
    insert(engine, "b")
    with engine.begin() as conn:
        set_references(conn, {"a": "FB-999999", "b": "FB-000002"})
    assert references(engine) == {"a": "FB-000001", "b": "FB-000002"}
