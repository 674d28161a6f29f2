"""A run's colour tells the truth: a leaf that fails the run when any task of it failed.

Airflow sets a run's state from its leaf tasks only. A task with ``trigger_rule="all_done"`` downstream of a
failed one runs and succeeds, so without help the run would end green although its sync failed. Airflow's
documented answer is a "watcher" leaf downstream of every task with ``trigger_rule="one_failed"``: skipped when
all went well (the run is green), run and failed as soon as one task failed (the run is red)
(https://airflow.apache.org/docs/apache-airflow/stable/best-practices.html#example-of-watcher-pattern-with-trigger-rules;
https://airflow.apache.org/docs/apache-airflow/stable/core-concepts/dag-run.html#dag-run-status).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, BaseOperator

WATCHER_TASK_ID = "watcher"


class RunWatcherOperator(BaseOperator):
    """Fails (never retried) when a task upstream of it failed, so the run fails; skipped otherwise."""

    ui_color = "#fde2e2"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("task_id", WATCHER_TASK_ID)
        super().__init__(trigger_rule="one_failed", retries=0, **kwargs)

    def execute(self, context: Any) -> None:
        from airflow.sdk.exceptions import AirflowFailException

        # The failed task's own log says what went wrong; this one only makes the run's state say so.
        raise AirflowFailException("A task of this run failed (see the grid): the run is marked failed")


def watch_run(dag: DAG) -> RunWatcherOperator:
    """Add the watcher downstream of every task of ``dag``: call it last, once the DAG's tasks are wired."""
    tasks = list(dag.tasks)
    watcher = RunWatcherOperator(dag=dag)
    for task in tasks:
        task >> watcher
    return watcher
