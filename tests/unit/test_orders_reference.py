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

GENERATORS = """
import os

from refgen_shop.helpers import by_channel as reexported


def by_channel(order, number):
    return f"{order['channel'].upper()}/{number}"


def ignores_the_number(order, number):
    return "SAME"


def not_a_string(order, number):
    return number


def no_arguments():
    return "X"


def _private(order, number):
    return "P"


system = os.system
NOT_CALLABLE = 42


class Generator:
    def __init__(self, order, number):
        pass
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """An installed distribution ``refgen-shop`` (a dist-info on sys.path) whose package holds generators."""
    import importlib
    import sys

    root = tmp_path_factory.mktemp("site")
    package = root / "refgen_shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("def by_channel(order, number):\n    return f\"{order['channel']}-{number}\"\n")
    (package / "generators.py").write_text(GENERATORS)
    info = root / "refgen_shop-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: refgen-shop\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("refgen_shop\n")
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    yield importlib.import_module("refgen_shop.generators")
    sys.path.remove(str(root))
    for name in [n for n in sys.modules if n.startswith("refgen_shop")]:
        del sys.modules[name]


@pytest.fixture
def by_channel(shop):
    return shop.by_channel


@pytest.fixture
def ignores_the_number(shop):
    return shop.ignores_the_number


@pytest.fixture
def not_a_string(shop):
    return shop.not_a_string


@pytest.fixture
def engine(tmp_path):
    engine = create_warehouse_engine(f"sqlite:///{tmp_path / 'w.db'}")
    metadata.create_all(engine)
    return engine


def orders(*ids: str, channel: str = "instagram") -> list[dict]:
    return [{"order_id": oid, "channel": channel} for oid in ids]


def insert(engine, *ids: str, reference: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(fb_orders),
            [{"order_id": oid, "state": "CREATED", "merchant_order_reference": reference} for oid in ids],
        )


def references(engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(fb_orders.c.order_id, fb_orders.c.merchant_order_reference)).all())


def test_default_is_short_padded_and_sortable():
    assert default_reference({}, 123) == "FB-000123"
    assert default_reference({}, 1234567) == "FB-1234567"
    assert default_reference({}, 9) < default_reference({}, 10)


def test_generators_load_by_dotted_path(by_channel):
    assert load_generator(None) is default_reference and load_generator("  ") is default_reference
    assert load_generator("refgen_shop.generators.by_channel") is by_channel
    assert load_generator("refgen_shop.generators:by_channel") is by_channel
    assert load_generator("fb_commerce.orders.reference.default_reference") is default_reference


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("nodots", "not a dotted path"),
        ("no_such_module_xyz.f", "not in an installed package"),
        ("refgen_shop.generators.missing", "cannot be imported"),
        ("refgen_shop.missing_module.f", "cannot be imported"),
        ("refgen_shop.generators.NOT_CALLABLE", "not a function"),
        ("refgen_shop.generators._private", "public Python name"),
        ("refgen_shop.generators.no_arguments", "must take (order_row, number)"),
        ("refgen_shop.generators.Generator", "not a function"),
        # code of the standard library, whatever the spelling
        ("os.system", "not in an installed package"),
        ("os:system", "not in an installed package"),
        ("subprocess.run", "not in an installed package"),
        ("subprocess.check_output", "not in an installed package"),
        ("builtins.eval", "not in an installed package"),
        ("builtins:exec", "not in an installed package"),
        ("importlib.import_module", "not in an installed package"),
        ("shutil.rmtree", "not in an installed package"),
        ("os.path.join", "not in an installed package"),
        # a test module or a DAG file is on sys.path, not installed
        (f"{__name__}.test_default_is_short_padded_and_sortable", "not in an installed package"),
        ("fb_orders_sync.setting", "not in an installed package"),
        # an installed package re-exporting something else is refused
        ("refgen_shop.generators.system", "not a function"),
        ("fb_commerce.orders.reference.importlib.import_module", "cannot be imported"),
        ("refgen_shop.generators.os.system", "cannot be imported"),
        ("refgen_shop.generators.__builtins__.eval", "public Python name"),
        ("refgen_shop.generators.by channel", "public Python name"),
    ],
)
def test_only_plain_functions_of_installed_packages_are_taken(shop, path, words):
    with pytest.raises(ReferenceGeneratorError, match="reference generator") as caught:
        load_generator(path)
    assert words in str(caught.value)


def test_a_function_re_exported_from_another_module_of_the_same_package_is_taken(shop):
    assert load_generator("refgen_shop.generators.reexported")({"channel": "ig"}, 7) == "ig-7"


def test_numbers_continue_across_transactions(engine, by_channel):
    with engine.begin() as conn:
        first = generate_references(conn, orders("1", "2"), default_reference)
    with engine.begin() as conn:
        second = generate_references(conn, orders("3"), by_channel)
    assert first == {"1": "FB-000001", "2": "FB-000002"} and second == {"3": "INSTAGRAM/3"}


def test_a_rolled_back_page_gives_its_numbers_back(engine):
    with pytest.raises(RuntimeError), engine.begin() as conn:
        generate_references(conn, orders("1"), default_reference)
        raise RuntimeError("page failed")
    with engine.begin() as conn:
        assert generate_references(conn, orders("1"), default_reference) == {"1": "FB-000001"}


def test_a_reference_already_used_is_skipped(engine):
    insert(engine, "old", reference="FB-000002")  # adopted from Meta, looks like ours
    with engine.begin() as conn:
        assert generate_references(conn, orders("a", "b", "c"), default_reference) == {
            "a": "FB-000001",
            "c": "FB-000003",
            "b": "FB-000004",
        }


def test_a_generator_that_cannot_avoid_a_clash_is_an_error(engine, ignores_the_number):
    insert(engine, "old", reference="SAME")
    with engine.begin() as conn, pytest.raises(ReferenceGeneratorError, match="already in use"):
        generate_references(conn, orders("a"), ignores_the_number)
    with engine.begin() as conn, pytest.raises(ReferenceGeneratorError, match="same reference to two orders"):
        generate_references(conn, orders("a", "b"), ignores_the_number)


def test_unusable_values_are_refused(engine, not_a_string):
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
