"""The write service's database connections: one per write, the schema checked by the first.

A connection is opened per write and closed after it, as a reader's would be: one
kept across writes would hold on to a -wal file that was removed or replaced under
it, and write into it. But only the first write (and the first after a failure)
migrates: checking the migrations reads every migration file and runs several
statements, each giving up Python's GIL, which a write then waits to get back while
request threads are busy.
"""

from __future__ import annotations

from pathlib import Path

from indexer.database import Connection, Database


class WriteConnections:
    """Read-write connections to `db_path` for the write service."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.migrated = False  # a connection of ours applied (or found) every migration

    def open(self, busy_timeout_ms: int) -> Connection:
        """A connection waiting `busy_timeout_ms` for another writer's lock (the caller
        closes it). :raise SqliteError: it cannot be opened (or migrated)."""
        conn = Database(self.db_path).open_writer(
            migrate=not self.migrated, busy_timeout_ms=busy_timeout_ms
        )
        self.migrated = True
        return conn

    def failed(self) -> None:
        """A write could not load the database: the next connection checks the schema."""
        self.migrated = False
