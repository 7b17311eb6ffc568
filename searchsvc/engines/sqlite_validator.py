"""Check an FTS5 expression before the database runs it: on an empty in-memory table.

A bad raw expression is then a QueryError naming FTS5's reason (a 400 that repeats the
query), and never reaches the database's read transaction.
"""

from __future__ import annotations

import threading

from indexer.database import Connection, SqliteError, open_memory
from searchsvc.engines import sqlite_sql as sql
from searchsvc.query.fts_query import QueryError


class FtsValidator(threading.local):
    """Each thread's in-memory FTS5 table with the searchable columns."""

    conn: Connection | None = None

    def check(self, expression: str, text: str) -> None:
        """:raise QueryError: FTS5 rejects `expression` (`text` is the user's q)."""
        conn = self.conn
        if conn is None:
            conn = self.conn = open_memory()
            conn.execute(sql.VALIDATOR_SCHEMA)
        try:
            conn.execute(sql.VALIDATE, (expression,)).fetchall()
        except SqliteError as error:
            raise QueryError(str(error), text) from error
