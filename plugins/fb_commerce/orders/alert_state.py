"""Each alert notified once, and a daily digest of those still open: the state lives in ``fb_alerts``.

An alert is keyed by ``(condition, subject)`` (:attr:`OrderAlert.key`), so a rerun, a retry or the next run that
sees the same order still stuck updates its row instead of notifying again. A round of the alert task:

1. :func:`record` stores what the rules found now: new keys get a row, keys seen before get ``last_seen_at``,
   open rows of the rules checked that were not found any more get ``resolved_at``; a key found again after it
   was resolved opens a new occurrence (notified again).
2. :func:`claim_new` takes the open rows never notified, setting ``notified_at`` first; the caller sends them in
   one notification and calls :func:`release` when that fails, so the next run sends them again. Claiming before
   sending makes a rerun, or two tasks checking at once, send an alert once; a worker killed between claim and
   send loses that one notification, and the next digest lists the alert all the same.
3. :func:`claim_digest`: once per UTC day, the open alerts notified on an earlier day, in one notification. The
   day's row (``condition='daily_digest'``, ``subject`` = the day) is the claim; :func:`release_digest` undoes it.

No Airflow here: the operator passes a ``send(title, body)`` callable (:func:`notify_round`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine, Row

from fb_commerce.orders.alerts import OrderAlert
from fb_commerce.warehouse.schema import fb_alerts
from fb_commerce.warehouse.upsert import upsert

DIGEST = "daily_digest"
#: lines in one notification; the rest is counted (every alert is in fb_alerts)
MAX_LINES = 50

Send = Callable[[str, str], None]


@dataclass
class AlertRound:
    """What one round did: alerts open now, those notified now, resolved, and the digest sent (its day)."""

    open: int = 0
    resolved: int = 0
    new: list[OrderAlert] = field(default_factory=list)
    digest_day: dt.date | None = None
    digest: list[OrderAlert] = field(default_factory=list)


def _alert(row: Row) -> OrderAlert:
    return OrderAlert(row.condition, row.order_id, row.merchant_order_reference, row.detail or "", subject=row.subject)


def record(engine: Engine, found: Sequence[OrderAlert], *, rules: Iterable[str], now: dt.datetime) -> AlertRound:
    """Store what the rules in ``rules`` found at ``now``; resolve their open alerts not found any more."""
    rules = set(rules)
    found = [alert for alert in found if alert.rule in rules]
    keys = {alert.key for alert in found}
    subjects = sorted({subject for _, subject in keys})
    known = sa.select(fb_alerts).where(
        fb_alerts.c.condition.in_(sorted(rules)),
        sa.or_(fb_alerts.c.resolved_at.is_(None), fb_alerts.c.subject.in_(subjects)),
    )
    with engine.begin() as connection:
        rows = {(row.condition, row.subject): row for row in connection.execute(known)}
        is_open = {key for key, row in rows.items() if row.resolved_at is None}
        seen, fresh = [], []
        for alert in found:
            values = {
                "condition": alert.rule,
                "subject": alert.key[1],
                "order_id": alert.order_id,
                "merchant_order_reference": alert.reference,
                "detail": alert.detail,
                "last_seen_at": now,
            }
            if alert.key in is_open:
                seen.append(values)
            else:  # new, or back after it was resolved: a new occurrence, notified again
                fresh.append({**values, "first_seen_at": now, "notified_at": None, "resolved_at": None})
        if seen:  # an UPDATE: an upsert's insert half would need the columns these rows keep
            connection.execute(
                sa.update(fb_alerts)
                .where(
                    fb_alerts.c.condition == sa.bindparam("key_condition"),
                    fb_alerts.c.subject == sa.bindparam("key_subject"),
                )
                .values(
                    {name: sa.bindparam(f"new_{name}") for name in seen[0] if name not in ("condition", "subject")}
                ),
                [
                    {
                        "key_condition": v["condition"],
                        "key_subject": v["subject"],
                        **{f"new_{k}": value for k, value in v.items() if k not in ("condition", "subject")},
                    }
                    for v in seen
                ],
            )
        if fresh:
            upsert(connection, fb_alerts, fresh)
        gone = sorted(is_open - keys)
        for condition in sorted({condition for condition, _ in gone}):
            connection.execute(
                sa.update(fb_alerts)
                .where(
                    fb_alerts.c.condition == condition,
                    fb_alerts.c.subject.in_([subject for c, subject in gone if c == condition]),
                )
                .values(resolved_at=now)
            )
    return AlertRound(open=len(keys), resolved=len(gone))


def _open(*conditions: sa.ColumnElement[bool]) -> sa.Select:
    return (
        sa.select(fb_alerts)
        .where(fb_alerts.c.resolved_at.is_(None), fb_alerts.c.condition != DIGEST, *conditions)
        .order_by(fb_alerts.c.condition, fb_alerts.c.first_seen_at, fb_alerts.c.subject)
    )


def claim_new(engine: Engine, *, now: dt.datetime) -> list[OrderAlert]:
    """The open alerts never notified, each marked notified at ``now`` (a row another task claimed is left)."""
    claimed = []
    with engine.begin() as connection:
        for row in connection.execute(_open(fb_alerts.c.notified_at.is_(None))).all():
            taken = connection.execute(
                sa.update(fb_alerts)
                .where(
                    fb_alerts.c.condition == row.condition,
                    fb_alerts.c.subject == row.subject,
                    fb_alerts.c.notified_at.is_(None),
                )
                .values(notified_at=now)
            )
            if taken.rowcount == 1:
                claimed.append(_alert(row))
    return claimed


def release(engine: Engine, alerts: Iterable[OrderAlert]) -> None:
    """Undo :func:`claim_new` for ``alerts`` (their notification failed): the next round sends them."""
    with engine.begin() as connection:
        for alert in alerts:
            condition, subject = alert.key
            connection.execute(
                sa.update(fb_alerts)
                .where(fb_alerts.c.condition == condition, fb_alerts.c.subject == subject)
                .values(notified_at=None)
            )


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def claim_digest(engine: Engine, *, now: dt.datetime) -> list[OrderAlert]:
    """Today's digest (UTC): the open alerts notified before today, once a day; empty when none or sent."""
    day = now.astimezone(dt.UTC).date()
    with engine.connect() as connection:
        if connection.execute(
            sa.select(fb_alerts.c.subject).where(
                fb_alerts.c.condition == DIGEST, fb_alerts.c.subject == day.isoformat()
            )
        ).first():
            return []
        rows = connection.execute(_open(fb_alerts.c.notified_at < _day_start(day))).all()
    if not rows:
        return []
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.insert(fb_alerts).values(
                    condition=DIGEST,
                    subject=day.isoformat(),
                    detail=f"{len(rows)} alerts still open",
                    first_seen_at=now,
                    last_seen_at=now,
                    notified_at=now,
                    resolved_at=now,
                )
            )
    except sa.exc.IntegrityError:  # another task claimed today's digest first
        return []
    return [_alert(row) for row in rows]


