"""The top-k index answers like the exact SQLite path: totals, facets, hit sets, date order."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from support.fixtures_api import VERSIONED_FILES, bold, write_tree
from support.fixtures_store import topk_stack
from test_api_read import HOSTILE, RAW_QUERY_STRINGS

from indexer.reindex import reindex
from indexer.topk_index import build
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.engines.repo_topk import ENGINE_TOPK
from searchsvc.query.filters import Filters
from searchsvc.query.fts_query import MatchQuery, parse_user_query
from searchsvc.repository import FACETS, SearchPage, SearchQuery
from searchsvc.stack import SearchStack
from searchsvc.web.app import create_app

#: Big enough that the SQLite path never samples: its answers are then exact.
EXACT = 10**9


def _search_pair(db: Path, tmp: Path) -> tuple[SearchStack, SearchStack]:
    build(db, tmp / "topk")
    # FTS5 alone, in a stack as the app has it: it corrects typos like the top-k stack.
    exact = SearchStack(database=SqliteRepository(db, candidate_limit=EXACT))
    topk = topk_stack(db, tmp / "topk", background=False)
    return exact, topk


@pytest.fixture(scope="module")
def fixture_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """The API fixture tree, indexed, with its top-k index."""
    tmp = tmp_path_factory.mktemp("topk_fixture")
    root = write_tree(tmp / "dialogs")
    db = tmp / "dialogs.db"
    reindex(root, db)
    exact, topk = _search_pair(db, tmp)
    yield exact, topk
    exact.close()
    topk.close()


@pytest.fixture(scope="module")
def generated_pair(
    tmp_path_factory: pytest.TempPathFactory, gen_corpus_script: Path
) -> Iterator[tuple]:
    """A generated corpus of 3000 entries, its query mix, indexed, with its top-k index."""
    tmp = tmp_path_factory.mktemp("topk_generated")
    gen = [sys.executable, str(gen_corpus_script), "--seed", "3"]
    subprocess.run([*gen, "-n", "3000", "--out", str(tmp / "dialogs")], check=True)
    subprocess.run([*gen, "--queries", str(tmp / "q.ndjson"), "--count", "60"], check=True)
    db = tmp / "dialogs.db"
    reindex(tmp / "dialogs", db)
    exact, topk = _search_pair(db, tmp)
    mix = [json.loads(line) for line in (tmp / "q.ndjson").read_text().splitlines()]
    yield exact, topk, mix
    exact.close()
    topk.close()


def make_query(
    text: str,
    *,
    sort: str = "relevance",
    facets: tuple[str, ...] = FACETS,
    page: int = 1,
    per_page: int = 10,
    **filters: tuple[str, ...] | int,
) -> SearchQuery:
    """A SearchQuery as the API builds it from `q` and filter parameters."""
    match, from_text = parse_user_query(text)
    return SearchQuery(
        match=match,
        text=text,
        filters=from_text.merged(Filters(**filters)),  # type: ignore[arg-type]
        sort=sort,
        page=page,
        per_page=per_page,
        facets=facets,
    )


def assert_same_answer(exact: SearchStack, topk: SearchStack, query: SearchQuery) -> None:
    """Same total, facets and typo corrections; same page by date; same hit set when
    every match fits a page."""
    want = exact.search(query)
    got = topk.search(query)
    assert got.engine == ENGINE_TOPK, query.text
    assert want.engine == "fts5", query.text
    assert got.corrected == want.corrected, query
    assert got.total == want.total, query
    assert got.total_exact and want.total_exact
    assert want.facets_exact and got.facets_exact
    assert _facets(got) == _facets(want), query
    ids = [hit.entry_id for hit in got.hits]
    want_ids = [hit.entry_id for hit in want.hits]
    if query.sort != "relevance" or query.match is None or query.match.include is None:
        assert ids == want_ids, query
    elif want.total <= query.offset + query.per_page:
        assert sorted(ids) == sorted(want_ids), query
    want_snippets = {hit.entry_id: hit.snippet for hit in want.hits}
    for hit in got.hits:
        if hit.entry_id in want_snippets:
            assert hit.snippet == want_snippets[hit.entry_id]


def _facets(page: SearchPage) -> dict[str, list[tuple[str, int]]]:
    return {name: [(c.value, c.count) for c in counts] for name, counts in page.facets.items()}


FIXTURE_QUERIES = [
    make_query("search "),
    make_query("search", per_page=50),
    make_query("search index ", per_page=50),
    make_query('"search index" ', per_page=50),
    make_query("cafe naive ", per_page=50),
    make_query("résumé ", per_page=50),
    make_query('"migration pl', per_page=50),
    make_query("sea", per_page=50),
    make_query("in* ", per_page=50),
    make_query("search OR wolfie ", per_page=50),
    make_query("search -index ", per_page=50),
    make_query("-search ", sort="newest"),
    make_query("", sort="newest"),
    make_query("", sort="oldest", per_page=5, page=2),
    make_query("", sort="relevance", per_page=50),
    make_query("search ", sort="newest"),
    make_query("search ", sort="oldest"),
    make_query("the ", sort="oldest", per_page=3, page=2),
    make_query("the ", sort="newest", per_page=3, page=3),
    make_query("search ", speakers=("KIRO",), per_page=50),
    make_query("migration ", targets=("LILITH",), per_page=50),
    make_query("migration ", targets=("@migration_crew", "KIRO"), per_page=50),
    make_query("", targets=("@everyone",), sort="newest"),
    make_query("", moods=("red",), sort="newest"),
    make_query("", moods=("FF0000", "blue"), sort="oldest"),
    make_query("", files=("ops/",), sort="newest"),
    make_query("", files=("ops", "team_dialog.md"), sort="oldest"),
    make_query("search ", files=("ops/archive/",), per_page=50),
    make_query("", formats=("bold", "header"), sort="newest"),
    make_query("", since=20260116000000, until=20260118235959, sort="oldest"),
    make_query("", until=20260116235959, sort="newest"),
    make_query("speaker:KIRO format:bold ", sort="newest"),
    make_query("nothingmatchesthis "),
    make_query("", speakers=("nobody",), sort="newest"),
]


@pytest.mark.parametrize("query", FIXTURE_QUERIES, ids=lambda q: repr(q.text)[:30])
def test_topk_answers_like_exact_sqlite_on_the_fixture_tree(fixture_pair, query) -> None:
    exact, topk = fixture_pair
    assert_same_answer(exact, topk, query)


def test_topk_answers_like_exact_sqlite_on_a_generated_corpus(generated_pair) -> None:
    exact, topk, mix = generated_pair
    speaker = next(q["speaker"] for q in mix if q.get("speaker"))
    checked = 0
    for item in mix:
        text = item["q"] if item["kind"] in ("prefix", "phrase") else item["q"] + " "
        filters = {"speakers": (item["speaker"],)} if item.get("speaker") else {}
        for sort in ("relevance", "newest", "oldest"):
            assert_same_answer(exact, topk, make_query(text, sort=sort, **filters))  # type: ignore[arg-type]
            checked += 1
        assert_same_answer(exact, topk, make_query(text, per_page=5000))
    first = mix[0]["q"].strip('"*')
    for query in (
        make_query("", sort="newest", page=7),
        make_query("", sort="oldest", page=30, per_page=50),
        make_query(first[:2]),
        make_query(first, speakers=(speaker,), sort="oldest", page=2),
        make_query("", speakers=(speaker,), moods=("green",), sort="newest"),
    ):
        assert_same_answer(exact, topk, query)
    assert checked >= 150


@pytest.fixture(scope="module")
def versioned_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """The API fixture tree plus two releases of two system versions, with its top-k index."""
    tmp = tmp_path_factory.mktemp("topk_versioned")
    root = write_tree(write_tree(tmp / "dialogs"), VERSIONED_FILES)
    db = tmp / "dialogs.db"
    reindex(root, db)
    exact, topk = _search_pair(db, tmp)
    yield exact, topk
    exact.close()
    topk.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (make_query("", system_versions=("4.0.46",), sort="newest"), ["KIRO"]),
        (make_query("shipped system_version:4.3.0 "), ["LILITH"]),
        (make_query("", system_versions=("4.0.46", "4.3.0"), sort="oldest"), ["KIRO", "LILITH"]),
        (make_query("shipped ", system_versions=("4.3.0",), speakers=("KIRO",)), []),
        (make_query("", system_versions=("9.9",), sort="newest"), []),
    ],
    ids=lambda item: repr(item.text) if isinstance(item, SearchQuery) else None,
)
def test_topk_filters_by_system_version(versioned_pair, query, expected) -> None:
    exact, topk = versioned_pair
    assert_same_answer(exact, topk, query)
    assert [hit.entry.speaker for hit in topk.search(query).hits] == expected


def test_relevance_puts_title_and_message_above_one_word_in_a_long_body(tmp_path: Path) -> None:
    root = tmp_path / "dialogs"
    filler = " ".join(f"filler{i}" for i in range(60))
    marks = {"target": "@x", "mood": "FF0000"}
    text = (
        "# a\n\n"
        + bold("KIRO", "nothing here", day="2026-01-16", title="Body only", **marks)
        + f"{filler} lantern {filler}\n\n---\n\n"
        + bold("ROSE", "the lantern is lit", day="2026-01-17", title="Lantern notes", **marks)
    )
    (root / "a.md").parent.mkdir(parents=True)
    (root / "a.md").write_text(text, encoding="utf-8")
    db = tmp_path / "dialogs.db"
    reindex(root, db)
    exact, topk = _search_pair(db, tmp_path)
    try:
        query = make_query("lantern ")
        page, want = topk.search(query), exact.search(query)
        assert page.engine == ENGINE_TOPK
        assert page.total == want.total == 2
        assert page.hits[0].entry.message == want.hits[0].entry.message == "the lantern is lit"
        assert "lantern" in page.hits[1].entry.body
        assert "<mark>lantern</mark>" in (page.hits[0].snippet or "")
    finally:
        exact.close()
        topk.close()


def test_raw_syntax_and_unknown_tokens_are_answered_by_fts5(fixture_pair) -> None:
    exact, topk = fixture_pair
    raw = SearchQuery(match=MatchQuery(raw="NEAR(search index, 2)"), text="NEAR(search index, 2)")
    page = topk.search(raw)
    assert page.engine != ENGINE_TOPK
    assert page.total == exact.search(raw).total


@pytest.fixture
def topk_client(fixture_pair) -> FlaskClient:
    _, topk = fixture_pair
    return create_app({"TESTING": True}, repository=topk).test_client()


@pytest.mark.parametrize("raw", ["0", "1"])
def test_no_hostile_query_gives_a_server_error_on_the_topk_path(
    topk_client: FlaskClient, fixture_pair, raw: str
) -> None:
    _, topk = fixture_pair
    before = topk.answered[ENGINE_TOPK]
    for text in HOSTILE:
        response = topk_client.get("/api/dialog/search", query_string={"q": text, "raw": raw})
        assert response.status_code < 500, (text[:80], response.get_data(as_text=True)[:300])
    for query_string in RAW_QUERY_STRINGS:
        response = topk_client.get(f"/api/dialog/search?{query_string}&raw={raw}")
        assert response.status_code < 500, query_string
    if raw == "0":
        assert topk.answered[ENGINE_TOPK] > before + len(HOSTILE) // 2


def test_prefixes_expanding_to_too_many_terms_are_left_to_fts5(
    fixture_pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact, topk = fixture_pair
    query = make_query("s* m* ", per_page=50)
    assert topk.search(query).engine == ENGINE_TOPK
    monkeypatch.setattr("searchsvc.engines.topk_query.MAX_PREFIX_TERMS", 3)
    page = topk.search(query)
    assert page.engine != ENGINE_TOPK
    assert page.total == exact.search(query).total > 0
