"""Reading the database file's header keeps SQLite's locks (indexer/file_header.py).

POSIX drops every lock a process holds on a file when it closes any descriptor of that
file: the service's header check (open, read, close) let another process write in the
middle of the service's own transaction in rollback-journal mode (a first load).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from indexer.database import SQLITE_HEADER, Database
from indexer.file_header import HeaderReader

TRY_TO_WRITE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    conn.execute("BEGIN IMMEDIATE")
    print("took the write lock")
except sqlite3.OperationalError as error:
    print(error)
"""


def other_process_writes(db: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", TRY_TO_WRITE, str(db)], capture_output=True, text=True, timeout=60
    )
    return done.stdout.strip()


def test_the_header_check_leaves_a_writers_lock_in_place(tmp_path: Path) -> None:
    db = tmp_path / "dialogs.db"
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA journal_mode = DELETE")  # as a first load writes
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    assert other_process_writes(db) == "database is locked"
    database = Database(db)
    for _ in range(3):  # the file changes under the reads: each one checks the header again
        database._checked_stamp = None
        database._check_file()
    assert other_process_writes(db) == "database is locked"
    # What the check did before: open() and close() drop the lock.
    with open(db, "rb") as handle:
        handle.read(16)
    assert other_process_writes(db) == "took the write lock"
    writer.execute("ROLLBACK")
    writer.close()


def test_one_descriptor_per_file_replaced_when_the_file_is(tmp_path: Path) -> None:
    db = tmp_path / "dialogs.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
    reader = HeaderReader(db)
    assert reader.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    first = reader._kept
    assert reader.read(4) == b"SQLi" and reader._kept == first  # the same descriptor
    replacement = tmp_path / "new.db"
    replacement.write_bytes(b"not a database at all")
    replacement.replace(db)
    assert reader.read(3) == b"not"
    assert reader._kept is not None and first is not None and reader._kept[0] != first[0]
