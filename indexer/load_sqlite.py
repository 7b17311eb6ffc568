"""Write parsed dialog files into SQLite: file rows, entry rows (FTS5 via triggers), targets.

The caller owns the transaction: `reindex` wraps a whole run in one. Entries are
written with INSERT ... ON CONFLICT DO UPDATE, never INSERT OR REPLACE, which
would delete rows without firing the FTS delete trigger and corrupt the
external-content index. A file is first planned (what to add, update, delete),
then applied, so a dry run can report the plan without writing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexer.identity import ID_BITS
from indexer.migrate import apply_migrations, utc_stamp
from indexer.model import ParsedFile, Problem
from indexer.store_rows import (
    ENTRY_COLUMNS,
    FILE_COLUMNS,
    ID,
    LINE,
    TARGET,
    PreparedFile,
    prepare_file,
    target_tokens,
)

if TYPE_CHECKING:
    from indexer.discover import SourceFile

BUSY_TIMEOUT_MS = 10_000
#: Entry rows moved per INSERT ... SELECT from the scratch table (see apply_plans).
STAGE_BATCH_ROWS = 20_000
#: Entry rows PlanWriter plans before it writes them: small enough that the parse
#: pool keeps parsing the next files (reindex.WINDOW_FILES) while a batch is written.
WRITE_BATCH_ROWS = 5_000
_ID_MASK = (1 << ID_BITS) - 1

SELECT_FILE_ENTRIES = (
    f"SELECT {', '.join(ENTRY_COLUMNS)} FROM lupo_dialog_entries WHERE dialog_file = ?"
)
SELECT_FOREIGN_IDS = """
SELECT dialog_entry_id, dialog_file FROM lupo_dialog_entries
WHERE dialog_entry_id IN (SELECT value FROM json_each(?)) AND dialog_file <> ?
"""
SELECT_ID_OWNER = "SELECT dialog_file FROM lupo_dialog_entries WHERE dialog_entry_id = ?"
_COLUMN_LIST = ", ".join(ENTRY_COLUMNS)
# A scratch table (never part of the schema) shaped like lupo_dialog_entries.
CREATE_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS staged_entries AS "
    f"SELECT {_COLUMN_LIST} FROM main.lupo_dialog_entries WHERE 0"
)
CLEAR_STAGE = "DELETE FROM temp.staged_entries"
STAGE_ENTRY = (
    f"INSERT INTO temp.staged_entries ({_COLUMN_LIST}) "
    f"VALUES ({', '.join('?' for _ in ENTRY_COLUMNS)})"
)
# WHERE true: SQLite needs it to tell the upsert's ON CONFLICT from a join's ON.
UPSERT_STAGED = f"""
INSERT INTO lupo_dialog_entries ({_COLUMN_LIST})
SELECT {_COLUMN_LIST} FROM temp.staged_entries WHERE true ORDER BY dialog_entry_id
ON CONFLICT (dialog_entry_id) DO UPDATE SET
{", ".join(f"{column} = excluded.{column}" for column in ENTRY_COLUMNS[1:])}
"""
DELETE_ENTRIES = (
    "DELETE FROM lupo_dialog_entries WHERE dialog_entry_id IN (SELECT value FROM json_each(?))"
)
DELETE_FILE_ENTRIES = "DELETE FROM lupo_dialog_entries WHERE dialog_file = ?"
DELETE_ENTRIES_TARGETS = (
    "DELETE FROM lupo_dialog_entry_targets "
    "WHERE dialog_entry_id IN (SELECT value FROM json_each(?))"
)
INSERT_TARGET = "INSERT INTO lupo_dialog_entry_targets (dialog_entry_id, target) VALUES (?, ?)"
UPSERT_FILE = f"""
INSERT INTO lupo_dialog_files ({", ".join(FILE_COLUMNS)})
VALUES ({", ".join("?" for _ in FILE_COLUMNS)})
ON CONFLICT (file_path) DO UPDATE SET
{", ".join(f"{column} = excluded.{column}" for column in FILE_COLUMNS[1:])}
"""
DELETE_FILE = "DELETE FROM lupo_dialog_files WHERE file_path = ?"
SELECT_FILE_HASHES = "SELECT file_path, content_hash FROM lupo_dialog_files"
SELECT_FILE_STAMPS = (
    "SELECT file_path, content_hash, size_bytes, mtime_ns, last_sync_utc FROM lupo_dialog_files"
)
UPDATE_FILE_STAMP = (
    "UPDATE lupo_dialog_files SET size_bytes = ?, mtime_ns = ?, last_sync_utc = ? "
    "WHERE file_path = ?"
)
# The secondary indexes of the entry and target tables, as the migrations created them.
SELECT_BULK_INDEXES = """
SELECT name, sql FROM sqlite_master
WHERE type = 'index' AND sql IS NOT NULL
  AND tbl_name IN ('lupo_dialog_entries', 'lupo_dialog_entry_targets')
