"""The warehouse: tables, migrations and idempotent writes, on SQLite (default) and PostgreSQL.

Plain SQLAlchemy and Alembic, no Airflow (the Airflow side is :mod:`fb_commerce.hooks.warehouse`):

- :mod:`~fb_commerce.warehouse.schema`: every table (the single source of truth);
- :mod:`~fb_commerce.warehouse.types`: ``UtcDateTime``, ``Money`` and the JSON type, the same on both
  dialects;
- :mod:`~fb_commerce.warehouse.engine`: ``create_warehouse_engine(url)``, with the project's connection
  settings;
- :mod:`~fb_commerce.warehouse.migrate`: ``upgrade``, ``current_revision``, ``head_revision``,
  ``require_latest``, ``ensure_latest`` and ``SchemaOutOfDate``;
- :mod:`~fb_commerce.warehouse.upsert`: ``upsert``, ``insert_ignore``, ``replace_interval``;
- :mod:`~fb_commerce.warehouse.bulk`: ``bulk_upsert`` for large inputs and ``copy_rows`` (COPY on PostgreSQL);
- :mod:`~fb_commerce.warehouse.page_writer`: ``write_rows`` / ``insert_rows``, one statement per table for a
  page of an incremental pull;
- :mod:`~fb_commerce.warehouse.sync_state`: ``fb_sync_state``, the pipelines' watermarks and counters (every
  reader and writer of that table);
- :mod:`~fb_commerce.warehouse.paths`: the data folder and the default SQLite file.

Submodules are imported on demand, so importing this package costs nothing at DAG parse time.
"""
