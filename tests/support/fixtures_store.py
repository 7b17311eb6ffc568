"""Helpers for the SQLite store tests: small dialog trees and database fingerprints."""

from __future__ import annotations

import fcntl
import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.engines.repo_topk import TopkEngine
from searchsvc.stack import SearchStack

REPO_ROOT = Path(__file__).resolve().parents[2]


def bold(speaker: str, message: str, *, day: int = 16, target: str = "@everyone") -> str:
    """One BOLD entry under a dated heading, followed by a `---` rule."""
    return (
        f"## 2026-01-{day:02d} — {speaker}: note\n\n"
        f"**Speaker:** {speaker}\n"
        f"**Target:** {target}\n"
        f'**Message:** "{message}"\n\n'
        "---\n\n"
    )


def write_dialog(root: Path, rel: str, *entries: str) -> Path:
    """Write a dialog file made of a title and `entries` below `root`."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {Path(rel).stem}\n\n" + "".join(entries), encoding="utf-8")
    return path


def small_tree(root: Path) -> Path:
    """Three dialog files, one in a subfolder."""
    write_dialog(root, "team_dialog.md", bold("KIRO", "alpha bravo"), bold("LILITH", "charlie"))
    write_dialog(root, "changelog_dialog.md", bold("CURSOR", "delta echo", day=17))
    write_dialog(root, "sub/meeting_notes.md", bold("ROSE", "foxtrot", target="@KIRO @ROSE"))
    return root


def fts_integrity(conn: sqlite3.Connection) -> None:
    """Raise sqlite3.DatabaseError unless the FTS5 index matches its content table."""
    conn.execute(
        "INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts, rank) "
        "VALUES ('integrity-check', 1)"
    )


def match_ids(conn: sqlite3.Connection, query: str) -> list[int]:
    """dialog_entry_id of the entries whose FTS5 rows match `query` (rowids mapped back)."""
    sql = (
        "SELECT e.dialog_entry_id FROM lupo_dialog_entries_fts JOIN lupo_dialog_entries e "
        "ON e.entry_rowid = lupo_dialog_entries_fts.rowid WHERE lupo_dialog_entries_fts MATCH ?"
    )
    return sorted(row[0] for row in conn.execute(sql, (query,)))


def ids_by_message(db: Path) -> dict[str, int]:
    """dialog_entry_id of every non-section entry, by its message."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT message, dialog_entry_id FROM lupo_dialog_entries WHERE format <> 'section'"
        )
        return dict(rows)
    finally:
        conn.close()


def db_fingerprint(db: Path, without: tuple[str, ...] = ()) -> tuple[int, str]:
    """(entry count, sha256 of every entry, target and file row but last_sync_utc).

    Entry rows without their internal `entry_rowid`: only the public id is stable; and
    without the entry columns `without` (those a later migration adds).
    """
    conn = sqlite3.connect(db)
    try:
        digest = hashlib.sha256()
        columns = [
            row[1]
            for row in conn.execute("PRAGMA table_info(lupo_dialog_entries)")
            if row[1] != "entry_rowid" and row[1] not in without
        ]
        for query in (
            f"SELECT {', '.join(columns)} FROM lupo_dialog_entries ORDER BY dialog_entry_id",
            "SELECT * FROM lupo_dialog_entry_targets ORDER BY dialog_entry_id, target",
            "SELECT file_path, file_type, entry_count, section_count, content_hash, size_bytes,"
            " problems_json FROM lupo_dialog_files ORDER BY file_path",
        ):
            for row in conn.execute(query):
                digest.update(repr(row).encode())
        count = conn.execute("SELECT count(*) FROM lupo_dialog_entries").fetchone()[0]
        return count, digest.hexdigest()
    finally:
        conn.close()


def dialogsearch(*args: str, **popen) -> subprocess.Popen:
    """Start `python -m searchsvc.cli ARGS` (the `dialogsearch` command) as a subprocess."""
    return subprocess.Popen(
        [sys.executable, "-m", "searchsvc.cli", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def topk_stack(db: Path, index_dir: Path, **options: Any) -> SearchStack:
    """The database's two engines: the top-k index first, then SQLite's FTS5."""
    sqlite = SqliteRepository(db)
    return SearchStack(database=sqlite, topk=TopkEngine(sqlite, index_dir, **options))


def lock_is_held(db: Path) -> bool:
    """Whether some process holds `<db>.lock` (the reindex lock) right now."""
    lock = Path(f"{db}.lock")
    if not lock.exists():
        return False
    with open(lock, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False
