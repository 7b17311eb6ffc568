"""MeiliEngine: the SearchQuery mapped to Meilisearch, against the stand-in server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from support.fixtures_api import VERSIONED_FILES, write_tree
from support.meili_scenarios import (
    SEARCH_SCENARIOS,
    MeiliTarget,
    Pipeline,
    repositories,
    scenario_ids,
    search_query,
)
from support.meili_standin import MeiliStandIn
from support.meili_standin_filter import compile_filter

from indexer.push_meili import FILTERABLE_ATTRIBUTES
from searchsvc.engines.meili_query import (
    Unexpressible,
    meili_filter,
    meili_q,
    plan_search,
    safe_snippet,
)
from searchsvc.engines.repo_meili import MeiliEngine
from searchsvc.query.filters import Filters
from searchsvc.query.fts_query import parse_user_query
from searchsvc.repository import SearchQuery
from searchsvc.settings import Settings, load_config
from searchsvc.stack import SearchStack, meili_engine
from searchsvc.web.app import create_app

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
    from searchsvc.query.fts_query import MatchQuery

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


def test_a_system_version_filter_is_an_exact_in_filter() -> None:
    filters = Filters(system_versions=("4.0.46", 'v"5'))
    assert meili_filter(filters) == ['system_version IN ["4.0.46", "v\\"5"]']
    assert "system_version" in FILTERABLE_ATTRIBUTES


def test_meilisearch_filters_by_system_version(meili: MeiliStandIn, tmp_path: Path) -> None:
    pipeline = Pipeline(MeiliTarget(meili.url, meili.api_key, "dialog_entries"), tmp_path)
    write_tree(pipeline.root, VERSIONED_FILES)
    pipeline.reindex()
    assert pipeline.push().ok
    meili_repo, sqlite_repo = repositories(pipeline)
    try:
        for text, filters, expected in [
            ("", Filters(system_versions=("4.0.46",)), ["KIRO"]),
            ("shipped system_version:4.3.0", Filters(), ["LILITH"]),
            ("", Filters(system_versions=("4.0.46", "4.3.0")), ["KIRO", "LILITH"]),
            ("shipped", Filters(system_versions=("9.9",)), []),
        ]:
            query = search_query(text, filters=filters, sort="oldest", per_page=50)
            page = meili_repo.search(query)
            assert page.source == "meilisearch", text
            assert [hit.entry.speaker for hit in page.hits] == expected, text
            assert [hit.entry_id for hit in page.hits] == [
                hit.entry_id for hit in sqlite_repo.search(query).hits
            ], text
    finally:
        meili_repo.close()
        pipeline.close()


# --- DIALOGSEARCH_SEARCH_BACKEND=meilisearch in the app ------------------------------------


def app_for(pipeline: Pipeline, meili: MeiliStandIn, **config: Any) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "ROOT": str(pipeline.root),
            "DB": str(pipeline.db_path),
            "SEARCH_BACKEND": "meilisearch",
            "MEILI_URL": meili.url,
            "MEILI_API_KEY": meili.api_key,
            "MEILI_INDEX": pipeline.target.index_uid,
            **config,
        }
    )


def fallback_events(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    records = [r for r in caplog.records if r.name == "searchsvc.meilisearch"]
    return [e for e in (json.loads(r.getMessage()) for r in records) if e["event"] == event]


def test_the_app_asks_meilisearch_first_and_sqlite_when_it_is_down(
    meili: MeiliStandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = Pipeline(MeiliTarget(meili.url, meili.api_key, "dialog_entries"), tmp_path)
    assert pipeline.push().ok
    app = app_for(pipeline, meili, MEILI_RETRY_SECONDS=0)
    client = app.test_client()
    try:
        answer = client.get("/api/dialog/search?q=beta&facets=speaker").get_json()
        assert answer["source"] == "meilisearch"
        assert [hit["message"] for hit in answer["hits"]] == ["beta review"]
        assert answer["facets"]["speaker"] == [
            {"value": "LILITH", "count": 1, "variants": ["LILITH"]}
        ]
        health = client.get("/api/dialog/health").get_json()
        assert health["search_backend"] == "meilisearch"
        assert health["meilisearch"]["status"] == "available"

        meili.down()
        with caplog.at_level(logging.WARNING, logger="searchsvc.meilisearch"):
            down = client.get("/api/dialog/search?q=beta&facets=speaker").get_json()
        assert down["source"] == "database"
        assert [hit["dialog_entry_id"] for hit in down["hits"]] == [
            hit["dialog_entry_id"] for hit in answer["hits"]
        ]
        assert down["facets"] == answer["facets"]
        (event,) = fallback_events(caplog, "meilisearch_fallback")
        assert event["answered_by"] == "database" and "unreachable" in event["error"]
        health = client.get("/api/dialog/health").get_json()
        assert health["mode"] == "database"
        assert health["meilisearch"]["status"] == "unreachable"
        assert health["meilisearch"]["failing"] is True

        meili.up()
        with caplog.at_level(logging.WARNING, logger="searchsvc.meilisearch"):
            again = client.get("/api/dialog/search?q=beta").get_json()
        assert again["source"] == "meilisearch"
        assert fallback_events(caplog, "meilisearch_recovered")
    finally:
        app.extensions["dialogsearch"].close()
        pipeline.close()


def test_after_a_failure_searches_skip_meilisearch_for_a_while(
    meili: MeiliStandIn, tmp_path: Path
) -> None:
    pipeline = Pipeline(MeiliTarget(meili.url, meili.api_key, "dialog_entries"), tmp_path)
    assert pipeline.push().ok
    app = app_for(pipeline, meili, MEILI_TIMEOUT_SECONDS=0.3, MEILI_RETRY_SECONDS=600)
    client = app.test_client()
    try:
        meili.stall()
        repository = app.extensions["dialogsearch"].meili
        first = client.get("/api/dialog/search?q=gamma").get_json()
        # The stalled stand-in never answers: the client's own timeout ended the wait.
        assert repository.fallbacks == 1
        assert "timed out" in (repository.last_error or "")
        second = client.get("/api/dialog/search?q=gamma").get_json()
        assert (first["source"], second["source"]) == ("database", "database")
        assert first["total"] == second["total"] == 1
        # One timeout in all: the second search did not ask Meilisearch (the stalled
        # stand-in would have timed out again and counted a second fallback).
        assert repository.fallbacks == 1
    finally:
        app.extensions["dialogsearch"].close()
        pipeline.close()


def test_the_default_backend_leaves_meilisearch_out(tmp_path: Path) -> None:
    from support.meili_scenarios import make_tree

    root = make_tree(tmp_path / "dialogs")
    app = create_app({"TESTING": True, "ROOT": str(root), "DB": str(tmp_path / "x.db")})
    try:
        assert app.extensions["dialogsearch"].meili is None
    finally:
        app.extensions["dialogsearch"].close()


def test_a_bad_backend_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEILI_URL", raising=False)
    with pytest.raises(ValueError, match="not one of sqlite, meilisearch"):
        Settings.from_config(load_config({"SEARCH_BACKEND": "elastic"}))
    with pytest.raises(ValueError, match="needs MEILI_URL"):
        meili_engine(Settings.from_config(load_config({"SEARCH_BACKEND": "meilisearch"})))


def test_meilisearch_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEILI_URL", "http://127.0.0.1:7700/")
    monkeypatch.setenv("MEILI_API_KEY", "env-key")
    monkeypatch.setenv("MEILI_INDEX", "other_index")
    repository = meili_engine(Settings.from_config(load_config({"SEARCH_BACKEND": "Meilisearch"})))
    assert isinstance(repository, MeiliEngine)
    assert repository.client.config.url == "http://127.0.0.1:7700"
    assert repository.client.config.api_key == "env-key"
    assert repository.index_uid == "other_index"


def test_a_failing_store_behind_is_not_blamed_on_meilisearch(
    meili: MeiliStandIn, tmp_path: Path
) -> None:
    from support.meili_scenarios import search_query

    from searchsvc.engines.repo_sqlite import SqliteRepository
    from searchsvc.repository import StoreUnavailable

    pipeline = Pipeline(MeiliTarget(meili.url, meili.api_key, "dialog_entries"), tmp_path)
    repository = SearchStack(
        database=SqliteRepository(tmp_path / "missing.db"),
        meili=MeiliEngine(pipeline.client, "dialog_entries"),
    )
    try:
        assert pipeline.push().ok
        with pytest.raises(StoreUnavailable):
            repository.search(search_query("beta OR gamma"))  # OR: only the store behind
        assert repository.meili.fallbacks == 0
        assert repository.search(search_query("beta")).source == "meilisearch"
    finally:
        repository.close()
        pipeline.close()


def test_with_meilisearch_in_front_a_write_the_database_misses_is_served_from_the_files(
    meili: MeiliStandIn, tmp_path: Path
) -> None:
    """Issue 12's suspected bug: the write service held Meilisearch's repository, which
    had no database_behind, so a write the database could not take stayed unreadable."""
    import sqlite3

    from support.fixtures_writes import AUTH, make_app, make_root

    root, db = make_root(tmp_path)
    pipeline = Pipeline(MeiliTarget(meili.url, meili.api_key, "dialog_entries"), tmp_path)
    app = make_app(
        root,
        db,
        SEARCH_BACKEND="meilisearch",
        MEILI_URL=meili.url,
        MEILI_API_KEY=meili.api_key,
        PROBE_SECONDS=0.1,
    )
    client = app.test_client()
    holder = sqlite3.connect(db, isolation_level=None)  # another writer holds the lock
    holder.execute("BEGIN EXCLUSIVE")
    try:
        new = {"speaker": "KIRO", "target": "@everyone", "message": "quokka census"}
        response = client.post("/api/dialog/entry", json=new, headers=AUTH)
        assert response.status_code == 201, response.get_json()
        entry_id = response.get_json()["dialog_entry_id"]
        assert client.get(f"/api/dialog/entry/{entry_id}").status_code == 200
        health = client.get("/api/dialog/health").get_json()
        assert health["mode"] == "files" and health["search_backend"] == "meilisearch"
        found = client.get("/api/dialog/search", query_string={"q": "quokka OR census"})
        assert found.get_json()["total"] == 1 and found.get_json()["source"] == "files"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        app.extensions["dialogsearch"].close()
        pipeline.close()
