"""indexer.database.Database on real files: opening, snapshots, limits, error classes."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from indexer.database import BUSY_TIMEOUT_MS, Database, SqliteError, classify_error
from indexer.migrate import MigrationError
from indexer.store_errors import QueryTooExpensive, StoreUnavailable
from searchsvc import exceptions

# Counts to 100 million, one VM step at a time: seconds of work, nothing stored.
SLOW_QUERY = (
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000000) "
    "SELECT count(*) FROM n"
)
ADD_FILE = (
    "INSERT INTO lupo_dialog_files (file_path, file_type, entry_count, section_count, "
    "content_hash, size_bytes, mtime_ns, last_sync_utc, problems_json) "
    "VALUES (?, 'dialog', 0, 0, 'h', 0, 0, 20260101000000, '[]')"
)


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    """An empty database with every migration applied."""
    path = tmp_path / "dialogs.db"
    Database(path).open_writer().close()
    return path


def reason_of(database: Database) -> str:
    with pytest.raises(StoreUnavailable) as raised, database.reading():
        pass
    return raised.value.reason


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (sqlite3.OperationalError("database is locked"), "locked"),
        (sqlite3.OperationalError("database table is locked: x"), "locked"),
        (sqlite3.OperationalError("unable to open database file"), "missing"),
        (sqlite3.OperationalError("no such table: lupo_dialog_entries"), "empty"),
        (sqlite3.OperationalError("interrupted"), "timeout"),
        (sqlite3.OperationalError("disk I/O error"), "error"),
        (sqlite3.DatabaseError("file is not a database"), "corrupt"),
        (sqlite3.DatabaseError("database disk image is malformed"), "corrupt"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "corrupt"),
    ],
)
def test_sqlite_errors_are_classified_by_reason(error: Exception, reason: str) -> None:
    unavailable = classify_error(error)
    assert isinstance(unavailable, StoreUnavailable) and unavailable.reason == reason
    assert Database.classify_error(error).reason == reason


def test_classification_follows_causes_and_ignores_other_errors() -> None:
    wrapped = MigrationError("0009_x.sql: database is locked")
    wrapped.__cause__ = sqlite3.OperationalError("database is locked")
    assert classify_error(wrapped).reason == "locked"
    assert classify_error(ValueError("not a database error")) is None
    assert classify_error(OSError("disk full")) is None


def test_the_store_errors_are_the_domain_tree_s_own() -> None:
    assert exceptions.StoreUnavailable is StoreUnavailable
    assert exceptions.QueryTooExpensive is QueryTooExpensive
    assert issubclass(StoreUnavailable, exceptions.Unavailable)
    assert issubclass(QueryTooExpensive, exceptions.QueryError)
    assert issubclass(QueryTooExpensive, ValueError)


def test_open_writer_creates_a_migrated_wal_database(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = Database(path).open_writer()
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] > 0
        assert not conn.in_transaction  # autocommit: the caller begins
    finally:
        conn.close()


def test_open_writer_waits_as_told_once_migrated(migrated: Path) -> None:
    conn = Database(migrated).open_writer(busy_timeout_ms=0)
    try:
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 0
    finally:
        conn.close()


def test_open_writer_without_migrations_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(SqliteError):
        Database(tmp_path / "absent.db").open_writer(migrate=False)
    assert not (tmp_path / "absent.db").exists()


def test_open_reader_creates_nothing_and_refuses_writes(tmp_path: Path, migrated: Path) -> None:
    assert Database(tmp_path / "absent.db").open_reader() is None
    assert not (tmp_path / "absent.db").exists()
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    assert Database(other).open_reader() is None  # SQLite, but no dialog tables
    conn = Database(migrated).open_reader()
    assert conn is not None
    try:
        with pytest.raises(SqliteError, match="readonly"):
            conn.execute(ADD_FILE, ("a.md",))
    finally:
        conn.close()


def test_a_request_s_connection_refuses_writes(migrated: Path) -> None:
    database = Database(migrated)
    with pytest.raises(StoreUnavailable), database.reading() as (conn, _):
        conn.execute(ADD_FILE, ("a.md",))
    with database.reading() as (conn, _):
        assert conn.execute("SELECT count(*) FROM lupo_dialog_files").fetchone()[0] == 0
    database.close()


def test_backup_and_checkpoint(migrated: Path) -> None:
    database = Database(migrated)
    conn = database.open_writer()
    try:
        conn.execute(ADD_FILE, ("a.md",))
        assert database.checkpoint(conn, wait_ms=100)
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    finally:
        conn.close()
    copy = database.backup(stamp=20260101120000)
    assert copy is not None and copy.name == "dialogs.db.bak-20260101120000"
    assert not copy.with_name(copy.name + ".partial").exists()
    reader = Database(copy).open_reader()
    try:
        assert reader.execute("SELECT file_path FROM lupo_dialog_files").fetchall() == [("a.md",)]
    finally:
        reader.close()
    wal = Path(f"{migrated}-wal")
    wal_bytes = wal.stat().st_size if wal.exists() else 0
    assert database.size_bytes() == migrated.stat().st_size + wal_bytes
    assert Database(migrated.with_name("absent.db")).size_bytes() is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "missing"),
        (b"", "empty"),
        (b"this is not a database at all, just some text " * 100, "corrupt"),
        (b"SQLite format 3\x00" + b"\x00" * 4080, "corrupt"),
    ],
)
def test_a_bad_file_gives_its_reason(tmp_path: Path, content: bytes | None, reason: str) -> None:
    path = tmp_path / "dialogs.db"
    if content is not None:
        path.write_bytes(content)
    assert reason_of(Database(path)) == reason


def test_a_sqlite_file_without_the_dialog_tables_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "dialogs.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    assert reason_of(Database(path)) == "empty"


def test_a_path_that_cannot_be_read_is_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "dialogs.db"
    folder.mkdir()
    assert reason_of(Database(folder)) == "unreadable"


def test_a_locked_database_is_unavailable_after_the_busy_timeout(migrated: Path) -> None:
    database = Database(migrated, busy_timeout_ms=50)
    locker = sqlite3.connect(migrated, isolation_level=None)
    try:
        locker.execute("PRAGMA locking_mode = EXCLUSIVE")
        locker.execute("BEGIN EXCLUSIVE")
        locker.execute(ADD_FILE, ("a.md",))
        assert reason_of(database) == "locked"
    finally:
        locker.execute("COMMIT")
        locker.close()
    with database.reading() as (conn, _):
        assert conn.execute("SELECT count(*) FROM lupo_dialog_files").fetchone()[0] == 1
    database.close()


def test_the_time_limit_stops_a_slow_query_on_a_healthy_database(migrated: Path) -> None:
    database = Database(migrated, time_limit_ms=50)
    with pytest.raises(QueryTooExpensive) as raised, database.reading() as (conn, _):
        conn.execute(SLOW_QUERY).fetchone()
    assert "50 ms" in str(raised.value)
    with database.reading() as (conn, _):  # the connection still answers
        assert conn.execute("SELECT 1").fetchone() == (1,)
    database.close()


def test_a_request_may_be_given_more_time(migrated: Path) -> None:
    database = Database(migrated, time_limit_ms=1)
    with database.reading(time_limit=30.0) as (conn, _):
        assert conn.execute("SELECT count(*) FROM lupo_dialog_files").fetchone() == (0,)
    database.close()


def test_the_generation_changes_only_when_the_database_does(migrated: Path) -> None:
    database = Database(migrated)
    with database.reading() as (_, first):
        pass
    with database.reading() as (_, again):
        pass
    assert again == first
    writer = database.open_writer()
    writer.execute(ADD_FILE, ("a.md",))
    writer.close()
    with database.reading() as (conn, changed):
        assert conn.execute("SELECT count(*) FROM lupo_dialog_files").fetchone()[0] == 1
    assert changed != first
    database.close()


def test_a_request_reads_one_snapshot(migrated: Path) -> None:
    database = Database(migrated)
    writer = database.open_writer()
    try:
        with database.reading() as (conn, _):
            before = conn.execute("SELECT count(*) FROM lupo_dialog_files").fetchone()[0]
            writer.execute(ADD_FILE, ("a.md",))
            during = conn.execute("SELECT count(*) FROM lupo_dialog_files").fetchone()[0]
        with database.reading() as (conn, _):
            after = conn.execute("SELECT count(*) FROM lupo_dialog_files").fetchone()[0]
    finally:
        writer.close()
        database.close()
    assert (before, during, after) == (0, 0, 1)


def test_each_thread_reads_through_its_own_connection(migrated: Path) -> None:
    database = Database(migrated)
    seen: list[int] = []

    def read() -> None:
        with database.reading() as (conn, _):
            seen.append(id(conn))

    with database.reading() as (conn, _):
        seen.append(id(conn))
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
    assert len(set(seen)) == 2
    database.close()


def _open_files_of(path: Path) -> int:
    """How many of this process's file descriptors are open on `path` or its -wal/-shm."""
    fds = Path("/proc/self/fd")
    names = {str(path), f"{path}-wal", f"{path}-shm"}
    count = 0
    for fd in fds.iterdir():
        try:
            count += str(fd.readlink()) in names
        except OSError:
            pass  # closed meanwhile
    return count


