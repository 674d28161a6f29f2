"""fb_catalog_feed: the merchant's products as a validated feed file, uploaded to Meta and followed to the end."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from fb_commerce.dag_defaults import DEFAULT_ARGS, GRAPH_TASK_ARGS, START_DATE
from fb_commerce.operators.catalog_feed import FeedBuildOperator, FeedUploadOperator
from fb_commerce.operators.retry import GraphRetryPolicy

with DAG(
    dag_id="fb_catalog_feed",
    description="Builds the validated product feed, uploads it to Meta and stores the upload session's errors",
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,  # one feed at a time: a second would replace the first while Meta reads it
    default_args=DEFAULT_ARGS,
    tags=["fb-commerce", "catalog"],
    params={
        "format": Param("csv", enum=["csv", "tsv", "xml"], description="Feed file format (xml: RSS 2.0, g: fields)"),
        "upload_mode": Param(
            "file",
            enum=["file", "url"],
            description="file: upload the file itself; url: Meta fetches it from feed_url, where you serve it",
        ),
        "feed_url": Param(None, type=["null", "string"], description="The http(s) URL of the feed (url mode)"),
        "feed_path": Param(
            None,
            type=["null", "string"],
            description="Where to write the feed file; empty: <data dir>/feeds/catalog.<format>",
        ),
        "reject_limit": Param(
            0.05,
            type="number",
            minimum=0,
            maximum=1,
            description="Fail the build when more than this share of products is rejected by validation",
        ),
        "fatal_error_limit": Param(
            0.05,
            type="number",
            minimum=0,
            maximum=1,
            description="Fail when Meta refuses more than this share of the uploaded products",
        ),
        "error_report": Param(
            "auto",
            enum=["auto", "always", "never"],
            description="Load Meta's full error report: auto = when the error sample does not name every refused row",
        ),
        "update_only": Param(
            False,
            type="boolean",
            description="Update only: products missing from the file stay on Meta (default: the file replaces the feed)",
        ),
    },
    doc_md="""
### fb_catalog_feed

Turns the merchant's products into Meta's product feed, daily.

| task | what it does |
|---|---|
| `build_feed` | reads the products through `include/sql/catalog/feed_mapping.sql` in batches (bounded memory), validates every row against Meta's required and checkout fields, writes the good ones to the feed file (CSV, TSV or RSS XML) and the bad ones to **fb_feed_rejects** (row, field, reason; keyed by run, so a rerun replaces them). Fails when more than `reject_limit` of the products are rejected, naming the top reasons; the previous feed file is then kept. |
| `upload_feed` | uploads the file (multipart, streamed) to the connection's `feed_id`, or gives Meta `feed_url` (`upload_mode` = url: serve the file written at `feed_path` there). Without a `feed_id` it uses or creates the feed *fb-commerce product feed* and logs how to put its id into the connection. Then it **defers** until Meta finished the upload session (no worker held), stores the counts in **fb_feed_uploads** and the errors in **fb_feed_upload_errors** (the `/errors` sample, and Meta's full error report per `error_report`), sets **fb_catalog_sync_state** to what Meta accepted, and fails when Meta refused more than `fatal_error_limit` of the products. |

A retried upload task follows the upload its first try made instead of uploading again. Both tasks must see the same
data folder (`FB_COMMERCE_DATA_DIR`; the compose file mounts `./data`). Stock and price changes between feeds go
out every 15 minutes with `fb_inventory_sync`.
""",
) as dag:
    build = FeedBuildOperator(
        task_id="build_feed",
        fmt="{{ params.format }}",
        feed_path="{{ params.feed_path or '' }}",
        reject_limit="{{ params.reject_limit }}",
    )
    upload = FeedUploadOperator(
        task_id="upload_feed",
        build_task_id="build_feed",
        upload_mode="{{ params.upload_mode }}",
        feed_url="{{ params.feed_url or '' }}",
        fatal_error_limit="{{ params.fatal_error_limit }}",
        error_report="{{ params.error_report }}",
        update_only="{{ params.update_only }}",
        retry_policy=GraphRetryPolicy(),
        **GRAPH_TASK_ARGS,
    )
    build >> upload