ORDER BY name
"""
# The triggers that keep the FTS5 index in step with the entry rows.
SELECT_FTS_TRIGGERS = """
SELECT name, sql FROM sqlite_master
WHERE type = 'trigger' AND tbl_name = 'lupo_dialog_entries'
  AND sql LIKE '%lupo_dialog_entries_fts%'
ORDER BY name
"""
SELECT_CHANGE_LOG_TRIGGERS = """
SELECT name, sql FROM sqlite_master
WHERE type = 'trigger' AND tbl_name = 'lupo_dialog_entries'
  AND sql LIKE '%lupo_dialog_entry_changes%'
ORDER BY name
"""
# After a full reindex the change log starts over under a new store id: an index built
# from the old rows is rebuilt rather than caught up row by row.
RESET_CHANGE_LOG = (
    "DELETE FROM lupo_dialog_entry_changes",
    "UPDATE lupo_store_meta SET store_uuid = lower(hex(randomblob(16)))",
)
DELETE_ALL_TARGETS = "DELETE FROM lupo_dialog_entry_targets"
SELECT_ALL_TARGETS = (
    "SELECT dialog_entry_id, target FROM lupo_dialog_entries "
    "WHERE target IS NOT NULL ORDER BY dialog_entry_id"
)
REBUILD_FTS = "INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts) VALUES ('rebuild')"
SET_FTS_HASHSIZE = (
    "INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts, rank) VALUES ('hashsize', ?)"
)
#: FTS5's own default for the index data it holds in memory before writing a segment.
DEFAULT_FTS_HASHSIZE = 1024 * 1024
#: ... and what a rebuild may hold: 16 MiB writes fewer, bigger segments that need
#: less merging (a third less CPU for the rebuild of 136k rows).
REBUILD_FTS_HASHSIZE = 16 * 1024 * 1024
INSERT_ENTRY = f"""
INSERT INTO lupo_dialog_entries ({_COLUMN_LIST}) VALUES ({", ".join("?" for _ in ENTRY_COLUMNS)})
ON CONFLICT (dialog_entry_id) DO UPDATE SET
{", ".join(f"{column} = excluded.{column}" for column in ENTRY_COLUMNS[1:])}
"""
COUNT_FILE_ENTRIES = "SELECT count(*) FROM lupo_dialog_entries WHERE dialog_file = ?"


def connect(db_path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) the database: WAL, busy timeout, foreign keys, migrated.

    The connection is in autocommit mode: callers issue BEGIN/COMMIT themselves.
    """
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        # WAL + NORMAL: a crash or kill -9 never corrupts or half-applies a commit;
        # only a power cut may lose the very last commit.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA cell_size_check = ON")
        apply_migrations(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def checkpoint_wal(conn: sqlite3.Connection, wait_ms: int = 1000) -> bool:
    """Copy the WAL into the database and truncate it, waiting at most `wait_ms` for readers.

    A big reindex leaves a WAL as large as everything it wrote; this gives the
    space back. Returns False when readers kept it from completing (no harm done:
    SQLite checkpoints again later).
    """
    conn.execute(f"PRAGMA busy_timeout = {wait_ms}")
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return busy == 0


def file_hashes(conn: sqlite3.Connection) -> dict[str, str]:
    """content_hash of every file in the database, by path."""
    return dict(conn.execute(SELECT_FILE_HASHES))


@dataclass(frozen=True)
class FileStamp:
    """What the database knows of a file as it was last read."""

    content_hash: str
    size_bytes: int
    mtime_ns: int
    last_sync_utc: int


def file_stamps(conn: sqlite3.Connection) -> dict[str, FileStamp]:
    """Hash, size, mtime and last sync of every file in the database, by path."""
    return {path: FileStamp(*rest) for path, *rest in conn.execute(SELECT_FILE_STAMPS)}


def update_file_stamps(
    conn: sqlite3.Connection, stamps: Iterable[tuple[str, int, int]], synced_utc: int
) -> None:
    """Record (path, size_bytes, mtime_ns) of files read again and found unchanged."""
    conn.executemany(
        UPDATE_FILE_STAMP, [(size, mtime, synced_utc, path) for path, size, mtime in stamps]
    )


def drop_bulk_indexes(conn: sqlite3.Connection) -> list[str]:
    """Drop the secondary indexes of the entry and target tables; return their CREATE SQL.

    For a load into an empty database, inside its transaction: building each index
    once after the rows are in (create_indexes) is faster than updating it row by row.
    """
    indexes = list(conn.execute(SELECT_BULK_INDEXES))
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in indexes]


