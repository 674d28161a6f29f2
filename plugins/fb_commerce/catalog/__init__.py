"""Catalog feed: mapped products → validated feed file (no Airflow here; the DAG calls these).

- :mod:`~fb_commerce.catalog.build`: :func:`build_feed`, the entry point, and :class:`FeedResult`;
- :mod:`~fb_commerce.catalog.source`: reading the mapping's rows as Arrow batches (ADBC or SQLAlchemy);
- :mod:`~fb_commerce.catalog.validate`: :class:`FeedValidator` and the reject reasons (vectorised checks in
  :mod:`~fb_commerce.catalog.column_checks`, the rule table in :mod:`~fb_commerce.catalog.rules`, shared with the
  sandbox);
- :mod:`~fb_commerce.catalog.feed`: streaming CSV/TSV/XML writers and the atomic feed file;
- :mod:`~fb_commerce.catalog.rejects`: :class:`Reject` records, the summary and the reject-share check;
- :mod:`~fb_commerce.catalog.mapping`: where include/sql/catalog/feed_mapping.sql is and how it is loaded.

Feed upload (fb_catalog_feed's second task):

- :mod:`~fb_commerce.catalog.upload`: the product feed, the upload (file or URL), the session, errors and report;
- :mod:`~fb_commerce.catalog.upload_store`: rejects, uploads and their errors in the warehouse;
- :mod:`~fb_commerce.catalog.feed_readback`: the inventory values a feed file carried, for the sync state.

Inventory sync (fb_inventory_sync):

- :mod:`~fb_commerce.catalog.inventory_delta`: the SQL delta against include/sql/catalog/inventory_source.sql, the
  requests and their packing into ``items_batch`` calls;
- :mod:`~fb_commerce.catalog.batch_calls`: ``items_batch`` and ``check_batch_request_status``;
- :mod:`~fb_commerce.catalog.batch_log`: the log of ``items_batch`` calls, recorded before and after, settled from
  their status;
- :mod:`~fb_commerce.catalog.meta_accepted`: what Meta last accepted per product (``fb_catalog_sync_state``), written
  only from Meta's answers;
- :mod:`~fb_commerce.catalog.inventory_restocks`: restocks read back from the catalog after cancellations;
- :mod:`~fb_commerce.catalog.inventory_sync`: the steps of one sync, as the operator and the benchmark run them.

Also :mod:`~fb_commerce.catalog.demo_products` (the demo's products) and :mod:`~fb_commerce.catalog.summary`.

Modules are imported on use (pyarrow is not needed to parse a DAG file).
"""
