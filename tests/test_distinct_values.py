"""The names and moods a database holds, read by seeking through their index.

These lists are cached per database generation, so every write made each of them be read
again; SELECT DISTINCT read every row (about 50 ms at 1M entries, after each write, in every
thread that missed the cache). The skip-scan seeks once per distinct value.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from indexer.reindex import reindex
from searchsvc.engines import sqlite_sql

ROOT = Path(__file__).resolve().parents[1] / "dialogs"

ENTRIES, TARGETS = "lupo_dialog_entries", "lupo_dialog_entry_targets"
PLAIN = {
    "speakers": (sqlite_sql.DISTINCT_SPEAKERS, f"SELECT DISTINCT speaker FROM {ENTRIES}"),
    "targets": (sqlite_sql.DISTINCT_TARGETS, f"SELECT DISTINCT target FROM {TARGETS}"),
    "moods": (sqlite_sql.SELECT_MOODS, f"SELECT DISTINCT mood_rgb FROM {ENTRIES}"),
}


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> sqlite3.Connection:
    db = tmp_path_factory.mktemp("distinct") / "dialogs.db"
    reindex(ROOT, db, full=True)
    return sqlite3.connect(db)


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_the_skip_scan_finds_what_select_distinct_finds(
    conn: sqlite3.Connection, name: str
) -> None:
    skipping, plain = PLAIN[name]
    found = [row[0] for row in conn.execute(skipping)]
    expected = sorted(row[0] for row in conn.execute(plain) if row[0] is not None)
    assert found == expected and len(found) > 1


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_the_skip_scan_seeks_in_an_index_and_scans_no_table(
    conn: sqlite3.Connection, name: str
) -> None:
    plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + PLAIN[name][0])]
    searches = [step for step in plan if step.startswith("SEARCH lupo_")]
    assert len(searches) == 2 and all(("INDEX" in s or "PRIMARY KEY" in s) for s in searches)
    assert not [step for step in plan if step.startswith("SCAN lupo_")], plan


def test_the_skip_scan_of_an_empty_table_is_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    db = tmp_path / "dialogs.db"
    reindex(empty, db, full=True)
    with sqlite3.connect(db) as fresh:
        for skipping, _ in PLAIN.values():
            assert fresh.execute(skipping).fetchall() == []