def test_the_connections_of_threads_that_ended_are_closed(migrated: Path) -> None:
    """A thread's connection lives in its thread-local; once the thread ends it is closed
    (at the next connection opened), so short-lived threads leak no descriptors."""
    database = Database(migrated.absolute())

    def read() -> None:
        with database.reading() as (conn, _):
            conn.execute("SELECT 1").fetchone()

    with database.reading():
        pass  # this thread's connection
    held = _open_files_of(migrated.absolute())
    for _ in range(20):
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
    with database.reading():
        pass
    assert len(database._connections) == 2  # this thread's, and the last thread's
    assert _open_files_of(migrated.absolute()) <= 2 * held
    database.close()


def test_close_leaves_a_busy_connection_to_its_request(migrated: Path) -> None:
    database = Database(migrated)
    with database.reading() as (conn, _):
        database.close()
        assert conn.execute("SELECT count(*) FROM lupo_dialog_files").fetchone() == (0,)
    with database.reading() as (conn, _):  # a new connection after close()
        assert conn.execute("SELECT 1").fetchone() == (1,)
    database.close()


def test_a_replaced_file_is_reopened(tmp_path: Path, migrated: Path) -> None:
    database = Database(migrated)
    with database.reading() as (conn, _):
        assert conn.execute("SELECT count(*) FROM lupo_dialog_files").fetchone()[0] == 0
    fresh = tmp_path / "fresh.db"
    writer = Database(fresh).open_writer()
    writer.execute(ADD_FILE, ("a.md",))
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{migrated}{suffix}").unlink(missing_ok=True)
    fresh.replace(migrated)
    with database.reading() as (conn, _):
        assert conn.execute("SELECT count(*) FROM lupo_dialog_files").fetchone()[0] == 1
    database.close()
