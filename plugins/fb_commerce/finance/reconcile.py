"""Reconciliation to the cent: every rule in ``include/sql/finance/reconcile/`` run for a window, its findings kept in
``fb_reconciliation_issues``.

A rule is one SELECT (documented in that folder's README) returning the issues it finds, one row each, in a fixed
column set (:data:`RULE_COLUMNS`): the moment the checked money belongs to (``event_at``), the ids involved, the
currency, the expected and actual amounts in hundredths (integers, so that SQLite, which keeps NUMERIC as a float,
compares exactly) and a message. Rules take bind parameters computed here (:func:`rule_parameters`): the window's
UTC bounds, cut-off timestamps such as "N business days before as_of", the tolerance and the fee schedule. SQL
never does time-zone math, so the same files run on SQLite and PostgreSQL.

:func:`reconcile` is set-based: what several rules read is staged once per run first (``staged/*.sql`` under the
rules' folder, each into the temporary table ``tmp_fb_staged_<name>``: the pairing of refunds with REFUND
transactions); each rule's rows go into a temporary table with their issue key
(:func:`issue_key_expression`: the rule and its ids, the same on every run), the merchant's business date is
joined from a temporary table of the window's days, and three statements bring ``fb_reconciliation_issues`` up to
date: new keys are inserted open, keys seen again are refreshed (a resolved one reopens), and open issues of the
window that no rule found any more are resolved (never deleted). Times written are ``as_of``, not the clock, so a
rerun of the same run leaves identical rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import time
import zoneinfo
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from fb_commerce.catalog.mapping import include_dir, strip_query, without_comments
from fb_commerce.warehouse import schema
from fb_commerce.warehouse.types import UtcDateTime
from fb_commerce.warehouse.upsert import dialect_insert, transaction

log = logging.getLogger(__name__)

RULES_DIR = Path("sql") / "finance" / "reconcile"
#: under the rules' folder: what several rules read, each file staged once per run as ``tmp_fb_staged_<name>``
STAGED_DIR = "staged"
#: what every rule returns, in this order (extra columns are ignored)
RULE_COLUMNS = (
    "event_at",
    "order_id",
    "shipment_id",
    "refund_id",
    "transaction_id",
    "payout_reference_id",
    "jurisdiction",
    "currency",
    "expected_cents",
    "actual_cents",
    "message",
)
#: the ids an issue key is made of, in this order, with their labels
KEY_PARTS = (
    ("currency", "currency"),
    ("payout", "payout_reference_id"),
    ("order", "order_id"),
    ("shipment", "shipment_id"),
    ("refund", "refund_id"),
    ("transaction", "transaction_id"),
    ("jurisdiction", "jurisdiction"),
)
OPEN, RESOLVED = "open", "resolved"
#: PostgreSQL's work_mem for the reconciliation's transaction (per hash or sort, not per connection)
WORK_MEM = "64MB"
_BIND = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")


class ReconcileError(ValueError):
    """A rule file cannot be run as written (a missing column, two rows for one issue, a bad setting)."""


@dataclasses.dataclass(frozen=True)
class ReconcileSettings:
    """What the rules compare against (see include/sql/finance/reconcile/README.md).

    :param sale_business_days: a captured shipment is in flight for this many business days before a missing SALE
        is an issue.
    :param refund_business_days: the same for a refund without its REFUND transaction.
    :param payout_window_days: calendar days a transaction may wait for its payout.
    :param tolerance: largest difference accepted, per issue (default 0.00: to the cent).
    :param fee_rate: the processing fee as a share of the gross (0.05 = 5 %).
    :param flat_fee: the fee on a gross of ``flat_fee_max`` or less (never more than the gross).
    """

    sale_business_days: int = 3
    refund_business_days: int = 3
    payout_window_days: int = 7
    tolerance: Decimal = Decimal("0.00")
    fee_rate: Decimal = Decimal("0.05")
    flat_fee: Decimal = Decimal("0.40")
    flat_fee_max: Decimal = Decimal("8.00")

    def __post_init__(self) -> None:
        for name in ("sale_business_days", "refund_business_days", "payout_window_days"):
            if getattr(self, name) < 0:
                raise ReconcileError(f"{name} must be 0 or more, not {getattr(self, name)}")
        for name in ("tolerance", "fee_rate", "flat_fee", "flat_fee_max"):
            value = Decimal(getattr(self, name))
            if not value.is_finite() or value < 0:
                raise ReconcileError(f"{name} must be a number, 0 or more, not {getattr(self, name)!r}")
            object.__setattr__(self, name, value)
        for name in ("tolerance", "flat_fee", "flat_fee_max"):
            if getattr(self, name) != getattr(self, name).quantize(Decimal("0.01")):
                raise ReconcileError(f"{name} must be whole cents, not {getattr(self, name)}")
        if self.fee_rate.scaleb(6) != self.fee_rate.scaleb(6).to_integral_value():
            raise ReconcileError(f"fee_rate has more than 6 decimals: {self.fee_rate}")


@dataclasses.dataclass(frozen=True)
class KindCounts:
    """One rule's outcome in a run: found this run, of which new; resolved this run; open now (all days)."""

    found: int = 0
    new: int = 0
    resolved: int = 0
    open: int = 0


