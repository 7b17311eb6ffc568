"""The FTS5 column `body` indexes the body without the message's text (sql/0003)."""

import shutil
import sqlite3
from pathlib import Path

from support.fixtures_store import fts_integrity, match_ids

from indexer.database import Database
from indexer.migrate import apply_migrations, migration_files
from indexer.reindex import reindex
from indexer.store_rows import body_extra
from indexer.verify import verify

FTS = "lupo_dialog_entries_fts"
BOLD_BODY = (
    "## 2025-10-21 — LILITH: Doctrine Review\n"
    "\n"
    "**Speaker:** LILITH  \n"
    "**Target:** @CASCADE  \n"
    '**Mood_RGB:** "00FF00"  \n'
    '**Message:** "Branches emotional vectors."\n'
    "\n"
    "**Work Summary:**\n"
    "- ⏳ belongs doctrine keys"
)


LONG = "Branches emotional vectors, then the doctrine keys of every file, in order."


def test_the_message_is_cut_out_of_the_body_but_its_edges():
    body = BOLD_BODY.replace("Branches emotional vectors.", LONG)
    extra = body_extra(body, LONG)
    assert extra == body.replace(LONG, "Branches emotional vectors ")
    assert "**Message:**" in extra and "the doctrine keys" not in extra


def test_a_message_sharing_a_line_with_the_body_keeps_its_edge_words():
    assert body_extra(BOLD_BODY, "Branches emotional vectors.") == BOLD_BODY
    # A message on lines of its own is cut out whole.
    assert body_extra("## Notes\nfree text", "free text") == "## Notes\n "
    assert (
        body_extra("x: one two three four five six seven\n", "one two three four five six seven")
        == "x: one two three \n"
    )


def test_a_section_whose_body_is_its_message_adds_nothing():
    assert body_extra("free text\nmore text", "free text\nmore text") == ""
    assert body_extra("", None) == ""


def test_a_word_is_never_cut_in_two():
    # "xab" and "abcd" are words the message "ab" lacks: the body stays whole.
    assert body_extra("**Message:** xab", "ab") == "**Message:** xab"
    assert body_extra("abcd", "bc") == "abcd"
    # A message that starts or ends with punctuation may touch a word.
    assert body_extra('said:"hi" x', '"hi"') == 'said:"hi" x'
    assert (
        body_extra(
            'said:"one two three four five six seven"', '"one two three four five six seven"'
        )
        == 'said:"one two three '
    )


def test_a_body_without_the_message_as_written_is_kept_whole():
    body = 'message: "say \\"hi\\""'
    assert body_extra(body, 'say "hi"') == body
    assert body_extra("**Speaker:** KIRO", None) == "**Speaker:** KIRO"


def test_every_word_of_the_shared_corpus_stays_findable_in_every_entry(
    tmp_path: Path, shared_corpus: Path
):
    db = tmp_path / "dialogs.db"
    reindex(shared_corpus, db, full=True)
    conn = sqlite3.connect(db)
    fts_integrity(conn)
    # The same rows indexed the old way (whole body), and what either index holds.
    conn.executescript(
        """
        CREATE VIRTUAL TABLE temp.whole USING fts5 (
            title, message, body, speaker, target,
            tokenize = 'unicode61 remove_diacritics 2');
        INSERT INTO temp.whole (rowid, title, message, body, speaker, target)
        SELECT entry_rowid, title, message, body, speaker, target FROM lupo_dialog_entries;
        CREATE VIRTUAL TABLE temp.whole_terms USING fts5vocab(temp, whole, instance);
        CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, lupo_dialog_entries_fts, instance);
        """
    )
    lost = conn.execute(
        "SELECT DISTINCT term FROM (SELECT doc, term FROM temp.whole_terms "
        "EXCEPT SELECT doc, term FROM temp.terms)"
    ).fetchall()
    assert lost == []
    indexed = conn.execute(f"SELECT count(*) FROM {FTS}_docsize").fetchone()[0]
    assert indexed == conn.execute("SELECT count(*) FROM lupo_dialog_entries").fetchone()[0]
    # The messages are not indexed twice: body_extra is the body without most of the
    # message's text (the edge words and the repaired lines of garbled text come back).
    smaller = conn.execute(
        "SELECT sum(length(body_extra)) < sum(length(body)) - 0.8 * sum(length(message))"
        " FROM lupo_dialog_entries"
    ).fetchone()[0]
    assert smaller == 1


def _old_schema_database(tmp_path: Path) -> Path:
    """A database with migrations 0001 and 0002 only, holding one bold entry and one section."""
    old = tmp_path / "old_sql"
    old.mkdir()
    for name, sql in migration_files():
        if name.startswith(("0001_", "0002_")):
            (old / f"{name}.sql").write_text(sql)
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    apply_migrations(conn, old)
    conn.execute(
        "INSERT INTO lupo_dialog_files (file_path, file_type, content_hash, size_bytes, "
        "mtime_ns, last_sync_utc) VALUES ('a.md', 'dialog', 'h', 1, 1, 20250101000000)"
    )
    rows = [
        (1, "bold", "KIRO", "alpha bravo", None, BOLD_BODY + "\nzulu words"),
        (2, "section", None, "charlie delta", "Notes", "charlie delta"),
    ]
    conn.executemany(
        "INSERT INTO lupo_dialog_entries (dialog_entry_id, dialog_file, entry_key, format, "
        "speaker, message, title, body, line, end_line) "
        "VALUES (?, 'a.md', 'k', ?, ?, ?, ?, ?, 1, 2)",
        rows,
    )
    conn.close()
    return db


def test_an_old_database_is_migrated_with_its_whole_bodies_still_indexed(tmp_path: Path):
    db = _old_schema_database(tmp_path)
    conn = Database(db).open_writer()
    fts_integrity(conn)
    extras = dict(conn.execute("SELECT dialog_entry_id, body_extra FROM lupo_dialog_entries"))
    assert extras == {1: None, 2: ""}  # NULL: the whole body, as before
    for word in ("zulu", "Speaker", "doctrine", "alpha", "charlie"):
        assert match_ids(conn, word), word
    assert match_ids(conn, "body:speaker") == [1]
    # Writes keep the index in step through the new triggers.
    conn.execute("UPDATE lupo_dialog_entries SET body_extra = 'yankee' WHERE dialog_entry_id = 1")
    assert match_ids(conn, "zulu") == [] and match_ids(conn, "yankee") == [1]
    conn.execute("DELETE FROM lupo_dialog_entries WHERE dialog_entry_id = 2")
    assert match_ids(conn, "charlie") == []
    fts_integrity(conn)
    conn.close()


def test_a_full_reindex_fills_body_extra_of_a_migrated_database(
    tmp_path: Path, shared_corpus: Path
):
    root = tmp_path / "dialogs"
    root.mkdir()
    first = sorted(shared_corpus.rglob("*.md"))[0]
    shutil.copy(first, root / first.name)
    db = tmp_path / "dialogs.db"
    reindex(root, db, full=True)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(
        "UPDATE lupo_dialog_entries SET body_extra = NULL WHERE dialog_entry_id = "
        "(SELECT min(dialog_entry_id) FROM lupo_dialog_entries WHERE format <> 'section')"
    )
    assert verify(root, db).ok  # NULL (the whole body indexed) is not a difference
    reindex(root, db, full=True)
    nulls = conn.execute("SELECT count(*) FROM lupo_dialog_entries WHERE body_extra IS NULL")
    assert nulls.fetchone() == (0,)
    fts_integrity(conn)
    conn.close()
    assert verify(root, db).ok
