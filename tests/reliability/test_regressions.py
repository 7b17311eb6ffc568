"""Regression tests for the faults the reliability checks found (each names its check)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from indexer.discover import read_source
from indexer.load_sqlite import connect, load_parsed_file
from indexer.parse import parse_file
from indexer.reindex import reindex
from indexer.verify import verify
from searchsvc.fts_query import parse_user_query
from searchsvc.repo_fallback import FallbackRepository
from searchsvc.repo_files import FileRepository
from searchsvc.repo_sqlite import SqliteRepository
from searchsvc.repository import SearchQuery

ENTRY = '---\nDIALOG:\n  speaker: "KIRO"\n  message: "zebra number {n}"\n---\n\n'


def _search(repository, text: str):
    match, filters = parse_user_query(text, prefix_last=False)
    return repository.search(SearchQuery(match=match, text=text, filters=filters, sort="relevance"))


def test_file_index_ranks_a_word_after_its_file_was_rewritten_many_times(tmp_path: Path) -> None:
    """DB-fault check: relevance in files mode raised "math domain error" (a 500) once the
    removed docs still in a word's postings outnumbered the live docs."""
    root = tmp_path / "dialogs"
    root.mkdir()
    path = root / "a.md"
    path.write_text(ENTRY.format(n=0), encoding="utf-8")
    files = FileRepository(root)
    files.build_now()
    for n in range(1, 8):
        path.write_text(ENTRY.format(n=0) + ENTRY.format(n=n), encoding="utf-8")
        files.reload_file("a.md")
    page = _search(files, "zebra")
    assert page.total == 2
    assert all("<mark>zebra</mark>" in hit.snippet for hit in page.hits)


def _load(root: Path, db: Path, rel: str) -> None:
    """Load one file the way the write-through does (no checkpoint afterwards)."""
    conn = connect(db)
    try:
        source = read_source(root, rel)
        conn.execute("BEGIN IMMEDIATE")
        load_parsed_file(conn, source, parse_file(source.text, rel))
        conn.execute("COMMIT")
    finally:
        conn.close()


def _in_thread(action) -> None:
    """Run `action` in a short-lived thread (its connection stays open in the repository)."""
    worker = threading.Thread(target=action)
    worker.start()
    worker.join(30)
    assert not worker.is_alive()


def test_recovery_survives_a_removed_wal_while_connections_are_open(tmp_path: Path) -> None:
    """DB-fault check "WAL removed": the service's open read connections pinned the stale WAL
    index, every new connection failed ("disk I/O error") and it never left the files."""
    root = tmp_path / "dialogs"
    root.mkdir()
    (root / "a.md").write_text(ENTRY.format(n=1), encoding="utf-8")
    db = tmp_path / "dialogs.db"
    reindex(root, db)
    primary = SqliteRepository(db)
    files = FileRepository(root)
    files.build_now()
    fallback = FallbackRepository(primary, files, root=root, probe_seconds=0.05)
    try:
        _in_thread(lambda: _search(fallback, "zebra"))  # a reader that stays open
        (root / "b.md").write_text(ENTRY.format(n=2), encoding="utf-8")
        _load(root, db, "b.md")
        assert Path(f"{db}-wal").stat().st_size > 0
        os.unlink(f"{db}-wal")
        (root / "c.md").write_text(ENTRY.format(n=3), encoding="utf-8")
        files.reload_file("b.md")
        files.reload_file("c.md")
        assert _search(fallback, "zebra").total == 3  # answered, from wherever
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (
            fallback.mode != "database" or fallback.recoveries == 0
        ):
            _search(fallback, "zebra")
            time.sleep(0.05)
        assert (fallback.mode, fallback.recoveries) == ("database", 1), fallback.health()
        page = _search(fallback, "zebra")
        assert (page.source, page.total) == ("database", 3)
    finally:
        fallback.close()
    assert verify(root, db).ok
