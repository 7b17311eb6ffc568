"""What a Meilisearch index holds per dialog file: the `meili_sync` rows, and the rows to push.

The connection is passed in (see `indexer.database.Database.open_writer`); this module only runs
its own parameterised queries on it. A file needs a push when the database has it with a
content hash other than the one recorded for the index; a file needs removing when the
index holds it and the database no longer does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dialogfile.fields import STORE_FIELDS
from dialogfile.model import ENTRY_FIELDS, Entry

if TYPE_CHECKING:
    from indexer.database import Connection

FILES_SQL = "SELECT file_path, content_hash FROM lupo_dialog_files ORDER BY file_path"
SYNCED_SQL = "SELECT dialog_file, content_hash FROM meili_sync WHERE index_key = ?"
FILE_HASH_SQL = "SELECT content_hash FROM lupo_dialog_files WHERE file_path = ?"
SYNCED_HASH_SQL = "SELECT content_hash FROM meili_sync WHERE index_key = ? AND dialog_file = ?"
#: The ENTRY_FIELDS columns, in ENTRY_FIELDS order, without metadata; then the store's
#: own fields (dialogfile.fields.STORE_FIELDS), by name.
_ENTRY_COLUMNS = tuple(name for name in ENTRY_FIELDS if name != "metadata")
_STORE_NAMES = tuple(field.name for field in STORE_FIELDS)
_STORE_COLUMNS = ", ".join(f"{field.column} AS {field.name}" for field in STORE_FIELDS)
ENTRIES_OF_FILE_SQL = f"""
SELECT dialog_entry_id, {", ".join(_ENTRY_COLUMNS)}, {_STORE_COLUMNS}, metadata_json
FROM lupo_dialog_entries
WHERE dialog_file = ?
ORDER BY line, dialog_entry_id
"""
TARGETS_OF_FILE_SQL = """
SELECT t.dialog_entry_id, t.target
FROM lupo_dialog_entry_targets AS t
JOIN lupo_dialog_entries AS e ON e.dialog_entry_id = t.dialog_entry_id
WHERE e.dialog_file = ?
ORDER BY t.dialog_entry_id, t.target
"""
RECORD_SQL = """
INSERT INTO meili_sync (index_key, dialog_file, content_hash, documents, pushed_at_utc)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (index_key, dialog_file) DO UPDATE SET
    content_hash = excluded.content_hash,
    documents = excluded.documents,
    pushed_at_utc = excluded.pushed_at_utc
"""
RECORDED_KEY_SQL = """
SELECT index_key FROM meili_sync
WHERE substr(index_key, 1, length(:prefix)) = :prefix
ORDER BY pushed_at_utc DESC
LIMIT 1
"""
FORGET_SQL = "DELETE FROM meili_sync WHERE index_key = ? AND dialog_file = ?"
FORGET_INDEX_SQL = "DELETE FROM meili_sync WHERE index_key = ?"
# Rows of earlier incarnations of the same index (same "<url> <uid> " prefix).
FORGET_OLD_INCARNATIONS_SQL = """
DELETE FROM meili_sync
WHERE substr(index_key, 1, length(:prefix)) = :prefix AND index_key != :key
"""


@dataclass(frozen=True)
class SyncPlan:
    """What one push does to one index.

    `to_push`: files (path, content hash) the index lacks or holds in another version;
    `to_remove`: files the index holds and the database no longer has; `sweep`: the
    records cannot be trusted to list everything the index holds (a full push, or no
    record at all, as after the database was rebuilt), so once every file is pushed,
    documents of any file version not in `current` are deleted.
    """

    current: tuple[tuple[str, str], ...]
    to_push: tuple[tuple[str, str], ...]
    to_remove: tuple[str, ...]
    sweep: bool

    @property
    def unchanged(self) -> int:
        """Files the index already holds in their current version."""
        return len(self.current) - len(self.to_push)


@dataclass(frozen=True)
class IndexedEntry:
    """One entry as the database holds it, ready to become a document.

    `fields` has the ENTRY_FIELDS except `metadata`, which stays the stored JSON text
    (a push neither parses nor re-encodes it); `targets` are the entry's @targets.
    """

    dialog_entry_id: int
    fields: dict[str, Any]
    metadata_json: str
    targets: tuple[str, ...]

    @classmethod
    def from_entry(cls, dialog_entry_id: int, entry: Entry, targets: Iterable[str]) -> IndexedEntry:
        """The same for an Entry that is not (or not yet) read from the database."""
        # Not read from the database: the store's fields take their first choice.
        fields = {**entry.to_dict(), **{f.name: f.choices[0] for f in STORE_FIELDS}}
        metadata = fields.pop("metadata")
        metadata_json = json.dumps(metadata, ensure_ascii=False, sort_keys=True)
        return cls(dialog_entry_id, fields, metadata_json, tuple(targets))


def plan_sync(conn: Connection, index_key: str, *, full: bool = False) -> SyncPlan:
    """Compare the database's files with what the index holds; `full` pushes every file."""
    current = tuple(conn.execute(FILES_SQL).fetchall())
    synced = dict(conn.execute(SYNCED_SQL, (index_key,)).fetchall())
    current_paths = {path for path, _ in current}
    to_push = tuple(
        (path, content_hash)
        for path, content_hash in current
        if full or synced.get(path) != content_hash
    )
    return SyncPlan(
        current=current,
        to_push=to_push,
        to_remove=tuple(sorted(set(synced) - current_paths)),
        sweep=full or not synced,
    )


