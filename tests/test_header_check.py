"""The database file's header check keeps this process's SQLite locks (indexer.header_check).

POSIX locks belong to the process: a header read by open() and close() dropped the
SHARED lock every WAL connection of ours holds on the database file. Another process
closing its last connection then found no other reader, checkpointed and removed the
-wal file our connections still used: a malformed database (the fault suite's
`rm dialogs.db`, now and then). Here a second process closes a connection after the
check, and the -wal file must still be there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from indexer.database import Database
from indexer.store_errors import StoreUnavailable

OTHER_PROCESS = (
    "import sqlite3, sys\n"
    "conn = sqlite3.connect(sys.argv[1])\n"
    "conn.execute('SELECT count(*) FROM lupo_dialog_files').fetchone()\n"
    "conn.close()\n"
)
ADD_FILE = (
    "INSERT INTO lupo_dialog_files (file_path, file_type, entry_count, section_count, "
    "content_hash, size_bytes, mtime_ns, last_sync_utc, problems_json) "
    "VALUES ('a.md', 'dialog', 0, 0, 'h', 0, 0, 20260101000000, '[]')"
)


def close_elsewhere(path: Path) -> None:
    subprocess.run([sys.executable, "-c", OTHER_PROCESS, str(path)], check=True)


def test_a_header_check_keeps_the_locks_that_keep_our_wal(tmp_path: Path) -> None:
    path = tmp_path / "dialogs.db"
    writer = Database(path).open_writer()
    writer.execute(ADD_FILE)
    database = Database(path)
    with database.reading() as (conn, _):
        assert conn.execute("SELECT count(*) FROM lupo_dialog_files").fetchone() == (1,)
    wal = Path(f"{path}-wal")
    close_elsewhere(path)
    assert wal.exists(), "our open connections keep the WAL before any header check"

    for _ in range(3):  # each time the file changes, the header is read again
        database._checked_stamp = None
        with database.reading() as (conn, _):
            conn.execute("SELECT 1").fetchone()
        close_elsewhere(path)
        assert wal.exists(), "a header check dropped this process's locks"
    writer.execute(ADD_FILE.replace("a.md", "b.md"))
    with database.reading() as (conn, _):
        assert conn.execute("SELECT count(*) FROM lupo_dialog_files").fetchone() == (2,)
    assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
    database.close()
    writer.close()


def test_a_file_that_is_not_sqlite_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "dialogs.db"
    path.write_bytes(b"# not a database\n" * 100)
    with pytest.raises(StoreUnavailable) as raised, Database(path).reading():
        pass
    assert raised.value.reason == "corrupt"
    assert "not a SQLite database" in str(raised.value)