def drop_fts_triggers(conn: sqlite3.Connection) -> list[str]:
    """Drop the triggers that feed the FTS5 index row by row; return their CREATE SQL.

    For a full reindex, inside its transaction: the caller then rebuilds the
    index once from the entry rows (create_fts_triggers + REBUILD_FTS), in id
    order, instead of feeding it batch after batch of rows in random id order.
    """
    triggers = list(conn.execute(SELECT_FTS_TRIGGERS))
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    return [sql for _, sql in triggers]


def drop_change_log(conn: sqlite3.Connection) -> list[str]:
    """Drop the change-log triggers (sql/0005) for a full reindex; return their CREATE SQL.

    A full reindex rewrites every row, so logging each one only to rebuild the
    top-k index from scratch afterwards is wasted work: restore_change_log resets
    the log and the store id instead.
    """
    triggers = list(conn.execute(SELECT_CHANGE_LOG_TRIGGERS))
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    return [sql for _, sql in triggers]


def restore_change_log(conn: sqlite3.Connection, statements: Iterable[str]) -> None:
    """Create again the triggers drop_change_log dropped; empty the log, new store id."""
    statements = list(statements)
    for sql in statements:
        conn.execute(sql)
    if statements:
        for sql in RESET_CHANGE_LOG:
            conn.execute(sql)


def restore_fts_triggers(conn: sqlite3.Connection, statements: Iterable[str]) -> None:
    """Create again the triggers drop_fts_triggers dropped and rebuild the FTS5 index."""
    for sql in statements:
        conn.execute(sql)
    conn.execute(SET_FTS_HASHSIZE, (REBUILD_FTS_HASHSIZE,))
    conn.execute(REBUILD_FTS)
    conn.execute(SET_FTS_HASHSIZE, (DEFAULT_FTS_HASHSIZE,))


def create_indexes(conn: sqlite3.Connection, statements: Iterable[str]) -> None:
    """Create again the indexes drop_bulk_indexes dropped."""
    for sql in statements:
        conn.execute(sql)


