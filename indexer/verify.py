"""Check that the database holds exactly what the dialog files say, field by field.

verify() re-reads and re-parses every file and compares it with the database:
files on disk against file rows, each file row's columns, the entry count, then
every column of every entry (ids included) and its target rows. It also checks
that every timestamp_utc is a real date-time, that of each set of copies exactly the
first place is the original, and runs FTS5's own integrity check. It only reads (the
FTS5 check is issued as an INSERT but changes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogfile.names import target_tokens
from dialogfile.parse import parse_file
from indexer.database import Database, SqliteError
from indexer.discover import find_dialog_files, read_source
from indexer.load_sqlite import SELECT_ALL_COPY_STATES, SELECT_FILE_ENTRIES, rows_for_file
from indexer.migrate import pending_migrations
from indexer.store_rows import (
    ENTRY_COLUMNS,
    FILE_COLUMNS,
    FORMAT,
    ID,
    LINE,
    TARGET,
    prepare_file,
)

if TYPE_CHECKING:
    from indexer.database import Connection

REINDEX = "run dialogsearch reindex"
SELECT_ENTRY_LINE = "SELECT line FROM lupo_dialog_entries WHERE dialog_entry_id = ?"
SELECT_FILES = f"SELECT {', '.join(FILE_COLUMNS)} FROM lupo_dialog_files"
SELECT_FILE_TARGETS = """
SELECT t.dialog_entry_id, t.target FROM lupo_dialog_entry_targets AS t
JOIN lupo_dialog_entries AS e ON e.dialog_entry_id = t.dialog_entry_id
WHERE e.dialog_file = ?
"""
SELECT_ORPHAN_ENTRIES = """
SELECT dialog_file, min(line), count(*) FROM lupo_dialog_entries
WHERE dialog_file NOT IN (SELECT file_path FROM lupo_dialog_files)
GROUP BY dialog_file ORDER BY dialog_file
"""
SELECT_ORPHAN_TARGETS = """
SELECT dialog_entry_id, target FROM lupo_dialog_entry_targets
WHERE dialog_entry_id NOT IN (SELECT dialog_entry_id FROM lupo_dialog_entries)
ORDER BY dialog_entry_id
"""
SELECT_TIMESTAMPS = """
SELECT dialog_file, line, dialog_entry_id, timestamp_utc FROM lupo_dialog_entries
WHERE timestamp_utc IS NOT NULL ORDER BY dialog_file, line
"""
FTS_INTEGRITY_CHECK = (
    "INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts, rank) "
    "VALUES ('integrity-check', 1)"
)
# Columns compared per file; mtime_ns and last_sync_utc legitimately change.
_COMPARED_FILE_COLUMNS = (
    "file_type",
    "entry_count",
    "section_count",
    "size_bytes",
    "problems_json",
)
_SHOWN_CHARS = 60


@dataclass(frozen=True)
class Difference:
    """One way the database differs from the files: `path:line: message`."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass
class VerifyReport:
    """The differences found and how much was compared."""

    differences: list[Difference] = field(default_factory=list)
    files_checked: int = 0
    entries_checked: int = 0

    @property
    def ok(self) -> bool:
        """True when the database matches the files exactly."""
        return not self.differences


