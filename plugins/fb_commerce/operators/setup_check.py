"""Operator running the setup checks (fb_setup_check DAG)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from fb_commerce.defaults import GRAPH_CONN_ID, WAREHOUSE_CONN_ID


class SetupCheckOperator(BaseOperator):
    """Checks connection, token and permissions, commerce account, order-management app, catalog and feed,
    pool and warehouse schema; logs a report with what to fix and fails when a check fails.

    :param fb_conn_id: the Graph API connection.
    :param warehouse_conn_id: the warehouse connection.
    :param register_order_management_app: register the app when it is not (templated, e.g. from a DAG param).
    :param report_path: also write the report to this file (templated); default
        ``$FB_COMMERCE_DATA_DIR/reports/setup_check.txt``.
    """

    template_fields: Sequence[str] = ("fb_conn_id", "warehouse_conn_id", "register_order_management_app", "report_path")

    def __init__(
        self,
        *,
        fb_conn_id: str = GRAPH_CONN_ID,
        warehouse_conn_id: str = WAREHOUSE_CONN_ID,
        register_order_management_app: bool | str = False,
        report_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fb_conn_id = fb_conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.register_order_management_app = register_order_management_app
        self.report_path = report_path

    def execute(self, context: Any) -> list[dict[str, str]]:
        from pathlib import Path

        from fb_commerce.setup.airflow_facts import gather_facts
        from fb_commerce.setup.checks import failures, format_report, results_as_dicts, run_checks

        register = str(self.register_order_management_app).lower() in ("true", "1", "yes")
        facts, hook = gather_facts(self.fb_conn_id, self.warehouse_conn_id, register=register, in_task=True)
        results = run_checks(facts)
        report = format_report(results)
        for line in report.splitlines():
            self.log.info("%s", line)
        if hook is not None:
            hook.log_summary()
        from fb_commerce.warehouse.paths import data_dir

        report_file = Path(self.report_path or data_dir() / "reports" / "setup_check.txt")
        report_file.parent.mkdir(parents=True, exist_ok=True)
        report_file.write_text(report + "\n")
        self.log.info("Report written to %s", report_file)
        failed = failures(results)
        if failed:
            from airflow.sdk.exceptions import AirflowFailException

            # Setup problems do not heal by retrying: fail now, naming the checks.
            raise AirflowFailException(
                f"{len(failed)} setup check(s) failed: " + "; ".join(f"{r.name}: {r.detail}" for r in failed)
            )
        return results_as_dicts(results)
