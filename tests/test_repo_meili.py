"""MeiliRepository: the SearchQuery mapped to Meilisearch, against the stand-in server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from meili_scenarios import SEARCH_SCENARIOS, MeiliTarget, Pipeline, scenario_ids
from meili_standin import MeiliStandIn
from meili_standin_filter import compile_filter

from searchsvc.filters import Filters
from searchsvc.fts_query import parse_user_query
from searchsvc.meili_query import (
    Unexpressible,
    meili_filter,
    meili_q,
    plan_search,
    safe_snippet,
)
from searchsvc.repository import SearchQuery

PRE, POST = "\ue000\ue001", "\ue001\ue000"


def q_for(text: str) -> str:
    match, _ = parse_user_query(text)
    return meili_q(match)


@pytest.mark.parametrize(
    "text, q",
    [
        ("", ""),
        ("hello wor", "hello wor"),
        ("hello world ", "hello world "),
        ("hello a", "hello a "),  # one letter: no prefix, as in SQLite
        ('"alpha bravo" charlie', '"alpha bravo" charlie'),
        ('alpha "bravo charlie"', 'alpha "bravo charlie" '),
        ('a -b -"c d" ex', '-b -"c d" a ex'),
        ("don't", '"don t" '),
        ("re-deploy", "re deploy"),
        ('say "x\\" y', "say x y "),
        ("Élan vital", "elan vital"),
        ("-noise", "-noise "),
        ("speaker:KIRO", ""),
    ],
)
def test_user_text_becomes_meilisearch_q(text: str, q: str) -> None:
    assert q_for(text) == q


@pytest.mark.parametrize("text", ["alpha OR bravo", "foo* bar", "x alpha | bravo"])
def test_what_meilisearch_cannot_express_is_refused(text: str) -> None:
    match, _ = parse_user_query(text)
    with pytest.raises(Unexpressible):
        meili_q(match)


def test_raw_fts5_and_mood_families_are_refused() -> None:
    from searchsvc.fts_query import MatchQuery

    with pytest.raises(Unexpressible):
        meili_q(MatchQuery(raw="alpha NEAR(bravo)"))
    with pytest.raises(Unexpressible):
        meili_filter(Filters(moods=("red",)))


def test_filters_become_quoted_expressions() -> None:
    filters = Filters(
        speakers=("KIRO", 'O"Brien'),
        targets=("@LILITH",),
        moods=("FF0000",),
        files=("team/", "alpha.md"),
        formats=("bold",),
        since=20260101000000,
        until=20260131235959,
    )
    assert meili_filter(filters) == [
        'speaker IN ["KIRO", "O\\"Brien"]',
        'targets IN ["@LILITH", "LILITH"]',
        'mood_rgb IN ["FF0000"]',
        '(dialog_folders = "team/" OR dialog_file = "alpha.md" OR dialog_folders = "alpha.md/")',
        'format IN ["bold"]',
        "timestamp_utc >= 20260101000000",
        "timestamp_utc <= 20260131235959",
    ]


FILTERABLE = ["speaker", "targets", "mood_rgb", "dialog_file", "dialog_folders", "format"]


@given(st.text(min_size=1).filter(lambda s: not s.endswith("/")), st.text(min_size=1))
def test_any_speaker_or_file_name_filters_exactly(name: str, other: str) -> None:
    """Quotes, backslashes, brackets, AND/OR words: the value stays one value."""
    filters = Filters(speakers=(name,), files=(name,))
    expressions = meili_filter(filters)
    predicate = compile_filter(expressions, FILTERABLE)
    document = {"speaker": name, "dialog_file": name, "dialog_folders": []}
    assert predicate(document)
    if other.casefold() != name.casefold():
        assert not predicate({"speaker": other, "dialog_file": name, "dialog_folders": []})


def test_snippets_are_escaped_html_with_mark_tags() -> None:
    formatted = f'<script>alert("x")</script> and {PRE}deploy{POST} & more'
    assert safe_snippet(formatted) == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; and <mark>deploy</mark> &amp; more"
    )


def test_stray_marker_characters_never_make_tags() -> None:
    assert safe_snippet(f"a {PRE}b c \ue000") == "a b c "
    assert "<mark>" not in safe_snippet(f"{PRE}{PRE}x{POST}")


def test_facets_with_their_own_filter_are_counted_without_it() -> None:
    query = SearchQuery(
        filters=Filters(speakers=("KIRO",), formats=("bold",)),
        facets=("speaker", "file", "format"),
    )
    plan = plan_search(query)
    page, *recounts = plan.searches
    assert page["facets"] == ["dialog_file"]
    assert plan.recounted == ["speaker", "format"]
    assert recounts[0]["filter"] == ['format IN ["bold"]'] and recounts[0]["limit"] == 0
    assert recounts[0]["facets"] == ["speaker"]
    assert recounts[1]["filter"] == ['speaker IN ["KIRO"]']


@pytest.mark.parametrize(
    "sort, expected", [("newest", ["timestamp_utc:desc"]), ("oldest", ["timestamp_utc:asc"])]
)
def test_sort_and_paging(sort: str, expected: list[str]) -> None:
    page = plan_search(SearchQuery(sort=sort, page=3, per_page=7)).searches[0]
    assert page["sort"] == expected
    assert (page["page"], page["hitsPerPage"]) == (3, 7)
    assert "sort" not in plan_search(SearchQuery(sort="relevance")).searches[0]


def test_a_mood_family_stands_for_the_known_colours_of_that_family() -> None:
    known = ["FF0000", "EE1100", "0000FF", "00CC66"]
    assert meili_filter(Filters(moods=("red", "00CC66")), known) == [
        'mood_rgb IN ["00CC66", "EE1100", "FF0000"]'
    ]
    assert meili_filter(Filters(moods=("purple",)), known) == ['mood_rgb IN ["no colour"]']


# --- the scenarios tests/test_meili_real.py runs against a real server ---------------------


@pytest.fixture
def meili() -> Iterator[MeiliStandIn]:
    with MeiliStandIn() as server:
        yield server


@pytest.mark.parametrize("scenario", scenario_ids(SEARCH_SCENARIOS))
def test_search_scenario_on_the_standin(scenario, meili: MeiliStandIn, tmp_path: Path) -> None:
    pipeline = Pipeline(MeiliTarget(meili.url, meili.api_key, "dialog_entries"), tmp_path)
    try:
        scenario(pipeline)
    finally:
        pipeline.close()
