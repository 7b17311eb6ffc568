"""Build the top-k index from SQLite and keep it caught up with the change log.

Layout of an index folder (by default `<db>.topk/` beside the database):

    current.json   {"format", "fields", "generation", "uuid", "seq", "entries"}: the live generation
    gen-000007/    one tantivy index; a full build writes a new one, then switches
    lock           flock held by whoever changes the folder (build or catch-up)

`build` reads every entry in one read snapshot of SQLite, writes a fresh
generation, and then replaces current.json atomically (a build killed midway
leaves current.json on the old generation; the next build deletes the debris).
`current.json` records the database's store uuid (lupo_store_meta) and the last
change-log seq the snapshot holds. `catch_up` applies the change-log rows after
that seq (delete the id, add the row back if it still exists), commits, then
records the new seq: a crash in between re-applies the same rows, which is
harmless. A different uuid, a log pruned past our seq, a missing or corrupt
generation, or too many changes make it rebuild instead. Applied log rows are
pruned. When another process holds the lock (or tantivy's writer lock), both
return "busy" at once instead of waiting.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import tantivy

from indexer.database import Database, SqliteError
from indexer.reindex import ReindexBusy, reindex_lock
from indexer.topk_schema import (
    COPY_COUNT_COLUMN,
    FINGERPRINT,
    ROW_COLUMNS,
    build_schema,
    document,
    register,
)

if TYPE_CHECKING:
    from indexer.database import Connection

FORMAT = 1
STATE_FILE = "current.json"
LOCK_FILE = "lock"
GENERATION_PREFIX = "gen-"
#: Writer memory for a full build, split between its threads (tantivy needs >= 15 MB each).
BUILD_HEAP_BYTES = 256_000_000
BUILD_THREADS = 2
CATCH_UP_HEAP_BYTES = 50_000_000
#: Changed ids applied per SQL read while catching up.
CATCH_UP_CHUNK = 2000
#: More pending changes than this (or than a tenth of the entries) rebuild instead.
REBUILD_CHANGES = 50_000
PRUNE_TIMEOUT_SECONDS = 0.2

_COLUMNS = ", ".join(ROW_COLUMNS)
# A full build reads the rows in table order (entry_rowid, sql/0008), and each row's
# targets in the same order; in id order the reads would jump around the table. A
# database from before 0008 has its rows in id order (OLD_*).
SELECT_ALL_ENTRIES = f"SELECT {_COLUMNS} FROM lupo_dialog_entries ORDER BY entry_rowid"
OLD_SELECT_ALL_ENTRIES = f"SELECT {_COLUMNS} FROM lupo_dialog_entries ORDER BY dialog_entry_id"
HAS_ENTRY_ROWID = (
    "SELECT 1 FROM pragma_table_info('lupo_dialog_entries') WHERE name = 'entry_rowid'"
)
#: When the entries carry `body_extra` (the body lines FTS5 indexes), the index takes it too.
HAS_BODY_EXTRA = "SELECT 1 FROM pragma_table_info('lupo_dialog_entries') WHERE name = 'body_extra'"
#: A database from before sql/0009 counts no copies: each entry then weighs as if alone.
HAS_COPY_COUNT = "SELECT 1 FROM pragma_table_info('lupo_dialog_entries') WHERE name = 'copy_count'"
SELECT_ALL_TARGETS = (
    "SELECT t.dialog_entry_id, t.target FROM lupo_dialog_entries e "
    "JOIN lupo_dialog_entry_targets t INDEXED BY idx_entry_targets_entry "
    "ON t.dialog_entry_id = e.dialog_entry_id ORDER BY e.entry_rowid"
)
OLD_SELECT_ALL_TARGETS = (
    "SELECT t.dialog_entry_id, t.target FROM lupo_dialog_entry_targets t "
    "INDEXED BY idx_entry_targets_entry JOIN lupo_dialog_entries e "
    "ON e.dialog_entry_id = t.dialog_entry_id ORDER BY t.dialog_entry_id"
)
SELECT_ENTRIES = (
    f"SELECT {_COLUMNS} FROM lupo_dialog_entries "
    "WHERE dialog_entry_id IN (SELECT value FROM json_each(?))"
)
SELECT_TARGETS = (
    "SELECT dialog_entry_id, target FROM lupo_dialog_entry_targets "
    "WHERE dialog_entry_id IN (SELECT value FROM json_each(?))"
)
HAS_CHANGE_LOG = (
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'lupo_dialog_entry_changes'"
)
STORE_UUID = "SELECT store_uuid FROM lupo_store_meta"
LAST_SEQ = "SELECT seq FROM sqlite_sequence WHERE name = 'lupo_dialog_entry_changes'"
COUNT_CHANGES = "SELECT count(*) FROM lupo_dialog_entry_changes WHERE seq > ? AND seq <= ?"
CHANGED_IDS = (
    "SELECT DISTINCT dialog_entry_id FROM lupo_dialog_entry_changes WHERE seq > ? AND seq <= ?"
)
PRUNE = "DELETE FROM lupo_dialog_entry_changes WHERE seq <= ?"
ANY_APPLIED = "SELECT 1 FROM lupo_dialog_entry_changes WHERE seq <= ? LIMIT 1"
COUNT_ENTRIES = "SELECT count(*) FROM lupo_dialog_entries"


class IndexBusy(Exception):
    """Another process (or thread) is changing the index folder right now."""


class NoDatabase(Exception):
    """There is no migrated database to index."""


@dataclass(frozen=True)
class IndexState:
    """What current.json says: the live generation and the database point it holds."""

    generation: str
    uuid: str | None
    seq: int
    entries: int
    format: int = FORMAT
    #: The fields the index holds (topk_schema.FINGERPRINT); another one means rebuild.
    fields: str = FINGERPRINT


@dataclass(frozen=True)
class SyncResult:
    """What build/catch_up did: action is built, caught_up, fresh or busy."""

    action: str
    state: IndexState | None
    seconds: float
    applied: int = 0
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {
            "action": self.action,
            "seconds": round(self.seconds, 3),
            "applied": self.applied,
            "reason": self.reason,
            "seq": self.state.seq if self.state else None,
            "entries": self.state.entries if self.state else None,
        }


def default_index_dir(db_path: str | Path) -> Path:
    """`<db>.topk/` beside the database."""
    path = Path(db_path)
    return path.with_name(path.name + ".topk")


# ---- state and folders ------------------------------------------------------


def read_state(index_dir: str | Path) -> IndexState | None:
    """The state in current.json, or None when it is missing, unreadable or built otherwise.

    Built otherwise: of another FORMAT, or holding other fields than dialogfile.fields
    declares now (topk_schema.FINGERPRINT); the next sync rebuilds such an index.
    """
    try:
        data = json.loads((Path(index_dir) / STATE_FILE).read_text("utf-8"))
        state = IndexState(
            generation=str(data["generation"]),
            uuid=data["uuid"],
            seq=int(data["seq"]),
            entries=int(data["entries"]),
            format=int(data["format"]),
            fields=str(data.get("fields", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if state.format != FORMAT or state.fields != FINGERPRINT:
        return None
    if not state.generation.startswith(GENERATION_PREFIX):
        return None
    return state


def _write_state(index_dir: Path, state: IndexState) -> None:
    """Replace current.json atomically (write, fsync, rename, fsync the folder)."""
    temporary = index_dir / f"{STATE_FILE}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(asdict(state), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, index_dir / STATE_FILE)
    folder = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def open_index(index_dir: str | Path, state: IndexState) -> tantivy.Index:
    """The tantivy index of `state`'s generation (ValueError/OSError when missing or corrupt)."""
    path = Path(index_dir) / state.generation
    if not (path / "meta.json").is_file():
        raise ValueError(f"the index generation {state.generation} is missing")
    return register(tantivy.Index.open(str(path)))


