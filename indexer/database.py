"""Database: the one way in to a SQLite database file, as Datasette's `Database` class.

It owns how the file is opened and what its failures mean; every other module asks it:

- `open_writer()`: read-write, created (side files of a deleted one set aside first:
  indexer.side_files) and migrated when needed: WAL, synchronous NORMAL, foreign keys,
  cell_size_check, a busy timeout; callers BEGIN and COMMIT. `open_reader()`: read-only,
  creating nothing. `backup()`, `checkpoint()`: a copy, the WAL's space given back.
- `reading()`: the service's reads. One read-only connection per thread, reopened
  when the file is replaced; one read transaction (snapshot) per request; a time
  limit (a progress handler); no memory-mapped reads. Before each read the file
  must still exist under its path with the inode we opened (an open connection to
  an unlinked file does not count), and a changed file must still start with the
  SQLite header. A failure is raised as StoreUnavailable with a `reason`:

      missing     the file is not there, or cannot be opened
      empty       a zero-byte file, or one without the dialog tables
      corrupt     not a SQLite file, damaged pages, or text that is not UTF-8
      unreadable  the file cannot be read (permissions, I/O)
      locked      a lock held past the busy timeout
      timeout     the time limit passed and the database itself is slow
      behind      the -wal file was removed or replaced under open connections
      busy        close() kept resetting the connections
      error       any other SQLite failure

  A query stopped by the time limit while the database answers a trivial query
  quickly raises QueryTooExpensive instead (the query is at fault, not the store).
  `limited_work()` bounds some statements by work instead (WorkLimitReached).
- `classify_error()`: the same StoreUnavailable for an error raised elsewhere.

Only this module (and `migrate`, which runs DDL on a connection it is given)
imports `sqlite3`; `Connection` and `SqliteError` are its names for the rest.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from indexer.header_check import check_header
from indexer.migrate import apply_migrations, utc_stamp
from indexer.side_files import set_aside_orphans
from indexer.store_errors import QueryTooExpensive, StoreUnavailable, WorkLimitReached

#: A connection to the database (for type hints elsewhere).
Connection = sqlite3.Connection
#: What SQLite raises: callers that handle a failure themselves catch this.
SqliteError = sqlite3.Error

#: How long writers and the command line wait for another writer's lock.
BUSY_TIMEOUT_MS = 10_000
#: A request's time limit and lock wait, unless the service is told otherwise.
DEFAULT_TIME_LIMIT_MS = 1500
DEFAULT_READ_BUSY_TIMEOUT_MS = 1000
#: Seconds the database gets to answer a trivial query before a stopped one is its fault.
QUICK_ANSWER_SECONDS = 0.25
#: No memory-mapped reads (mmap_size 0): a database file truncated under a mapping
#: kills the whole server with SIGBUS instead of a fallback to the files.
MMAP_BYTES = 0
#: SQLite virtual machine steps between two looks at the deadline.
PROGRESS_STEPS = 10_000

HAS_DIALOG_TABLES = (
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'lupo_dialog_entries_fts'"
)
HAS_FILE_TABLE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'lupo_dialog_files'"
#: The cheapest read that touches the dialog tables (each request starts with it).
PROBE = "SELECT count(*) FROM (SELECT 1 FROM lupo_dialog_files LIMIT 1)"


class _ThreadState(threading.local):
    """One thread's read connection and the request it is serving."""

    conn: sqlite3.Connection | None = None
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file it opened
    epoch: int = 0
    data_version: int | None = None
    deadline: float | None = None
    work_left: int | None = None  # progress-handler calls left in limited_work()