def is_valid_timestamp(value: object) -> bool:
    """True for an int YYYYMMDDHHMMSS naming a real moment (ISO 8601's 24:00:00 included)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 10**13 <= value < 10**14:
        return False
    text = str(value)
    if text.endswith("240000"):
        text = text[:8] + "000000"  # "2026-01-14 24:00:00" is written in real files
    try:
        datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        return False
    return True


def verify(root: str | Path, db_path: str | Path) -> VerifyReport:
    """Compare every dialog file under `root` with the database at `db_path`."""
    root, db_path = Path(root), Path(db_path)
    report = VerifyReport()
    if not db_path.exists():
        report.differences.append(Difference(str(db_path), None, f"no database ({REINDEX})"))
        return report
    # Read-write but migrating nothing: FTS5 runs its integrity check as an INSERT.
    conn = Database(db_path).open_writer(migrate=False)
    try:
        pending = pending_migrations(conn)
        if pending:
            report.differences.append(
                Difference(
                    str(db_path), None, f"migrations not applied: {', '.join(pending)} ({REINDEX})"
                )
            )
            return report
        conn.execute("BEGIN")  # one consistent snapshot, even while a reindex commits
        try:
            _compare_files(conn, root, report)
            _check_orphans(conn, report)
            _check_timestamps(conn, report)
            _check_copies(conn, report)
        finally:
            conn.execute("ROLLBACK")
        # FTS5's check is an INSERT: a snapshot older than another writer's last commit
        # cannot become a write transaction ("database is locked" at once, whatever the
        # busy timeout), so it takes the write lock first, waiting for a serving writer.
        conn.execute("BEGIN IMMEDIATE")
        try:
            _check_fts(conn, db_path, report)
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.close()
    return report


def _compare_files(conn: Connection, root: Path, report: VerifyReport) -> None:
    db_files = {
        row[0]: dict(zip(FILE_COLUMNS, row, strict=True)) for row in conn.execute(SELECT_FILES)
    }
    disk_files = find_dialog_files(root)
    for path in sorted(db_files.keys() - set(disk_files)):
        report.differences.append(
            Difference(path, None, f"in the database but not on disk ({REINDEX})")
        )
    for path in disk_files:
        report.files_checked += 1
        if path not in db_files:
            report.differences.append(
                Difference(path, None, f"on disk but not in the database ({REINDEX})")
            )
            continue
        _compare_file(conn, root, path, db_files[path], report)


def _compare_file(
    conn: Connection, root: Path, path: str, db_file: dict[str, Any], report: VerifyReport
) -> None:
    source = read_source(root, path)
    if source.content_hash != db_file["content_hash"]:
        report.differences.append(
            Difference(path, None, f"changed since the last reindex ({REINDEX})")
        )
        return
    rows = rows_for_file(conn, prepare_file(source, parse_file(source.text, path)))
    expected_file = dict(zip(FILE_COLUMNS, rows.file_row, strict=True))
    for column in _COMPARED_FILE_COLUMNS:
        if db_file[column] != expected_file[column]:
            report.differences.append(
                Difference(
                    path, None, _mismatch(f"file {column}", db_file[column], expected_file[column])
                )
            )
    expected = {row[ID]: row for row in rows.entry_rows}
    stored = {row[ID]: row for row in conn.execute(SELECT_FILE_ENTRIES, (path,))}
    report.entries_checked += len(expected)
    if len(stored) != len(expected):
        report.differences.append(
            Difference(
                path, None, f"{len(stored)} entries in the database, {len(expected)} in the file"
            )
        )
    for entry_id, row in expected.items():
        if entry_id not in stored:
            report.differences.append(
                Difference(
                    path, row[LINE], f"entry {entry_id} ({row[FORMAT]}) missing from the database"
                )
            )
            continue
        for column, db_value, file_value in zip(ENTRY_COLUMNS, stored[entry_id], row, strict=True):
            if db_value != file_value and not _whole_body_indexed(column, db_value):
                report.differences.append(
                    Difference(
                        path,
                        row[LINE],
                        _mismatch(f"entry {entry_id} {column}", db_value, file_value),
                    )
                )
    for entry_id in sorted(stored.keys() - expected.keys()):
        report.differences.append(
            Difference(
                path,
                stored[entry_id][LINE],
                f"entry {entry_id} is in the database but not in the file",
            )
        )
    _compare_targets(conn, path, expected, report)


def _compare_targets(
    conn: Connection, path: str, expected: dict[int, tuple[Any, ...]], report: VerifyReport
) -> None:
    want = {
        (entry_id, token)
        for entry_id, row in expected.items()
        for token in target_tokens(row[TARGET])
    }
    have = set(conn.execute(SELECT_FILE_TARGETS, (path,)))
    for entry_id, token in sorted(want - have):
        report.differences.append(
            Difference(
                path, expected[entry_id][LINE], f"entry {entry_id} target row {token!r} missing"
            )
        )
    for entry_id, token in sorted(have - want):
        where = expected[entry_id][LINE] if entry_id in expected else None
        report.differences.append(
            Difference(path, where, f"entry {entry_id} has target row {token!r} not in its target")
        )


def _check_orphans(conn: Connection, report: VerifyReport) -> None:
    for path, line, count in conn.execute(SELECT_ORPHAN_ENTRIES):
        report.differences.append(
            Difference(
                path, line, f"{count} entries belong to no file row ({REINDEX} into a new database)"
            )
        )
    for entry_id, token in conn.execute(SELECT_ORPHAN_TARGETS):
        report.differences.append(
            Difference(
                "lupo_dialog_entry_targets", None, f"target {token!r} of missing entry {entry_id}"
            )
        )


def _check_timestamps(conn: Connection, report: VerifyReport) -> None:
    for path, line, entry_id, value in conn.execute(SELECT_TIMESTAMPS):
        if not is_valid_timestamp(value):
            report.differences.append(
                Difference(
                    path,
                    line,
                    f"entry {entry_id} timestamp_utc {value!r} is not a valid "
                    "YYYYMMDDHHMMSS date-time",
                )
            )


def _check_copies(conn: Connection, report: VerifyReport) -> None:
    """Each set of copies has exactly its first place as the original (dialogfile.copies),
    and each of its rows counts them all (copy_count)."""
    for entry_id, path, state, expected, count, expected_count in conn.execute(
        SELECT_ALL_COPY_STATES
    ):
        problems = []
        if state != expected:
            problems.append(f"is marked {state!r} among its copies, {expected!r} is right")
        if count != expected_count:
            problems.append(f"counts {count} places of its copies, {expected_count} is right")
        for problem in problems:
            line = conn.execute(SELECT_ENTRY_LINE, (entry_id,)).fetchone()
            report.differences.append(
                Difference(
                    path, line[0] if line else None, f"entry {entry_id} {problem} ({REINDEX})"
                )
            )


def _check_fts(conn: Connection, db_path: Path, report: VerifyReport) -> None:
    try:
        conn.execute(FTS_INTEGRITY_CHECK)
    except SqliteError as error:
        report.differences.append(
            Difference(str(db_path), None, f"full-text index: {error} ({REINDEX} --full)")
        )


def _whole_body_indexed(column: str, db_value: object) -> bool:
    """body_extra NULL (a database migrated by sql/0003): the whole body is indexed, not wrong."""
    return column == "body_extra" and db_value is None


def _mismatch(what: str, db_value: object, file_value: object) -> str:
    return f"{what} is {_shown(db_value)} in the database, {_shown(file_value)} in the file"


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"