@contextmanager
def folder_lock(index_dir: Path) -> Iterator[None]:
    """Hold the folder's lock, or raise IndexBusy at once when someone else does."""
    index_dir.mkdir(parents=True, exist_ok=True)
    handle = open(index_dir / LOCK_FILE, "a+b")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy("another process is updating the top-k index") from None
        yield
    finally:
        handle.close()


def _next_generation(index_dir: Path) -> str:
    numbers = [
        int(child.name[len(GENERATION_PREFIX) :])
        for child in index_dir.iterdir()
        if child.name.startswith(GENERATION_PREFIX)
        and child.name[len(GENERATION_PREFIX) :].isdigit()
    ]
    return f"{GENERATION_PREFIX}{max(numbers, default=0) + 1:06d}"


def _remove_other_generations(index_dir: Path, keep: str) -> None:
    for child in index_dir.iterdir():
        if child.name.startswith(GENERATION_PREFIX) and child.name != keep and child.is_dir():
            shutil.rmtree(child, ignore_errors=True)


# ---- reading the database -----------------------------------------------------


def _snapshot(db_path: Path) -> Connection:
    conn = Database(db_path).open_reader()
    if conn is None:
        raise NoDatabase(f"no migrated database at {db_path.name}")
    conn.execute("BEGIN")
    return conn


