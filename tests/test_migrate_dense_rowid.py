"""sql/0008: a database of the previous schema (0001-0007) is upgraded in place.

The entries get a dense internal rowid (what FTS5 indexes) beside their public ids, and
FTS5 loses its prefix indexes. The upgrade keeps every id, row, target and word; the
top-k index built before it stays current.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from support.fixtures_store import db_fingerprint, fts_integrity, match_ids

from indexer.database import Database
from indexer.migrate import apply_migrations, migration_files, pending_migrations
from indexer.reindex import reindex
from indexer.store_rows import ENTRY_COLUMNS
from indexer.topk_index import build, catch_up
from indexer.verify import verify

SAMPLE_DIALOGS = Path(__file__).resolve().parents[1] / "dialogs"
DENSE = "0008_dense_fts_rowid"
WORDS = ["rollback", "checksum", "migration", "incident", "KIRO", "deploy*", "body:speaker"]


def previous_schema(tmp_path: Path, source: Path) -> Path:
    """A database made by the migrations before 0008, holding the rows of `source`.

    The entries go in in another order than their ids, as years of incremental
    reindexes leave them; the old triggers fill its FTS5 index.
    """
    old_sql = tmp_path / "old_sql"
    old_sql.mkdir()
    for name, text in migration_files():
        if name < DENSE:
            (old_sql / f"{name}.sql").write_text(text)
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    apply_migrations(conn, old_sql)
    columns = ", ".join([*ENTRY_COLUMNS, "copy_state"])
    conn.execute("ATTACH DATABASE ? AS source", (str(source),))
    conn.execute("BEGIN")
    conn.execute("INSERT INTO lupo_dialog_files SELECT * FROM source.lupo_dialog_files")
    conn.execute(
        f"INSERT INTO lupo_dialog_entries ({columns}) "
        f"SELECT {columns} FROM source.lupo_dialog_entries ORDER BY entry_key"
    )
    conn.execute(
        "INSERT INTO lupo_dialog_entry_targets (dialog_entry_id, target) "
        "SELECT dialog_entry_id, target FROM source.lupo_dialog_entry_targets"
    )
    conn.execute("COMMIT")
    conn.execute("DETACH DATABASE source")
    assert "prefix = '2 3'" in fts_sql(conn)
    conn.close()
    return db


def fts_sql(conn: sqlite3.Connection) -> str:
    return conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'lupo_dialog_entries_fts'"
    ).fetchone()[0]


def old_match_ids(conn: sqlite3.Connection, query: str) -> list[int]:
    """Before 0008 the FTS5 rowids are the public ids."""
    sql = "SELECT rowid FROM lupo_dialog_entries_fts WHERE lupo_dialog_entries_fts MATCH ?"
    return sorted(row[0] for row in conn.execute(sql, (query,)))


@pytest.fixture
def upgraded(tmp_path: Path) -> tuple[Path, Path, Path, dict[str, list[int]], tuple[int, str]]:
    """(root, db, top-k folder, FTS5 matches before, fingerprint before): the upgrade done."""
    root = shutil.copytree(SAMPLE_DIALOGS, tmp_path / "dialogs")
    source = tmp_path / "source.db"
    reindex(root, source)
    db = previous_schema(tmp_path, source)
    index_dir = tmp_path / "topk"
    assert build(db, index_dir).action == "built"
    conn = sqlite3.connect(db)
    before = {word: old_match_ids(conn, word) for word in WORDS}
    conn.close()
    fingerprint = db_fingerprint(db)
    conn = Database(db).open_writer()  # migrates
    assert pending_migrations(conn) == []
    conn.close()
    return root, db, index_dir, before, fingerprint


def test_the_upgrade_keeps_every_row_id_target_and_word(upgraded) -> None:
    root, db, _, before, fingerprint = upgraded
    # Every column but the new rowid (and sql/0009's copy_count), targets, files.
    assert db_fingerprint(db, without=("copy_count",)) == fingerprint
    conn = sqlite3.connect(db)
    try:
        fts_integrity(conn)
        assert "prefix" not in fts_sql(conn)
        assert all(before[word] for word in WORDS)
        assert {word: match_ids(conn, word) for word in WORDS} == before
        # A migrated database numbers its rows 1..N in id order.
        rows = conn.execute(
            "SELECT entry_rowid FROM lupo_dialog_entries ORDER BY dialog_entry_id"
        ).fetchall()
        assert [row[0] for row in rows] == list(range(1, len(rows) + 1))
    finally:
        conn.close()
    assert verify(root, db).ok
    assert reindex(root, db).files_changed == 0


def test_the_top_k_index_built_before_the_upgrade_stays_current(upgraded) -> None:
    _, db, index_dir, _, _ = upgraded
    assert catch_up(db, index_dir).action == "fresh"


def test_writes_after_the_upgrade_keep_fts5_and_the_targets_in_step(upgraded) -> None:
    root, db, _, before, _ = upgraded
    last = sorted(root.rglob("*.md"))[-1]
    last.write_text(
        last.read_text(encoding="utf-8")
        + '\n---\nDIALOG:\n  speaker: "ROSE"\n  target: "@KIRO @LILITH"\n'
        '  message: "Zebracorn upgrade probe."\n---\n',
        encoding="utf-8",
    )
    summary = reindex(root, db)
    assert summary.entries_added >= 1
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        fts_integrity(conn)
        (new_id,) = match_ids(conn, "zebracorn")
        rowid, count = conn.execute(
            "SELECT entry_rowid, (SELECT count(*) FROM lupo_dialog_entries) "
            "FROM lupo_dialog_entries WHERE dialog_entry_id = ?",
            (new_id,),
        ).fetchone()
        assert rowid > count - summary.entries_added  # new rows go at the end
        targets = "SELECT target FROM lupo_dialog_entry_targets WHERE dialog_entry_id = ?"
        assert sorted(row[0] for row in conn.execute(targets, (new_id,))) == ["@KIRO", "@LILITH"]
        with conn:  # the targets still go with their entry (ON DELETE CASCADE)
            conn.execute("DELETE FROM lupo_dialog_entries WHERE dialog_entry_id = ?", (new_id,))
        assert conn.execute(targets, (new_id,)).fetchall() == []
        assert match_ids(conn, "zebracorn") == []
        assert match_ids(conn, "rollback") == before["rollback"]
    finally:
        conn.close()
