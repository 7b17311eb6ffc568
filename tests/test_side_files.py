"""A database deleted under its connections, then made again at the same path.

Its -wal and -shm stay while a connection has them open; without setting them aside the
new database took them for its own (SQLite finds them by name) and its first switch to
WAL failed with "file is not a database" (seen once in the fault suite's `rm dialogs.db`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from indexer.reindex import reindex
from indexer.side_files import set_aside_orphans

ROOT = Path(__file__).resolve().parents[1] / "dialogs"


def test_a_database_made_where_one_was_deleted_under_open_connections_is_sound(
    tmp_path: Path,
) -> None:
    db = tmp_path / "dialogs.db"
    reindex(ROOT, db, full=True)
    writer = sqlite3.connect(db, isolation_level=None)
    reader = sqlite3.connect(db, isolation_level=None)
    try:
        reader.execute("BEGIN")  # a search in its read snapshot keeps the WAL from a reset
        (entries,) = reader.execute("SELECT count(*) FROM lupo_dialog_entries").fetchone()
        writer.execute("CREATE TABLE scratch (x)")
        writer.executemany("INSERT INTO scratch VALUES (?)", [("x" * 500,)] * 200)
        db.unlink()
        assert Path(f"{db}-wal").exists() and Path(f"{db}-shm").exists()

        reindex(ROOT, db)  # a new database at the same path, as recovery makes it

        orphans = sorted(p.name for p in tmp_path.iterdir() if ".orphan-" in p.name)
        assert [name.rsplit("-", 1)[1] for name in orphans] == ["shm", "wal"]
        writer.executemany("INSERT INTO scratch VALUES (?)", [("y" * 500,)] * 50)
        # The old connections go on with the deleted file: the reader in its snapshot.
        assert reader.execute("SELECT count(*) FROM lupo_dialog_entries").fetchone() == (entries,)
        with sqlite3.connect(db) as fresh:
            assert fresh.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert fresh.execute("SELECT count(*) FROM lupo_dialog_entries").fetchone() == (
                entries,
            )
    finally:
        reader.close()
        writer.close()
    with sqlite3.connect(db) as after:  # the old connections closed: the new file is untouched
        assert after.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_side_files_beside_a_database_that_exists_are_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "dialogs.db"
    reindex(ROOT, db, full=True)
    with sqlite3.connect(db) as conn:
        conn.execute("BEGIN IMMEDIATE")
        assert set_aside_orphans(db) is None
        conn.execute("ROLLBACK")
    assert not [p for p in tmp_path.iterdir() if ".orphan-" in p.name]


def test_nothing_to_set_aside_without_side_files(tmp_path: Path) -> None:
    assert set_aside_orphans(tmp_path / "dialogs.db") is None
    (tmp_path / "dialogs.db-journal").write_bytes(b"a journal without its database")
    name = set_aside_orphans(tmp_path / "dialogs.db")
    assert name is not None and (tmp_path / f"{name}-journal").exists()
    assert not (tmp_path / "dialogs.db-journal").exists()
