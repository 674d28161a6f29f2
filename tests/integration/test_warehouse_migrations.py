"""Alembic migrations against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fb_commerce.warehouse import migrate, schema
from fb_commerce.warehouse.engine import create_warehouse_engine


@pytest.fixture
def engine(warehouse_url: str) -> Iterator[Engine]:
    engine = create_warehouse_engine(warehouse_url)
    yield engine
    engine.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_upgrade_creates_exactly_the_schema(engine: Engine) -> None:
    assert migrate.current_revision(engine) is None
    assert migrate.upgrade(engine) == migrate.head_revision()
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert _tables(engine) == set(schema.metadata.tables) | {migrate.VERSION_TABLE}
    # Autogenerate compares every table, column, type, nullability, index, unique and foreign key, server
    # default and (on PostgreSQL) comment: nothing may differ from schema.py.
    assert migrate.schema_differences(engine) == []


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    first = migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.fb_sync_state).values(name="orders"))
    assert migrate.upgrade(engine) == first
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.fb_sync_state)).scalar() == 1
        versions = conn.execute(sa.text(f"SELECT version_num FROM {migrate.VERSION_TABLE}")).scalars().all()
    assert versions == [first]


def test_comparison_notices_a_difference(engine: Engine) -> None:
    """The empty diff above means something: a missing index is reported."""
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_fb_orders_buyer_email_search"))
    differences = migrate.schema_differences(engine)
    assert any(d[0] == "add_index" and d[1].name == "ix_fb_orders_buyer_email_search" for d in differences)


def test_require_and_ensure_latest(engine: Engine) -> None:
    with pytest.raises(migrate.SchemaOutOfDate) as error:
        migrate.require_latest(engine)
    assert "revision: none" in str(error.value) and "fb-commerce db upgrade" in str(error.value)
    with pytest.raises(migrate.SchemaOutOfDate):
        migrate.ensure_latest(engine, auto_upgrade=False)
    assert migrate.current_revision(engine) is None, "auto_upgrade=False never migrates"
    assert migrate.ensure_latest(engine) == migrate.head_revision()
    migrate.require_latest(engine)
    assert migrate.ensure_latest(engine, auto_upgrade=False) == migrate.head_revision()


def test_unknown_revision_is_never_auto_upgraded(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '9999'"))
    with pytest.raises(migrate.SchemaOutOfDate, match="newer version"):
        migrate.ensure_latest(engine, auto_upgrade=True)
    with pytest.raises(migrate.SchemaOutOfDate, match="9999"):
        migrate.upgrade(engine)


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert migrate.downgrade(engine, "base") is None
    assert _tables(engine) <= {migrate.VERSION_TABLE}
    migrate.upgrade(engine)
    assert migrate.schema_differences(engine) == []


def test_foreign_tables_are_left_alone(engine: Engine) -> None:
    """A warehouse that shares its database with Airflow: Airflow's version table and tables are not ours."""
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('airflow-head')"))
        conn.execute(sa.text("CREATE TABLE dag (dag_id VARCHAR(250) PRIMARY KEY)"))
    migrate.upgrade(engine)
    assert migrate.schema_differences(engine) == []
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "airflow-head"
    assert "dag" in _tables(engine)


def test_concurrent_upgrades_do_not_race(warehouse_url: str) -> None:
    """Tasks starting together on a new database: one migrates, the others wait and find nothing to do."""
    engines = [create_warehouse_engine(warehouse_url) for _ in range(4)]
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(engines))

    def run(engine: Engine) -> None:
        try:
            barrier.wait()
            results.append(migrate.upgrade(engine))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for engine in engines:
        engine.dispose()
    assert not errors, errors
    assert results == [migrate.head_revision()] * len(engines)


def test_sqlite_foreign_keys_restored_after_migration(tmp_path) -> None:
    engine = create_warehouse_engine(f"sqlite:///{tmp_path / 'fk.db'}", poolclass=sa.pool.StaticPool)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


