"""fb-commerce: run the Graph API sandbox, check the setup, migrate the warehouse, run the demo."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from fb_commerce import __version__, defaults
from fb_commerce.environment import sandbox_url


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from fb_commerce.sandbox.server import serve

    serve(host=args.host, port=args.port, seed=args.seed, orders=args.orders, products=args.products, days=args.days)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from fb_commerce.environment import apply_local_defaults
    from fb_commerce.setup.airflow_facts import gather_facts
    from fb_commerce.setup.checks import failures, format_report, run_checks

    if args.local_defaults:
        apply_local_defaults()
    facts, _hook = gather_facts(args.conn_id, args.warehouse_conn_id, register=args.register)
    results = run_checks(facts)
    print(format_report(results))
    return 1 if failures(results) else 0


def _cmd_db(args: argparse.Namespace) -> int:
    from fb_commerce.environment import apply_local_defaults
    from fb_commerce.hooks.warehouse import WarehouseHook
    from fb_commerce.warehouse.migrate import current_revision, head_revision, upgrade

    if args.local_defaults:
        apply_local_defaults()
    hook = WarehouseHook(args.warehouse_conn_id)
    engine = hook.get_engine()
    if args.action == "upgrade":
        before = current_revision(engine)
        after = upgrade(engine)
        change = "already at" if before == after else f"upgraded from {before or 'empty'} to"
        print(f"Warehouse {hook.describe()}: {change} {after}")
    else:
        current, head = current_revision(engine), head_revision()
        state = "up to date" if current == head else "behind: run `fb-commerce db upgrade`"
        print(f"Warehouse {hook.describe()}: at {current or 'nothing'}, latest {head} ({state})")
        return 0 if current == head else 1
    return 0


def _cmd_airflow_init(args: argparse.Namespace) -> int:
    from fb_commerce.local import airflow_init

    return airflow_init(pool_slots=args.pool_slots, sandbox_base_url=args.sandbox_url)


def _cmd_airflow(args: argparse.Namespace) -> int:
    from fb_commerce.local import run_local_airflow

    return run_local_airflow(port=args.port, sandbox_port=args.sandbox_port, password=args.password)


def _cmd_demo(args: argparse.Namespace) -> int:
    from fb_commerce.demo import run_demo

    return run_demo(port=args.port, keep_sandbox=args.keep_sandbox)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fb-commerce", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fb-commerce-pipelines {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show library log lines too")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = add("sandbox", _cmd_sandbox, "run the local Graph API sandbox (blocks; Ctrl-C stops it)")
    p.add_argument("--host", default=defaults.SANDBOX_HOST)
    p.add_argument("--port", type=int, default=defaults.SANDBOX_PORT)
    p.add_argument("--seed", type=int, default=defaults.SANDBOX_SEED)
    p.add_argument("--orders", type=int, default=defaults.SANDBOX_ORDERS)
    p.add_argument("--products", type=int, default=defaults.SANDBOX_PRODUCTS)
    p.add_argument("--days", type=int, default=defaults.SANDBOX_DAYS)

    p = add("check", _cmd_check, "check connection, token, commerce account, app, catalog, pool and warehouse")
    p.add_argument("--register", action="store_true", help="register the order-management app if it is not")
    p.add_argument("--conn-id", default=defaults.GRAPH_CONN_ID)
    p.add_argument("--warehouse-conn-id", default=defaults.WAREHOUSE_CONN_ID)
    p.add_argument(
        "--local-defaults",
        action="store_true",
        help="use the sandbox and the SQLite warehouse where no connection is set",
    )

    p = add("db", _cmd_db, "warehouse schema: `upgrade` to the latest migration, or show the `current` one")
    p.add_argument("action", choices=["upgrade", "current"])
    p.add_argument("--warehouse-conn-id", default=defaults.WAREHOUSE_CONN_ID)
    p.add_argument("--local-defaults", action="store_true", help="use the SQLite warehouse when no connection is set")

    p = add(
        "airflow-init",
        _cmd_airflow_init,
        "migrate Airflow's DB, create the fb_graph_api pool, store the fb_commerce_default and fb_commerce_warehouse "
        "connections in it (from $AIRFLOW_CONN_<ID>, else the sandbox and the SQLite file), migrate the warehouse",
    )
    p.add_argument(
        "--pool-slots", type=int, default=None, help=f"default $FB_COMMERCE_POOL_SLOTS or {defaults.POOL_SLOTS}"
    )
    p.add_argument(
        "--sandbox-url",
        default=None,
        help=(
            "where fb_commerce_default points when $AIRFLOW_CONN_FB_COMMERCE_DEFAULT is not set "
            f"(default {sandbox_url()})"
        ),
    )

    p = add(
        "airflow",
        _cmd_airflow,
        "run Airflow locally on 127.0.0.1 (api-server with the UI, scheduler, dag-processor, triggerer) and the "
        "sandbox, in $AIRFLOW_HOME with the connections of airflow-init; Ctrl-C stops everything",
    )
    p.add_argument(
        "--port",
        type=int,
        default=defaults.AIRFLOW_PORT,
        help=f"the UI's and REST API's port (default {defaults.AIRFLOW_PORT})",
    )
    p.add_argument(
        "--sandbox-port",
        type=int,
        default=defaults.SANDBOX_PORT,
        help=f"the sandbox's port (default {defaults.SANDBOX_PORT}; a sandbox already answering there is used)",
    )
    p.add_argument(
        "--password",
        default=None,
        help="the UI password of the user admin (default $FB_COMMERCE_AIRFLOW_PASSWORD, else 'admin')",
    )

    p = add("demo", _cmd_demo, "start the sandbox, run the pipelines end to end on it, print a summary")
    p.add_argument("--port", type=int, default=defaults.SANDBOX_PORT, help="sandbox port (a free one if taken)")
    p.add_argument("--keep-sandbox", action="store_true", help="leave the sandbox running afterwards")
    return parser


def _quiet_logs(verbose: bool) -> None:
    """Library info lines (Alembic, hooks) are noise in a terminal; the commands print what matters."""
    import logging

    if not verbose:
        logging.disable(logging.INFO)


#: commands that read connections as Airflow's own server-side tools do (environment, then the metadata DB)
_READS_METADATA_CONNECTIONS = ("check", "db", "airflow-init")


def _read_metadata_connections() -> None:
    """Outside a task, the Task SDK looks connections up in the environment only, unless the process says it is
    server side (as Airflow's scheduler and API server do): then the metadata database is searched too, so what
    `fb-commerce airflow-init` stored there, or what was created in the UI, is found."""
    os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in _READS_METADATA_CONNECTIONS:
        _read_metadata_connections()
    _quiet_logs(getattr(args, "verbose", False) or args.command in ("sandbox",))
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
