import json
import sqlite3
from pathlib import Path

import pytest

from dialogfile.identity import keyed_entries
from dialogfile.model import Entry, ParsedFile, Problem
from dialogfile.names import target_tokens
from indexer.database import Database
from indexer.discover import SourceFile
from indexer.load_sqlite import (
    delete_file,
    load_parsed_file,
    plan_file,
)
from indexer.store_rows import prepare_file


def entry(path: str, line: int, message: str, **fields) -> Entry:
    fields.setdefault("speaker", "KIRO")
    fields.setdefault("target", "@LILITH @everyone")
    return Entry(path, fields.pop("format", "bold"), line, line + 3, message=message, **fields)


def source(path: str, tag: str = "v1") -> SourceFile:
    return SourceFile(path=path, text="", content_hash=f"hash-{tag}", size_bytes=10, mtime_ns=1)


def load(conn, path: str, entries: list[Entry], problems=(), tag: str = "v1"):
    conn.execute("BEGIN IMMEDIATE")
    plan = load_parsed_file(conn, source(path, tag), ParsedFile(path, tuple(entries), problems))
    conn.execute("COMMIT")
    return plan


def fts_ok(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts, rank) "
        "VALUES ('integrity-check', 1)"
    )


def matches(conn: sqlite3.Connection, word: str) -> list[int]:
    sql = (
        "SELECT e.dialog_entry_id FROM lupo_dialog_entries_fts JOIN lupo_dialog_entries e "
        "ON e.entry_rowid = lupo_dialog_entries_fts.rowid WHERE lupo_dialog_entries_fts MATCH ?"
    )
    return [row[0] for row in conn.execute(sql, (word,))]


@pytest.fixture
def conn(tmp_path: Path):
    conn = Database(tmp_path / "dialogs.db").open_writer()
    yield conn
    conn.close()


def test_connect_sets_wal_foreign_keys_and_migrates(tmp_path: Path):
    conn = Database(tmp_path / "x.db").open_writer()
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] >= 2
    assert conn.isolation_level is None


def test_load_writes_file_entry_and_target_rows(conn):
    path = "dialogs/changelog_dialog.md"
    entries = [
        entry(path, 5, "alpha"),
        entry(path, 9, "beta", target="CURSOR + WINDSURF, @x"),
        Entry(path, "section", 12, 14, body="free text"),
    ]
    plan = load(conn, path, entries, problems=(Problem(path, 3, "odd mood"),))
    assert (plan.added, plan.updated, plan.deleted) == (3, 0, 0)
    file_row = conn.execute(
        "SELECT file_type, entry_count, section_count, content_hash, problems_json "
        "FROM lupo_dialog_files WHERE file_path = ?",
        (path,),
    ).fetchone()
    assert file_row[:4] == ("changelog", 2, 1, "hash-v1")
    assert json.loads(file_row[4]) == [{"line": 3, "message": "odd mood"}]
    ids = [i for i, _, _ in keyed_entries(entries)]
    stored = conn.execute(
        "SELECT dialog_entry_id, line, message, metadata_json "
        "FROM lupo_dialog_entries ORDER BY line"
    ).fetchall()
    assert stored == [
        (ids[0], 5, "alpha", "{}"),
        (ids[1], 9, "beta", "{}"),
        (ids[2], 12, None, "{}"),
    ]
    targets = conn.execute(
        "SELECT dialog_entry_id, target FROM lupo_dialog_entry_targets"
    ).fetchall()
    assert sorted(targets) == sorted(
        [
            (ids[0], "@LILITH"),
            (ids[0], "@everyone"),
            (ids[1], "CURSOR"),
            (ids[1], "WINDSURF"),
            (ids[1], "@x"),
        ]
    )
    fts_ok(conn)
    assert matches(conn, "alpha") == [ids[0]]


def test_reload_of_unchanged_entries_writes_nothing(conn):
    path = "a.md"
    entries = [entry(path, 1, "alpha"), entry(path, 5, "beta")]
    load(conn, path, entries)
    conn.execute("BEGIN")
    plan = plan_file(conn, prepare_file(source(path), ParsedFile(path, tuple(entries))))
    conn.execute("ROLLBACK")
    assert (plan.added, plan.updated, plan.deleted, plan.upserts) == (0, 0, 0, [])


