import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.fixtures_store import (
    bold,
    db_fingerprint,
    dialogsearch,
    fts_integrity,
    ids_by_message,
    lock_is_held,
    match_ids,
    small_tree,
    write_dialog,
)

from indexer.reindex import ReindexBusy, reindex, reindex_lock
from indexer.verify import verify


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return small_tree(tmp_path / "dialogs")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "var" / "dialogs.db"


@pytest.fixture(autouse=True)
def _var(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()


def check(db: Path) -> sqlite3.Connection:
    """An autocommit connection to `db` (so it holds no lock) after FTS5's integrity check."""
    conn = sqlite3.connect(db, isolation_level=None)
    fts_integrity(conn)
    return conn


def test_first_run_loads_everything_and_second_run_skips_everything(root: Path, db: Path):
    first = reindex(root, db)
    assert (first.files_scanned, first.files_changed, first.files_skipped) == (3, 3, 0)
    assert first.entries_added == first.entries_parsed > 4
    assert (first.entries_updated, first.entries_deleted) == (0, 0)
    assert set(ids_by_message(db)) == {"alpha bravo", "charlie", "delta echo", "foxtrot"}
    conn = check(db)
    types = dict(conn.execute("SELECT file_path, file_type FROM lupo_dialog_files"))
    assert types == {
        "team_dialog.md": "dialog",
        "changelog_dialog.md": "changelog",
        "sub/meeting_notes.md": "meeting",
    }
    counts = conn.execute(
        "SELECT entry_count, section_count FROM lupo_dialog_files WHERE file_path = ?",
        ("team_dialog.md",),
    ).fetchone()
    assert counts[0] == 2 and counts[1] > 0
    last_sync = conn.execute("SELECT last_sync_utc FROM lupo_dialog_files").fetchone()[0]
    assert 20260000000000 < last_sync < 30000000000000

    second = reindex(root, db)
    assert (second.files_scanned, second.files_changed, second.files_skipped) == (3, 0, 3)
    assert (second.entries_added, second.entries_updated, second.entries_deleted) == (0, 0, 0)


def test_edit_upserts_only_the_changed_file_and_fts_follows(root: Path, db: Path):
    reindex(root, db)
    before = ids_by_message(db)
    write_dialog(
        root, "team_dialog.md", bold("KIRO", "alpha bravo"), bold("LILITH", "charlie zulu")
    )
    summary = reindex(root, db)
    assert (summary.files_changed, summary.files_skipped) == (1, 2)
    assert (summary.entries_added, summary.entries_updated, summary.entries_deleted) == (1, 0, 1)
    after = ids_by_message(db)
    assert after["alpha bravo"] == before["alpha bravo"]
    assert "charlie" not in after
    conn = check(db)
    assert match_ids(conn, "zulu") == [after["charlie zulu"]]
    assert match_ids(conn, '"charlie zulu"') == [after["charlie zulu"]]
    assert match_ids(conn, "charlie") == [after["charlie zulu"]]


def test_deleted_file_loses_its_rows_and_words(root: Path, db: Path):
    reindex(root, db)
    (root / "sub" / "meeting_notes.md").unlink()
    summary = reindex(root, db)
    assert (summary.files_scanned, summary.files_changed, summary.files_removed) == (2, 0, 1)
    assert summary.entries_deleted > 0 and summary.entries_added == 0
    conn = check(db)
    assert match_ids(conn, "foxtrot") == []
    assert conn.execute(
        "SELECT count(*) FROM lupo_dialog_entries WHERE dialog_file = 'sub/meeting_notes.md'"
    ).fetchone() == (0,)
    assert conn.execute(
        "SELECT count(*) FROM lupo_dialog_entry_targets WHERE target = '@ROSE'"
    ).fetchone() == (0,)
    assert verify(root, db).ok


def test_ids_survive_an_entry_inserted_above_the_others(root: Path, db: Path):
    reindex(root, db)
    before = ids_by_message(db)
    write_dialog(
        root,
        "team_dialog.md",
        bold("ROSE", "new first entry", day=15),
        bold("KIRO", "alpha bravo"),
        bold("LILITH", "charlie"),
    )
    summary = reindex(root, db)
    after = ids_by_message(db)
    assert after["alpha bravo"] == before["alpha bravo"]
    assert after["charlie"] == before["charlie"]
    assert summary.entries_deleted == 0
    assert summary.entries_updated >= 2  # the two entries (and sections) moved down
    conn = check(db)
    lines = dict(
        conn.execute(
            "SELECT message, line FROM lupo_dialog_entries WHERE dialog_file = 'team_dialog.md' "
            "AND format = 'bold'"
        )
    )
    assert lines["new first entry"] < lines["alpha bravo"] < lines["charlie"]
    assert verify(root, db).ok


def test_full_rebuild_gives_the_same_ids_as_incremental_history(
    root: Path, db: Path, tmp_path: Path
):
    reindex(root, db)
    write_dialog(root, "team_dialog.md", bold("ROSE", "zero", day=15), bold("KIRO", "alpha bravo"))
    write_dialog(root, "new_session.md", bold("KIRO", "golf"), bold("KIRO", "golf"))
    (root / "changelog_dialog.md").unlink()
    reindex(root, db)
    incremental = db_fingerprint(db)

    fresh = tmp_path / "var" / "fresh.db"
    reindex(root, fresh, full=True)
    assert db_fingerprint(fresh) == incremental

    full = reindex(root, db, full=True)
    assert (full.entries_added, full.entries_updated, full.entries_deleted) == (0, 0, 0)
    assert full.files_changed == full.files_scanned == 3
    assert db_fingerprint(db) == incremental
    check(db)


def file_stamp(db: Path, rel: str) -> tuple[int, int, int]:
    """(size_bytes, mtime_ns, last_sync_utc) the database has for a file."""
    sql = "SELECT size_bytes, mtime_ns, last_sync_utc FROM lupo_dialog_files WHERE file_path = ?"
    return sqlite3.connect(db).execute(sql, (rel,)).fetchone()


HOUR_AGO_NS = time.time_ns() - 3600 * 1_000_000_000


def test_a_touched_but_unchanged_file_is_skipped_and_its_mtime_recorded(root: Path, db: Path):
    reindex(root, db)
    before = db_fingerprint(db)
    path = root / "team_dialog.md"
    os.utime(path, ns=(HOUR_AGO_NS, HOUR_AGO_NS))
    summary = reindex(root, db)
    assert (summary.files_changed, summary.files_skipped) == (0, 3)
    assert (summary.entries_added, summary.entries_updated, summary.entries_deleted) == (0, 0, 0)
    assert file_stamp(db, "team_dialog.md")[:2] == (path.stat().st_size, HOUR_AGO_NS)
    assert db_fingerprint(db) == before  # rows unchanged (the fingerprint omits mtime_ns)
    assert verify(root, db).ok


def test_an_edit_keeping_size_and_mtime_is_seen_only_by_full_or_verify(root: Path, db: Path):
    path = root / "team_dialog.md"
    os.utime(path, ns=(HOUR_AGO_NS, HOUR_AGO_NS))  # old enough to be trusted by its stamp
    reindex(root, db)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("charlie", "charlix"), encoding="utf-8")  # same size
    os.utime(path, ns=(HOUR_AGO_NS, HOUR_AGO_NS))
    incremental = reindex(root, db)
    assert (incremental.files_changed, incremental.files_skipped) == (0, 3)
    assert not verify(root, db).ok
    full = reindex(root, db, full=True)
    assert (full.entries_added, full.entries_deleted) == (1, 1)
    assert "charlix" in ids_by_message(db)
    assert verify(root, db).ok