@pytest.fixture
def scratch_migrations(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A copy of the migration scripts that a test may add revisions to."""
    import shutil

    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", folder)
    migrate._script.cache_clear()
    yield folder
    migrate._script.cache_clear()


RECREATE_ORDERS = '''"""recreate fb_orders"""
import sqlalchemy as sa
from alembic import op

revision = "rebuild"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("fb_orders", recreate="always") as batch_op:
        batch_op.alter_column("buyer_email", type_=sa.Text())


def downgrade():
    pass
'''


def test_sqlite_batch_rebuild_keeps_child_rows(tmp_path, scratch_migrations) -> None:
    """Batch mode rebuilds fb_orders by copy, drop and rename; its ON DELETE CASCADE children must survive."""
    from fb_commerce.warehouse.upsert import upsert

    head = migrate.head_revision()  # the new revision goes on top of whatever the project has
    (scratch_migrations / "versions" / "9999_recreate_orders.py").write_text(RECREATE_ORDERS.format(head=head))
    migrate._script.cache_clear()
    engine = create_warehouse_engine(f"sqlite:///{tmp_path / 'rebuild.db'}")
    migrate.upgrade(engine, head)
    upsert(engine, schema.fb_orders, [{"order_id": "1", "state": "CREATED"}])
    upsert(engine, schema.fb_order_items, [{"order_id": "1", "item_id": "a", "quantity": 1}])
    assert migrate.upgrade(engine) == "rebuild"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.fb_order_items)).scalar() == 1
        # the finance views that read fb_orders survive the rebuild (env.py: legacy rename on SQLite)
        assert conn.execute(sa.text("SELECT COUNT(*) FROM fb_daily_orders")).scalar() == 1
    engine.dispose()


def test_new_revision_from_a_schema_change(
    warehouse_url: str, scratch_migrations, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The developer workflow: change schema.py, autogenerate the next revision, upgrade, no differences."""
    engine = create_warehouse_engine(warehouse_url)
    migrate.upgrade(engine)
    # schema.py with one more column, without touching the real MetaData other tests use
    changed = sa.MetaData(naming_convention=schema.NAMING_CONVENTION)
    for table in schema.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["fb_orders"].append_column(sa.Column("gift_message", sa.Text()))
    monkeypatch.setattr(schema, "metadata", changed)
    following = f"{len(migrate.known_revisions()) + 1:04d}"  # revision ids follow the number of revisions
    try:
        path = migrate.new_revision(engine, "add gift message")
        assert path.endswith(f"{following}_add_gift_message.py")
        assert "gift_message" in (scratch_migrations / "versions" / f"{following}_add_gift_message.py").read_text()
        assert migrate.head_revision() == following
        assert migrate.schema_differences(engine) != []
        assert migrate.upgrade(engine) == following
        assert migrate.schema_differences(engine) == []
    finally:
        engine.dispose()


def test_orders_raw_becomes_json_and_back_keeping_its_values(engine: Engine) -> None:
    """0010_orders_raw: fb_orders.raw is json on PostgreSQL (jsonb before), values and compression kept both ways."""
    raw = {"id": "1", "items": {"data": [{"id": "i", "quantity": 2}]}, "note": 'ü \\ " \t'}
    migrate.upgrade(engine, "0009_orders")
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO fb_orders (order_id, state, raw) VALUES ('1', 'CREATED', :raw)"),
            {"raw": json.dumps(raw)},
        )

    def column() -> tuple[str | None, str | None, object]:
        with engine.connect() as conn:
            stored = conn.execute(sa.select(schema.fb_orders.c.raw)).scalar_one()
            if engine.dialect.name != "postgresql":
                return None, None, stored
            kind, method = conn.execute(
                sa.text(
                    "SELECT format_type(atttypid, atttypmod), attcompression FROM pg_attribute "
                    "WHERE attrelid = 'fb_orders'::regclass AND attname = 'raw'"
                )
            ).one()
            return kind, method, stored

    before = column()
    migrate.upgrade(engine)
    after = column()
    assert after[2] == before[2] == raw
    if engine.dialect.name == "postgresql":
        assert (before[0], after[0]) == ("jsonb", "json")
        assert after[1] == before[1]  # lz4 where the server has it (0009_orders), not reset by the rewrite
    migrate.downgrade(engine, "0009_orders")
    assert column() == before