@dataclasses.dataclass(frozen=True)
class ReconcileResult:
    """Counts per kind (rule file name) and the window checked."""

    kinds: dict[str, KindCounts]
    first_day: dt.date
    last_day: dt.date

    def totals(self) -> KindCounts:
        """The counts summed over every kind."""
        return KindCounts(
            *(sum(getattr(c, f.name) for c in self.kinds.values()) for f in dataclasses.fields(KindCounts))
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (XCom)."""
        return {
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "kinds": {kind: dataclasses.asdict(counts) for kind, counts in sorted(self.kinds.items())},
            "totals": dataclasses.asdict(self.totals()),
        }


# --- the calendar of a run ----------------------------------------------------------------------------------


def business_days_before(moment: dt.datetime, days: int, timezone: str) -> dt.datetime:
    """``moment`` moved back ``days`` business days (Monday to Friday, in the merchant's time zone; public holidays
    are not known), keeping its wall-clock time; in UTC. From a Saturday or Sunday the first step lands on Friday."""
    zone = zoneinfo.ZoneInfo(timezone)
    local = moment.astimezone(zone)
    day = local.date()
    left = days
    while left > 0:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return dt.datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=zone).astimezone(dt.UTC)


def business_days(
    start: dt.datetime, end: dt.datetime, timezone: str
) -> list[tuple[dt.date, dt.datetime, dt.datetime]]:
    """The merchant's days that ``[start, end)`` touches: (date, its midnight, the next midnight), bounds in UTC."""
    zone = zoneinfo.ZoneInfo(timezone)
    day = start.astimezone(zone).date()
    days = []
    while True:
        begin = dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
        if begin >= end:
            break
        following = day + dt.timedelta(days=1)
        days.append((day, begin, dt.datetime.combine(following, dt.time(), tzinfo=zone).astimezone(dt.UTC)))
        day = following
    return days


def _cents(amount: Decimal) -> int:
    return int(amount.scaleb(2))


def rule_parameters(
    settings: ReconcileSettings, window_start: dt.datetime, window_end: dt.datetime, as_of: dt.datetime, timezone: str
) -> dict[str, Any]:
    """Every bind parameter a rule may use (README.md lists them)."""
    return {
        "window_start": window_start,
        "window_end": window_end,
        "as_of": as_of,
        "sale_due_before": business_days_before(as_of, settings.sale_business_days, timezone),
        "refund_due_before": business_days_before(as_of, settings.refund_business_days, timezone),
        "payout_due_before": as_of - dt.timedelta(days=settings.payout_window_days),
        "tolerance_cents": _cents(settings.tolerance),
        "fee_rate_ppm": int(settings.fee_rate.scaleb(6)),
        "flat_fee_cents": _cents(settings.flat_fee),
        "flat_fee_max_cents": _cents(settings.flat_fee_max),
    }


# --- the rules ----------------------------------------------------------------------------------------------


def rules_dir() -> Path:
    """``<include>/sql/finance/reconcile`` (``$FB_COMMERCE_INCLUDE_DIR`` moves include/)."""
    return include_dir() / RULES_DIR


def load_rules(folder: Path | None = None, kinds: Iterable[str] | None = None) -> dict[str, str]:
    """Each rule's SQL by kind (its file name without ``.sql``), in name order; ``kinds`` picks some."""
    folder = folder if folder is not None else rules_dir()
    files = {path.stem: path for path in sorted(folder.glob("*.sql"))}
    if not files:
        raise ReconcileError(f"no reconciliation rules (*.sql) in {folder}")
    wanted = sorted(files) if kinds is None else list(kinds)
    unknown = sorted(set(wanted) - set(files))
    if unknown:
        raise ReconcileError(f"no rule file for {', '.join(unknown)} in {folder}; rules: {', '.join(sorted(files))}")
    rules = {}
    for kind in wanted:
        if not _KIND.match(kind):
            raise ReconcileError(f"rule file {files[kind].name}: name it in lower case, digits and underscores")
        rules[kind] = files[kind].read_text(encoding="utf-8")
    return rules


def load_staged(folder: Path | None = None) -> dict[str, str]:
    """The SQL of each staged step by name (its file name in ``staged/`` under the rules' folder), in name order."""
    staged = (folder if folder is not None else rules_dir()) / STAGED_DIR
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(staged.glob("*.sql"))}


