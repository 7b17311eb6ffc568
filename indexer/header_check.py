"""Whether a database file is SQLite, asked of SQLite itself: never by open() and close().

POSIX record locks belong to a process and a file, not to a descriptor: closing *any*
descriptor the process has on the database file drops every lock the process holds on
it (fcntl(2)), SQLite's too. A header read by `open(path).read(16)` therefore let
another process take the write lock in the middle of our transaction, or find no
reader and checkpoint and remove a WAL our connections still used (a malformed
database after `rm dialogs.db` and a rebuild, seen in the fault suite). SQLite's own
file layer knows the rule: a connection closed while others in the process hold locks
on the same file keeps its descriptor open until they are released. So the check is a
short-lived read-only connection that reads the header page.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from indexer.store_errors import StoreUnavailable


def check_header(path: Path, busy_timeout_ms: int) -> None:
    """StoreUnavailable("corrupt") when the file at `path` is not a SQLite database.

    Other SQLite errors (a lock held past the timeout, a file gone meanwhile) are raised
    as they are, for the caller's classification.
    """
    try:
        conn = sqlite3.connect(
            f"{path.as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=busy_timeout_ms / 1000,
        )
    except sqlite3.OperationalError:
        if not path.exists():
            raise StoreUnavailable("the database file is missing", "missing") from None
        raise StoreUnavailable("the database file cannot be read", "unreadable") from None
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as error:
        if "not a database" in str(error).lower():
            raise StoreUnavailable(
                "the database file is not a SQLite database", "corrupt"
            ) from None
        raise
    finally:
        conn.close()
