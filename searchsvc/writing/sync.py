"""Sync files and database both ways: GET /api/dialog/sync (dry run), POST (does it).

Database -> files: an entry row whose file no longer holds it is written back
to that file as a canonical inline block that records the row's id. Only rows
of files that are unchanged since the database loaded them (same content hash)
count: such a row did not come from the file, so something else wrote it to the
database. When the file changed on disk (or is gone) the file wins and the
incremental reindex brings its rows in line with it.

Files -> database: the incremental reindex (indexer.reindex), after the
write-back, so that the written-back blocks are loaded too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialogfile.edits import EDITABLE_FIELDS
from dialogfile.identity import keyed_entries
from dialogfile.parse import parse_file
from dialogfile.writer import UnrepresentableEdit, plan_append, write_dialog_file
from indexer.database import Connection, Database, SqliteError
from indexer.discover import read_source
from indexer.load_sqlite import file_hashes
from indexer.reindex import ReindexBusy, reindex
from searchsvc.exceptions import WriteUnavailable
from searchsvc.writing.service import WriteService

SELECT_DIALOG_ROWS = """
SELECT dialog_entry_id, dialog_file, format, line, speaker, target, mood_rgb, message,
       timestamp_utc
FROM lupo_dialog_entries
WHERE format <> 'section'
ORDER BY dialog_file, line, dialog_entry_id
"""


@dataclass(frozen=True)
class MissingEntry:
    """A database row whose (unchanged) file does not hold it."""

    entry_id: int
    dialog_file: str
    format: str
    line: int
    fields: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The row as the sync report lists it."""
        return {
            "dialog_entry_id": self.entry_id,
            "dialog_file": self.dialog_file,
            "format": self.format,
            "line": self.line,
            **self.fields,
        }


def find_missing_entries(root: Path, conn: Connection) -> list[MissingEntry]:
    """Rows of unchanged files that the files do not produce (see the module docstring)."""
    hashes = file_hashes(conn)
    by_file: dict[str, list[MissingEntry]] = defaultdict(list)
    for row in conn.execute(SELECT_DIALOG_ROWS):
        entry_id, rel, entry_format, line, *values = row
        fields = dict(zip(EDITABLE_FIELDS, values, strict=True))
        by_file[rel].append(MissingEntry(entry_id, rel, entry_format, line, fields))
    missing: list[MissingEntry] = []
    for rel, rows in sorted(by_file.items()):
        try:
            source = read_source(root, rel)
        except (OSError, ValueError):
            continue  # the file is gone (or unsafe): the file wins, reindex deletes its rows
        if source.content_hash != hashes.get(rel):
            continue  # changed on disk since it was loaded: the file wins
        # Content ids; the loader moves an id only on a cross-file collision (~2**-53).
        produced = {
            entry_id for entry_id, _, _ in keyed_entries(parse_file(source.text, rel).entries)
        }
        missing += [row for row in rows if row.entry_id not in produced]
    return missing


def _write_back(service: WriteService, missing: list[MissingEntry]) -> list[dict[str, Any]]:
    """Append each missing row to its file; the rows that could not be written, with why."""
    not_written: list[dict[str, Any]] = []
    by_file: dict[str, list[MissingEntry]] = defaultdict(list)
    for row in missing:
        by_file[row.dialog_file].append(row)
    with service.locked():
        for rel, rows in by_file.items():
            path = service.resolve(rel)
            text, bom = service.read(path, rel)
            for row in rows:
                if row.fields["speaker"] is None and row.fields["message"] is None:
                    reason = "it has neither speaker nor message, so no block can hold it"
                    not_written.append({"dialog_entry_id": row.entry_id, "reason": reason})
                    continue
                try:
                    text = plan_append(text, rel, row.fields, entry_id=row.entry_id).text
                except UnrepresentableEdit as error:
                    not_written.append({"dialog_entry_id": row.entry_id, "reason": str(error)})
            try:
                write_dialog_file(path, text, bom=bom)
            except OSError as error:
                raise WriteUnavailable(f"Cannot write {rel}: {error.strerror}") from None
    return not_written


def sync(service: WriteService, *, dry_run: bool) -> dict[str, Any]:
    """Both directions (or, with `dry_run`, what they would change) as a JSON-ready report.

    :raise WriteUnavailable: the database cannot be read or written (it is recovered by
        the fallback), or another writer holds the lock for too long.
    """
    try:
        conn = Database(service.db_path).open_reader()
    except SqliteError as error:
        raise WriteUnavailable(f"The database cannot be read: {error}") from None
    try:
        missing = find_missing_entries(service.root, conn) if conn is not None else []
    except SqliteError as error:
        raise WriteUnavailable(f"The database cannot be read: {error}") from None
    finally:
        if conn is not None:
            conn.close()
    not_written: list[dict[str, Any]] = []
    if missing and not dry_run:
        not_written = _write_back(service, missing)
    try:
        summary = reindex(service.root, service.db_path, dry_run=dry_run, wait=service.lock_wait)
    except ReindexBusy as error:
        raise WriteUnavailable(str(error)) from None
    except SqliteError as error:
        raise WriteUnavailable(f"The database cannot be written: {error}") from None
    except OSError as error:  # e.g. a read-only database folder: no `<db>.lock`
        raise WriteUnavailable(f"The database cannot be written: {error.strerror}") from None
    if not dry_run:
        with service.locked():  # the write service's connection and caches: one user at a time
            for rel in {row.dialog_file for row in missing}:
                service.load_file(rel)
        changed = getattr(service.repository, "database_changed", None)
        if changed is not None and summary.files_changed + summary.files_removed:
            changed()  # the reindex's files reach what follows the database (Meilisearch)
    return {
        "ok": True,
        "dry_run": dry_run,
        "files_to_database": summary.to_dict(),
        "database_to_files": {
            "entries": [row.to_dict() for row in missing],
            "written": 0 if dry_run else len(missing) - len(not_written),
            "not_written": not_written,
        },
    }