def staged_table(name: str) -> str:
    """The temporary table a staged step fills and the rules read."""
    return f"tmp_fb_staged_{name}"


def _typed_text(what: str, sql: str, parameters: dict[str, Any]) -> sa.TextClause:
    """One SELECT of a rule or staged step with typed bind parameters (UTC timestamps bind the way the warehouse
    stores them)."""
    sql = strip_query(without_comments(sql))
    names = set(_BIND.findall(sql))  # as sa.text() finds them
    unknown = sorted(names - set(parameters))
    if unknown:
        raise ReconcileError(f"{what} uses unknown parameter(s) {', '.join(unknown)}; known: {sorted(parameters)}")
    binds = [
        sa.bindparam(name, parameters[name], type_=UtcDateTime() if isinstance(parameters[name], dt.datetime) else None)
        for name in sorted(names)
    ]
    return sa.text(sql).bindparams(*binds)


def _rule_select(kind: str, sql: str, parameters: dict[str, Any]) -> sa.Subquery:
    """The rule as a subquery with typed columns and typed bind parameters."""
    text = _typed_text(f"rule {kind}", sql, parameters)
    columns: list[sa.ColumnClause[Any]] = [
        sa.column("event_at", UtcDateTime()),
        *(sa.column(name, sa.String()) for name in RULE_COLUMNS[1:8]),
        sa.column("expected_cents", sa.BigInteger()),
        sa.column("actual_cents", sa.BigInteger()),
        sa.column("message", sa.Text()),
    ]
    return text.columns(*columns).subquery(f"found_{kind}")


def issue_key_expression(kind: str, found: Any) -> sa.ColumnElement[str]:
    """``<kind>|currency=USD|payout=...|order=...`` with the ids that are set, in :data:`KEY_PARTS` order: the
    same ids give the same key on every run and dialect."""
    key: sa.ColumnElement[str] = sa.literal(kind, sa.String())
    for label, column in KEY_PARTS:
        part = sa.literal(f"|{label}=", sa.String()) + sa.cast(found.c[column], sa.String())
        key = key + sa.func.coalesce(part, sa.literal("", sa.String()))
    return key


# --- temporary tables ---------------------------------------------------------------------------------------

