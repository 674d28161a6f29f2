"""Every DAG file parses without errors and carries what operators need to run and watch it."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
EXPECTED_DAG_IDS = {
    "fb_setup_check",
    "fb_orders_sync",
    "fb_order_updates",
    "fb_catalog_feed",
    "fb_inventory_sync",
    "fb_finance_nightly",
    "fb_cs_refund",
    "fb_cs_cancel",
    "fb_cs_update_tracking",
}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_expected_dags_exist(dagbag):
    assert set(dagbag.dag_ids) >= EXPECTED_DAG_IDS


def test_every_dag_is_documented_owned_tagged_and_retried(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md.strip()) > 50, f"{dag_id} has no doc_md"
        assert "fb-commerce" in dag.tags, f"{dag_id} lacks the fb-commerce tag"
        assert dag.dag_id.startswith("fb_"), dag_id
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"
            assert task.retries is not None, f"{dag_id}.{task.task_id} has no retries setting"


def test_default_args_retry_with_backoff(dagbag):
    for dag_id, dag in dagbag.dags.items():
        retried = [t for t in dag.tasks if t.retries and t.retries > 0]
        for task in retried:
            assert task.retry_exponential_backoff, f"{dag_id}.{task.task_id}: retries without back-off"


def test_graph_tasks_use_the_pool(dagbag):
    from fb_commerce.defaults import POOL

    check = dagbag.dags["fb_setup_check"].get_task("run_checks")
    assert check.pool == POOL


def test_dag_files_do_no_io_or_heavy_imports_at_parse_time():
    """Parsing a DAG file must not import requests-level or pandas code (the scheduler parses often)."""
    import subprocess
    import sys

    for path in sorted(DAGS_DIR.glob("*.py")):
        heavy = (
            "'pandas', 'fb_commerce.hooks.graph', 'fb_commerce.sandbox', 'fb_commerce.warehouse.schema', "
            "'alembic', 'airflow.providers.http.hooks.http'"
        )
        code = (
            f"import sys, runpy; runpy.run_path({str(path)!r}); "
            f"heavy = [m for m in ({heavy}) if m in sys.modules]; print(','.join(heavy))"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "", f"{path.name} imports {out.stdout.strip()} at parse time"


def failure_reaches_a_leaf(task) -> bool:
    """Whether a failure of ``task`` fails the run: Airflow sets a run's state from its leaves, so the failure
    must reach a leaf, through tasks that become upstream_failed (all_success) or a watcher (one_failed)."""
    for child in task.downstream_list:
        if child.trigger_rule == "one_failed" and not child.downstream_list:
            return True
        if child.trigger_rule == "all_success" and (not child.downstream_list or failure_reaches_a_leaf(child)):
            return True
    return False


def test_a_failed_task_fails_the_run_in_every_dag(dagbag):
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            assert not task.downstream_list or failure_reaches_a_leaf(task), (
                f"{dag_id}.{task.task_id}: its failure reaches no leaf, so the run could end green"
            )