def test_edit_move_and_delete_keep_ids_fts_and_targets_in_step(conn):
    path = "a.md"
    load(conn, path, [entry(path, 1, "alpha"), entry(path, 5, "beta"), entry(path, 9, "gamma")])
    before = dict(conn.execute("SELECT message, dialog_entry_id FROM lupo_dialog_entries"))
    # "alpha" edited into "omega", a new entry above "beta" pushes it down, "gamma" gone.
    plan = load(
        conn,
        path,
        [entry(path, 1, "omega"), entry(path, 5, "inserted"), entry(path, 9, "beta")],
        tag="v2",
    )
    assert (plan.added, plan.updated, plan.deleted) == (2, 1, 2)
    after = dict(conn.execute("SELECT message, dialog_entry_id FROM lupo_dialog_entries"))
    assert after["beta"] == before["beta"]
    assert conn.execute(
        "SELECT line FROM lupo_dialog_entries WHERE dialog_entry_id = ?", (before["beta"],)
    ).fetchone() == (9,)
    fts_ok(conn)
    assert matches(conn, "omega") == [after["omega"]]
    assert matches(conn, "alpha") == [] and matches(conn, "gamma") == []
    orphans = conn.execute(
        "SELECT count(*) FROM lupo_dialog_entry_targets WHERE dialog_entry_id NOT IN "
        "(SELECT dialog_entry_id FROM lupo_dialog_entries)"
    ).fetchone()
    assert orphans == (0,)


def test_tampered_row_is_rewritten_by_a_reload(conn):
    path = "a.md"
    entries = [entry(path, 1, "alpha")]
    load(conn, path, entries)
    conn.execute("UPDATE lupo_dialog_entries SET message = 'tampered', target = '@nobody'")
    plan = load(conn, path, entries)
    assert (plan.added, plan.updated, plan.deleted) == (0, 1, 0)
    assert conn.execute("SELECT message FROM lupo_dialog_entries").fetchone() == ("alpha",)
    assert {t for (t,) in conn.execute("SELECT target FROM lupo_dialog_entry_targets")} == {
        "@LILITH",
        "@everyone",
    }
    fts_ok(conn)
    assert matches(conn, "tampered") == []


def test_delete_file_removes_entries_targets_and_fts_rows(conn):
    load(conn, "a.md", [entry("a.md", 1, "alpha"), entry("a.md", 5, "beta")])
    load(conn, "b.md", [entry("b.md", 1, "alpha")])
    conn.execute("BEGIN IMMEDIATE")
    assert delete_file(conn, "a.md") == 2
    conn.execute("COMMIT")
    assert conn.execute("SELECT file_path FROM lupo_dialog_files").fetchall() == [("b.md",)]
    assert conn.execute("SELECT count(*) FROM lupo_dialog_entry_targets").fetchone() == (2,)
    fts_ok(conn)
    assert len(matches(conn, "alpha")) == 1 and matches(conn, "beta") == []


def test_id_owned_by_another_file_moves_to_the_next_free_id_with_a_problem(conn):
    # Explicit ids (written by API edits) make a cross-file collision easy to build.
    load(conn, "a.md", [entry("a.md", 1, "alpha", metadata={"dialog_entry_id": "1000"})])
    load(conn, "a2.md", [entry("a2.md", 1, "x", metadata={"dialog_entry_id": "1001"})])
    plan = load(conn, "b.md", [entry("b.md", 7, "copy", metadata={"dialog_entry_id": "1000"})])
    assert [row[0] for row in plan.upserts] == [1002]
    assert plan.problems == [
        Problem("b.md", 7, "entry id 1000 is already used by a.md; this entry gets id 1002")
    ]
    owners = dict(conn.execute("SELECT dialog_entry_id, dialog_file FROM lupo_dialog_entries"))
    assert owners == {1000: "a.md", 1001: "a2.md", 1002: "b.md"}
    # Reloading b.md finds the same id again: the probe is deterministic.
    again = load(conn, "b.md", [entry("b.md", 7, "copy", metadata={"dialog_entry_id": "1000"})])
    assert (again.added, again.updated, again.deleted) == (0, 0, 0)
    problems = conn.execute(
        "SELECT problems_json FROM lupo_dialog_files WHERE file_path = 'b.md'"
    ).fetchone()[0]
    assert "already used by a.md" in problems