def test_a_file_read_soon_after_its_mtime_is_hashed_again_until_trusted(root: Path, db: Path):
    path = root / "team_dialog.md"
    reindex(root, db)  # the files were written just now: "racy", their mtime is not trusted
    text = path.read_text(encoding="utf-8")
    stat = path.stat()
    path.write_text(text.replace("charlie", "charlix"), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # edited within the same tick
    summary = reindex(root, db)
    assert (summary.files_changed, summary.entries_added, summary.entries_deleted) == (1, 1, 1)
    assert verify(root, db).ok


def test_full_keeps_a_backup_and_repairs_a_tampered_row(root: Path, db: Path):
    reindex(root, db)
    before = db_fingerprint(db)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE lupo_dialog_entries SET message = 'tampered' WHERE message = 'charlie'")
    conn.commit()
    conn.close()
    assert not verify(root, db).ok
    summary = reindex(root, db, full=True)
    assert summary.backup_path is not None
    backup = Path(summary.backup_path)
    assert backup.parent == db.parent and backup.name.startswith("dialogs.db.bak-")
    assert summary.entries_updated == 1
    assert db_fingerprint(db) == before
    assert "tampered" in ids_by_message(backup)
    assert verify(root, db).ok


def test_full_repairs_the_fts_index_and_target_rows(root: Path, db: Path):
    reindex(root, db)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("INSERT INTO lupo_dialog_entries_fts (rowid, message) VALUES (99, 'ghost')")
    conn.execute("DELETE FROM lupo_dialog_entry_targets WHERE target = '@ROSE'")
    conn.close()
    with pytest.raises(sqlite3.DatabaseError):
        check(db)
    assert not verify(root, db).ok
    reindex(root, db, full=True)
    assert match_ids(check(db), "ghost") == []
    assert verify(root, db).ok


def test_full_on_a_missing_database_makes_no_backup(root: Path, db: Path):
    summary = reindex(root, db, full=True)
    assert summary.backup_path is None
    assert summary.to_dict().get("backup_path") is None


def test_dry_run_writes_nothing(root: Path, db: Path):
    summary = reindex(root, db, dry_run=True)
    assert not db.exists() and list(db.parent.iterdir()) == []
    assert summary.dry_run and summary.entries_added > 0 and summary.files_changed == 3

    reindex(root, db)
    write_dialog(root, "team_dialog.md", bold("KIRO", "alpha bravo"), bold("LILITH", "hotel"))
    (root / "sub" / "meeting_notes.md").unlink()
    before = db_fingerprint(db)
    files_before = {p.name: p.stat().st_mtime_ns for p in db.parent.iterdir()}
    dry = reindex(root, db, dry_run=True)
    assert db_fingerprint(db) == before
    assert {p.name: p.stat().st_mtime_ns for p in db.parent.iterdir()} == files_before
    real = reindex(root, db)
    assert dry.to_dict() | {"seconds": 0, "dry_run": False} == real.to_dict() | {"seconds": 0}


def test_a_second_reindex_waits_for_the_lock_then_gives_up(root: Path, db: Path):
    with reindex_lock(db, wait=0):
        started = time.monotonic()
        with pytest.raises(ReindexBusy, match="another reindex is running"):
            reindex(root, db, wait=0.2)
        assert time.monotonic() - started >= 0.2
        assert reindex(root, db, dry_run=True).entries_added > 0  # dry runs take no lock
    assert reindex(root, db).files_changed == 3


def test_progress_is_reported_once_per_file(root: Path, db: Path):
    calls: list[tuple[str, int, int]] = []
    reindex(root, db, progress=lambda path, done, total: calls.append((path, done, total)))
    assert calls == [
        ("changelog_dialog.md", 1, 3),
        ("sub/meeting_notes.md", 2, 3),
        ("team_dialog.md", 3, 3),
    ]


def test_problems_are_reported_and_stored(root: Path, db: Path):
    write_dialog(
        root,
        "odd_dialog.md",
        "**Speaker:** KIRO\n**Mood_RGB:** not-a-colour\n**Message:** hi\n",
    )
    summary = reindex(root, db)
    assert [p.path for p in summary.problems if "not-a-colour" in p.message] == ["odd_dialog.md"]
    stored = sqlite3.connect(db).execute(
        "SELECT problems_json FROM lupo_dialog_files WHERE file_path = 'odd_dialog.md'"
    )
    assert "not-a-colour" in stored.fetchone()[0]


# --- the shared corpus and a generated one --------------------------------------


def test_shared_corpus_loads_1091_entries_and_a_second_run_changes_nothing(
    shared_corpus: Path, tmp_path: Path
):
    db = tmp_path / "corpus.db"
    first = reindex(shared_corpus, db)
    assert first.files_scanned == 88
    conn = check(db)
    entries = conn.execute(
        "SELECT count(*) FROM lupo_dialog_entries WHERE format <> 'section'"
    ).fetchone()
    assert entries == (1091,)
    assert conn.execute("SELECT sum(entry_count) FROM lupo_dialog_files").fetchone() == (1091,)
    second = reindex(shared_corpus, db)
    assert second.files_skipped == 88
    assert (second.entries_added, second.entries_updated, second.entries_deleted) == (0, 0, 0)
    assert verify(shared_corpus, db).ok


@pytest.fixture(scope="module")
def generated(gen_corpus_script: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gen_corpus.py -n 20000 --seed 1: about 50,000 rows, a few seconds to load."""
    out = tmp_path_factory.mktemp("gen") / "corpus"
    subprocess.run(
        [sys.executable, str(gen_corpus_script), "-n", "20000", "--seed", "1", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return out


def wait_for(condition, proc: subprocess.Popen, timeout: float = 60.0) -> bool:
    """Poll `condition` until it holds (True) or `proc` ends or time runs out (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.002)
    raise AssertionError("condition not reached in time")


def wal_bytes(db: Path) -> int:
    try:
        return os.stat(f"{db}-wal").st_size
    except FileNotFoundError:
        return 0


@pytest.fixture(scope="module")
def before_state(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database of an older corpus: half of `generated`'s files, one of them edited,
    plus a file that `generated` lacks. Indexing `generated` into it adds, updates
    and deletes rows."""
    old = tmp_path_factory.mktemp("old") / "corpus"
    paths = sorted(p.relative_to(generated) for p in generated.rglob("*.md"))
    for rel in paths[::2]:
        (old / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(generated / rel, old / rel)
    edited = old / paths[0]
    edited.write_text(edited.read_text(encoding="utf-8").replace("**Speaker:**", "**Speaker:** X"))
    write_dialog(old, "gone_dialog.md", bold("KIRO", "vanishing entry"))
    base = old.parent / "before.db"
    reindex(old, base)
    sqlite3.connect(base).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    return base


@pytest.mark.slow
def test_kill_9_leaves_the_database_before_or_after_and_the_next_run_completes(
    generated: Path, before_state: Path, tmp_path: Path
):
    db = tmp_path / "dialogs.db"
    shutil.copyfile(before_state, db)
    before = db_fingerprint(db)
    moments = {
        "at start": lambda: True,
        "holding the lock": lambda: lock_is_held(db),
        "writing": lambda: wal_bytes(db) > 0 and lock_is_held(db),
        "deep in the write": lambda: wal_bytes(db) > 20_000_000,
    }
    states, killed_mid_run = {}, 0
    for name, condition in moments.items():
        proc = dialogsearch("reindex", "--root", str(generated), "--db", str(db), "--json")
        if wait_for(condition, proc):
            proc.kill()
        proc.communicate(timeout=60)
        killed_mid_run += proc.returncode == -9
        states[name] = db_fingerprint(db)
    assert killed_mid_run >= 3, "the runs ended before they could be killed"
    summary = reindex(generated, db)
    after = db_fingerprint(db)
    assert after != before
    for name, state in states.items():
        assert state in (before, after), f"killed {name}: the database is half-written"
    assert states["at start"] == before
    if states["deep in the write"] == before:
        assert summary.entries_added > 0 and summary.entries_deleted > 0
    report = verify(generated, db)
    assert report.ok, [str(d) for d in report.differences[:5]]


@pytest.mark.slow
def test_two_concurrent_reindexes_do_not_interleave(
    generated: Path, before_state: Path, tmp_path: Path
):
    db = tmp_path / "dialogs.db"
    shutil.copyfile(before_state, db)
    first = dialogsearch("reindex", "--root", str(generated), "--db", str(db), "--json")
    assert wait_for(lambda: lock_is_held(db), first)
    impatient = dialogsearch(
        "reindex", "--root", str(generated), "--db", str(db), "--json", "--wait", "0"
    )
    _, err = impatient.communicate(timeout=60)
    assert impatient.returncode == 1
    assert "another reindex is running" in err
    patient = dialogsearch("reindex", "--root", str(generated), "--db", str(db), "--json")
    first_out, first_err = first.communicate(timeout=120)
    patient_out, patient_err = patient.communicate(timeout=120)
    assert first.returncode == 0 and patient.returncode == 0, first_err + patient_err
    assert json.loads(first_out)["entries_added"] > 0
    # The second run waited for the first and found nothing left to do.
    second = json.loads(patient_out)
    assert second["files_changed"] == 0 and second["files_skipped"] == second["files_scanned"]
    check(db)
