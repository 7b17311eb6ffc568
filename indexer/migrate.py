"""Apply the numbered schema migrations in sql/NNNN_*.sql, each exactly once.

Each migration runs in its own transaction together with the row that records it
in `schema_migrations`, so a migration that fails rolls back completely and stays
pending for the next run. The `schema_migrations` table itself is created here:
it is the bookkeeping that every other migration depends on.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

MIGRATION_NAME = re.compile(r"^(\d{4})_[A-Za-z0-9_]+\.sql$")

CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name       TEXT    PRIMARY KEY,   -- file name without .sql, e.g. 0001_create_dialog_tables
    applied_at INTEGER NOT NULL       -- YYYYMMDDHHMMSS, UTC
)
"""
SELECT_APPLIED = "SELECT name FROM schema_migrations"
RECORD_APPLIED = "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)"


class MigrationError(Exception):
    """A migration failed; it was rolled back and stays pending."""


def utc_stamp(moment: datetime | None = None) -> int:
    """`moment` (default: now) as the integer YYYYMMDDHHMMSS in UTC."""
    moment = moment or datetime.now(UTC)
    return int(moment.astimezone(UTC).strftime("%Y%m%d%H%M%S"))


def migration_files(directory: Traversable | Path | None = None) -> list[tuple[str, str]]:
    """(name, sql) of every NNNN_*.sql migration, in number order."""
    directory = directory if directory is not None else files("dialogsearch_sql")
    found = []
    for item in directory.iterdir():
        match = MIGRATION_NAME.match(item.name)
        if match:
            found.append((int(match.group(1)), item.name[: -len(".sql")], item))
    found.sort(key=lambda found_item: (found_item[0], found_item[1]))
    return [(name, item.read_text(encoding="utf-8")) for _, name, item in found]


def pending_migrations(
    conn: sqlite3.Connection, directory: Traversable | Path | None = None
) -> list[str]:
    """Names of the migrations not yet recorded in `conn`, in number order."""
    applied = _applied(conn) if _has_migrations_table(conn) else set()
    return [name for name, _ in migration_files(directory) if name not in applied]


def apply_migrations(
    conn: sqlite3.Connection, directory: Traversable | Path | None = None
) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; return the names applied.

    Raises MigrationError (after rolling that migration back) when one fails.
    """
    if conn.in_transaction:
        raise MigrationError("apply_migrations needs a connection outside any transaction")
    saved_isolation = conn.isolation_level
    conn.isolation_level = None  # we issue BEGIN/COMMIT ourselves
    try:
        conn.execute(CREATE_SCHEMA_MIGRATIONS)
        applied = _applied(conn)
        done = []
        for name, sql in migration_files(directory):
            if name in applied:
                continue
            _apply_one(conn, name, sql)
            done.append(name)
        return done
    finally:
        conn.isolation_level = saved_isolation


def _apply_one(conn: sqlite3.Connection, name: str, sql: str) -> None:
    """Run one migration's statements and record it, all in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-check inside the write lock: another process may have applied it meanwhile.
        if conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone():
            conn.execute("COMMIT")
            return
        for statement in split_statements(sql):
            conn.execute(statement)
        conn.execute(RECORD_APPLIED, (name, utc_stamp()))
        conn.execute("COMMIT")
    except sqlite3.Error as error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise MigrationError(
            f"{name}.sql: {error} (fix the migration; nothing was applied)"
        ) from error


def split_statements(sql: str) -> Iterator[str]:
    """The complete SQL statements of a script (trigger bodies kept whole), comments included.

    sqlite3.executescript() would COMMIT before running, which breaks the one
    transaction per migration, so the script is fed statement by statement.
    """
    pending = ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if _strip_comments(pending):
        raise sqlite3.OperationalError(f"incomplete SQL statement at the end: {pending.strip()!r}")


def _strip_comments(sql: str) -> str:
    """The text of `sql` without `--` line comments and blank space (for the trailing check)."""
    return "".join(line.split("--", 1)[0] for line in sql.splitlines()).strip()


def _has_migrations_table(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    return row is not None


def _applied(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute(SELECT_APPLIED)}
