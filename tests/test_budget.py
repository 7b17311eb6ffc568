"""The search budget (searchsvc/query/budget.py): what it cuts, and that it bounds the work.

Every figure here is counted, never timed: the terms a planned search reads, how many
postings they hold, how many alternatives, words and phrase words it keeps. The term
statistics are real: a small dialog tree indexed by the file index (whose counts are
the database's), with words of known frequencies; the budgets are scaled down to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fixtures_store import bold, write_dialog

from indexer.reindex import reindex
from indexer.topk_index import build
from searchsvc.engines.file_vocabulary import FileVocabulary
from searchsvc.engines.repo_files import FileRepository
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.engines.repo_topk import TopkEngine
from searchsvc.query.budget import (
    BUDGET,
    Budget,
    Cut,
    TermTable,
    bound,
    budget_for,
    check_raw,
)
from searchsvc.query.filters import Filters
from searchsvc.query.fts_query import AllOf, AnyOf, MatchQuery, Node, Phrase, parse_user_query
from searchsvc.repository import QueryTooExpensive, SearchQuery

#: Each word and how many of the 60 entries hold it.
FREQUENCIES = {
    "common": 60,
    "often": 40,
    "sometimes": 20,
    "rare": 2,
    "apple": 30,
    "apricot": 20,
    "april": 10,
    "apex": 5,
    "aptitude": 1,
    "pre": 5,
    "prefix": 20,
    "press": 10,
}
PHRASE = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"


def _message(number: int) -> str:
    words = [word for word, count in FREQUENCIES.items() if number < count]
    return " ".join(words) + (f" {PHRASE}" if number < 10 else "")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """60 entries of known words (one per file line), indexed: (root, database)."""
    tmp = tmp_path_factory.mktemp("budget")
    root = tmp / "dialogs"
    write_dialog(root, "words_dialog.md", *(bold("KIRO", _message(n)) for n in range(60)))
    db = tmp / "dialogs.db"
    reindex(root, db)
    yield root, db


@pytest.fixture(scope="module")
def files(tree: tuple[Path, Path]) -> Iterator[FileRepository]:
    repo = FileRepository(tree[0])
    repo.build_now()
    yield repo
    repo.close()


@pytest.fixture(scope="module")
def stats(files: FileRepository) -> FileVocabulary:
    return files.vocabulary


def match(text: str) -> MatchQuery:
    found, _ = parse_user_query(text)
    assert found is not None
    return found


def terms_read(node: Node | None) -> list[str]:
    """Every term a planned node reads (a prefix: each term it stands for)."""
    if node is None:
        return []
    if isinstance(node, Phrase):
        if node.prefix and node.expansions is not None:
            return [*node.tokens[:-1], *node.expansions]
        return list(node.tokens)
    if isinstance(node, AnyOf | AllOf):
        return [term for child in node.children for term in terms_read(child)]
    return terms_read(node.base) + terms_read(node.excluded)


def test_a_normal_search_is_not_cut(stats: FileVocabulary) -> None:
    asked = match("common often sometimes ")
    planned = bound(asked, stats)
    assert planned.match == asked and planned.cuts == ()
    assert planned.postings == 60 + 40 + 20


def test_a_prefix_stands_for_its_most_frequent_terms(stats: FileVocabulary) -> None:
    planned = bound(match("ap*"), stats, Budget(max_postings=55))
    assert planned.match.include == Phrase(
        "ap", ("ap",), prefix=True, expansions=("apple", "apricot")
    )
    assert planned.cuts == (Cut("prefix", "ap", 2, 5),)
    assert planned.postings == 30 + 20 <= 55


def test_a_prefix_keeps_the_word_itself_first(stats: FileVocabulary) -> None:
    # `pre` is a word too (5 entries): it comes before the more frequent `prefix` (20).
    planned = bound(match("pre*"), stats, Budget(max_postings=16))
    assert planned.match.include.expansions == ("pre",)
    assert planned.cuts == (Cut("prefix", "pre", 1, 3),)


def test_alternatives_keep_those_written_first_that_fit(stats: FileVocabulary) -> None:
    planned = bound(match("common OR often OR sometimes OR rare "), stats, Budget(max_postings=110))
    kept = [child.tokens for child in planned.match.include.children]
    assert kept == [("common",), ("often",), ("rare",)]  # `sometimes` (20) no longer fit
    assert [(cut.kind, cut.kept, cut.of) for cut in planned.cuts] == [("alternatives", 3, 4)]
    assert planned.postings == 60 + 40 + 2 <= 110


def test_required_words_keep_the_rarest(stats: FileVocabulary) -> None:
    planned = bound(match("common often sometimes rare "), stats, Budget(max_postings=30))
    kept = [child.tokens for child in planned.match.include.children]
    assert kept == [("sometimes",), ("rare",)]  # in the order written
    assert [(cut.kind, cut.kept, cut.of) for cut in planned.cuts] == [("words", 2, 4)]


def test_a_long_phrase_keeps_a_run_of_its_words(stats: FileVocabulary) -> None:
    planned = bound(match(f'"{PHRASE}"'), stats, BUDGET)
    assert planned.match.include.tokens == tuple(PHRASE.split()[:12])
    assert [(cut.kind, cut.kept, cut.of) for cut in planned.cuts] == [("phrase", 12, 14)]


def test_a_phrase_past_its_share_keeps_its_most_selective_run(stats: FileVocabulary) -> None:
    planned = bound(match('"common often sometimes rare"'), stats, Budget(max_postings=30))
    assert planned.match.include.tokens == ("sometimes", "rare")
    assert planned.postings == 22


def test_duplicates_count_once_and_are_no_cut(stats: FileVocabulary) -> None:
    planned = bound(match("often OR often OR often "), stats)
    assert planned.match.include == Phrase("often", ("often",)) and planned.cuts == ()


def test_the_counts_apply_without_statistics() -> None:
    words = [f"word{number}" for number in range(40)]
    planned = bound(match(" OR ".join(words) + " "), None)
    assert len(planned.match.include.children) == BUDGET.max_alternatives
    assert [(cut.kind, cut.kept, cut.of) for cut in planned.cuts] == [("alternatives", 32, 40)]
    assert planned.postings is None
    required = bound(match(" ".join(words) + " "), None)
    assert len(required.match.include.children) == BUDGET.max_words


def test_an_exclusion_alone_stays_and_one_past_the_budget_goes(stats: FileVocabulary) -> None:
    alone = bound(match("-common"), stats, Budget(max_postings=10))
    assert alone.match.exclude == Phrase("common", ("common",)) and alone.cuts == ()
    beside = bound(match("rare -common"), stats, Budget(max_postings=10))
    assert beside.match.exclude is None and beside.cuts == (Cut("excluded", "common", 0, 1),)


def test_a_raw_expression_past_the_budget_is_refused(stats: FileVocabulary) -> None:
    raw = MatchQuery(raw="ap* OR common")
    planned = bound(raw, stats, Budget(max_postings=100))
    assert planned.match == raw and planned.postings == 66 + 60
    with pytest.raises(QueryTooExpensive, match="would read 126 postings"):
        check_raw(planned.match, planned.postings, Budget(max_postings=100))
    check_raw(planned.match, planned.postings, Budget(max_postings=200))


@pytest.mark.parametrize(
    "text",
    [
        "ap* pre* common often",
        " OR ".join(["common", "often", "sometimes", "rare", "ap*", "pre*"] * 6),
        f'"{PHRASE}" "{PHRASE}" ap*',
        "common often sometimes rare apple apricot april apex aptitude " * 4,
    ],
)
@pytest.mark.parametrize("postings", [10, 50, 120])
def test_a_planned_search_reads_within_its_budget(
    stats: FileVocabulary, text: str, postings: int
) -> None:
    budget = Budget(max_postings=postings, max_alternatives=8, max_words=6, max_phrase_tokens=5)
    planned = bound(match(text), stats, budget)
    read = terms_read(planned.match.include)
    counted = sum(stats.doc_freq(term) for term in read)
    assert counted == planned.postings
    # Only the one part that is always kept (the rarest word, the first alternative) may
    # read more than the budget, and then it alone is read.
    assert counted <= postings or len(read) <= 2
    include = planned.match.include
    if isinstance(include, AnyOf | AllOf):
        assert len(include.children) <= max(budget.max_alternatives, budget.max_words)
    phrases = [node for node in _phrases(include) if len(node.tokens) > 1]
    assert all(len(node.tokens) <= budget.max_phrase_tokens for node in phrases)


def _phrases(node: Node) -> list[Phrase]:
    if isinstance(node, Phrase):
        return [node]
    if isinstance(node, AnyOf | AllOf):
        return [phrase for child in node.children for phrase in _phrases(child)]
    return []


def test_the_term_table_answers_like_the_index(stats: FileVocabulary) -> None:
    table = TermTable((term, stats.doc_freq(term)) for term in FREQUENCIES)
    assert table.doc_freq("often") == 40 and table.doc_freq("absent") == 0
    assert table.prefix_terms("ap") == stats.prefix_terms("ap")
    assert table.prefix_terms("pre") == [("prefix", 20), ("press", 10), ("pre", 5)]


def test_every_engine_searches_a_cut_search_alike(
    tree: tuple[Path, Path], files: FileRepository, stats: FileVocabulary, tmp_path: Path
) -> None:
    root, db = tree
    build(db, tmp_path / "topk")
    sqlite = SqliteRepository(db, candidate_limit=10**9)
    topk = TopkEngine(sqlite, tmp_path / "topk", background=False)
    planned = bound(match("ap* OR pre* OR rare "), stats, Budget(max_postings=40))
    assert {cut.kind for cut in planned.cuts} == {"prefix"}
    query = SearchQuery(match=planned.match, sort="newest", per_page=100, filters=Filters())
    answers = {engine.name: engine.search(query) for engine in (sqlite, topk, files)}
    ids = {name: sorted(hit.entry_id for hit in page.hits) for name, page in answers.items()}
    assert ids["fts5"] == ids["topk"] == ids["files"]
    assert {page.total for page in answers.values()} == {len(ids["fts5"])}
    topk.close()
    sqlite.close()


def test_fts5_costs_every_prefix_without_prefix_indexes() -> None:
    # FTS5 keeps no prefix indexes (sql/0008): a two-letter prefix merges its terms' lists
    # like any other, and `a*` keeps at most max_prefix_terms of its terms.
    fts5 = budget_for("fts5")
    table = TermTable([(f"ab{n:03d}", 150_000) for n in range(4)])
    planned = bound(match("ab*"), table, fts5)
    assert [cut.kind for cut in planned.cuts] == ["prefix"]  # 600,000 postings, weighed 3x
    assert planned.postings is not None and planned.postings <= fts5.max_postings
    many = TermTable([(f"a{n:04d}", 10_000) for n in range(1000)])
    planned = bound(match("a*"), many, fts5)
    assert [cut.kind for cut in planned.cuts] == ["prefix"]
    expansions = planned.match.include.expansions  # type: ignore[union-attr]
    assert expansions is not None and len(expansions) <= fts5.max_prefix_terms
    assert planned.postings is not None and planned.postings <= fts5.max_postings
