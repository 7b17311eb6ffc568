import sqlite3
from pathlib import Path

import pytest

from indexer.migrate import (
    MigrationError,
    apply_migrations,
    migration_files,
    pending_migrations,
    split_statements,
)


def tables(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_project_migrations_apply_once_in_order_and_are_recorded(tmp_path: Path):
    conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    names = [name for name, _ in migration_files()]
    assert names == sorted(names) and names[:2] == [
        "0001_create_dialog_tables",
        "0002_create_entries_fts",
    ]
    assert apply_migrations(conn) == names
    assert {"lupo_dialog_files", "lupo_dialog_entries", "lupo_dialog_entries_fts"} <= tables(conn)
    recorded = [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY 1")]
    assert recorded == names
    stamps = [row[0] for row in conn.execute("SELECT applied_at FROM schema_migrations")]
    assert all(20200101000000 < stamp < 30000101000000 for stamp in stamps)
    assert apply_migrations(conn) == []
    assert pending_migrations(conn) == []


def test_triggers_survive_statement_splitting(tmp_path: Path):
    conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    apply_migrations(conn)
    triggers = {
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
    }
    assert {
        "lupo_dialog_entries_ai",
        "lupo_dialog_entries_ad",
        "lupo_dialog_entries_au",
    } <= triggers


def test_failing_migration_rolls_back_and_stays_pending(tmp_path: Path):
    folder = tmp_path / "sql"
    folder.mkdir()
    (folder / "0001_create_a.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    (folder / "0002_break.sql").write_text(
        "CREATE TABLE b (x INTEGER);\nINSERT INTO a VALUES (1);\nINSERT INTO nowhere VALUES (1);\n"
    )
    (folder / "notes.txt").write_text("not a migration")
    conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    with pytest.raises(MigrationError, match="0002_break.sql: no such table: nowhere"):
        apply_migrations(conn, folder)
    assert not conn.in_transaction
    assert "a" in tables(conn) and "b" not in tables(conn)
    assert conn.execute("SELECT count(*) FROM a").fetchone() == (0,)
    assert pending_migrations(conn, folder) == ["0002_break"]

    (folder / "0002_break.sql").write_text("CREATE TABLE b (x INTEGER);\n")
    assert apply_migrations(conn, folder) == ["0002_break"]
    assert pending_migrations(conn, folder) == []


def test_migrations_sort_by_number_not_by_text(tmp_path: Path):
    folder = tmp_path / "sql"
    folder.mkdir()
    (folder / "0010_second.sql").write_text("CREATE TABLE second_t (x);\n")
    (folder / "0002_first.sql").write_text("CREATE TABLE first_t (x);\n")
    conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    assert apply_migrations(conn, folder) == ["0002_first", "0010_second"]


def test_split_statements_keeps_trigger_bodies_and_rejects_a_dangling_statement():
    script = (
        "-- a comment; with a semicolon\n"
        "CREATE TABLE t (x);\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n"
        "  INSERT INTO t VALUES (1);\n"
        "END;\n"
        "-- trailing comment\n"
    )
    statements = list(split_statements(script))
    assert len(statements) == 2
    assert statements[1].strip().startswith("CREATE TRIGGER") and "END;" in statements[1]
    with pytest.raises(sqlite3.OperationalError, match="incomplete"):
        list(split_statements("CREATE TABLE t (x)"))


def test_caller_transaction_is_refused(tmp_path: Path):
    conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(MigrationError, match="outside any transaction"):
        apply_migrations(conn)