def claim_ids(
    conn: sqlite3.Connection | None,
    prepared: PreparedFile,
    claimed: Mapping[int, str] | None = None,
) -> tuple[list[tuple[Any, ...]], list[Problem]]:
    """The file's entry rows with ids that another file holds moved on; a Problem for each move.

    Another file holds an id when its row in `conn` has it, or when `claimed`
    (ids given to files earlier in the same, not yet written, run) says so. A
    collision moves the id to the next free one (id+1, ...): deterministic for a
    given database and order of files. With `conn` None only `claimed` is checked.
    """
    path, rows = prepared.path, prepared.entry_rows
    claimed = claimed or {}
    foreign = {row[ID]: claimed[row[ID]] for row in rows if claimed.get(row[ID], path) != path}
    if conn is not None and rows:
        ids = json.dumps([row[ID] for row in rows])
        foreign.update(conn.execute(SELECT_FOREIGN_IDS, (ids, path)))
    if not foreign:
        return rows, []
    used = {row[ID] for row in rows}
    moved: list[tuple[Any, ...]] = []
    problems = []
    for row in rows:
        if row[ID] in foreign:
            new_id = _next_free_id(conn, path, row[ID], used, claimed)
            used.add(new_id)
            problems.append(
                Problem(
                    path,
                    row[LINE],
                    f"entry id {row[ID]} is already used by {foreign[row[ID]]}; "
                    f"this entry gets id {new_id}",
                )
            )
            row = (new_id, *row[1:])
        moved.append(row)
    return moved, problems


def _next_free_id(
    conn: sqlite3.Connection | None,
    path: str,
    entry_id: int,
    used: set[int],
    claimed: Mapping[int, str],
) -> int:
    """The first id after `entry_id` that neither this file nor another file uses."""
    candidate = entry_id
    while True:
        candidate = candidate % _ID_MASK + 1
        if candidate in used or claimed.get(candidate, path) != path:
            continue
        owner = conn.execute(SELECT_ID_OWNER, (candidate,)).fetchone() if conn else None
        if owner is None or owner[0] == path:
            return candidate


@dataclass(frozen=True)
class FileRows:
    """The rows one file should have: its file row, its entry rows, its problems."""

    file_row: tuple[Any, ...]
    entry_rows: list[tuple[Any, ...]]
    problems: list[Problem]


def rows_for_file(
    conn: sqlite3.Connection | None,
    prepared: PreparedFile,
    *,
    synced_utc: int | None = None,
    claimed: Mapping[int, str] | None = None,
) -> FileRows:
    """The file row and entry rows (FILE_COLUMNS, ENTRY_COLUMNS order) the database should hold."""
    entry_rows, id_problems = claim_ids(conn, prepared, claimed)
    problems = [*prepared.problems, *id_problems]
    synced = synced_utc if synced_utc is not None else utc_stamp()
    return FileRows(prepared.file_row(problems, synced), entry_rows, problems)


@dataclass(frozen=True)
class FilePlan:
    """What loading one file changes: rows to upsert, ids to delete, counts."""

    path: str
    file_row: tuple[Any, ...]
    upserts: list[tuple[Any, ...]] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)
    stale_ids: list[int] = field(default_factory=list)
    added: int = 0
    problems: list[Problem] = field(default_factory=list)
    entries: int = 0

    @property
    def updated(self) -> int:
        """Entries that keep their id but change some column (e.g. their line)."""
        return len(self.updated_ids)

    @property
    def deleted(self) -> int:
        """Entries whose id the file no longer produces."""
        return len(self.stale_ids)


def plan_file(
    conn: sqlite3.Connection | None,
    prepared: PreparedFile,
    *,
    synced_utc: int | None = None,
    claimed: Mapping[int, str] | None = None,
    has_rows: bool = True,
) -> FilePlan:
    """Compare a file's rows with its rows in `conn` (None: an empty database); write nothing.

    `claimed`: ids planned for other files earlier in the same run (see claim_ids).
    `has_rows` False: the caller knows the file has no row yet (no need to look).
    """
    rows = rows_for_file(conn, prepared, synced_utc=synced_utc, claimed=claimed)
    existing: dict[int, tuple[Any, ...]] = {}
    if conn is not None and has_rows:
        existing = {row[ID]: row for row in conn.execute(SELECT_FILE_ENTRIES, (prepared.path,))}
    upserts = [row for row in rows.entry_rows if existing.get(row[ID]) != row]
    updated_ids = [row[ID] for row in upserts if row[ID] in existing]
    kept = {row[ID] for row in rows.entry_rows}
    return FilePlan(
        path=prepared.path,
        file_row=rows.file_row,
        upserts=upserts,
        updated_ids=updated_ids,
        stale_ids=[entry_id for entry_id in existing if entry_id not in kept],
        added=len(upserts) - len(updated_ids),
        problems=rows.problems,
        entries=len(rows.entry_rows),
    )


