"""Write parsed dialog files into SQLite: file rows, entry rows (FTS5 via triggers), targets.

The caller owns the transaction: `reindex` wraps a whole run in one. Entries are
written with INSERT ... ON CONFLICT DO UPDATE, never INSERT OR REPLACE, which
would delete rows without firing the FTS delete trigger and corrupt the
external-content index. A file is first planned (what to add, update, delete),
then applied, so a dry run can report the plan without writing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialogfile.identity import ID_BITS
from dialogfile.model import Entry, ParsedFile, Problem
from dialogfile.names import target_tokens
from indexer.migrate import utc_stamp
from indexer.store_rows import (
    COPY_KEY,
    ENTRY_COLUMNS,
    FILE_COLUMNS,
    ID,
    LINE,
    TARGET,
    PreparedFile,
    prepare_file,
)

if TYPE_CHECKING:
    from indexer.database import Connection
    from indexer.discover import SourceFile

#: Entry rows moved per INSERT ... SELECT from the scratch table (see apply_plans).
STAGE_BATCH_ROWS = 20_000
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
# Rows that replace a row go first, in the order of its entry_rowid, then new rows (their
# rowids come after every other): FTS5 is fed in rowid order (see write_entries).
# WHERE true: SQLite needs it to tell the upsert's ON CONFLICT from a join's ON.
UPSERT_STAGED = f"""
INSERT INTO lupo_dialog_entries ({_COLUMN_LIST})
SELECT {", ".join(f"s.{column}" for column in ENTRY_COLUMNS)} FROM temp.staged_entries s
LEFT JOIN main.lupo_dialog_entries e ON e.dialog_entry_id = s.dialog_entry_id
WHERE true ORDER BY e.entry_rowid IS NULL, e.entry_rowid, s.dialog_entry_id
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
SELECT_FILE_HASH = "SELECT content_hash FROM lupo_dialog_files WHERE file_path = ?"
SELECT_FILE_STAMPS = (
    "SELECT file_path, content_hash, size_bytes, mtime_ns, last_sync_utc FROM lupo_dialog_files"
)
UPDATE_FILE_STAMP = (
    "UPDATE lupo_dialog_files SET size_bytes = ?, mtime_ns = ?, last_sync_utc = ? "
    "WHERE file_path = ?"
)
INSERT_ENTRY = f"""
INSERT INTO lupo_dialog_entries ({_COLUMN_LIST}) VALUES ({", ".join("?" for _ in ENTRY_COLUMNS)})
ON CONFLICT (dialog_entry_id) DO UPDATE SET
{", ".join(f"{column} = excluded.{column}" for column in ENTRY_COLUMNS[1:])}
"""
COUNT_FILE_ENTRIES = "SELECT count(*) FROM lupo_dialog_entries WHERE dialog_file = ?"
SELECT_FILE_COPY_KEYS = (
    "SELECT DISTINCT copy_key FROM lupo_dialog_entries WHERE dialog_file = ? AND copy_key NOT NULL"
)
# The state each row sharing a copy key should have: the first in dialogfile.copies'
# copy_order is the original; and how many rows share the key (copy_count). Only rows
# whose state or count changes are written.
_COPY_STATES = """
SELECT dialog_entry_id, dialog_file, copy_state, CASE WHEN row_number() OVER (
    PARTITION BY copy_key
    ORDER BY length(dialog_file) - length(replace(dialog_file, '/', '')),
             dialog_file, line, dialog_entry_id
) = 1 THEN 'original' ELSE 'copy' END,
copy_count, count(*) OVER (PARTITION BY copy_key)
FROM lupo_dialog_entries WHERE {where}
"""
SELECT_COPY_STATES = _COPY_STATES.format(where="copy_key IN (SELECT value FROM json_each(?))")
# Every key held more than once, and every row now marked a copy or counted with others
# (its key may be alone now).
SELECT_ALL_COPY_STATES = _COPY_STATES.format(
    where="copy_key IN (SELECT copy_key FROM lupo_dialog_entries WHERE copy_key NOT NULL "
    "GROUP BY copy_key HAVING count(*) > 1) OR copy_state = 'copy' OR copy_count <> 1"
)
UPDATE_COPY_STATE = (
    "UPDATE lupo_dialog_entries SET copy_state = ?, copy_count = ? WHERE dialog_entry_id = ?"
)
# A file whose rows changed state is pushed to Meilisearch again.
FORGET_MEILI_PUSH = "DELETE FROM meili_sync WHERE dialog_file IN (SELECT value FROM json_each(?))"


def file_hashes(conn: Connection) -> dict[str, str]:
    """content_hash of every file in the database, by path."""
    return dict(conn.execute(SELECT_FILE_HASHES))


def file_hash(conn: Connection, path: str) -> str | None:
    """content_hash of one file in the database (None: it has no row)."""
    found = conn.execute(SELECT_FILE_HASH, (path,)).fetchone()
    return None if found is None else found[0]