def release_digest(engine: Engine, *, now: dt.datetime) -> None:
    """Undo :func:`claim_digest` (the notification failed): the next round sends today's digest."""
    day = now.astimezone(dt.UTC).date().isoformat()
    with engine.begin() as connection:
        connection.execute(sa.delete(fb_alerts).where(fb_alerts.c.condition == DIGEST, fb_alerts.c.subject == day))


def _lines(alerts: Sequence[OrderAlert]) -> str:
    lines = [f"- {alert.line()}" for alert in alerts[:MAX_LINES]]
    if len(alerts) > MAX_LINES:
        lines.append(f"... and {len(alerts) - MAX_LINES} more (table fb_alerts)")
    return "\n".join(lines)


def new_alerts_message(alerts: Sequence[OrderAlert]) -> tuple[str, str]:
    """Title and body of the notification of new alerts."""
    title = f"fb-commerce: {len(alerts)} new alert{'s' if len(alerts) != 1 else ''}"
    return title, _lines(alerts) + "\n\nEach alert is sent once; a daily digest lists those still open."


def digest_message(day: dt.date, alerts: Sequence[OrderAlert]) -> tuple[str, str]:
    """Title and body of the daily digest."""
    title = (
        f"fb-commerce daily digest {day.isoformat()}: {len(alerts)} alert{'s' if len(alerts) != 1 else ''} still open"
    )
    return title, _lines(alerts)


def notify_round(
    engine: Engine, found: Sequence[OrderAlert], *, rules: Iterable[str], now: dt.datetime, send: Send
) -> AlertRound:
    """Record ``found``, send the new alerts and the day's digest through ``send``; raise what ``send`` raised
    after releasing its claim, so the next round sends it again."""
    result = record(engine, found, rules=rules, now=now)
    result.new = claim_new(engine, now=now)
    if result.new:
        try:
            send(*new_alerts_message(result.new))
        except Exception:
            release(engine, result.new)
            raise
    result.digest = claim_digest(engine, now=now)
    if result.digest:
        result.digest_day = now.astimezone(dt.UTC).date()
        try:
            send(*digest_message(result.digest_day, result.digest))
        except Exception:
            release_digest(engine, now=now)
            raise
    return result