class Database:
    """One SQLite database file: its connections, read snapshots, limits and failures."""

    def __init__(
        self,
        path: str | Path,
        *,
        time_limit_ms: int = DEFAULT_TIME_LIMIT_MS,
        busy_timeout_ms: int = DEFAULT_READ_BUSY_TIMEOUT_MS,
    ) -> None:
        """`time_limit_ms` and `busy_timeout_ms` bound each request of `reading()`."""
        self.path = Path(path).absolute()
        self.time_limit = time_limit_ms / 1000
        self.busy_timeout_ms = busy_timeout_ms
        self._local = _ThreadState()
        self._lock = threading.Lock()
        # Every open read connection, and the thread it belongs to.
        self._connections: dict[sqlite3.Connection, threading.Thread] = {}
        # Connections inside reading() now: close() leaves them to their own thread, as
        # closing one under a running statement (and its progress handler) can crash.
        self._busy: set[sqlite3.Connection] = set()
        self._generation = 0
        self._epoch = 0  # bumped by close(): threads then reopen instead of using a closed one
        self._wal_inode: int | None = None  # the -wal file our open connections read through
        self._checked_stamp: tuple[int, int, int] | None = None

    @staticmethod
    def classify_error(error: BaseException) -> StoreUnavailable | None:
        """The StoreUnavailable for a database error raised elsewhere, else None (see below)."""
        return classify_error(error)

    # ---- writers, one-off readers, copies -------------------------------------------

    def open_writer(
        self, *, migrate: bool = True, busy_timeout_ms: int | None = None
    ) -> sqlite3.Connection:
        """A read-write connection in autocommit mode (callers BEGIN/COMMIT themselves).
        With `migrate` the database is created if needed, switched to WAL and migrated,
        waiting up to BUSY_TIMEOUT_MS for locks; without, the file must exist and its
        schema is left as it is. Then the connection waits `busy_timeout_ms` (default
        BUSY_TIMEOUT_MS) for another writer's lock. Raises SqliteError (or MigrationError)."""
        wait = BUSY_TIMEOUT_MS if migrate or busy_timeout_ms is None else busy_timeout_ms
        if migrate:
            set_aside_orphans(self.path)  # a new file must not take a deleted one's WAL
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=wait / 1000)
        else:
            uri = f"{self.path.as_uri()}?mode=rw"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=wait / 1000)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(wait)}")
            if migrate:
                conn.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: a crash or kill -9 never corrupts or half-applies a commit;
            # only a power cut may lose the very last commit.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA cell_size_check = ON")
            if migrate:
                apply_migrations(conn)
            if busy_timeout_ms is not None and busy_timeout_ms != wait:
                conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        except BaseException:
            conn.close()
            raise
        return conn

    def open_reader(self) -> sqlite3.Connection | None:
        """A read-only connection to the existing, migrated database; None when there is none.

        Opening it creates nothing: no database file and no migrations.
        """
        if not self.path.exists():
            return None
        conn = sqlite3.connect(
            f"{self.path.resolve().as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            has_tables = conn.execute(HAS_FILE_TABLE).fetchone()
        except BaseException:
            conn.close()
            raise
        if has_tables is None:
            conn.close()
            return None
        return conn

    def checkpoint(self, conn: sqlite3.Connection, wait_ms: int = 1000) -> bool:
        """Copy the WAL into the database and truncate it, waiting at most `wait_ms` for readers.

        A big reindex leaves a WAL as large as everything it wrote; this gives the
        space back. Returns False when readers kept it from completing (no harm done:
        SQLite checkpoints again later).
        """
        (saved,) = conn.execute("PRAGMA busy_timeout").fetchone()
        conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(saved)}")
        return busy == 0

    def backup(self, stamp: int | None = None) -> Path | None:
        """Copy the database to `<db>.bak-YYYYmmddHHMMSS` with SQLite's backup API.

        The copy is written under a `.partial` name and renamed when complete, so a
        killed backup never leaves a file that looks like a good one. Returns the
        backup's path, or None when there is no database yet.
        """
        path = self.path
        if not path.exists():
            return None
        stem = f"{path.name}.bak-{stamp if stamp is not None else utc_stamp()}"
        target = path.with_name(stem)
        number = 1
        while target.exists():
            number += 1
            target = path.with_name(f"{stem}-{number}")
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        with closing(sqlite3.connect(path)) as source, closing(sqlite3.connect(partial)) as copy:
            source.backup(copy)
        partial.replace(target)
        return target

    def size_bytes(self) -> int | None:
        """Bytes of the database file and its -wal file; None when neither exists."""
        total = None
        for suffix in ("", "-wal"):
            try:
                total = (total or 0) + os.stat(f"{self.path}{suffix}").st_size
            except OSError:
                continue
        return total

    # ---- the service's reads ----------------------------------------------------------

    @contextmanager
    def reading(self, time_limit: float | None = None) -> Iterator[tuple[sqlite3.Connection, int]]:
        """(connection, generation) for one request's reads, failures classified.

        Every statement inside sees one snapshot (one read transaction). `time_limit`
        seconds (default the Database's) bound the whole request. `generation`
        changes whenever this database changed since an earlier request (PRAGMA
        data_version): cache answers under it. Raises StoreUnavailable or
        QueryTooExpensive (see the module docstring).
        """
        local = self._local
        limit = self.time_limit if time_limit is None else time_limit
        conn = None
        try:
            conn = self._claim()
            # One read transaction per request: every statement sees the same snapshot, so
            # matches read in one statement still exist when the next reads their rows.
            before = self._generation
            conn.execute("BEGIN")
            conn.execute(PROBE).fetchone()
            generation = self._sync_generation(conn, before)
            local.deadline = time.monotonic() + limit
            yield conn, generation
        except StoreUnavailable:
            self._drop_connection()
            raise
        except sqlite3.OperationalError as error:
            if "interrupted" in str(error).lower() and self._answers_quickly():
                raise QueryTooExpensive(
                    f"The search took longer than {limit * 1000:.0f} ms and was "
                    "stopped; add words or filters, or use a longer prefix"
                ) from error
            self._drop_connection()
            raise _classify(error) from error
        except sqlite3.DatabaseError as error:
            self._drop_connection()
            raise _classify(error) from error
        except UnicodeDecodeError as error:
            # sqlite3 decodes a damaged schema's names in its error messages: not a 500.
            self._drop_connection()
            raise _corrupt_text(error) from error
        finally:
            local.deadline = None
            if conn is not None and local.conn is conn and conn.in_transaction:
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error:
                    self._drop_connection()
            if conn is not None:
                self._release(conn)

    def close(self) -> None:
        """Close every read connection (a later read opens a new one)."""
        with self._lock:
            connections, self._connections = self._connections, {}
            self._epoch += 1
            self._wal_inode = None
            idle = [conn for conn in connections if conn not in self._busy]
        for conn in idle:  # a busy one is closed by its own thread when its read ends
            conn.close()
        self._local.conn = None

    def _check_file(self) -> os.stat_result:
        """The database file's stat; StoreUnavailable when it is gone or not SQLite."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise StoreUnavailable("the database file is missing", "missing") from None
        except OSError as error:
            raise StoreUnavailable(
                f"the database file cannot be read ({error.strerror})", "unreadable"
            ) from None
        self._check_wal()  # first: the header check's own connection may make a -wal
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if stamp != self._checked_stamp:
            if stat.st_size == 0:
                raise StoreUnavailable("the database file is empty", "empty")
            check_header(self.path, self.busy_timeout_ms)
            self._checked_stamp = stamp
        return stat

    def _check_wal(self) -> None:
        """StoreUnavailable("behind") when the -wal file was removed or replaced under us.

        SQLite never deletes or replaces the WAL while another connection (ours) is
        open, so someone else did, and the commits it held are gone from the
        database: the files hold them, and recovery syncs them back.
        """
        try:
            inode: int | None = os.stat(f"{self.path}-wal").st_ino
        except OSError:
            inode = None
        with self._lock:
            seen = self._wal_inode
            if seen is not None and inode != seen and self._connections:
                raise StoreUnavailable(
                    "the database's -wal file was removed or replaced under the service; "
                    "its last commits are re-read from the files",
                    "behind",
                )
            if inode is not None or not self._connections:
                self._wal_inode = inode

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            f"{self.path.as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=self.busy_timeout_ms / 1000,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            # Check b-tree cell sizes as pages are read: a damaged page is then an
            # SQLITE_CORRUPT error (and a fallback) more often than a crash.
            conn.execute("PRAGMA cell_size_check = ON")
            conn.set_progress_handler(self._past_deadline, PROGRESS_STEPS)
            if conn.execute(HAS_DIALOG_TABLES).fetchone() is None:
                raise StoreUnavailable("the database has no dialog tables", "empty")
        except BaseException:
            conn.close()
            raise
        with self._lock:
            self._connections[conn] = threading.current_thread()
            # The connections of threads that ended (their thread-local was their only user).
            ended = [c for c, t in self._connections.items() if not t.is_alive()]
            for old in ended:
                del self._connections[old]
        for old in ended:
            old.close()
        return conn

    def _past_deadline(self) -> int:
        local, deadline = self._local, self._local.deadline
        if local.work_left is not None:
            local.work_left -= 1
        spent = local.work_left is not None and local.work_left < 0
        return 1 if spent or (deadline is not None and time.monotonic() > deadline) else 0

    @contextmanager
    def limited_work(self, steps: int) -> Iterator[None]:
        """Inside `reading()`: statements here do at most about `steps` SQLite steps (and any
        outer limit's), then WorkLimitReached, the snapshot kept: work, alike on any machine."""
        local = self._local
        outer, own = local.work_left, steps // PROGRESS_STEPS
        local.work_left = start = own if outer is None else min(own, outer)
        try:
            yield
        except sqlite3.OperationalError as error:
            stopped = (local.work_left or 0) < 0 and "interrupted" in str(error).lower()
            if not stopped or (outer is not None and outer < own):  # (the outer limit's)
                raise
            raise WorkLimitReached(f"more than {steps:,} SQLite steps") from error
        finally:
            spent = start - (local.work_left if local.work_left is not None else start)
            local.work_left = None if outer is None else outer - spent

    def _connection(self) -> sqlite3.Connection:
        stat = self._check_file()
        local = self._local
        identity = (stat.st_dev, stat.st_ino)
        if local.conn is not None and (local.identity != identity or local.epoch != self._epoch):
            self._drop_connection()
        if local.conn is None:
            local.epoch = self._epoch
            local.conn = self._open()
            local.identity = identity
            local.data_version = None
        return local.conn

    def _drop_connection(self) -> None:
        conn, self._local.conn = self._local.conn, None
        self._local.identity = None
        if conn is not None:
            with self._lock:
                self._connections.pop(conn, None)
            conn.close()

    def _sync_generation(self, conn: sqlite3.Connection, before: int) -> int:
        """The cache generation, bumped when this connection sees another's commit.

        `before` is the generation read before this request's snapshot was taken: when
        the connection saw no commit, that one (not a later bump by another thread, made
        for a newer snapshot than ours) labels what this request caches.
        """
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._local.data_version:
            with self._lock:
                self._generation += 1
                bumped = self._generation
            self._local.data_version = version
            return bumped
        return before

    def _claim(self) -> sqlite3.Connection:
        """This thread's connection, marked busy so that close() leaves it alone."""
        for _ in range(3):
            conn = self._connection()
            with self._lock:
                if conn in self._connections:
                    self._busy.add(conn)
                    return conn
            self._local.conn = None  # close() took it meanwhile: open a new one
        raise StoreUnavailable("the database connections are being reset", "busy")

    def _release(self, conn: sqlite3.Connection) -> None:
        """Unmark `conn`; close it here if close() skipped it while it was busy."""
        with self._lock:
            self._busy.discard(conn)
            orphan = conn not in self._connections
        if orphan:
            conn.close()
            if self._local.conn is conn:
                self._local.conn = None

    def _answers_quickly(self) -> bool:
        """Whether the database answers a trivial query within QUICK_ANSWER_SECONDS."""
        conn = self._local.conn
        if conn is None:
            return False
        self._local.deadline = time.monotonic() + QUICK_ANSWER_SECONDS
        try:
            conn.execute(PROBE).fetchone()
            return True
        except sqlite3.Error:
            return False


def open_memory() -> sqlite3.Connection:
    """A private in-memory database any thread may use (e.g. to check an FTS5 expression)."""
    return sqlite3.connect(":memory:", check_same_thread=False)


def classify_error(error: BaseException) -> StoreUnavailable | None:
    """The StoreUnavailable for a database error raised elsewhere (e.g. by reindex), else None.

    The error or one of its causes (a MigrationError wraps the sqlite3 error) counts;
    undecodable text read from the database is corruption.
    """
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, sqlite3.Error):
            return _classify(cause)
        if isinstance(cause, UnicodeDecodeError):
            return _corrupt_text(cause)
        cause = cause.__cause__
    return None


def _corrupt_text(error: UnicodeDecodeError) -> StoreUnavailable:
    """Text in the database (or its schema) that is not UTF-8: a damaged file."""
    return StoreUnavailable(
        f"the database is corrupt (text is not UTF-8: {error.reason})", "corrupt"
    )


def _classify(error: sqlite3.Error) -> StoreUnavailable:
    """A StoreUnavailable naming what went wrong (the message holds no file path)."""
    message = str(error)
    lowered = message.lower()
    if isinstance(error, sqlite3.OperationalError):
        if "locked" in lowered or "busy" in lowered:
            return StoreUnavailable(f"the database is locked ({message})", "locked")
        if "unable to open" in lowered:
            return StoreUnavailable("the database file cannot be opened", "missing")
        if "no such table" in lowered or "no such index" in lowered:
            return StoreUnavailable(f"the database has no dialog tables ({message})", "empty")
        if "interrupted" in lowered:
            return StoreUnavailable("the database did not answer within the time limit", "timeout")
        return StoreUnavailable(f"the database failed ({message})", "error")
    return StoreUnavailable(f"the database is corrupt ({message})", "corrupt")