@dataclass(frozen=True)
class FileStamp:
    """What the database knows of a file as it was last read."""

    content_hash: str
    size_bytes: int
    mtime_ns: int
    last_sync_utc: int


def file_stamps(conn: Connection) -> dict[str, FileStamp]:
    """Hash, size, mtime and last sync of every file in the database, by path."""
    return {path: FileStamp(*rest) for path, *rest in conn.execute(SELECT_FILE_STAMPS)}


def update_file_stamps(
    conn: Connection, stamps: Iterable[tuple[str, int, int]], synced_utc: int
) -> None:
    """Record (path, size_bytes, mtime_ns) of files read again and found unchanged."""
    conn.executemany(
        UPDATE_FILE_STAMP, [(size, mtime, synced_utc, path) for path, size, mtime in stamps]
    )


def claim_ids(
    conn: Connection | None,
    prepared: PreparedFile,
    claimed: Mapping[int, str] | None = None,
    *,
    lookup: Collection[int] | None = None,
) -> tuple[list[tuple[Any, ...]], list[Problem]]:
    """The file's entry rows with ids that another file holds moved on; a Problem for each move.

    Another file holds an id when its row in `conn` has it, or when `claimed`
    (ids given to files earlier in the same, not yet written, run) says so. A
    collision moves the id to the next free one (id+1, ...): deterministic for a
    given database and order of files. With `conn` None only `claimed` is checked.
    `lookup`: the only ids to look up in `conn` (the caller knows the others are this
    file's there); None: every row's.
    """
    path, rows = prepared.path, prepared.entry_rows
    claimed = claimed or {}
    foreign = {row[ID]: claimed[row[ID]] for row in rows if claimed.get(row[ID], path) != path}
    looked_up = [row[ID] for row in rows] if lookup is None else list(lookup)
    if conn is not None and looked_up:
        ids = json.dumps(looked_up)
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
    conn: Connection | None,
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
    conn: Connection | None,
    prepared: PreparedFile,
    *,
    synced_utc: int | None = None,
    claimed: Mapping[int, str] | None = None,
    lookup: Collection[int] | None = None,
) -> FileRows:
    """The file row and entry rows (FILE_COLUMNS, ENTRY_COLUMNS order) the database should hold."""
    entry_rows, id_problems = claim_ids(conn, prepared, claimed, lookup=lookup)
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
    #: The copy keys of rows it writes or deletes (old and new): their states may change.
    copy_keys: frozenset[str] = frozenset()

    @property
    def updated(self) -> int:
        """Entries that keep their id but change some column (e.g. their line)."""
        return len(self.updated_ids)

    @property
    def deleted(self) -> int:
        """Entries whose id the file no longer produces."""
        return len(self.stale_ids)


def plan_file(
    conn: Connection | None,
    prepared: PreparedFile,
    *,
    synced_utc: int | None = None,
    claimed: Mapping[int, str] | None = None,
    has_rows: bool = True,
    rows_in_database: Iterable[tuple[Any, ...]] | None = None,
) -> FilePlan:
    """Compare a file's rows with its rows in `conn` (None: an empty database); write nothing.

    `claimed`: ids planned for other files earlier in the same run (see claim_ids).
    `has_rows` False: the caller knows the file has no row yet (no need to look).
    `rows_in_database`: the file's rows in `conn`, when the caller knows them (its own last
    load): they are not read again, and only ids new to the file are looked up elsewhere.
    """
    lookup = None
    if rows_in_database is not None:
        existing = {row[ID]: row for row in rows_in_database}
        lookup = [row[ID] for row in prepared.entry_rows if row[ID] not in existing]
    elif conn is not None and has_rows:
        existing = {row[ID]: row for row in conn.execute(SELECT_FILE_ENTRIES, (prepared.path,))}
    else:
        existing = {}
    rows = rows_for_file(conn, prepared, synced_utc=synced_utc, claimed=claimed, lookup=lookup)
    upserts = [row for row in rows.entry_rows if existing.get(row[ID]) != row]
    updated_ids = [row[ID] for row in upserts if row[ID] in existing]
    kept = {row[ID] for row in rows.entry_rows}
    stale = [entry_id for entry_id in existing if entry_id not in kept]
    old = [existing[entry_id] for entry_id in (*updated_ids, *stale)]
    return FilePlan(
        path=prepared.path,
        file_row=rows.file_row,
        upserts=upserts,
        updated_ids=updated_ids,
        stale_ids=stale,
        added=len(upserts) - len(updated_ids),
        problems=rows.problems,
        entries=len(rows.entry_rows),
        copy_keys=frozenset(row[COPY_KEY] for row in (*upserts, *old) if row[COPY_KEY]),
    )