@pytest.mark.parametrize(
    ("target", "tokens"),
    [
        (None, []),
        ("@everyone", ["@everyone"]),
        ("@FLEET @Monday_Wolfie", ["@FLEET", "@Monday_Wolfie"]),
        ("CURSOR + WINDSURF", ["CURSOR", "WINDSURF"]),
        ("@a,@b , @a", ["@a", "@b"]),
        ("   ", []),
    ],
)
def test_target_tokens(target, tokens):
    assert target_tokens(target) == tokens


def test_backup_copies_an_existing_database_and_never_overwrites(tmp_path: Path):
    db = tmp_path / "d.db"
    assert Database(db).backup() is None
    conn = Database(db).open_writer()
    load(conn, "a.md", [entry("a.md", 1, "alpha")])
    conn.close()
    first = Database(db).backup(stamp=20260101120000)
    second = Database(db).backup(stamp=20260101120000)
    assert first == tmp_path / "d.db.bak-20260101120000"
    assert second == tmp_path / "d.db.bak-20260101120000-2"
    copy = sqlite3.connect(first)
    assert copy.execute("SELECT message FROM lupo_dialog_entries").fetchall() == [("alpha",)]
    copy.close()
    assert not list(tmp_path.glob("*.partial"))


def test_a_reload_makes_rows_only_for_the_entries_that_changed(tmp_path: Path) -> None:
    """The write service's `known_rows`: equal entries keep their rows (the same objects),
    and the rows are those a load from scratch makes."""
    first = [entry("a.md", line, f"message {line}") for line in (1, 5, 9)]
    known: dict[Entry, tuple] = {}
    conn = Database(tmp_path / "rows.db").open_writer()
    load_parsed_file(conn, source("a.md"), ParsedFile("a.md", first, []), known_rows=known)
    before = dict(known)
    changed = [first[0], entry("a.md", 5, "message changed"), first[2]]
    load_parsed_file(conn, source("a.md", "v2"), ParsedFile("a.md", changed, []), known_rows=known)
    assert known[first[0]] is before[first[0]] and known[first[2]] is before[first[2]]
    assert changed[1] not in before
    scratch = prepare_file(source("a.md", "v2"), ParsedFile("a.md", changed, []))
    assert [known[item] for item in changed] == scratch.entry_rows


def test_a_reload_of_rows_it_loaded_reads_no_row_back_and_looks_up_only_new_ids(
    tmp_path: Path,
) -> None:
    """`rows_loaded`: the plan is the one a read of the file's rows gives, without that
    read, and only the ids new to the file are looked up in other files."""
    first = [entry("a.md", line, f"message {line}") for line in range(1, 400, 4)]
    known: dict[Entry, tuple] = {}
    conn = Database(tmp_path / "rows.db").open_writer()
    load_parsed_file(conn, source("a.md"), ParsedFile("a.md", tuple(first), ()), known_rows=known)
    changed = (*first[:50], entry("a.md", 201, "message changed"), *first[51:])
    parsed = ParsedFile("a.md", changed, ())
    read_plan = plan_file(conn, prepare_file(source("a.md", "v2"), parsed), synced_utc=1)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    plan = load_parsed_file(
        conn, source("a.md", "v2"), parsed, synced_utc=1, known_rows=known, rows_loaded=True
    )
    conn.set_trace_callback(None)
    assert (plan.upserts, plan.stale_ids, plan.updated_ids) == (
        read_plan.upserts,
        read_plan.stale_ids,
        read_plan.updated_ids,
    )
    assert plan.file_row == read_plan.file_row and len(plan.upserts) == 1
    assert not any("WHERE dialog_file = " in sql and "SELECT" in sql for sql in statements)
    (lookup,) = [sql for sql in statements if "json_each" in sql and "dialog_file <>" in sql]
    assert f"[{plan.upserts[0][0]}]" in lookup  # the one new id, not the file's 100