def plan_files(
    conn: sqlite3.Connection | None,
    files: Iterable[PreparedFile],
    *,
    synced_utc: int | None = None,
) -> list[FilePlan]:
    """plan_file for several files in order, ids of earlier files counting as taken."""
    claimed: dict[int, str] = {}
    plans = []
    for prepared in files:
        plan = plan_file(conn, prepared, synced_utc=synced_utc, claimed=claimed)
        claimed.update((row[ID], plan.path) for row in plan.upserts)
        plans.append(plan)
    return plans


def apply_plans(conn: sqlite3.Connection, plans: Sequence[FilePlan]) -> None:
    """Write FilePlans inside the caller's transaction, one statement per kind of change."""
    conn.executemany(UPSERT_FILE, [plan.file_row for plan in plans])  # entries reference them
    delete_entries(conn, [entry_id for plan in plans for entry_id in plan.stale_ids])
    _write_entries(conn, plans)


def delete_entries(conn: sqlite3.Connection, entry_ids: Sequence[int]) -> None:
    """Delete entry rows by id (their targets cascade, the FTS5 trigger follows)."""
    if entry_ids:
        conn.execute(DELETE_ENTRIES, (json.dumps(entry_ids),))


def _write_entries(
    conn: sqlite3.Connection, plans: Sequence[FilePlan], *, fts_triggers: bool = True
) -> None:
    """Upsert the plans' entry rows and rewrite their target rows (file rows already written).

    Entry rows are staged in a temporary table and moved with ONE INSERT ...
    SELECT: the FTS5 triggers then run inside a single statement. One statement
    per row (executemany) makes SQLite open a statement savepoint per row, and
    FTS5 flushes its pending index data at every savepoint: 2-3 times slower.
    Batches of STAGE_BATCH_ROWS keep the scratch table in memory. Rows go in id
    order, which suits both the id-keyed table and the index (FTS5 flushes its
    pending data whenever a rowid is lower than the one before). With
    `fts_triggers` False (dropped for a full reindex, see drop_fts_triggers)
    there is nothing to flush: the rows go in with one executemany.
    """
    updated = [entry_id for plan in plans for entry_id in plan.updated_ids]
    if updated:
        conn.execute(DELETE_ENTRIES_TARGETS, (json.dumps(updated),))
    rows = sorted((row for plan in plans for row in plan.upserts), key=lambda row: row[ID])
    if not rows:
        return
    if fts_triggers:
        conn.execute(CREATE_STAGE)
        for start in range(0, len(rows), STAGE_BATCH_ROWS):
            conn.execute(CLEAR_STAGE)
            conn.executemany(STAGE_ENTRY, rows[start : start + STAGE_BATCH_ROWS])
            conn.execute(UPSERT_STAGED)
        conn.execute(CLEAR_STAGE)
    else:
        conn.executemany(INSERT_ENTRY, rows)
    conn.executemany(
        INSERT_TARGET, [(row[ID], token) for row in rows for token in target_tokens(row[TARGET])]
    )


