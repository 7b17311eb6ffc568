"""Typo tolerance: a word that matches nothing is searched as its closest indexed word,
the same way by the top-k index, FTS5 and the file index (searchsvc/query/typos.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import OSA
from support.fixtures_api import wait_until
from support.fixtures_store import bold, topk_stack, write_dialog
from werkzeug.datastructures import MultiDict

from indexer.reindex import reindex
from indexer.topk_index import build, default_index_dir
from searchsvc.engines.repo_files import FileRepository
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.query.fts_query import parse_user_query
from searchsvc.query.parameters import search_query
from searchsvc.query.typos import TermBuckets, correct
from searchsvc.repository import SearchPage
from searchsvc.stack import SearchStack
from searchsvc.web.app import create_app

SAMPLE_DIALOGS = Path(__file__).resolve().parents[1] / "dialogs"
ENGINES = ("topk", "fts5", "files")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sample dialogs (root, database) with the top-k index beside the database."""
    tmp = tmp_path_factory.mktemp("typos")
    root = shutil.copytree(SAMPLE_DIALOGS, tmp / "dialogs")
    db = tmp / "dialogs.db"
    reindex(root, db)
    build(db, default_index_dir(db))
    return root, db


@pytest.fixture(scope="module")
def stacks(sample: tuple[Path, Path]) -> Iterator[dict[str, SearchStack]]:
    """The sample dialogs behind each engine: top-k index, FTS5, file index."""
    root, db = sample
    files = FileRepository(root)
    files.build_now()
    found = {
        "topk": topk_stack(db, default_index_dir(db), background=False),
        "fts5": SearchStack(database=SqliteRepository(db)),
        "files": SearchStack(files=files),
    }
    yield found
    for stack in found.values():
        stack.close()


def search(stack: SearchStack, text: str, **parameters: str) -> SearchPage:
    """Search as the API does, from request parameters (100 hits a page, both scopes)."""
    query = search_query(
        MultiDict({"q": text, "per_page": "100", "scope": "all", **parameters}),
        max_query_chars=1000,
    )
    return stack.search(query)


def ids(page: SearchPage) -> set[int]:
    return {hit.entry_id for hit in page.hits}


@pytest.mark.parametrize(
    ("typed", "corrected", "meant"),
    [
        ("migraton ", {"migraton": "migration"}, "migration "),  # 1 edit, 8 letters
        ("migraton", {"migraton": "migration"}, "migration"),  # typing: still a prefix
        ("Serach index ", {"Serach": "search"}, "search index "),  # a swap, with a right word
        ("tokeniser ", {"tokeniser": "tokenizer"}, "tokenizer "),
        ("archetecure ", {"archetecure": "architecture"}, "architecture "),  # 2 edits, 11 letters
        ("xyz OR migraton ", {"migraton": "migration"}, "migration "),  # no alternative matches
    ],
)
def test_a_misspelled_word_finds_the_right_words_entries_in_every_engine(
    stacks: dict[str, SearchStack], typed: str, corrected: dict[str, str], meant: str
) -> None:
    answers = {}
    for engine, stack in stacks.items():
        page, right = search(stack, typed), search(stack, meant)
        assert page.engine == engine
        assert page.corrected == corrected, engine
        assert right.corrected == {}
        assert 0 < page.total == right.total <= 100
        assert ids(page) == ids(right)
        answers[engine] = ids(page)
    assert answers["topk"] == answers["fts5"] == answers["files"]


@pytest.mark.parametrize(
    "typed",
    [
        "kirp ",  # 4 letters (kiro is one edit away): too short to correct
        '"migraton" ',  # in quotes: exact
        "migraton2 ",  # not letters only
        "mgiratoin ",  # an edit at each end: its candidates keep neither end
        "migraton speaker:NOBODY",  # the correction finds nothing either
    ],
)
def test_words_that_are_not_corrected(stacks: dict[str, SearchStack], typed: str) -> None:
    for engine, stack in stacks.items():
        page = search(stack, typed)
        assert (page.total, page.corrected) == (0, {}), engine


