"""Catalog feed: mapped products → validated feed file (no Airflow here; the DAG calls these).

- :mod:`~fb_commerce.catalog.build`: :func:`build_feed`, the entry point, and :class:`FeedResult`;
- :mod:`~fb_commerce.catalog.source`: reading the mapping's rows as Arrow batches (ADBC or SQLAlchemy);
- :mod:`~fb_commerce.catalog.validate`: :class:`FeedValidator` and the reject reasons (vectorised checks in
  :mod:`~fb_commerce.catalog.checks`, field rules in :mod:`~fb_commerce.catalog.fields`);
- :mod:`~fb_commerce.catalog.feed`: streaming CSV/TSV/XML writers and the atomic feed file;
- :mod:`~fb_commerce.catalog.rejects`: :class:`Reject` records, the summary and the reject-share check;
- :mod:`~fb_commerce.catalog.mapping`: where include/sql/catalog/feed_mapping.sql is and how it is loaded.

Modules are imported on use (pyarrow is not needed to parse a DAG file).
"""
