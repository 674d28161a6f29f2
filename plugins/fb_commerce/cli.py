"""fb-commerce: run the Graph API sandbox, check the setup, migrate the warehouse, run the demo."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

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


def _warehouse_engine(args: argparse.Namespace) -> Any:
    """The warehouse engine as `fb-commerce db` opens it (its schema must be up to date)."""
    from fb_commerce.environment import apply_local_defaults
    from fb_commerce.hooks.warehouse import WarehouseHook
    from fb_commerce.warehouse.migrate import require_latest

    if args.local_defaults:
        apply_local_defaults()
    engine = WarehouseHook(args.warehouse_conn_id).get_engine()
    require_latest(engine)
    return engine


def _cmd_orders_show(args: argparse.Namespace) -> int:
    from fb_commerce.cs.lookup import order_view
    from fb_commerce.cs.text import format_order, json_text

    engine = _warehouse_engine(args)
    view = order_view(engine, args.key)
    if view is None:
        print(f"No order with id or merchant reference {args.key!r} in the warehouse.", file=sys.stderr)
        return 1
    differences = None
    if args.live:
        from fb_commerce.cs.live import differences as live_differences
        from fb_commerce.cs.live import read_live
        from fb_commerce.hooks.graph import FbCommerceHook

        differences = live_differences(view, read_live(FbCommerceHook(args.conn_id).client, view.order_id))
    if args.json:
        data = view.as_dict()
        if differences is not None:
            data["live_differences"] = differences
        print(json_text(data))
    else:
        print(format_order(view, differences))
    return 0


def _date_or_time(text: str) -> Any:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO-8601 time") from None


def _cmd_orders_find(args: argparse.Namespace) -> int:
    from fb_commerce.cs.lookup import find_orders, mentioned_keys
    from fb_commerce.cs.text import format_hits, json_text

    text = sys.stdin.read() if args.text == "-" else args.text
    engine = _warehouse_engine(args)
    try:
        hits = find_orders(
            engine,
            text=text,
            email=args.email,
            name=args.name,
            state=args.state,
            created_from=args.date_from,
            created_to=args.date_to,
            limit=args.limit,
        )
    except ValueError as exc:
        print(f"fb-commerce orders find: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json_text([hit.as_dict() for hit in hits]))
    else:
        print(format_hits(hits, mentioned_keys(text) if text is not None else None))
    return 0 if hits else 1


def _cmd_airflow_init(args: argparse.Namespace) -> int:
    from fb_commerce.local import airflow_init

    return airflow_init(pool_slots=args.pool_slots, sandbox_base_url=args.sandbox_url)


def _cmd_airflow(args: argparse.Namespace) -> int:
    from fb_commerce.local import run_local_airflow

    return run_local_airflow(port=args.port, sandbox_port=args.sandbox_port, password=args.password)


def _cmd_demo(args: argparse.Namespace) -> int:
    from fb_commerce.demo import run_demo

    return run_demo(port=args.port, keep_sandbox=args.keep_sandbox)


def _cmd_help(args: argparse.Namespace) -> int:
    build_parser().parse_args([args.command, "--help"])
    return 0


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
        "orders", _cmd_help, "look orders up for customer service: `orders show` one, `orders find` by what you know"
    )
    orders = p.add_subparsers(dest="orders_command", metavar="ACTION")

    def warehouse_options(q: argparse.ArgumentParser) -> None:
        q.add_argument("--json", action="store_true", help="print JSON (money as strings with two decimals)")
        q.add_argument("--warehouse-conn-id", default=defaults.WAREHOUSE_CONN_ID)
        q.add_argument(
            "--local-defaults", action="store_true", help="use the SQLite warehouse when no connection is set"
        )

    help_text = (
        "one order by Meta's order id or the merchant reference: buyer, address, items and what can still be "
        "shipped, cancelled or refunded, shipments, cancellations, refunds, returns, payments, CS actions, timeline"
    )
    q = orders.add_parser("show", help=help_text, description=help_text)
    q.set_defaults(func=_cmd_orders_show)
    q.add_argument("key", help="Meta's order id or the merchant reference (e.g. FB-000123)")
    q.add_argument("--live", action="store_true", help="also read the order from Meta now and say what differs")
    q.add_argument("--conn-id", default=defaults.GRAPH_CONN_ID, help="the Graph API connection (with --live)")
    warehouse_options(q)

    help_text = (
        "orders by buyer e-mail, name (accents and case ignored, start of the first or last name), state, dates, "
        "or what a buyer's e-mail mentions (--text -: paste it on stdin); criteria combine; exit 1 when none found"
    )
    q = orders.add_parser("find", help=help_text, description=help_text)
    q.set_defaults(func=_cmd_orders_find)
    q.add_argument("--email", help="the buyer's e-mail address (any case)")
    q.add_argument("--name", help="the buyer's name or its start, e.g. 'dup' or 'jean d'")
    q.add_argument("--state", help="FB_PROCESSING, CREATED, IN_PROGRESS or COMPLETED")
    q.add_argument("--from", dest="date_from", type=_date_or_time, help="placed on or after this day (merchant time)")
    q.add_argument("--to", dest="date_to", type=_date_or_time, help="placed on or before this day (merchant time)")
    q.add_argument("--text", help="a buyer's e-mail ('-' reads it from stdin): the orders it mentions")
    q.add_argument("--limit", type=int, default=50, help="at most this many orders, newest first (default 50)")
    warehouse_options(q)

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
_READS_METADATA_CONNECTIONS = ("check", "db", "airflow-init", "orders")


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
