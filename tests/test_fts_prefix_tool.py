"""benchmarks.fts_prefix runs end to end on a small database, so the tool cannot rot."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from support.fixtures_api import write_tree

from benchmarks.fts_prefix import main, with_prefix_indexes
from indexer.reindex import reindex


def test_the_prefix_tool_compares_both_indexes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "dialogs.db"
    reindex(write_tree(tmp_path / "dialogs"), db)
    queries = tmp_path / "queries.ndjson"
    mix = [{"kind": "term", "q": word} for word in ("search", "release", "checksum")]
    mix.append({"kind": "prefix", "q": "rel*"})
    queries.write_text("".join(json.dumps(query) + "\n" for query in mix), encoding="utf-8")
    assert main(["--db", str(db), "--queries", str(queries), "--per-kind", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n| ") == 5  # a row for each of the five kinds
    assert "no prefix index: FTS5 data" in out and "`prefix = '2 3'`: FTS5 data" in out
    copy = with_prefix_indexes(db)
    conn = sqlite3.connect(copy)
    try:
        (sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'lupo_dialog_entries_fts'"
        ).fetchone()
        assert "prefix = '2 3'" in sql
        conn.execute(
            "INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts, rank) "
            "VALUES ('integrity-check', 1)"
        )
    finally:
        conn.close()
