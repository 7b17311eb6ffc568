"""How each engine keeps within its budget past the plan, and what the API says of it.

FTS5 does not rank past its budget (bm25 reads every posting) and estimates what it does
not count; SQLite statements can be bounded by work (steps, not time); the file index
checks a phrase in at most so many docs; the answer's `partial` names every cut. Counted,
never timed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from support.fixtures_store import bold, topk_stack, write_dialog
from werkzeug.datastructures import MultiDict

from indexer.database import Database
from indexer.reindex import reindex
from indexer.store_errors import WorkLimitReached
from indexer.topk_index import build
from searchsvc.engines.answer_cache import Matches, MatchRows
from searchsvc.engines.file_index import build_index
from searchsvc.engines.file_match import matching
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.engines.sqlite_budget import estimated_total
from searchsvc.engines.sqlite_listing import SAMPLE_ROWS, SAMPLE_RUNS, sample_runs
from searchsvc.engines.sqlite_matches import RUNS, read_matches
from searchsvc.engines.sqlite_sql import HASH_RANGE
from searchsvc.query.budget import BUDGET, Cut, budget_for
from searchsvc.query.fts_query import parse_user_query
from searchsvc.query.parameters import search_query
from searchsvc.repository import SearchQuery
from searchsvc.stack import SearchStack
from searchsvc.web.app import create_app

ENTRIES = 40


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """40 entries that all say "common", the first 10 "one two three" too: (root, db)."""
    tmp = tmp_path_factory.mktemp("budget_engines")
    root = tmp / "dialogs"
    messages = [f"common entry{n}" + (" one two three" if n < 10 else "") for n in range(ENTRIES)]
    write_dialog(root, "words_dialog.md", *(bold("KIRO", message) for message in messages))
    db = tmp / "dialogs.db"
    reindex(root, db)
    yield root, db


def query(text: str, **options: object) -> SearchQuery:
    match, _ = parse_user_query(text)
    return SearchQuery(match=match, text=text, **options)  # type: ignore[arg-type]


def test_fts5_ranks_and_counts_a_search_within_its_budget(tree: tuple[Path, Path]) -> None:
    repo = SqliteRepository(tree[1], candidate_limit=5)
    page = repo.search(query("common ", sort="relevance", per_page=3, postings=ENTRIES))
    # A hash sample of about candidate_limit matches (sqlite_matches), every one ranked.
    assert page.ranked is not None and 5 <= page.ranked < ENTRIES and page.cuts == ()
    assert (page.total, page.total_exact) == (ENTRIES, True)
    repo.close()


def test_fts5_past_its_budget_shows_its_matches_unranked(tree: tuple[Path, Path]) -> None:
    repo = SqliteRepository(tree[1], candidate_limit=5)
    past = budget_for("fts5").exact_postings + 1
    page = repo.search(query("common ", sort="relevance", per_page=3, postings=past))
    assert page.ranked == 0 and [cut.kind for cut in page.cuts] == ["unranked"]
    # A table smaller than the sample's runs is read whole: the total is exact.
    assert len(page.hits) == 3 and (page.total, page.total_exact) == (ENTRIES, True)
    repo.close()


def test_an_unranked_sample_reads_runs_of_rowids_not_every_match(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tmp = tmp_path_factory.mktemp("budget_runs")
    root = tmp / "dialogs"
    entries = 10 * RUNS
    write_dialog(root, "runs_dialog.md", *(bold("KIRO", f"common {n}") for n in range(entries)))
    reindex(root, tmp / "dialogs.db")
    database = Database(tmp / "dialogs.db")
    with database.reading() as (conn, _):
        empty = Matches(rows=MatchRows(), complete=False)
        found = read_matches(conn, '"common"', 5, empty, entries, ranked=False)
    # One rowid of each of the RUNS runs (5 of 640 matches wanted: a tenth of a run, at
    # least one row; the file's header row matches nothing), a tenth of the table: the
    # total is estimated from that share.
    assert RUNS - 2 <= len(found.rows) <= RUNS and not found.complete
    assert 0.9 * entries <= estimated_total(found) <= 1.1 * entries
    assert {score for _, score in found.rows} == {0.0}
    database.close()


def test_a_sample_estimates_from_the_hash_range_it_covers() -> None:
    # 100 matches read whose rowids hash below a tenth of the range: about 1,000 in all.
    rows = MatchRows((number, 0.0) for number in range(1, 101))
    tenth = HASH_RANGE // 10
    assert estimated_total(Matches(rows=rows, complete=False, sampled=tenth)) == 1000
    assert estimated_total(Matches(rows=rows, complete=True, sampled=HASH_RANGE)) == 100


def test_limited_work_stops_a_statement_and_keeps_the_snapshot(tree: tuple[Path, Path]) -> None:
    database = Database(tree[1])
    counting = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
    counting += "SELECT count(*) FROM n"
    with database.reading() as (conn, _):
        with pytest.raises(WorkLimitReached):
            with database.limited_work(50_000):
                conn.execute(counting, (10**7,)).fetchone()
        assert conn.in_transaction
        with database.limited_work(50_000):
            assert conn.execute(counting, (100,)).fetchone() == (100,)
        assert conn.execute("SELECT count(*) FROM lupo_dialog_entries").fetchone()[0] >= ENTRIES
    database.close()


def test_work_limits_nest_and_the_smaller_one_stops(tree: tuple[Path, Path]) -> None:
    database = Database(tree[1])
    counting = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
    counting += "SELECT count(*) FROM n"
    stopped = []
    with database.reading() as (conn, _):
        try:
            with database.limited_work(50_000):
                with database.limited_work(10**9):  # the outer limit is the smaller
                    conn.execute(counting, (10**7,)).fetchone()
        except WorkLimitReached:
            stopped.append("outer")
        with database.limited_work(10**9):
            try:
                with database.limited_work(50_000):  # the inner limit is the smaller
                    conn.execute(counting, (10**7,)).fetchone()
            except WorkLimitReached:
                stopped.append("inner")
            assert conn.execute(counting, (100,)).fetchone() == (100,)  # the outer goes on
    assert stopped == ["outer", "inner"]
    database.close()


def test_the_file_index_checks_a_phrase_in_at_most_its_limit(tree: tuple[Path, Path]) -> None:
    index = build_index(tree[0])
    match, _ = parse_user_query('"one two"')
    every = matching(index, match)
    assert len(every.docs) == 10 and every.share == 1.0
    checked = matching(index, match, check_limit=4)
    assert set(checked.docs) <= set(every.docs) and len(checked.docs) <= 4
    assert checked.share == pytest.approx(len(checked.docs) / 10)


@pytest.fixture(scope="module")
def client(tree: tuple[Path, Path]) -> Iterator[FlaskClient]:
    root, db = tree
    app = create_app({"TESTING": True, "ROOT": str(root), "DB": str(db), "TOPK": "off"})
    yield app.test_client()
    app.extensions["dialogsearch"].close()


def test_the_answer_names_what_was_cut(client: FlaskClient) -> None:
    words = [f"entry{n}" for n in range(ENTRIES)]
    answer = client.get("/api/dialog/search", query_string={"q": " OR ".join(words) + " "})
    assert answer.status_code == 200
    partial = answer.get_json()["partial"]
    assert partial["reason"] == "too_expensive"
    limit = BUDGET.max_alternatives
    text = "entry0 OR entry1 OR entry2 OR entry3 OR entry4 OR entry5 OR entry6 OR entry7 OR…"
    assert partial["cuts"] == [{"kind": "alternatives", "text": text, "kept": limit, "of": 40}]
    describe = Cut("alternatives", text, limit, 40).describe()
    assert partial["message"] == f"Too broad to search in full: {describe}"
    assert answer.get_json()["total"] == limit  # entry0 ... entry31, one entry each


def test_a_normal_answer_has_no_partial(client: FlaskClient) -> None:
    answer = client.get("/api/dialog/search", query_string={"q": "common one"})
    assert answer.status_code == 200 and answer.get_json()["partial"] is None


def test_fts5_sample_runs_spread_over_the_table() -> None:
    runs = sample_runs(1_000_000)
    assert len(runs) == SAMPLE_RUNS
    assert sum(end - start for start, end in runs) == SAMPLE_ROWS
    assert runs[0][0] >= 1 and runs[-1][1] <= 1_000_001
    gaps = [later[0] - earlier[1] for earlier, later in zip(runs, runs[1:], strict=False)]
    assert min(gaps) > 0 and max(gaps) - min(gaps) <= 1  # evenly spaced, disjoint
    assert sample_runs(100) == [(1, 101)]  # a small table is its own sample


@pytest.fixture(scope="module")
def sided(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchStack]:
    """A top-k stack over entries and a text section; word{n} is in entry n, the section
    holds `tides` and word39 (past the budget's alternatives)."""
    tmp = tmp_path_factory.mktemp("budget_sides")
    root = tmp / "dialogs"
    section = "## Notes\n\nThe section text about tides and word39.\n\n"
    entries = (bold("KIRO", f"note word{n}") for n in range(ENTRIES))
    write_dialog(root, "sides_dialog.md", *entries, section)
    db = tmp / "dialogs.db"
    reindex(root, db)
    build(db, tmp / "topk")
    stack = topk_stack(db, tmp / "topk", background=False)
    yield stack
    stack.close()


def test_topk_statistics_count_both_sides_of_the_index(sided: SearchStack) -> None:
    stats = sided.topk.term_stats()
    assert stats is not None
    assert stats.doc_freq("tides") >= 1  # only a section holds it: the text side's postings
    assert stats.doc_freq("word39") >= 2  # an entry and the section
    assert ("tides", stats.doc_freq("tides")) in stats.prefix_terms("tid")


def test_the_scope_counts_search_what_the_budget_kept(sided: SearchStack) -> None:
    words = " OR ".join(f"word{n}" for n in range(ENTRIES))
    page = sided.search(search_query(MultiDict({"q": words}), max_query_chars=1000))
    assert page.engine == "topk" and [cut.kind for cut in page.cuts] == ["alternatives"]
    # word39 was cut: neither the page nor the other scope's count-only search reads it.
    assert page.total == BUDGET.max_alternatives
    assert page.scopes == {"entries": BUDGET.max_alternatives, "text": 0}
