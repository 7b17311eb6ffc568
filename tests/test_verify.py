import sqlite3
import threading
from pathlib import Path

import pytest
from support.fixtures_store import bold, ids_by_message, small_tree, write_dialog

from indexer.reindex import reindex
from indexer.verify import is_valid_timestamp, verify


@pytest.fixture
def indexed(tmp_path: Path) -> tuple[Path, Path]:
    root = small_tree(tmp_path / "dialogs")
    db = tmp_path / "dialogs.db"
    reindex(root, db)
    return root, db


def tamper(db: Path, sql: str, *params) -> None:
    conn = sqlite3.connect(db)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def messages(root: Path, db: Path) -> list[str]:
    return [str(difference) for difference in verify(root, db).differences]


def test_a_fresh_index_verifies_clean(indexed):
    root, db = indexed
    report = verify(root, db)
    assert report.ok and report.differences == []
    assert report.files_checked == 3 and report.entries_checked > 4


def test_one_tampered_field_is_caught_with_file_line_and_both_values(indexed):
    root, db = indexed
    entry_id = ids_by_message(db)["charlie"]
    tamper(
        db,
        "UPDATE lupo_dialog_entries SET message = 'charlie!' WHERE dialog_entry_id = ?",
        entry_id,
    )
    (difference,) = messages(root, db)
    line = (
        sqlite3.connect(db)
        .execute("SELECT line FROM lupo_dialog_entries WHERE dialog_entry_id = ?", (entry_id,))
        .fetchone()[0]
    )
    assert difference == (
        f"team_dialog.md:{line}: entry {entry_id} message is 'charlie!' in the database, "
        "'charlie' in the file"
    )


def test_a_changed_id_is_caught(indexed):
    root, db = indexed
    entry_id = ids_by_message(db)["foxtrot"]
    tamper(
        db, "UPDATE lupo_dialog_entries SET dialog_entry_id = 7 WHERE dialog_entry_id = ?", entry_id
    )
    found = messages(root, db)
    assert any(f"entry {entry_id} (bold) missing from the database" in m for m in found)
    assert any("entry 7 is in the database but not in the file" in m for m in found)


def test_a_deleted_row_is_caught(indexed):
    root, db = indexed
    entry_id = ids_by_message(db)["delta echo"]
    tamper(db, "DELETE FROM lupo_dialog_entries WHERE dialog_entry_id = ?", entry_id)
    found = messages(root, db)
    assert any(
        m.startswith("changelog_dialog.md: ") and "entries in the database" in m for m in found
    )
    assert any(f"entry {entry_id} (bold) missing from the database" in m for m in found)


def test_a_bad_timestamp_is_caught(indexed):
    root, db = indexed
    entry_id = ids_by_message(db)["alpha bravo"]
    tamper(
        db,
        "UPDATE lupo_dialog_entries SET timestamp_utc = 20261341000000 WHERE dialog_entry_id = ?",
        entry_id,
    )
    found = messages(root, db)
    assert any(
        f"entry {entry_id} timestamp_utc 20261341000000 is not a valid YYYYMMDDHHMMSS" in m
        for m in found
    )


def test_target_rows_files_and_the_fts_index_are_checked(indexed):
    root, db = indexed
    tamper(db, "DELETE FROM lupo_dialog_entry_targets WHERE target = '@ROSE'")
    tamper(db, "UPDATE lupo_dialog_files SET entry_count = 99 WHERE file_path = 'team_dialog.md'")
    tamper(
        db,
        "INSERT INTO lupo_dialog_entries_fts (rowid, message) VALUES (123, 'ghost')",
    )
    write_dialog(root, "late_dialog.md", bold("KIRO", "not indexed yet"))
    (root / "changelog_dialog.md").write_text("# edited after indexing\n")
    found = messages(root, db)
    assert any("target row '@ROSE' missing" in m for m in found)
    assert any(
        m.startswith("team_dialog.md: file entry_count is 99 in the database") for m in found
    )
    assert "late_dialog.md: on disk but not in the database (run dialogsearch reindex)" in found
    assert "changelog_dialog.md: changed since the last reindex (run dialogsearch reindex)" in found
    assert any("full-text index" in m for m in found)


def test_a_file_gone_from_disk_is_reported(indexed):
    root, db = indexed
    (root / "sub" / "meeting_notes.md").unlink()
    assert messages(root, db) == [
        "sub/meeting_notes.md: in the database but not on disk (run dialogsearch reindex)"
    ]


def test_a_missing_database_is_one_difference(tmp_path: Path):
    root = small_tree(tmp_path / "dialogs")
    assert messages(root, tmp_path / "nope.db") == [
        f"{tmp_path / 'nope.db'}: no database (run dialogsearch reindex)"
    ]
    assert not (tmp_path / "nope.db").exists()


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (20260116000000, True),
        (20240229235959, True),
        (20260114240000, True),  # ISO 8601 end of day, written so in real files
        (20260114240100, False),
        (20230229000000, False),
        (20261301000000, False),
        (20260132000000, False),
        (20260101256000, False),
        (2026011600000, False),
        ("20260116000000", False),
        (True, False),
    ],
)
def test_timestamp_validity(value, valid):
    assert is_valid_timestamp(value) is valid


def test_a_wrong_copy_state_is_caught(tmp_path: Path):
    root = small_tree(tmp_path / "dialogs")
    (root / "deep/er").mkdir(parents=True)
    (root / "deep/er/team_dialog.md").write_bytes((root / "team_dialog.md").read_bytes())
    db = tmp_path / "dialogs.db"
    reindex(root, db)
    assert verify(root, db).ok
    conn = sqlite3.connect(db)
    with conn:  # the original's mark moved to its copy
        conn.execute(
            "UPDATE lupo_dialog_entries SET copy_state = CASE copy_state "
            "WHEN 'copy' THEN 'original' ELSE 'copy' END "
            "WHERE copy_key IN (SELECT copy_key FROM lupo_dialog_entries "
            "WHERE dialog_file = 'deep/er/team_dialog.md')"
        )
    conn.close()
    report = verify(root, db)
    messages = [str(d) for d in report.differences]
    assert messages and all("among its copies" in m for m in messages), messages
    assert any(m.startswith("team_dialog.md:") and "'copy' among its copies" in m for m in messages)
    reindex(root, db, full=True)
    assert verify(root, db).ok


def test_verify_passes_while_another_connection_keeps_committing(indexed):
    # A serving writer commits while verify compares: FTS5's integrity check (an INSERT)
    # must not fail on verify's older snapshot ("database is locked").
    root, db = indexed
    stop = threading.Event()
    commits = 0

    def keep_committing() -> None:
        nonlocal commits
        conn = sqlite3.connect(db, timeout=30, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS scratch_writes (n INTEGER)")
        while not stop.wait(0.001):  # a busy writer, not one that never lets go of the lock
            conn.execute("INSERT INTO scratch_writes VALUES (1)")
            commits += 1
        conn.close()

    writer = threading.Thread(target=keep_committing)
    writer.start()
    try:
        reports = [verify(root, db) for _ in range(20)]
    finally:
        stop.set()
        writer.join(30)
    assert commits > 0
    assert [str(d) for report in reports for d in report.differences] == []