def test_an_exact_match_is_never_replaced(stacks: dict[str, SearchStack]) -> None:
    # "keeps" is one edit from "keep", which more entries hold.
    for stack in stacks.values():
        keeps, keep = search(stack, "keeps "), search(stack, "keep ")
        assert 0 < keeps.total < keep.total
        assert keeps.corrected == {}
        assert search(stack, "migraton OR keeps ").corrected == {}


def test_typos_off_searches_the_words_as_written(stacks: dict[str, SearchStack]) -> None:
    for stack in stacks.values():
        page = search(stack, "migraton ", typos="off")
        assert (page.total, page.corrected) == (0, {})


def test_excluded_and_quoted_words_stay_as_written(stacks: dict[str, SearchStack]) -> None:
    vocabulary = stacks["files"].vocabularies["files"]
    match, _ = parse_user_query('migraton -serach "tokeniser" ')
    correction = correct(match, vocabulary)
    assert correction.corrected == {"migraton": "migration"}
    assert correction.match is not None and match is not None
    assert correction.match.exclude == match.exclude
    assert [phrase.text for phrase in correction.match.positive_phrases()] == [
        "migration",
        "tokeniser",
    ]


def test_the_json_says_which_correction_was_used(stacks: dict[str, SearchStack]) -> None:
    client = create_app({"TESTING": True}, repository=stacks["fts5"]).test_client()
    body = client.get("/api/dialog/search", query_string={"q": "migraton"}).get_json()
    assert body["corrected"] == {"migraton": "migration"}
    assert body["total"] > 0
    assert "<mark>migration" in body["hits"][0]["snippet"].lower()
    for params in ({"q": "migration"}, {"q": "migraton", "typos": "off"}):
        assert client.get("/api/dialog/search", query_string=params).get_json()["corrected"] == {}


@pytest.mark.parametrize("engine", ["fts5", "files"])
def test_a_word_written_later_is_offered_and_a_removed_one_never(
    tmp_path: Path, engine: str
) -> None:
    root = shutil.copytree(SAMPLE_DIALOGS, tmp_path / "dialogs")
    db = tmp_path / "dialogs.db"
    reindex(root, db)
    files = FileRepository(root)
    files.build_now()
    database = SearchStack(database=SqliteRepository(db))
    stack = database if engine == "fts5" else SearchStack(files=files)

    def changed(rel: str) -> None:
        reindex(root, db)
        files.reload_file(rel)

    try:
        assert search(stack, "hipocampus ").corrected == {}  # the vocabulary is read now
        write_dialog(root, "late.md", bold("KIRO", "The hippocampus maps the archive."))
        changed("late.md")
        # The database's vocabulary is read again in the background.
        page = wait_until(lambda: (found := search(stack, "hipocampus ")).corrected and found)
        assert (page.total, page.corrected) == (1, {"hipocampus": "hippocampus"})
        (root / "late.md").unlink()
        changed("late.md")
        # At once: the terms offered are checked against what the index holds now.
        gone = search(stack, "hipocampus ")
        assert (gone.total, gone.corrected) == (0, {})
    finally:
        database.close()
        files.close()


WORDS = st.text(alphabet="abcd", min_size=4, max_size=12)


@settings(max_examples=200, deadline=None)
@given(vocabulary=st.lists(WORDS, max_size=300), word=st.text(alphabet="abcd", min_size=5))
def test_the_buckets_find_every_term_one_edit_away(vocabulary: list[str], word: str) -> None:
    found = {candidate.term for candidate in TermBuckets((t, 1) for t in vocabulary).near(word, 1)}
    assert found == {term for term in vocabulary if term != word and OSA.distance(word, term) <= 1}


def test_the_benchmark_runs_on_the_sample(sample: tuple[Path, Path]) -> None:
    root, db = sample
    command = [sys.executable, "-m", "benchmarks.typos", str(db), "--root", str(root)]
    command += ["--queries", "20", "--synthetic", "3000"]
    done = subprocess.run(
        command, cwd=SAMPLE_DIALOGS.parent, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)
    assert figures["database"]["correct"]["queries"] == 20
    assert figures["files"]["same_corrections_as_the_database"] == 20
    assert figures["synthetic"]["terms"] == 3000