class PlanWriter:
    """Plan files one at a time as they arrive and write them in batches (caller's transaction).

    Gives the same plans and rows as plan_files + apply_plans over the same files
    in the same order: ids planned for files not yet written count as taken
    (`claimed`), those of files written are in the database, and the rows files no
    longer produce are deleted only at finish(), so every plan sees them as taken,
    as plan_files would. Memory holds one batch, not the whole run.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        synced_utc: int,
        known_paths: Container[str],
        batch_rows: int = WRITE_BATCH_ROWS,
        fts_triggers: bool = True,
    ) -> None:
        self.conn = conn
        self.fts_triggers = fts_triggers
        self.synced_utc = synced_utc
        self.known_paths = known_paths
        self.batch_rows = batch_rows
        self._pending: list[FilePlan] = []
        self._pending_rows = 0
        self._claimed: dict[int, str] = {}
        self._stale: list[int] = []

    def add(self, prepared: PreparedFile) -> FilePlan:
        """Plan one file (written with the next batch); return its plan."""
        plan = plan_file(
            self.conn,
            prepared,
            synced_utc=self.synced_utc,
            claimed=self._claimed,
            has_rows=prepared.path in self.known_paths,
        )
        self._claimed.update((row[ID], plan.path) for row in plan.upserts)
        self._stale += plan.stale_ids
        self._pending.append(plan)
        self._pending_rows += len(plan.upserts) + 1
        if self._pending_rows >= self.batch_rows:
            self.flush()
        return plan

    def flush(self) -> None:
        """Write the planned files not yet written."""
        if self._pending:
            self.conn.executemany(UPSERT_FILE, [plan.file_row for plan in self._pending])
            _write_entries(self.conn, self._pending, fts_triggers=self.fts_triggers)
        self._pending, self._pending_rows = [], 0
        self._claimed.clear()  # now in the database, where claim_ids looks too

    def finish(self) -> None:
        """Write what is left and delete the rows the files no longer produce."""
        self.flush()
        delete_entries(self.conn, self._stale)
        self._stale = []


def load_parsed_file(
    conn: sqlite3.Connection,
    source: SourceFile,
    parsed: ParsedFile,
    *,
    synced_utc: int | None = None,
) -> FilePlan:
    """Bring one file's rows in line with its parsed entries (inside the caller's transaction)."""
    plan = plan_file(conn, prepare_file(source, parsed), synced_utc=synced_utc)
    apply_plans(conn, [plan])
    return plan


def rebuild_targets(conn: sqlite3.Connection) -> None:
    """Rebuild the target rows from the entry rows."""
    conn.execute(DELETE_ALL_TARGETS)
    conn.executemany(
        INSERT_TARGET,
        [
            (entry_id, token)
            for entry_id, target in conn.execute(SELECT_ALL_TARGETS)
            for token in target_tokens(target)
        ],
    )


def count_file_entries(conn: sqlite3.Connection, path: str) -> int:
    """How many entry rows a file has in the database."""
    return conn.execute(COUNT_FILE_ENTRIES, (path,)).fetchone()[0]


def delete_file(conn: sqlite3.Connection, path: str) -> int:
    """Remove a file and its entries (targets cascade); return how many entries went."""
    deleted = conn.execute(DELETE_FILE_ENTRIES, (path,)).rowcount
    conn.execute(DELETE_FILE, (path,))
    return deleted


def connect_existing_readonly(db_path: str | Path) -> sqlite3.Connection | None:
    """A read-only connection to an existing, migrated database; None when there is none yet.

    Opening it creates nothing: no database file and no migrations.
    """
    path = Path(db_path)
    if not path.exists():
        return None
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    has_tables = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'lupo_dialog_files'"
    ).fetchone()
    if has_tables is None:
        conn.close()
        return None
    return conn


def backup_database(db_path: str | Path, stamp: int | None = None) -> Path | None:
    """Copy an existing database to `<db>.bak-YYYYmmddHHMMSS` with SQLite's backup API.

    The copy is written under a `.partial` name and renamed when complete, so a
    killed backup never leaves a file that looks like a good one. Returns the
    backup's path, or None when there is no database yet.
    """
    path = Path(db_path)
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
    source = sqlite3.connect(path)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    partial.replace(target)
    return target
