"""The SQL migrations, the Entry type and the stores agree with the one entry-field spec."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from indexer.fields import (
    FIELDS,
    STORED_ENTRY_COLUMNS,
    TEXT_FIELDS,
    TEXT_WEIGHTS,
)
from indexer.migrate import apply_migrations
from indexer.model import Entry
from indexer.store_rows import ENTRY_COLUMNS


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> sqlite3.Connection:
    conn = sqlite3.connect(tmp_path_factory.mktemp("fields") / "spec.db", isolation_level=None)
    apply_migrations(conn)
    return conn


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def test_the_fts5_table_has_the_searchable_fields_in_order(migrated: sqlite3.Connection) -> None:
    assert columns(migrated, "lupo_dialog_entries_fts") == list(TEXT_FIELDS)
    assert columns(migrated, "lupo_dialog_entries_fts_content") == [
        "dialog_entry_id",
        *TEXT_FIELDS,
    ]


def test_the_weights_and_column_order_are_the_ranked_ones() -> None:
    """bm25 title 4, message 4, body 1, speaker 2, target 1 (the benchmarks' figures)."""
    assert TEXT_FIELDS == ("title", "message", "body", "speaker", "target")
    assert TEXT_WEIGHTS == (4.0, 4.0, 1.0, 2.0, 1.0)
    positions = sorted(f.fts_position for f in FIELDS if f.fts_position is not None)
    assert positions == list(range(len(TEXT_FIELDS)))


def test_the_entry_table_stores_every_field(migrated: sqlite3.Connection) -> None:
    stored = columns(migrated, "lupo_dialog_entries")
    # entry_key (content key) and body_extra (what FTS5 indexes of the body) are derived.
    assert [c for c in stored if c not in ("entry_key", "body_extra")] == list(STORED_ENTRY_COLUMNS)
    assert sorted(ENTRY_COLUMNS) == sorted(stored)


def test_the_triggers_feed_fts5_every_searchable_field(migrated: sqlite3.Connection) -> None:
    values = {name: f"word{name}" for name in TEXT_FIELDS}
    migrated.execute(
        "INSERT INTO lupo_dialog_files (file_path, file_type, content_hash, size_bytes,"
        " mtime_ns, last_sync_utc) VALUES ('a.md', 'dialog', '', 0, 0, 0)"
    )
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    migrated.execute(
        f"INSERT INTO lupo_dialog_entries (dialog_entry_id, dialog_file, entry_key, format, "
        f"line, end_line, {names}) VALUES (7, 'a.md', 'k', 'bold', 1, 2, {marks})",
        list(values.values()),
    )
    for name, word in values.items():
        found = migrated.execute(
            "SELECT rowid FROM lupo_dialog_entries_fts WHERE lupo_dialog_entries_fts MATCH ?",
            (f"{name} : {word}",),
        ).fetchall()
        assert found == [(7,)], name


def test_the_entry_type_has_the_spec_fields() -> None:
    assert {f.name for f in dataclasses.fields(Entry)} == {f.name for f in FIELDS}
