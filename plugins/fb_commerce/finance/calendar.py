"""The finance calendar: the merchant's time zone, the first day to load, and the window a nightly run reads.

Read by the DAG file at parse time, so: environment variables only, no I/O, standard library only.

- ``FB_COMMERCE_TIMEZONE``: the merchant's IANA time zone (default ``UTC``); the business day runs from
  midnight to midnight there.
- ``FB_COMMERCE_FINANCE_START``: the first business day loaded (``YYYY-MM-DD``, default 2026-01-01); catchup
  runs every day from there.
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo
from collections.abc import Mapping

TIMEZONE_ENV = "FB_COMMERCE_TIMEZONE"
START_ENV = "FB_COMMERCE_FINANCE_START"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_START = dt.date(2026, 1, 1)
#: transactions change for up to 3 business days after the fact (docs/graph-api.md §3): read 5 days again
DEFAULT_LOOKBACK_DAYS = 5


def merchant_timezone(environ: Mapping[str, str] | None = None) -> str:
    """The merchant's time zone name, checked against the zone database (a typo fails the DAG's import)."""
    name = ((environ if environ is not None else os.environ).get(TIMEZONE_ENV) or "").strip() or DEFAULT_TIMEZONE
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{TIMEZONE_ENV}={name!r} is not a time zone (e.g. UTC, America/New_York)") from None
    return name


def finance_start(environ: Mapping[str, str] | None = None) -> dt.datetime:
    """Midnight of the first business day, in the merchant's time zone."""
    env = environ if environ is not None else os.environ
    text = (env.get(START_ENV) or "").strip()
    try:
        day = dt.date.fromisoformat(text) if text else DEFAULT_START
    except ValueError:
        raise ValueError(f"{START_ENV}={text!r} is not a date (YYYY-MM-DD)") from None
    return dt.datetime.combine(day, dt.time(), tzinfo=zoneinfo.ZoneInfo(merchant_timezone(env)))


def last_complete_day(now: dt.datetime, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The data interval of the last business day that has ended at ``now`` (merchant time), in UTC: what a run
    without a data interval (triggered from the form with no logical date) covers."""
    zone = zoneinfo.ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    start = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(), tzinfo=zone)
    end = dt.datetime.combine(today, dt.time(), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def run_interval(
    interval_start: dt.datetime | None, interval_end: dt.datetime | None, timezone: str, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The run's data interval, or the last complete day at ``now`` when it has none (triggered from the form
    with no logical date)."""
    if interval_start is None or interval_end is None:
        return last_complete_day(now, timezone)
    return interval_start, interval_end


def last_day_end(interval_end: dt.datetime, timezone: str) -> dt.datetime:
    """Midnight (merchant time, as UTC) ending the run's last business day: what its orders must be stored up to."""
    zone = zoneinfo.ZoneInfo(timezone)
    end_local = interval_end.astimezone(zone)
    last = end_local.date() if end_local.time() == dt.time() else end_local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(last, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def run_window(
    interval_start: dt.datetime, interval_end: dt.datetime, timezone: str, lookback_days: int
) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` in UTC a run reads: from midnight (merchant time) of its first day minus the look-back, to
    midnight of the day its data interval ends in (its last business day included)."""
    zone = zoneinfo.ZoneInfo(timezone)
    first = dt.datetime.combine(
        interval_start.astimezone(zone).date() - dt.timedelta(days=lookback_days), dt.time(), tzinfo=zone
    )
    end = max(last_day_end(interval_end, timezone), (first + dt.timedelta(days=1)).astimezone(dt.UTC))
    return first.astimezone(dt.UTC), end
