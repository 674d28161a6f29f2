"""Reading the feed source through ADBC never harms the warehouse file this process also has open.

The ADBC driver links its own SQLite; a read-write connection of it deletes the WAL file when it closes, even while
another connection of this process (SQLAlchemy's) still depends on it: "file is not a database" afterwards.
"""

from __future__ import annotations

import sqlalchemy as sa

from fb_commerce.catalog.source import ProductSource


def test_adbc_read_keeps_the_wal_of_an_open_warehouse(tmp_path):
    path = tmp_path / "warehouse.db"
    from fb_commerce.warehouse.engine import create_warehouse_engine

    engine = create_warehouse_engine(f"sqlite:///{path}")
    holder = engine.connect()  # an open connection keeps the WAL from being checkpointed away
    holder.execute(sa.text("CREATE TABLE merchant_products (sku TEXT PRIMARY KEY, name TEXT)"))
    holder.execute(sa.text("INSERT INTO merchant_products VALUES ('A', 'a'), ('B', 'b')"))
    holder.commit()
    assert (tmp_path / "warehouse.db-wal").exists()

    with ProductSource(
        f"sqlite:///{path}", "SELECT sku AS id, name AS title FROM merchant_products", batch_size=10, method="adbc"
    ) as source:
        rows = sum(batch.num_rows for batch in source)
    assert rows == 2

    assert (tmp_path / "warehouse.db-wal").exists()
    holder.execute(sa.text("INSERT INTO merchant_products VALUES ('C', 'c')"))
    holder.commit()
    assert holder.execute(sa.text("PRAGMA integrity_check")).scalar_one() == "ok"
    assert holder.execute(sa.text("SELECT COUNT(*) FROM merchant_products")).scalar_one() == 3
    holder.close()
    engine.dispose()