def store_point(conn: Connection) -> tuple[str | None, int]:
    """(store uuid, last change seq) as this connection's snapshot sees them."""
    if conn.execute(HAS_CHANGE_LOG).fetchone() is None:
        return None, 0
    uuid_row = conn.execute(STORE_UUID).fetchone()
    seq_row = conn.execute(LAST_SEQ).fetchone()
    return (uuid_row[0] if uuid_row else None), (int(seq_row[0]) if seq_row else 0)


def _entry_sql(conn: Connection, sql: str) -> str:
    """`sql` reading the body FTS5 indexes: coalesce(body_extra, body) where that column exists
    (and 1 for copy_count where that one does not)."""
    if conn.execute(HAS_COPY_COUNT).fetchone() is None:
        sql = sql.replace(f", {COPY_COUNT_COLUMN} FROM", ", 1 FROM", 1)
    if conn.execute(HAS_BODY_EXTRA).fetchone() is None:
        return sql
    return sql.replace(", body,", ", coalesce(body_extra, body),", 1)


def _all_documents(conn: Connection, schema: tantivy.Schema) -> Iterator[tantivy.Document]:
    """Every entry's document, entries and their targets merged (both in table order)."""
    if conn.execute(HAS_ENTRY_ROWID).fetchone() is not None:
        entries, targets = SELECT_ALL_ENTRIES, conn.execute(SELECT_ALL_TARGETS)
    else:
        entries, targets = OLD_SELECT_ALL_ENTRIES, conn.execute(OLD_SELECT_ALL_TARGETS)
    pending = targets.fetchone()
    for row in conn.execute(_entry_sql(conn, entries)):
        entry_id = row[0]
        values: list[str] = []
        while pending is not None and pending[0] == entry_id:
            values.append(pending[1])
            pending = targets.fetchone()
        yield document(row, values, schema)


# ---- build and catch up ---------------------------------------------------------


def build(
    db_path: str | Path,
    index_dir: str | Path | None = None,
    *,
    threads: int = BUILD_THREADS,
    heap_bytes: int = BUILD_HEAP_BYTES,
) -> SyncResult:
    """Build a new generation from one read snapshot and switch to it (IndexBusy if locked)."""
    db_path = Path(db_path)
    folder = Path(index_dir) if index_dir is not None else default_index_dir(db_path)
    started = time.monotonic()
    with folder_lock(folder):
        state = _build_locked(db_path, folder, threads, heap_bytes)
    return SyncResult("built", state, time.monotonic() - started, reason="full build")


def _build_locked(db_path: Path, folder: Path, threads: int, heap_bytes: int) -> IndexState:
    conn = _snapshot(db_path)
    try:
        uuid, seq = store_point(conn)
        generation = _next_generation(folder)
        path = folder / generation
        path.mkdir()
        schema = build_schema()
        index = register(tantivy.Index(schema, path=str(path)))
        writer = index.writer(heap_size=heap_bytes, num_threads=threads)
        count = 0
        for doc in _all_documents(conn, schema):
            writer.add_document(doc)
            count += 1
        writer.commit()
        writer.wait_merging_threads()
    finally:
        conn.close()
    state = IndexState(generation=generation, uuid=uuid, seq=seq, entries=count)
    _write_state(folder, state)
    _remove_other_generations(folder, generation)
    prune_log(db_path, seq)
    return state


def catch_up(
    db_path: str | Path,
    index_dir: str | Path | None = None,
    *,
    prune: bool = True,
    rebuild_changes: int = REBUILD_CHANGES,
) -> SyncResult:
    """Apply the change log since the recorded seq, or rebuild when that cannot be exact.

    Returns action "busy" (without waiting) when someone else holds the lock.
    """
    db_path = Path(db_path)
    folder = Path(index_dir) if index_dir is not None else default_index_dir(db_path)
    started = time.monotonic()
    try:
        with folder_lock(folder):
            action, state, applied, reason = _catch_up_locked(
                db_path, folder, prune=prune, rebuild_changes=rebuild_changes
            )
    except IndexBusy as busy:
        return SyncResult("busy", read_state(folder), time.monotonic() - started, reason=str(busy))
    return SyncResult(action, state, time.monotonic() - started, applied, reason)


