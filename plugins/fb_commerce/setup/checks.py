"""The setup checks behind the fb_setup_check DAG and `fb-commerce check`.

Each check returns OK, WARN (works, but worth a look), FAIL (the pipelines will not work) or SKIP (an earlier
failure makes it meaningless), with what it found and, when not OK, what to do. Airflow-specific facts (the
connection, the pool) are passed in, so this module runs without Airflow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from fb_commerce.defaults import POOL
from fb_commerce.graph.client import GraphClient
from fb_commerce.graph.errors import GraphError

log = logging.getLogger(__name__)

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"

REQUIRED_CONNECTION_FIELDS = ("access_token", "app_secret", "api_version", "cms_id", "catalog_id")
OPTIONAL_CONNECTION_FIELDS = {
    "feed_id": "fb_catalog_feed creates a product feed and records its id",
    "page_id": "only needed to look the commerce account up from the Page",
}
#: permissions the pipelines use, as alternatives (either grants what is needed)
REQUIRED_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "commerce account settings": ("commerce_manage_accounts", "commerce_account_read_settings"),
    "orders": ("commerce_account_manage_orders",),
    "finance reports": ("commerce_account_read_reports",),
    "catalog": ("catalog_management",),
    "business": ("business_management",),
}


@dataclass
class CheckResult:
    """One line of the setup report."""

    name: str
    status: str
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (OK, WARN)


@dataclass
class SetupFacts:
    """What the caller knows about the environment: connection fields (no secret values), pool, warehouse."""

    conn_id: str
    connection_fields: Mapping[str, Any] | None  # None: the connection does not exist
    graph_client: Callable[[], GraphClient] | None = None
    pool_exists: Callable[[], bool | None] | None = None
    warehouse_status: Callable[[], tuple[bool, str]] | None = None
    register_order_management_app: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def check_connection(facts: SetupFacts) -> CheckResult:
    name = f"connection {facts.conn_id}"
    fields = facts.connection_fields
    if fields is None:
        return CheckResult(
            name,
            FAIL,
            "not found",
            f"create it (type fb_commerce) in the UI, or set AIRFLOW_CONN_{facts.conn_id.upper()}; see README "
            "'Configuration'",
        )
    missing = [f for f in REQUIRED_CONNECTION_FIELDS if not fields.get(f)]
    if missing:
        return CheckResult(name, FAIL, f"missing {', '.join(missing)}", "fill these fields of the connection")
    notes = [f"{f} empty ({why})" for f, why in OPTIONAL_CONNECTION_FIELDS.items() if not fields.get(f)]
    detail = f"complete; API {fields['api_version']} at {fields.get('base_url')}"
    return CheckResult(name, OK, detail + ("; " + "; ".join(notes) if notes else ""))


def _graph(facts: SetupFacts, name: str, call: Callable[[GraphClient], CheckResult]) -> CheckResult:
    """Run one Graph check, turning a Graph error into a FAIL with its hint."""
    try:
        client = facts.graph_client() if facts.graph_client else None
        if client is None:
            return CheckResult(name, SKIP, "no Graph client (connection incomplete)")
        return call(client)
    except GraphError as exc:
        return CheckResult(name, FAIL, exc.message or str(exc), exc.hint)


def check_token(facts: SetupFacts) -> CheckResult:
    def call(client: GraphClient) -> CheckResult:
        me = client.get("me", fields="id,name")
        who = f"{me.get('name') or ''} ({me.get('id')})".strip()
        try:
            granted = {
                p.get("permission")
                for p in client.paginate("me/permissions")
                if p.get("status", "granted") == "granted"
            }
        except GraphError as exc:
            return CheckResult("token", WARN, f"valid for {who}; permissions not readable: {exc.message}")
        missing = [
            " or ".join(options) for options in REQUIRED_PERMISSIONS.values() if not granted.intersection(options)
        ]
        if missing:
            return CheckResult(
                "token",
                FAIL,
                f"valid for {who}, but lacks {', '.join(missing)}",
                "grant these permissions to the system user (Business Settings) and make a new token",
            )
        return CheckResult("token", OK, f"valid for {who}; {len(granted)} permissions incl. all needed")

    return _graph(facts, "token", call)


def check_commerce_account(facts: SetupFacts) -> CheckResult:
    cms_id = (facts.connection_fields or {}).get("cms_id")

    def call(client: GraphClient) -> CheckResult:
        cms = client.get(str(cms_id), fields="id,display_name,merchant_status")
        status = cms.get("merchant_status") or "unknown"
        detail = f"{cms.get('display_name') or cms_id} ({cms_id}), merchant_status {status}"
        try:
            setup = (client.get(f"{cms_id}/setup_status").get("data") or [{}])[0]
        except GraphError as exc:
            setup = {}
            detail += f"; setup status not readable: {exc.message}"
        not_done: dict[str, Any] = {
            k: v for k, v in setup.items() if isinstance(v, str) and v.upper() not in ("SETUP", "APPROVED", "")
        }
        review = setup.get("review_status")
        if isinstance(review, Mapping) and str(review.get("status", "")).upper() not in ("APPROVED", ""):
            not_done["review_status"] = review.get("status")
        if setup:
            detail += "; setup: " + ", ".join(f"{k}={_short(v)}" for k, v in sorted(setup.items()))
        if str(status).upper() == "EXTERNALLY_DISABLED":
            return CheckResult("commerce account", FAIL, detail, "the shop is disabled by Meta: see Commerce Manager")
        if not_done:
            return CheckResult(
                "commerce account", WARN, detail, "finish " + ", ".join(sorted(not_done)) + " in Commerce Manager"
            )
        return CheckResult("commerce account", OK, detail)

    if not cms_id:
        return CheckResult("commerce account", SKIP, "no cms_id in the connection")
    return _graph(facts, "commerce account", call)


def check_order_management_app(facts: SetupFacts) -> CheckResult:
    cms_id = (facts.connection_fields or {}).get("cms_id")

    def call(client: GraphClient) -> CheckResult:
        apps = list(client.paginate(f"{cms_id}/order_management_apps"))
        if apps:
            names = ", ".join(str(a.get("name") or a.get("id")) for a in apps)
            return CheckResult("order management app", OK, f"registered: {names}")
        if facts.register_order_management_app:
            client.post(f"{cms_id}/order_management_apps")
            return CheckResult("order management app", OK, "was not registered: registered it now")
        return CheckResult(
            "order management app",
            FAIL,
            "not registered: orders skip acknowledgement and cannot carry a merchant_order_reference",
            "run `fb-commerce check --register` (or the DAG with register_order_management_app=true)",
        )

    if not cms_id:
        return CheckResult("order management app", SKIP, "no cms_id in the connection")
    return _graph(facts, "order management app", call)


def check_catalog(facts: SetupFacts) -> CheckResult:
    fields = facts.connection_fields or {}
    catalog_id, feed_id = fields.get("catalog_id"), fields.get("feed_id")

    def call(client: GraphClient) -> CheckResult:
        catalog = client.get(str(catalog_id), fields="id,name,product_count")
        detail = f"{catalog.get('name') or catalog_id} ({catalog_id}), {catalog.get('product_count', '?')} products"
        if not feed_id:
            return CheckResult("catalog and feed", OK, detail + "; no feed_id yet: fb_catalog_feed will create one")
        feed = client.get(str(feed_id), fields="id,name")
        return CheckResult("catalog and feed", OK, f"{detail}; feed {feed.get('name') or feed_id} ({feed_id})")

    if not catalog_id:
        return CheckResult("catalog and feed", SKIP, "no catalog_id in the connection")
    return _graph(facts, "catalog and feed", call)


def check_pool(facts: SetupFacts) -> CheckResult:
    exists = facts.pool_exists() if facts.pool_exists else None
    if exists is None:
        return CheckResult(f"pool {POOL}", OK, "this task runs in it, so the scheduler found it")
    if exists:
        return CheckResult(f"pool {POOL}", OK, "exists")
    return CheckResult(
        f"pool {POOL}",
        FAIL,
        "missing: the scheduler never runs a task in a missing pool",
        f'airflow pools set {POOL} 4 "Concurrent Graph API calls" (make airflow-init does it)',
    )


def check_warehouse(facts: SetupFacts) -> CheckResult:
    if facts.warehouse_status is None:
        return CheckResult("warehouse", SKIP, "not checked")
    try:
        ok, detail = facts.warehouse_status()
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is the finding
        return CheckResult(
            "warehouse", FAIL, f"{type(exc).__name__}: {exc}", "check the fb_commerce_warehouse connection"
        )
    if ok:
        return CheckResult("warehouse", OK, detail)
    return CheckResult("warehouse", FAIL, detail, "run `fb-commerce db upgrade`")


def run_checks(facts: SetupFacts) -> list[CheckResult]:
    """Every check, in order; Graph checks are skipped when the connection itself is unusable."""
    results = [check_connection(facts)]
    graph_checks = (check_token, check_commerce_account, check_order_management_app, check_catalog)
    if results[0].status == FAIL:
        results += [
            CheckResult(c.__name__.removeprefix("check_").replace("_", " "), SKIP, "connection unusable")
            for c in graph_checks
        ]
    else:
        results += [check(facts) for check in graph_checks]
    results += [check_pool(facts), check_warehouse(facts)]
    return results


def format_report(results: list[CheckResult]) -> str:
    """The report as people read it: one line per check, and the fix under each one that is not OK."""
    width = max(len(r.name) for r in results)
    lines = ["fb-commerce setup check"]
    for r in results:
        lines.append(f"  {r.status:<4}  {r.name:<{width}}  {r.detail}")
        if r.fix and r.status != OK:
            lines.append(f"        {'':<{width}}  -> {r.fix}")
    failed = failures(results)
    lines.append("All checks passed." if not failed else f"{len(failed)} check(s) failed.")
    return "\n".join(lines)


def failures(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.status == FAIL]


def results_as_dicts(results: list[CheckResult]) -> list[dict[str, str]]:
    return [asdict(r) for r in results]


def _short(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("status") or value)
    return str(value)
