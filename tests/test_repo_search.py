"""Both repositories answer the same searches the same way (ids, totals, filters, facets)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.fixtures_api import VERSIONED_FILES, XSS, make_repository, write_tree

from dialogfile.parse_layout import find_front_matter, split_lines
from indexer.discover import find_dialog_files, read_source
from indexer.reindex import reindex
from searchsvc.query.filters import Filters
from searchsvc.query.fts_query import MatchQuery, parse_user_query
from searchsvc.repository import Repository, SearchPage, SearchQuery
from searchsvc.web.app import create_app


def run(repo: Repository, text: str = "", **options: Any) -> SearchPage:
    """Search as the API would: q parsed, its operators merged into the filters."""
    match, operators = parse_user_query(text) if text else (None, Filters())
    filters = options.pop("filters", Filters()).merged(operators)
    sort = options.pop("sort", "relevance" if match and match.include else "newest")
    query = SearchQuery(match=match, text=text, filters=filters, sort=sort, **options)
    return repo.search(query)


def speakers(page: SearchPage) -> list[str | None]:
    return [hit.entry.speaker for hit in page.hits]


def messages(page: SearchPage) -> set[str]:
    return {hit.entry.message or hit.entry.title or "" for hit in page.hits}


def test_a_word_finds_its_entries_and_reports_the_source(repository: Repository) -> None:
    page = run(repository, "migration ")
    assert page.total == 3
    assert page.source == repository.source
    assert {hit.entry.speaker for hit in page.hits} == {"KIRO", "LILITH", "CAPTAIN WOLFIE"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"search index"', {"KIRO", "CASCADE"}),
        ("search -index", {"KIRO", "ROSE"}),
        ("zebrafish OR rocket", {None, "CAPTAIN WOLFIE"}),
        ("migr", {"KIRO", "LILITH", "CAPTAIN WOLFIE"}),
        ("cafe", {"LILITH"}),
        ("CAFÉ", {"LILITH"}),
        ("skeleton speaker:KIRO", {"KIRO"}),
    ],
)
def test_query_syntax(repository: Repository, text: str, expected: set[str | None]) -> None:
    assert set(speakers(run(repository, text, per_page=50))) == expected


def test_the_last_word_is_a_prefix_only_while_typing(repository: Repository) -> None:
    assert run(repository, "migr").total == 3
    assert run(repository, "migr ").total == 0


def test_exclusion_alone_lists_everything_else(repository: Repository) -> None:
    everything = run(repository, per_page=100).total
    assert run(repository, "-migration", per_page=100).total == everything - 3


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(speakers=("KIRO",)), 3),
        (Filters(speakers=("KIRO", "ROSE")), 4),
        (Filters(targets=("@KIRO",)), 2),
        (Filters(targets=("KIRO",)), 2),
        (Filters(targets=("everyone",)), 4),
        (Filters(moods=("FF0000",)), 1),
        (Filters(moods=("red",)), 2),
        (Filters(moods=("blue",)), 2),
        (Filters(moods=("grey",)), 1),
        (Filters(files=("ops/",)), 7),
        (Filters(files=("ops",)), 7),
        (Filters(files=("ops/deploy_log.md",)), 4),
        (Filters(files=("opsnotes.md",)), 2),
        (Filters(formats=("bold",)), 6),
        (Filters(formats=("inline", "begin_end")), 2),
        (Filters(since=20260115000000), 4),
        (Filters(until=20260110235959), 2),
        (Filters(since=20260113000000, until=20260114235959), 2),
        (Filters(speakers=("KIRO",), formats=("bold",)), 1),
        (Filters(speakers=("NOBODY",)), 0),
    ],
)
def test_filters(repository: Repository, filters: Filters, expected: int) -> None:
    assert run(repository, filters=filters, per_page=100).total == expected


def test_operators_in_the_text_become_filters(repository: Repository) -> None:
    page = run(repository, "index mood:blue since:2026-01-15")
    assert speakers(page) == ["CASCADE"]
    assert run(repository, "format:begin_end").total == 1
    assert run(repository, "file:ops/archive/ search").total == 1
    assert run(repository, 'speaker:"CAPTAIN WOLFIE"').total == 1


def test_newest_and_oldest_put_undated_records_last(repository: Repository) -> None:
    newest = run(repository, per_page=100, sort="newest").hits
    oldest = run(repository, per_page=100, sort="oldest").hits
    stamps = [hit.entry.timestamp_utc for hit in newest]
    dated = [stamp for stamp in stamps if stamp is not None]
    assert dated == sorted(dated, reverse=True)
    assert stamps[len(dated) :] == [None] * (len(stamps) - len(dated))
    old_stamps = [hit.entry.timestamp_utc for hit in oldest]
    assert [s for s in old_stamps if s is not None] == sorted(dated)
    assert old_stamps[-1] is None


def test_pages_cover_every_hit_once(repository: Repository) -> None:
    total = run(repository, per_page=100).total
    seen: list[int] = []
    for page_number in range(1, total // 3 + 2):
        seen += [hit.entry_id for hit in run(repository, page=page_number, per_page=3).hits]
    assert len(seen) == total == len(set(seen))
    oldest: list[int] = []
    for page_number in range(1, total // 4 + 2):
        page = run(repository, page=page_number, per_page=4, sort="oldest")
        oldest += [hit.entry_id for hit in page.hits]
    assert oldest == [hit.entry_id for hit in run(repository, per_page=100, sort="oldest").hits]


def test_a_facet_ignores_its_own_filter(repository: Repository) -> None:
    facets = ("speaker", "target", "mood", "file", "format")
    page = run(repository, filters=Filters(speakers=("KIRO",)), facets=facets)
    speaker_counts = {c.value: c.count for c in page.facets["speaker"]}
    assert speaker_counts["KIRO"] == 3 and speaker_counts["LILITH"] == 1
    assert {c.value: c.count for c in page.facets["format"]} == {
        "header": 1,
        "bold": 1,
        "begin_end": 1,
    }
    assert {c.value: c.count for c in page.facets["target"]} == {"@everyone": 2, "@LILITH": 1}
    assert {c.value for c in page.facets["file"]} == {"team_dialog.md", "ops/deploy_log.md"}
    assert page.facets_exact and page.total_exact


def test_snippets_escape_stored_html_and_mark_matches(repository: Repository) -> None:
    hit = run(repository, "payload").hits[0]
    assert hit.snippet is not None
    assert "<script>" not in hit.snippet
    assert "&lt;script&gt;" in hit.snippet
    assert "<mark>payload</mark>" in hit.snippet
    assert hit.entry.message is not None and XSS in hit.entry.message


def test_get_entry_gives_the_entry_and_its_neighbours(repository: Repository) -> None:
    hit = run(repository, "ids question").hits[0]
    stored = repository.get_entry(hit.entry_id)
    assert stored is not None and stored.entry.speaker == "LILITH"
    assert stored.before is not None and stored.after is not None
    before = repository.get_entry(stored.before)
    after = repository.get_entry(stored.after)
    assert before is not None and before.entry.line < stored.entry.line
    assert after is not None and after.entry.line > stored.entry.line
    assert before.after == stored.entry_id
    assert repository.get_entry(1) is None
    assert repository.get_entry(2**70) is None


def test_stats_count_everything(repository: Repository) -> None:
    stats = repository.stats()
    assert stats["totals"]["dialog_entries"] == 9
    assert stats["totals"]["files"] == 4
    assert {"value": "KIRO", "count": 3, "variants": ["KIRO"]} in stats["speakers"]
    assert {"speaker": "KIRO", "target": "@everyone", "count": 2} in stats["pairs"]
    assert {"value": "2026-01-16", "count": 1} in stats["days"]
    assert {"value": "red", "count": 2} in stats["mood_families"]
    assert stats["mode"] == repository.source
    narrowed = repository.stats(SearchQuery(filters=Filters(speakers=("KIRO",))))
    assert narrowed["totals"]["entries"] == 3


def test_raw_fts5_syntax(repository: Repository) -> None:
    page = repository.search(SearchQuery(match=MatchQuery(raw="search AND (index OR notes)")))
    assert {hit.entry.speaker for hit in page.hits} == {"KIRO", "CASCADE", "ROSE"}


def test_both_repositories_give_the_same_ids(dialogs_dir: Path, db_path: Path) -> None:
    sqlite = make_repository("sqlite", dialogs_dir, db_path)
    files = make_repository("files", dialogs_dir, db_path)
    try:
        for text in ("", "search", "migration crew", "-search"):
            ids = [
                {hit.entry_id for hit in run(repo, text, per_page=100).hits}
                for repo in (sqlite, files)
            ]
            assert ids[0] == ids[1], text
    finally:
        sqlite.close()
        files.close()


def test_the_answer_cache_stays_within_its_byte_budget_and_keeps_the_newest() -> None:
    from searchsvc.engines.answer_cache import AnswerCache, Matches, MatchRows

    rows = MatchRows((entry_id, entry_id / 2) for entry_id in range(1000))
    assert list(rows[:2]) == [(0, 0.0), (1, 0.5)] and rows[-1] == (999, 499.5)
    cache = AnswerCache(size=128, max_bytes=40_000)
    for key in range(10):
        cache.put(key, Matches(rows=rows, complete=True))
    # Each value is about 16 kB: two fit, the older ones were dropped.
    assert cache.get(9, lambda: None).rows is rows
    assert cache.get(8, lambda: None) is not None
    assert cache.get(0, lambda: "recomputed") == "recomputed"


@pytest.fixture(params=["sqlite", "files"])
def versioned_repository(
    request: pytest.FixtureRequest, dialogs_dir: Path, db_path: Path
) -> Iterator[Repository]:
    """The fixture tree plus two releases of two system versions, in either repository."""
    write_tree(dialogs_dir, VERSIONED_FILES)
    reindex(dialogs_dir, db_path)
    repo = make_repository(request.param, dialogs_dir, db_path)
    yield repo
    repo.close()


def test_a_system_version_filter_finds_the_entries_of_that_version(
    versioned_repository: Repository,
) -> None:
    repo = versioned_repository
    page = run(repo, filters=Filters(system_versions=("4.0.46",)), per_page=100)
    assert speakers(page) == ["KIRO"] and messages(page) == {"Schema sync shipped"}
    assert speakers(run(repo, "shipped system_version:4.3.0 ")) == ["LILITH"]
    both = run(repo, "system_version:4.0.46 system_version:4.3.0", per_page=100)
    assert sorted(speakers(both)) == ["KIRO", "LILITH"]
    assert run(repo, "shipped ", filters=Filters(system_versions=("9.9",))).total == 0
    # With another filter, and with facets counted over the filtered entries.
    page = run(
        repo,
        "shipped ",
        filters=Filters(system_versions=("4.0.46", "4.3.0"), speakers=("LILITH",)),
        facets=("speaker", "file"),
    )
    assert speakers(page) == ["LILITH"]
    assert [(c.value, c.count) for c in page.facets["file"]] == [("releases/routing.md", 1)]
    assert [(c.value, c.count) for c in page.facets["speaker"]] == [
        ("KIRO", 1),
        ("LILITH", 1),
    ]


def test_the_api_reads_the_system_version_parameter(versioned_repository: Repository) -> None:
    client = create_app({"TESTING": True}, repository=versioned_repository).test_client()
    body = client.get("/api/dialog/entries?system_version=4.3.0").get_json()
    assert [hit["speaker"] for hit in body["hits"]] == ["LILITH"]
    assert body["hits"][0]["system_version"] == "4.3.0"
    body = client.get("/api/dialog/search?q=shipped+system_version:4.0.46").get_json()
    assert [hit["speaker"] for hit in body["hits"]] == ["KIRO"]


#: A WOLFIE header as real files write one (invalid YAML: `target: @everyone`), with a BOM.
HEADED_FILE = (
    "\ufeff---\n"
    "wolfie.headers: explicit architecture with structured clarity\n"
    "file.last_modified_utc: 20260120120000\n"
    "dialog:\n"
    "  speaker: GOVERNANCE\n"
    "  target: @everyone\n"
    '  message: "Governance channel initialized"\n'
    "tags:\n"
    '  categories: ["documentation", "lighthouse keeping"]\n'
    "file:\n"
    '  title: "Harbour Governance Voice"\n'
    "  description: Doctrine compliance for the marmalade harbour.\n"
    "---\n\n"
    "# Harbour\n\nBody text.\n"
)


@pytest.fixture(params=["sqlite", "files"])
def headed_repository(
    request: pytest.FixtureRequest, dialogs_dir: Path, db_path: Path
) -> Iterator[Repository]:
    """The fixture tree plus a file with a full WOLFIE header, in either repository."""
    write_tree(dialogs_dir, {"governance/harbour.md": HEADED_FILE})
    reindex(dialogs_dir, db_path)
    repo = make_repository(request.param, dialogs_dir, db_path)
    yield repo
    repo.close()


@pytest.mark.parametrize(
    "phrase",
    [
        '"explicit architecture with"',  # a key above dialog:
        '"documentation lighthouse keeping"',  # a tag below it
        '"the marmalade harbour"',  # file: description:
        '"wolfie headers explicit"',  # a key's name and its value
    ],
)
def test_front_matter_text_is_found_in_its_file(headed_repository: Repository, phrase: str) -> None:
    repo = headed_repository
    page = run(repo, phrase, filters=Filters(files=("governance/harbour.md",)))
    assert [(hit.entry.format, hit.entry.title) for hit in page.hits] == [
        ("section", "Harbour Governance Voice")
    ]
    assert page.hits[0].entry.line in (2, 8)
    assert run(repo, phrase, filters=Filters(files=("team_dialog.md",))).total == 0


def test_every_front_matter_line_of_the_corpus_is_found_in_its_file(
    shared_corpus: Path, tmp_path: Path
) -> None:
    """Issue 13's measure on the real files: a 3-word phrase of each front-matter line."""
    db = tmp_path / "corpus.db"
    reindex(shared_corpus, db)
    phrases = []
    for rel in find_dialog_files(shared_corpus):
        lines = split_lines(read_source(shared_corpus, rel).text)
        front_matter = find_front_matter(lines)
        for number in range(front_matter[0] + 1, front_matter[1]) if front_matter else ():
            words = re.findall(r"\w+", lines[number])
            middle = max(len(words) - 3, 0) // 2
            if len(words) >= 3:
                phrases.append((rel, number + 1, '"' + " ".join(words[middle : middle + 3]) + '"'))
    assert len(phrases) > 800
    for kind, every in (("sqlite", 1), ("files", 7)):  # the file index: a sample, for time
        repo = make_repository(kind, shared_corpus, db)
        try:
            missed = [
                (rel, line, phrase)
                for rel, line, phrase in phrases[::every]
                if run(repo, phrase, filters=Filters(files=(rel,))).total == 0
            ]
        finally:
            repo.close()
        assert missed == [], kind