def _catch_up_locked(
    db_path: Path, folder: Path, *, prune: bool, rebuild_changes: int
) -> tuple[str, IndexState, int, str]:
    def rebuilt(reason: str) -> tuple[str, IndexState, int, str]:
        return "built", _build_locked(db_path, folder, BUILD_THREADS, BUILD_HEAP_BYTES), 0, reason

    state = read_state(folder)
    if state is None:
        return rebuilt("no index")
    try:
        index = open_index(folder, state)
    except (ValueError, OSError) as error:
        return rebuilt(f"index unreadable ({error})")
    conn = _snapshot(db_path)
    try:
        uuid, last = store_point(conn)
        if uuid != state.uuid:
            conn.close()
            return rebuilt("another database")
        if last == state.seq:
            # Prune only when there is something to prune: an empty DELETE still locks.
            unpruned = uuid is not None and conn.execute(ANY_APPLIED, (last,)).fetchone()
            conn.close()
            if prune and unpruned:
                prune_log(db_path, last)
            return "fresh", state, 0, ""
        pending = conn.execute(COUNT_CHANGES, (state.seq, last)).fetchone()[0]
        if last < state.seq or pending != last - state.seq:
            conn.close()
            return rebuilt("change log pruned past the index")
        entries = conn.execute(COUNT_ENTRIES).fetchone()[0]
        if pending > max(rebuild_changes, entries // 10):
            conn.close()
            return rebuilt(f"{pending} changes")
        ids = [row[0] for row in conn.execute(CHANGED_IDS, (state.seq, last))]
        _apply_changes(index, conn, ids)
    finally:
        conn.close()
    index.reload()
    new_state = IndexState(
        generation=state.generation, uuid=uuid, seq=last, entries=index.searcher().num_docs
    )
    _write_state(folder, new_state)
    if prune:
        prune_log(db_path, last)
    return "caught_up", new_state, len(ids), f"{len(ids)} entries changed"


def _apply_changes(index: tantivy.Index, conn: Connection, ids: list[int]) -> None:
    """Replace the documents of `ids` by their rows in `conn`'s snapshot, in one commit.

    Raises IndexBusy when tantivy's writer lock is held; any failure rolls back.
    """
    try:
        writer = index.writer(heap_size=CATCH_UP_HEAP_BYTES, num_threads=1)
    except ValueError as error:
        raise IndexBusy(f"the top-k index writer is locked ({error})") from None
    try:
        for start in range(0, len(ids), CATCH_UP_CHUNK):
            chunk = ids[start : start + CATCH_UP_CHUNK]
            # (delete_documents_by_term misses u64 terms given as Python ints)
            writer.delete_documents_by_query(
                tantivy.Query.term_set_query(index.schema, "id", chunk)
            )
            for doc in documents_for(conn, chunk, index.schema):
                writer.add_document(doc)
        writer.commit()
        writer.wait_merging_threads()
    except BaseException:
        writer.rollback()
        raise


def changed_ids(conn: Connection, since: int, until: int, limit: int) -> list[int] | None:
    """The ids the change log names after `since` up to `until` in `conn`'s snapshot; None
    when the log no longer holds every one of those changes (pruned) or holds more than
    `limit`."""
    pending = conn.execute(COUNT_CHANGES, (since, until)).fetchone()[0]
    if pending != until - since or pending > limit:
        return None
    return [row[0] for row in conn.execute(CHANGED_IDS, (since, until))]


def documents_for(
    conn: Connection, ids: list[int], schema: tantivy.Schema
) -> Iterator[tantivy.Document]:
    """The documents of the entries `ids` that exist in `conn`'s snapshot (the rest are gone)."""
    payload = json.dumps(ids)
    targets: dict[int, list[str]] = {}
    for entry_id, target in conn.execute(SELECT_TARGETS, (payload,)):
        targets.setdefault(entry_id, []).append(target)
    for row in conn.execute(_entry_sql(conn, SELECT_ENTRIES), (payload,)):
        yield document(row, targets.get(row[0], ()), schema)


def prune_log(db_path: Path, seq: int) -> None:
    """Delete change-log rows up to `seq`; skipped quietly when the database is busy/read-only.

    Under `<db>.lock`, as every writer of the service: the recovery that rebuilds a
    deleted or corrupt database holds it, and a writer of the old file closed after the
    new one was made would, as the old file's last connection, checkpoint and delete the
    WAL and -shm *by name*: the new database's (then malformed).
    """
    if seq <= 0:
        return
    try:
        with reindex_lock(db_path, 0):
            _prune(db_path, seq)
    except (ReindexBusy, OSError):
        return  # a reindex or recovery runs (it prunes or rebuilds), or a read-only folder


def _prune(db_path: Path, seq: int) -> None:
    try:
        conn = Database(db_path).open_writer(
            migrate=False, busy_timeout_ms=int(PRUNE_TIMEOUT_SECONDS * 1000)
        )
    except SqliteError:
        return
    try:
        if conn.execute(HAS_CHANGE_LOG).fetchone() is not None:
            conn.execute(PRUNE, (seq,))
    except SqliteError:
        pass
    finally:
        conn.close()