_temp = sa.MetaData()
FOUND = sa.Table(
    "tmp_fb_reconcile_found",
    _temp,
    sa.Column("issue_key", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("event_at", UtcDateTime()),
    *(sa.Column(name, sa.String(255)) for name in RULE_COLUMNS[1:7]),
    sa.Column("currency", sa.String(3)),
    sa.Column("expected_cents", sa.BigInteger()),
    sa.Column("actual_cents", sa.BigInteger()),
    sa.Column("message", sa.Text()),
    prefixes=["TEMPORARY"],
)
DAYS = sa.Table(
    "tmp_fb_reconcile_days",
    _temp,
    sa.Column("business_date", sa.Date(), primary_key=True),
    sa.Column("day_start", UtcDateTime(), nullable=False),
    sa.Column("day_end", UtcDateTime(), nullable=False),
    prefixes=["TEMPORARY"],
)


def _fresh_temp_tables(connection: Connection) -> None:
    for table in (FOUND, DAYS):
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {table.name}"))
        table.create(connection)


def _drop_temp_tables(connection: Connection) -> None:
    for table in (FOUND, DAYS):
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {table.name}"))


class CreateTempTableAs(Executable, ClauseElement):
    """``CREATE TEMPORARY TABLE <name> AS SELECT * FROM (<query>)`` (a text query as it is), bind parameters
    processed as usual."""

    inherit_cache = False

    def __init__(self, name: str, query: sa.Subquery | sa.TextClause) -> None:
        self.name = name
        self.query = query


@compiles(CreateTempTableAs)
def _create_temp_table_as(element: CreateTempTableAs, compiler: Any, **kw: Any) -> str:
    query = element.query if isinstance(element.query, sa.TextClause) else sa.select(element.query)
    return f"CREATE TEMPORARY TABLE {element.name} AS " + compiler.process(query, **kw)


def _collect(connection: Connection, kind: str, sql: str, parameters: dict[str, Any]) -> None:
    """Insert the rule's rows into the temporary table, keyed; two rows with one key are a rule error."""
    found = _rule_select(kind, sql, parameters)
    cents = {name: sa.cast(found.c[name], sa.BigInteger()) for name in ("expected_cents", "actual_cents")}
    values = [
        issue_key_expression(kind, found),
        sa.literal(kind, sa.String()),
        found.c.event_at,
        *(sa.cast(found.c[name], sa.String()) for name in RULE_COLUMNS[1:8]),
        cents["expected_cents"],
        cents["actual_cents"],
        sa.cast(found.c.message, sa.Text()),
    ]
    select = sa.select(*(value.label(column.name) for value, column in zip(values, FOUND.columns, strict=True)))
    names = [c.name for c in FOUND.columns]
    # CREATE TABLE AS first: PostgreSQL runs its SELECT with parallel workers, which an INSERT ... SELECT never gets
    staged = sa.table(f"tmp_fb_reconcile_{kind}", *(sa.column(name) for name in names))
    try:
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {staged.name}"))
        connection.execute(CreateTempTableAs(staged.name, select.subquery("rule")))
        connection.execute(sa.insert(FOUND).from_select(names, sa.select(*staged.c)))
        connection.execute(sa.text(f"DROP TABLE {staged.name}"))
    except sa.exc.IntegrityError as exc:
        raise ReconcileError(
            f"rule {kind} returned two rows with the same ids (issue key), or a row without a message: return one row"
            f" per issue ({exc.orig.__class__.__name__})"
        ) from None
    except sa.exc.DBAPIError as exc:
        raise ReconcileError(f"rule {kind} failed: {str(exc.orig).splitlines()[0]}") from exc


def _stage(connection: Connection, staged: dict[str, str], parameters: dict[str, Any]) -> None:
    """Each staged step into its temporary table, before the rules that read it."""
    for name, sql in staged.items():
        table = staged_table(name)
        started = time.perf_counter()
        try:
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
            query = _typed_text(f"staged step {name}", sql, parameters)
            connection.execute(CreateTempTableAs(table, query))
        except sa.exc.DBAPIError as exc:
            raise ReconcileError(f"staged step {name} failed: {str(exc.orig).splitlines()[0]}") from exc
        log.debug("reconciliation staged %s in %.2f s", table, time.perf_counter() - started)


def _check_dated(connection: Connection) -> None:
    """Every found row must fall on a day of the window (rules filter on it): one that does not is a rule error,
    not an issue to drop silently."""
    undated = (
        sa.select(FOUND.c.kind, FOUND.c.issue_key, FOUND.c.event_at)
        .where(~sa.exists().where(FOUND.c.event_at >= DAYS.c.day_start, FOUND.c.event_at < DAYS.c.day_end))
        .limit(1)
    )
    row = connection.execute(undated).first()
    if row is not None:
        raise ReconcileError(
            f"rule {row.kind} returned {row.issue_key} with event_at {row.event_at}, outside the window: filter its "
            f"event_at on [:window_start, :window_end)"
        )


def reconcile(
    engine: Engine | Connection,
    *,
    window_start: dt.datetime,
    window_end: dt.datetime,
    timezone: str,
    run_id: str,
    as_of: dt.datetime | None = None,
    settings: ReconcileSettings | None = None,
    folder: Path | None = None,
    kinds: Sequence[str] | None = None,
) -> ReconcileResult:
    """Run the rules for ``[window_start, window_end)`` as of ``as_of`` (default: the window's end) and bring
    fb_reconciliation_issues up to date, in one transaction.

    The checked scope is, for each rule run, the merchant's business days the window touches: an open issue of
    those days and kinds that no rule found any more is resolved, unless a later run saw it (``last_seen_at`` after
    ``as_of``, as when an old day is backfilled).
    """
    settings = settings or ReconcileSettings()
    as_of = as_of or window_end
    if window_end <= window_start:
        raise ReconcileError(f"empty window [{window_start}, {window_end})")
    rules = load_rules(folder, kinds)
    staged = load_staged(folder)
    parameters = rule_parameters(settings, window_start, window_end, as_of, timezone)
    days = business_days(window_start, window_end, timezone)
    first_day, last_day = days[0][0], days[-1][0]
    issues = schema.fb_reconciliation_issues
    with transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            # the rules hash-join and aggregate whole tables: in the default 4 MB those spill to disk
            connection.execute(sa.text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        _analyze_changed(connection, [*rules.values(), *staged.values()])
        _fresh_temp_tables(connection)
        connection.execute(sa.insert(DAYS), [{"business_date": d, "day_start": s, "day_end": e} for d, s, e in days])
        _stage(connection, staged, parameters)
        for kind, sql in rules.items():
            started = time.perf_counter()
            _collect(connection, kind, sql, parameters)
            log.debug("reconciliation rule %s ran in %.2f s", kind, time.perf_counter() - started)
        _check_dated(connection)
        found_counts = _counts(connection, sa.select(FOUND.c.kind, sa.func.count()).group_by(FOUND.c.kind))
        new_counts = _counts(
            connection,
            sa.select(FOUND.c.kind, sa.func.count())
            .where(~sa.exists().where(issues.c.issue_key == FOUND.c.issue_key))
            .group_by(FOUND.c.kind),
        )
        connection.execute(_upsert_found(connection, as_of, run_id))
        in_scope = sa.and_(
            issues.c.status == OPEN,
            issues.c.kind.in_(list(rules)),
            issues.c.business_date >= first_day,
            issues.c.business_date <= last_day,
            issues.c.last_seen_at <= as_of,
            ~sa.exists().where(FOUND.c.issue_key == issues.c.issue_key),
        )
        resolved_counts = _counts(
            connection, sa.select(issues.c.kind, sa.func.count()).where(in_scope).group_by(issues.c.kind)
        )
        connection.execute(
            sa.update(issues).where(in_scope).values(status=RESOLVED, resolved_at=as_of, last_run_id=run_id)
        )
        open_counts = _counts(
            connection,
            sa.select(issues.c.kind, sa.func.count())
            .where(issues.c.status == OPEN, issues.c.kind.in_(list(rules)))
            .group_by(issues.c.kind),
        )
        _drop_temp_tables(connection)
        for name in staged:
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {staged_table(name)}"))
    result = {
        kind: KindCounts(
            found=found_counts.get(kind, 0),
            new=new_counts.get(kind, 0),
            resolved=resolved_counts.get(kind, 0),
            open=open_counts.get(kind, 0),
        )
        for kind in rules
    }
    return ReconcileResult(result, first_day, last_day)


def _analyze_changed(connection: Connection, rules: Iterable[str]) -> None:
    """PostgreSQL: ANALYZE the warehouse tables the rules read that changed enough since their last statistics for
    autovacuum to analyze them (its default threshold), now rather than later. Right after a large load the
    planner otherwise expects a handful of rows and nests loops over a million."""
    if connection.dialect.name != "postgresql":
        return
    text = " ".join(without_comments(sql) for sql in rules)
    names = sorted(name for name in schema.metadata.tables if re.search(rf"\b{name}\b", text))
    changed = connection.execute(
        sa.text(
            "SELECT s.relname FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid"
            " WHERE s.schemaname = current_schema() AND s.relname = ANY(:names)"
            " AND s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0) ORDER BY s.relname"
        ),
        {"names": names},
    ).scalars()
    preparer = connection.dialect.identifier_preparer
    for name in list(changed):
        started = time.perf_counter()
        connection.exec_driver_sql(f"ANALYZE {preparer.quote(name)}")
        log.debug("ANALYZE %s before the rules: %.2f s", name, time.perf_counter() - started)


def _counts(connection: Connection, query: sa.Select[Any]) -> dict[str, int]:
    return {kind: int(count) for kind, count in connection.execute(query)}


def _upsert_found(connection: Connection, as_of: dt.datetime, run_id: str) -> Any:
    """INSERT ... SELECT the found rows with their business date; a key already there is refreshed and reopened,
    unless a later run has seen or resolved it (a backfill of an old day does not undo newer findings)."""
    issues = schema.fb_reconciliation_issues
    seen = sa.literal(as_of, UtcDateTime())
    run = sa.literal(run_id, sa.String())
    # 100.0, a literal: NUMERIC on PostgreSQL, REAL on SQLite (where an integer division would drop the cents)
    hundred = sa.literal_column("100.0", sa.Numeric())
    expected = FOUND.c.expected_cents / hundred
    actual = FOUND.c.actual_cents / hundred
    values = {
        "issue_key": FOUND.c.issue_key,
        "kind": FOUND.c.kind,
        "business_date": DAYS.c.business_date,
        "status": sa.literal(OPEN, sa.String()),
        **{name: FOUND.c[name] for name in RULE_COLUMNS[1:8]},
        "expected_amount": expected,
        "actual_amount": actual,
        "difference": actual - expected,
        "message": FOUND.c.message,
        "first_seen_at": seen,
        "last_seen_at": seen,
        "first_run_id": run,
        "last_run_id": run,
    }
    select = (
        sa.select(*(value.label(name) for name, value in values.items()))
        .select_from(FOUND.join(DAYS, sa.and_(FOUND.c.event_at >= DAYS.c.day_start, FOUND.c.event_at < DAYS.c.day_end)))
        # SQLite needs a WHERE between INSERT ... SELECT ... JOIN ... ON and its ON CONFLICT (parsing ambiguity)
        .where(sa.literal_column("1") == 1)
    )
    insert = dialect_insert(connection, issues).from_select(list(values), select)
    refreshed = (
        "business_date",
        *RULE_COLUMNS[1:8],
        "expected_amount",
        "actual_amount",
        "difference",
        "message",
        "last_seen_at",
        "last_run_id",
    )
    return insert.on_conflict_do_update(
        index_elements=["issue_key"],
        set_={
            **{name: insert.excluded[name] for name in refreshed},
            "status": OPEN,
            "resolved_at": None,
        },
        where=sa.and_(
            insert.excluded.last_seen_at >= issues.c.last_seen_at,
            sa.or_(issues.c.resolved_at.is_(None), insert.excluded.last_seen_at >= issues.c.resolved_at),
        ),
    )


def open_issues(
    engine: Engine | Connection, limit: int = 20, *, first_run_id: str | None = None
) -> list[dict[str, Any]]:
    """The open issues (those a run found first, with ``first_run_id``), largest difference first (then oldest):
    the task log's headline."""
    issues = schema.fb_reconciliation_issues
    query = (
        sa.select(issues)
        .where(issues.c.status == OPEN, sa.true() if first_run_id is None else issues.c.first_run_id == first_run_id)
        .order_by(
            sa.func.abs(sa.func.coalesce(issues.c.difference, issues.c.actual_amount, 0)).desc(),
            issues.c.business_date,
            issues.c.issue_key,
        )
        .limit(limit)
    )
    with transaction(engine) as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def issue_line(issue: dict[str, Any]) -> str:
    """One issue on one line (task log, notification): kind, day, ids, amounts, message."""
    ids = " ".join(f"{label}={issue[column]}" for label, column in KEY_PARTS[1:] if issue.get(column) is not None)
    amounts = f"expected {issue['expected_amount']} actual {issue['actual_amount']} {issue['currency'] or ''}".strip()
    return f"{issue['kind']} {issue['business_date']} {ids}: {amounts}: {issue['message']}"
