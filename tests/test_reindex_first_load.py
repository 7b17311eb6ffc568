"""A first load into an empty database (rollback journal, bulk_load.use_rollback_journal):
killed at any moment, the database is empty or complete, and the next run completes it.

The same promise as tests/test_reindex.py's kills of an incremental run (WAL), for the
other journal: the killed run leaves `<db>-journal`, read-only readers report an error
until a writer opens the database, and the first writer rolls it back.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.fixtures_store import db_fingerprint, dialogsearch, lock_is_held

from indexer.database import Database
from indexer.reindex import reindex
from indexer.verify import verify


@pytest.fixture(scope="module")
def generated(gen_corpus_script: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gen_corpus.py -n 20000 --seed 2: about 50,000 rows, a few seconds to load."""
    out = tmp_path_factory.mktemp("gen") / "corpus"
    subprocess.run(
        [sys.executable, str(gen_corpus_script), "-n", "20000", "--seed", "2", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return out


def kill_when(condition: Callable[[], bool], proc: subprocess.Popen, timeout: float = 120) -> None:
    """SIGKILL `proc` as soon as `condition` holds (unless it ends first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            proc.kill()
            break
        time.sleep(0.002)
    proc.communicate(timeout=60)


@pytest.mark.slow
def test_a_killed_first_load_leaves_the_database_empty_or_complete(
    generated: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    db = tmp_path / "dialogs.db"
    journal = Path(f"{db}-journal")
    reindex(empty, db)  # the database, migrated, without a row
    before = db_fingerprint(db)
    started = time.monotonic()
    reindex(generated, tmp_path / "reference.db")
    seconds = time.monotonic() - started
    moments: dict[str, Callable[[], bool]] = {
        "holding the lock": lambda: lock_is_held(db),
        "writing": lambda: journal.exists() and lock_is_held(db),
        "half way": lambda: journal.exists() and time.monotonic() > launched + seconds / 2,
        "near the end": lambda: journal.exists() and time.monotonic() > launched + seconds * 0.9,
    }
    states, killed = {}, 0
    for name, condition in moments.items():
        launched = time.monotonic()
        proc = dialogsearch("reindex", "--root", str(generated), "--db", str(db), "--json")
        kill_when(condition, proc)
        killed += proc.returncode == -9
        if journal.exists():
            # A read-only reader cannot roll a hot journal back: it reports an error
            # (or, when nothing was written yet, reads the empty database).
            reader = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
            try:
                count = reader.execute("SELECT count(*) FROM lupo_dialog_entries").fetchone()
                assert count == (0,), name
            except sqlite3.OperationalError as error:
                assert "readonly" in str(error), error
            finally:
                reader.close()
        Database(db).open_writer().close()  # as the next writer: rolls a hot journal back
        assert not journal.exists(), name
        states[name] = db_fingerprint(db)
    assert killed >= 3, "the runs ended before they could be killed"
    summary = reindex(generated, db)
    after = db_fingerprint(db)
    assert after != before
    # Every run killed: this one loads it all; one that ran to its end left it complete.
    assert summary.entries_added > 0 or killed < len(moments)
    for name, state in states.items():
        assert state in (before, after), f"killed {name}: the database is half-written"
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()
    report = verify(generated, db)
    assert report.ok, [str(d) for d in report.differences[:5]]


def test_a_first_load_beside_an_open_reader_keeps_wal(tmp_path: Path) -> None:
    """Leaving WAL needs the file alone: with a reader connected the load stays in WAL."""
    root = tmp_path / "dialogs"
    root.mkdir()
    (root / "a_dialog.md").write_text(
        '---\nDIALOG:\n  speaker: "KIRO"\n  message: "one entry"\n---\n', encoding="utf-8"
    )
    (tmp_path / "empty").mkdir()
    db = tmp_path / "dialogs.db"
    reindex(tmp_path / "empty", db)
    reader = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        assert reader.execute("SELECT count(*) FROM lupo_dialog_entries").fetchone() == (0,)
        added = reindex(root, db).entries_added
        assert added >= 1
        assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert reader.execute("SELECT count(*) FROM lupo_dialog_entries").fetchone() == (added,)
    finally:
        reader.close()
