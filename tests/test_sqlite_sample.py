"""The FTS5 path's sample of a frequent word (searchsvc/engines/sqlite_matches.py).

Rows are numbered file after file (sql/0008), so the first matches by rowid would all
be the first file's; the sample takes the matches whose rowid hashes below a threshold,
spread over the whole database instead.
"""

from __future__ import annotations

import pytest
from support.fixtures_store import bold, write_dialog

from indexer.reindex import reindex
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.query.fts_query import parse_user_query
from searchsvc.repository import SearchQuery

FILES = 4
PER_FILE = 250
LIMIT = 100


def query(text: str, **options: object) -> SearchQuery:
    match, _ = parse_user_query(text)
    return SearchQuery(match=match, text=text, sort="relevance", **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> SqliteRepository:
    """FILES files of PER_FILE entries that all hold `common`; samples above LIMIT matches."""
    tmp = tmp_path_factory.mktemp("sample")
    root = tmp / "dialogs"
    for number in range(FILES):
        entries = [
            bold("KIRO", f"common entry {number} {line} w{number}x{line}", day=1 + line % 28)
            for line in range(PER_FILE)
        ]
        write_dialog(root, f"file_{number}.md", *entries)
    db = tmp / "dialogs.db"
    reindex(root, db, full=True)
    repository = SqliteRepository(db, candidate_limit=LIMIT)
    yield repository
    repository.close()


def test_a_sample_counts_every_file_evenly(repo: SqliteRepository) -> None:
    page = repo.search(query("common ", facets=("file",), per_page=5))
    total = FILES * PER_FILE
    assert page.total == total and page.total_exact
    assert page.ranked is not None and LIMIT <= page.ranked < total / 2
    assert not page.facets_exact
    counts = {count.value: count.count for count in page.facets["file"]}
    assert sorted(counts) == [f"file_{number}.md" for number in range(FILES)]
    for value, count in counts.items():  # each file a quarter of the matches, roughly
        assert 0.6 * PER_FILE <= count <= 1.4 * PER_FILE, (value, count)
    best = {hit.entry.dialog_file for hit in page.hits}
    assert len(best) >= 2  # the best of the sample are not all from the first file


def test_a_deeper_page_raises_the_threshold(repo: SqliteRepository) -> None:
    first = repo.search(query("common ", per_page=10))
    deep = repo.search(query("common ", per_page=100, page=3))
    assert deep.ranked is not None and deep.ranked >= 300 > first.ranked  # type: ignore[operator]
    assert len(deep.hits) == 100


def test_a_word_with_fewer_matches_than_the_limit_is_read_whole(repo: SqliteRepository) -> None:
    page = repo.search(query("w2x17 "))
    assert page.total == 1 and page.ranked is None and page.facets_exact