def plan_files(
    conn: Connection | None,
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


def apply_plans(conn: Connection, plans: Sequence[FilePlan]) -> None:
    """Write FilePlans inside the caller's transaction, one statement per kind of change."""
    conn.executemany(UPSERT_FILE, [plan.file_row for plan in plans])  # entries reference them
    delete_entries(conn, [entry_id for plan in plans for entry_id in plan.stale_ids])
    write_entries(conn, plans)
    refresh_copies(conn, {key for plan in plans for key in plan.copy_keys})


def refresh_copies(conn: Connection, keys: Iterable[str] | None) -> int:
    """Mark the original and the copies among the rows sharing `keys` (None: every key),
    and count them (copy_count).

    Returns how many rows changed; the files of those whose state changed are pushed to
    Meilisearch again (Meilisearch's documents hold the state, not the count).
    """
    if keys is None:
        rows = conn.execute(SELECT_ALL_COPY_STATES).fetchall()
    else:
        wanted = sorted(keys)
        if not wanted:
            return 0
        rows = conn.execute(SELECT_COPY_STATES, (json.dumps(wanted),)).fetchall()
    changed = [
        (state, count, entry_id)
        for entry_id, _, old, state, old_count, count in rows
        if (old, old_count) != (state, count)
    ]
    if changed:
        conn.executemany(UPDATE_COPY_STATE, changed)
        files = sorted({path for _, path, old, state, *_ in rows if old != state})
        if files:
            conn.execute(FORGET_MEILI_PUSH, (json.dumps(files),))
    return len(changed)


def delete_entries(conn: Connection, entry_ids: Sequence[int]) -> None:
    """Delete entry rows by id (their targets cascade, the FTS5 trigger follows)."""
    if entry_ids:
        conn.execute(DELETE_ENTRIES, (json.dumps(entry_ids),))


def write_entries(
    conn: Connection, plans: Sequence[FilePlan], *, fts_triggers: bool = True
) -> None:
    """Upsert the plans' entry rows and rewrite their target rows (file rows already written).

    Entry rows are staged in a temporary table and moved with ONE INSERT ...
    SELECT: the FTS5 triggers then run inside a single statement. One statement
    per row (executemany) makes SQLite open a statement savepoint per row, and
    FTS5 flushes its pending index data at every savepoint: 2-3 times slower.
    Batches of STAGE_BATCH_ROWS keep the scratch table in memory. Rows go in
    entry_rowid order (FTS5 flushes its pending data whenever a rowid is lower
    than the one before). With `fts_triggers` False (dropped for a full reindex,
    see drop_fts_triggers) there is nothing to flush: the rows go in with one
    executemany, in the files' order, each new row at the end of the table.
    """
    updated = [entry_id for plan in plans for entry_id in plan.updated_ids]
    if updated:
        conn.execute(DELETE_ENTRIES_TARGETS, (json.dumps(updated),))
    rows = [row for plan in plans for row in plan.upserts]
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


def load_parsed_file(
    conn: Connection,
    source: SourceFile,
    parsed: ParsedFile,
    *,
    synced_utc: int | None = None,
    known_rows: dict[Entry, tuple[Any, ...]] | None = None,
    rows_loaded: bool = False,
) -> FilePlan:
    """Bring one file's rows in line with its parsed entries (inside the caller's transaction).

    `known_rows`: the rows of this file's last load by entry (store_rows.prepare_file reuses
    them); refreshed to this load's rows. `rows_loaded`: the database holds exactly those
    rows for the file (the caller's last load, unchanged since): plan_file compares with
    them instead of reading the file's rows back. Otherwise the file's rows are read once:
    compared with, and taken as they are for the entries they hold unchanged (a service's
    first write to a big file makes the rows of the entries it changed, not all of them).
    """
    if rows_loaded and known_rows is not None:
        in_database = list(known_rows.values())
        stored = None
    else:  # the entries the database holds as they are keep their rows (not made again)
        in_database = conn.execute(SELECT_FILE_ENTRIES, (source.path,)).fetchall()
        stored = {row[ID]: row for row in in_database}
    prepared = prepare_file(source, parsed, known_rows, stored)
    plan = plan_file(conn, prepared, synced_utc=synced_utc, rows_in_database=in_database)
    apply_plans(conn, [plan])
    if known_rows is not None:
        known_rows.clear()
        known_rows.update(zip(parsed.entries, prepared.entry_rows, strict=True))
    return plan


def count_file_entries(conn: Connection, path: str) -> int:
    """How many entry rows a file has in the database."""
    return conn.execute(COUNT_FILE_ENTRIES, (path,)).fetchone()[0]


def delete_file(conn: Connection, path: str) -> int:
    """Remove a file and its entries (targets cascade); return how many entries went."""
    keys = [row[0] for row in conn.execute(SELECT_FILE_COPY_KEYS, (path,))]
    deleted = conn.execute(DELETE_FILE_ENTRIES, (path,)).rowcount
    conn.execute(DELETE_FILE, (path,))
    refresh_copies(conn, keys)
    return deleted
