"""Readable summaries of the catalog tables: the last feed upload and the last inventory sync, in counts.

For the demo, the CLI and engineers at a terminal; the DAGs log the same counts as they go.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fb_commerce.catalog.batch_log import REFUSED
from fb_commerce.warehouse import schema


def feed_summary(engine: Engine) -> str:
    """The latest feed upload: the file, Meta's counts, the rejects of its run and its errors by kind."""
    uploads, errors, rejects = schema.fb_feed_uploads, schema.fb_feed_upload_errors, schema.fb_feed_rejects
    with engine.connect() as connection:
        last = (
            connection.execute(
                sa.select(uploads).order_by(uploads.c.requested_at.desc(), uploads.c.upload_id.desc()).limit(1)
            )
            .mappings()
            .first()
        )
        if last is None:
            return "  no feed upload yet"
        rejected = connection.execute(
            sa.select(rejects.c.retailer_id, rejects.c.field, rejects.c.reason)
            .where(rejects.c.run_id == last["run_id"])
            .order_by(rejects.c.row_number, rejects.c.field)
        ).all()
        kinds = connection.execute(
            sa.select(errors.c.severity, errors.c.summary, sa.func.count(), sa.func.min(errors.c.retailer_id))
            .where(errors.c.upload_id == last["upload_id"])
            .group_by(errors.c.severity, errors.c.summary)
            .order_by(errors.c.severity, errors.c.summary)
        ).all()
        synced = connection.execute(sa.select(sa.func.count()).select_from(schema.fb_catalog_sync_state)).scalar()
    lines = [
        (
            f"  feed file: {last['file_name']} ({last['file_format']}, {last['file_bytes'] or 0:,} bytes), "
            f"{last['rows_written'] or 0:,} products written, {last['rows_rejected'] or 0:,} rejected by validation"
        ),
        (
            f"  upload {last['upload_id']} to feed {last['feed_id']}: {last['status']}; Meta read "
            f"{last['num_detected_items'] or 0:,}, saved {last['num_persisted_items'] or 0:,}, refused "
            f"{last['num_invalid_items'] or 0:,}, deleted {last['num_deleted_items'] or 0:,}; "
            f"{last['error_count'] or 0:,} errors, {last['warning_count'] or 0:,} warnings"
        ),
    ]
    lines += [f"  rejected: {r.retailer_id} {r.field}: {r.reason}" for r in rejected]
    lines += [
        f"  Meta {severity}: {summary} ({count} rows, e.g. {example})" for severity, summary, count, example in kinds
    ]
    lines.append(f"  fb_catalog_sync_state: {synced:,} products as Meta accepted them")
    return "\n".join(lines)


def inventory_summary(engine: Engine) -> str:
    """The latest inventory sync run: calls, changes by method and status, and a few refusals."""
    requests, items = schema.fb_batch_requests, schema.fb_batch_request_items
    with engine.connect() as connection:
        run_id = connection.execute(sa.select(requests.c.run_id).order_by(requests.c.sent_at.desc()).limit(1)).scalar()
        if run_id is None:
            return "  no items_batch call yet"
        handles = sa.select(requests.c.handle).where(requests.c.run_id == run_id)
        calls = connection.execute(
            sa.select(sa.func.count(), sa.func.sum(requests.c.request_count)).where(
                requests.c.run_id == run_id,
                # the record of products refused before any call is not a call
                sa.or_(requests.c.status.is_(None), requests.c.status != REFUSED),
            )
        ).one()
        counts = connection.execute(
            sa.select(items.c.method, items.c.status, sa.func.count())
            .where(items.c.handle.in_(handles))
            .group_by(items.c.method, items.c.status)
            .order_by(items.c.method, items.c.status)
        ).all()
        refused = connection.execute(
            sa.select(items.c.status, items.c.retailer_id, items.c.error_message)
            .where(items.c.handle.in_(handles), items.c.status.in_(("failed", "not_applied")))
            .order_by(items.c.status, items.c.retailer_id)
            .limit(5)
        ).all()
    lines = [f"  run {run_id}: {calls[0]} items_batch call(s) carrying {calls[1] or 0:,} changes"]
    lines += [f"  {method}: {count:,} {status}" for method, status, count in counts]
    label = {"failed": "refused", "not_applied": "not applied, sent again next run"}
    lines += [f"  {label[status]}: {retailer_id}: {message}" for status, retailer_id, message in refused]
    return "\n".join(lines)
