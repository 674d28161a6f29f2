"""The finance views and their migrations stay in step.

A view is created by a migration from a snapshot of its SQL (``VIEWS`` in the revision), never from the file at run
time: a migration is history. So each ``include/sql/finance/views/<name>.sql`` must equal the newest revision's
snapshot of that view; editing a view means adding a revision that drops and creates it again from the new text.
"""

from __future__ import annotations

import re
from pathlib import Path

from fb_commerce.warehouse import migrate

VIEWS_DIR = Path(__file__).resolve().parents[2] / "include" / "sql" / "finance" / "views"


def newest_snapshots() -> dict[str, tuple[str, str]]:
    """View name -> (revision, SQL) of the newest revision that snapshots it."""
    script = migrate._script()
    found: dict[str, tuple[str, str]] = {}
    for revision in reversed(list(script.walk_revisions())):  # base first, head last
        for name, sql in getattr(revision.module, "VIEWS", {}).items():
            found[name] = (revision.revision, sql)
    return found


def test_every_view_file_equals_its_newest_migration_snapshot() -> None:
    files = {path.stem: path.read_text(encoding="utf-8") for path in VIEWS_DIR.glob("*.sql")}
    snapshots = newest_snapshots()
    assert set(files) == set(snapshots), "a view file without a migration, or a migrated view without its file"
    stale = [
        f"{name}.sql differs from revision {revision}: add a revision that recreates it from the new text"
        for name, (revision, sql) in sorted(snapshots.items())
        if files[name] != sql
    ]
    assert stale == []


def test_view_sql_is_the_same_on_every_database() -> None:
    """No time-zone math, date arithmetic or JSON functions of one dialect: bounds come in as parameters."""
    dialect_only = re.compile(
        r"AT TIME ZONE|::|\bjulianday\b|\bstrftime\b|\bdate_trunc\b|\bjson_\w+|\bjsonb_\w+|\bnow\(\)|"
        r"\bcurrent_(date|timestamp)\b|\binterval\b",
        re.IGNORECASE,
    )
    for path in VIEWS_DIR.glob("*.sql"):
        code = "\n".join(line.split("--", 1)[0] for line in path.read_text().splitlines())
        assert not dialect_only.search(code), path.name
