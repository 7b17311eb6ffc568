"""SqliteRepository only: the sampled path for frequent words, failures, time limit, cache."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from indexer.reindex import reindex
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.query.filters import Filters
from searchsvc.query.fts_query import parse_user_query
from searchsvc.repository import QueryTooExpensive, SearchQuery, StoreUnavailable


def query(text: str = "", **options: object) -> SearchQuery:
    match, _ = parse_user_query(text) if text else (None, None)
    options.setdefault("sort", "relevance" if match else "newest")
    return SearchQuery(match=match, text=text, **options)  # type: ignore[arg-type]


@pytest.fixture
def sampled(db_path: Path) -> SqliteRepository:
    """A repository that samples as soon as a word matches more than 2 entries."""
    repo = SqliteRepository(db_path, candidate_limit=2)
    yield repo
    repo.close()


def test_many_matches_rank_a_sample_but_count_exactly(sampled: SqliteRepository) -> None:
    page = sampled.search(query("search ", per_page=1, facets=("speaker",)))
    assert page.total == 4 and page.total_exact
    # A sample of at least 2 of the 4 matches (sqlite_matches: rows picked by a hash
    # of their rowid), its facet counts scaled to all 4 (each rounded: off by at most 1/2).
    assert page.ranked is not None and 2 <= page.ranked < 4 and not page.facets_exact
    speakers = page.facets["speaker"]
    assert abs(sum(count.count for count in speakers) - 4) <= len(speakers) / 2


def test_a_page_past_the_sample_reads_more_matches(sampled: SqliteRepository) -> None:
    page = sampled.search(query("search ", per_page=20))
    assert len(page.hits) == page.total == 4
    assert page.ranked is None


def test_newest_stays_exact_when_sampling(sampled: SqliteRepository, db_path: Path) -> None:
    exact = SqliteRepository(db_path)
    try:
        for sort in ("newest", "oldest"):
            want = [hit.entry_id for hit in exact.search(query("search ", sort=sort)).hits]
            for page_number in (1, 2, 3):
                got = sampled.search(query("search ", sort=sort, page=page_number, per_page=1))
                assert [hit.entry_id for hit in got.hits] == want[page_number - 1 : page_number]
    finally:
        exact.close()


def test_filtered_totals_are_estimated_and_flagged(sampled: SqliteRepository) -> None:
    page = sampled.search(query("search ", per_page=1, filters=Filters(speakers=("KIRO",))))
    assert page.hits and all(hit.entry.speaker == "KIRO" for hit in page.hits)
    assert page.total >= 1
    full = sampled.search(query("search ", per_page=50, filters=Filters(speakers=("KIRO",))))
    assert full.total == 2 and full.total_exact


def test_a_deleted_database_is_unavailable(db_path: Path) -> None:
    repo = SqliteRepository(db_path)
    assert repo.search(query("search")).total == 4
    db_path.unlink()
    with pytest.raises(StoreUnavailable) as raised:
        repo.search(query("search"))
    assert raised.value.reason == "missing"
    assert str(db_path.parent) not in str(raised.value)
    repo.close()


def test_a_replaced_database_is_reopened(tmp_path: Path, dialogs_dir: Path, db_path: Path) -> None:
    repo = SqliteRepository(db_path)
    assert repo.search(query("zebrafish")).total == 1
    with open(dialogs_dir / "opsnotes.md", "a", encoding="utf-8") as handle:
        handle.write("\nAnother zebrafish sighting.\n")
    fresh = tmp_path / "fresh.db"
    reindex(dialogs_dir, fresh)
    os.replace(fresh, db_path)
    assert repo.search(query("zebrafish")).total == 2
    repo.close()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (os.urandom(8192), "corrupt"),
        (b"SQLite format 3\x00" + b"\x01" * 4000, "corrupt"),
    ],
)
def test_a_damaged_database_is_unavailable(db_path: Path, content: bytes, reason: str) -> None:
    repo = SqliteRepository(db_path)
    repo.search(query("search"))
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    db_path.write_bytes(content)
    with pytest.raises(StoreUnavailable) as raised:
        repo.search(query("search"))
    assert raised.value.reason == reason
    repo.close()


def test_a_locked_database_is_unavailable_after_the_busy_timeout(db_path: Path) -> None:
    repo = SqliteRepository(db_path, busy_timeout_ms=50)
    locker = sqlite3.connect(db_path, isolation_level=None)
    try:
        locker.execute("PRAGMA locking_mode = EXCLUSIVE")
        locker.execute("BEGIN EXCLUSIVE")
        locker.execute("UPDATE lupo_dialog_files SET size_bytes = size_bytes")
        with pytest.raises(StoreUnavailable) as raised:
            repo.search(query("search"))
        assert raised.value.reason == "locked"
    finally:
        locker.execute("COMMIT")
        locker.close()
    assert repo.search(query("search")).total == 4
    repo.close()


def test_a_query_past_the_time_limit_on_a_healthy_database_is_a_query_error(
    tmp_path: Path,
) -> None:
    root = tmp_path / "big"
    root.mkdir()
    entries = "".join(
        f"## 2026-01-{1 + i % 28:02d} — KIRO: note {i}\n\n**Speaker:** KIRO\n"
        f'**Message:** "alpha beta gamma {i}"\n\n---\n\n'
        for i in range(3000)
    )
    (root / "big_dialog.md").write_text("# Big\n\n" + entries, encoding="utf-8")
    db = tmp_path / "big.db"
    reindex(root, db)
    repo = SqliteRepository(db, time_limit_ms=0)
    with pytest.raises(QueryTooExpensive):
        repo.search(query("", facets=("speaker", "target", "mood", "file", "format")))
    repo.close()


def test_a_write_by_another_connection_empties_the_cache(dialogs_dir: Path, db_path: Path) -> None:
    repo = SqliteRepository(db_path)
    assert repo.search(query("zebrafish", facets=("speaker",))).total == 1
    with open(dialogs_dir / "opsnotes.md", "a", encoding="utf-8") as handle:
        handle.write("\nAnother zebrafish sighting.\n")
    reindex(dialogs_dir, db_path)
    assert repo.search(query("zebrafish", facets=("speaker",))).total == 2
    repo.close()


def test_raw_syntax_errors_name_the_reason(db_path: Path) -> None:
    from searchsvc.query.fts_query import MatchQuery, QueryError

    repo = SqliteRepository(db_path)
    with pytest.raises(QueryError, match="syntax error"):
        repo.search(SearchQuery(match=MatchQuery(raw='NEAR("a"'), text='NEAR("a"'))
    with pytest.raises(QueryError, match="no such column"):
        repo.search(SearchQuery(match=MatchQuery(raw="nosuchcolumn:x"), text="nosuchcolumn:x"))
    repo.close()
