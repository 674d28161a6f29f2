"""Operator running the setup checks (fb_setup_check DAG)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fb_commerce.operators.base import FbCommerceOperator, fail_task
from fb_commerce.settings import as_bool, as_text


class SetupCheckOperator(FbCommerceOperator):
    """Checks connection, token and permissions, commerce account, order-management app, catalog and feed,
    pool and warehouse schema; logs a report with what to fix and fails when a check fails.

    The checks open the connections themselves (a missing or broken one is a finding, not a crash), so this
    operator only names them.

    :param fb_conn_id: the Graph API connection (templated).
    :param warehouse_conn_id: the warehouse connection (templated).
    :param register_order_management_app: register the app when it is not (templated, e.g. from a DAG param).
    :param report_path: also write the report to this file (templated); default
        ``$FB_COMMERCE_DATA_DIR/reports/setup_check.txt``.
    """

    template_fields: Sequence[str] = (
        *FbCommerceOperator.template_fields,
        "register_order_management_app",
        "report_path",
    )

    def __init__(
        self, *, register_order_management_app: bool | str = False, report_path: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.register_order_management_app = register_order_management_app
        self.report_path = report_path

    def execute(self, context: Any) -> list[dict[str, str]]:
        from pathlib import Path

        from fb_commerce.setup.airflow_facts import gather_facts
        from fb_commerce.setup.checks import failures, format_report, results_as_dicts, run_checks
        from fb_commerce.warehouse.paths import data_dir

        register = self.setting("register_order_management_app", as_bool)
        report_path = self.setting("report_path", as_text, optional=True)
        facts, hook = gather_facts(self.fb_conn_id, self.warehouse_conn_id, register=register, in_task=True)
        results = run_checks(facts)
        report = format_report(results)
        for line in report.splitlines():
            self.log.info("%s", line)
        if hook is not None:
            hook.log_summary()
        report_file = Path(report_path or data_dir() / "reports" / "setup_check.txt")
        report_file.parent.mkdir(parents=True, exist_ok=True)
        report_file.write_text(report + "\n")
        self.log.info("Report written to %s", report_file)
        failed = failures(results)
        if failed:
            # Setup problems do not heal by retrying: fail now, naming the checks.
            fail_task(f"{len(failed)} setup check(s) failed: " + "; ".join(f"{r.name}: {r.detail}" for r in failed))
        return results_as_dicts(results)