def file_hash(conn: Connection, dialog_file: str) -> str | None:
    """The content hash the database holds for a file; None when it has no such file."""
    row = conn.execute(FILE_HASH_SQL, (dialog_file,)).fetchone()
    return row[0] if row else None


def recorded_files(conn: Connection, index_key: str) -> list[tuple[str, str]]:
    """Every file (path, content hash) recorded as pushed to one index incarnation."""
    return [tuple(row) for row in conn.execute(SYNCED_SQL, (index_key,))]  # type: ignore[misc]


def files_behind(conn: Connection, index_key: str, paths: Iterable[str]) -> list[str]:
    """Of `paths`, those whose database version the index's records do not hold
    (changed, new, or gone from the database but still recorded)."""
    behind = []
    for path in sorted(set(paths)):
        synced = conn.execute(SYNCED_HASH_SQL, (index_key, path)).fetchone()
        if file_hash(conn, path) != (synced[0] if synced else None):
            behind.append(path)
    return behind


def recorded_index_key(conn: Connection, prefix: str) -> str | None:
    """The key of the incarnation of an index ("<url> <uid> " prefix) last pushed to."""
    row = conn.execute(RECORDED_KEY_SQL, {"prefix": prefix}).fetchone()
    return row[0] if row else None


def stored_entries(conn: Connection, dialog_file: str) -> list[IndexedEntry]:
    """The entries of one file as the database holds them, in line order."""
    targets: dict[int, list[str]] = {}
    for entry_id, target in conn.execute(TARGETS_OF_FILE_SQL, (dialog_file,)):
        targets.setdefault(entry_id, []).append(target)
    stored = []
    for row in conn.execute(ENTRIES_OF_FILE_SQL, (dialog_file,)):
        entry_id, metadata_json = row[0], row[-1]
        fields = dict(zip((*_ENTRY_COLUMNS, *_STORE_NAMES), row[1:-1], strict=True))
        fields["body"] = fields["body"] or ""
        stored.append(
            IndexedEntry(entry_id, fields, metadata_json or "{}", tuple(targets.get(entry_id, ())))
        )
    return stored


@contextmanager
def _transaction(conn: Connection) -> Iterator[None]:
    """One write transaction on an autocommit connection (or the caller's, if open)."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def record_pushed(conn: Connection, index_key: str, pushed: list[tuple[str, str, int]]) -> None:
    """Record files (path, content hash, documents) whose push every task acknowledged."""
    now = int(datetime.now(UTC).strftime("%Y%m%d%H%M%S"))
    with _transaction(conn):
        conn.executemany(
            RECORD_SQL, [(index_key, path, digest, count, now) for path, digest, count in pushed]
        )


def forget_files(conn: Connection, index_key: str, paths: list[str]) -> None:
    """Forget files the index no longer holds."""
    with _transaction(conn):
        conn.executemany(FORGET_SQL, [(index_key, path) for path in paths])


def forget_index(conn: Connection, index_key: str) -> None:
    """Forget everything recorded for one index (before a full push)."""
    with _transaction(conn):
        conn.execute(FORGET_INDEX_SQL, (index_key,))


def forget_old_incarnations(conn: Connection, prefix: str, index_key: str) -> None:
    """Drop rows of an index that was deleted and created again under the same uid."""
    with _transaction(conn):
        conn.execute(FORGET_OLD_INCARNATIONS_SQL, {"prefix": prefix, "key": index_key})
