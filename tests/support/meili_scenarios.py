"""Push and search scenarios that hold for any Meilisearch: the stand-in or a real server.

Each scenario takes a `MeiliTarget` (URL, key and an index uid of its own) and a temporary
folder, and checks its outcome only through Meilisearch's public API, never through the
stand-in's internals. tests/test_meili_real.py runs them against `MEILI_URL`;
tests/test_push_meili.py and tests/test_repo_meili.py run them against the stand-in.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from indexer.database import Database
from indexer.push_meili import (
    DOCUMENT_ID_PATTERN,
    FILTERABLE_ATTRIBUTES,
    RANKING_RULES,
    SEARCHABLE_ATTRIBUTES,
    SORTABLE_ATTRIBUTES,
    MeiliPushSummary,
    entry_id_from_document_id,
    open_client,
    push_to_meilisearch,
)
from indexer.reindex import reindex


@dataclass(frozen=True)
class MeiliTarget:
    """Where a scenario pushes: a server and an index uid used by nothing else."""

    url: str
    api_key: str | None
    index_uid: str


# Speakers whose names need escaping in a filter expression.
TRICKY_SPEAKER = 'O"Brien \\ Co'
TRICKY_NEIGHBOUR = 'O"Brien \\\\ Co'


def bold_entry(day: int, speaker: str, message: str, target: str = "@LILITH @everyone") -> str:
    """One bold-format entry under its own heading (the heading is a section entry too)."""
    return (
        f"## 2026-01-{day:02d} — entry {day}\n\n"
        f"**Speaker:** {speaker}\n**Target:** {target}\n**Mood_RGB:** FF0000\n"
        f'**Message:** "{message}"\n\n'
    )


def write_dialog(root: Path, rel: str, *entries: str) -> None:
    """Write one dialog file under `root`."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(entries), encoding="utf-8")


def make_tree(root: Path) -> Path:
    """Three small dialog files, one speaker whose name holds a quote and a backslash."""
    write_dialog(
        root,
        "alpha.md",
        bold_entry(1, "KIRO", "deployment of the alpha build"),
        bold_entry(2, "KIRO", "<script>alert(1)</script> rollback plan"),
    )
    write_dialog(
        root,
        "team/beta.md",
        bold_entry(3, "LILITH", "beta review"),
        bold_entry(4, TRICKY_SPEAKER, "quoted speaker speaks"),
        bold_entry(5, TRICKY_NEIGHBOUR, "neighbour speaker speaks"),
    )
    write_dialog(root, "team/gamma.md", bold_entry(6, "WOLFIE", "gamma notes", target="@KIRO"))
    return root


class Pipeline:
    """A dialog tree, its SQLite database, and pushes of it to one Meilisearch index."""

    def __init__(self, target: MeiliTarget, tmp_path: Path) -> None:
        self.target = target
        self.root = make_tree(tmp_path / "dialogs")
        self.db_path = tmp_path / "dialogs.db"
        reindex(self.root, self.db_path)
        self.conn = Database(self.db_path).open_writer()
        self.client = open_client(target.url, target.api_key, timeout_s=10)

    def close(self) -> None:
        self.conn.close()

    def reindex(self) -> None:
        reindex(self.root, self.db_path)

    def push(self, url: str | None = None, **options: Any) -> MeiliPushSummary:
        client = self.client if url is None else open_client(url, self.target.api_key, timeout_s=2)
        return push_to_meilisearch(
            self.conn, client, self.target.index_uid, task_timeout_s=30, **options
        )

    def db_ids(self, dialog_file: str | None = None) -> set[int]:
        sql = "SELECT dialog_entry_id FROM lupo_dialog_entries"
        if dialog_file is None:
            return {row[0] for row in self.conn.execute(sql)}
        return {row[0] for row in self.conn.execute(sql + " WHERE dialog_file = ?", (dialog_file,))}

    def held_ids(self) -> set[int]:
        """Every document id the index holds, through `POST /documents/fetch`."""
        index = self.client.index(self.target.index_uid)
        found: set[int] = set()
        offset = 0
        while True:
            page = index.get_documents({"fields": ["id"], "limit": 500, "offset": offset})
            found.update(entry_id_from_document_id(doc.id) for doc in page.results)
            offset += len(page.results)
            if not page.results or offset >= page.total:
                return found

    def search(self, **body: Any) -> dict[str, Any]:
        return self.client.index(self.target.index_uid).search(body.pop("q", ""), body)


def closed_port_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- the scenarios ---------------------------------------------------------------------


def settings_and_documents(pipeline: Pipeline) -> None:
    summary = pipeline.push()
    assert summary.ok, summary.lines()
    settings = pipeline.client.index(pipeline.target.index_uid).get_settings()
    assert settings["searchableAttributes"] == SEARCHABLE_ATTRIBUTES
    assert sorted(settings["filterableAttributes"]) == sorted(FILTERABLE_ATTRIBUTES)
    assert settings["sortableAttributes"] == SORTABLE_ATTRIBUTES
    assert settings["rankingRules"] == RANKING_RULES
    assert pipeline.held_ids() == pipeline.db_ids()
    entry_id = min(pipeline.db_ids("team/beta.md"))
    document = pipeline.client.index(pipeline.target.index_uid).get_document(f"e{entry_id}")
    assert DOCUMENT_ID_PATTERN.fullmatch(document.id)
    assert document.dialog_entry_id == entry_id
    assert document.dialog_folders == ["team/"]


def batches(pipeline: Pipeline) -> None:
    summary = pipeline.push(batch_documents=2)
    assert summary.ok, summary.lines()
    # settings + per group of files: its add batches and one delete; + the sweep
    assert summary.tasks >= 1 + len(pipeline.db_ids()) // 2
    assert pipeline.held_ids() == pipeline.db_ids()


def incremental_deletes(pipeline: Pipeline) -> None:
    assert pipeline.push().ok
    old_alpha = pipeline.db_ids("alpha.md")
    write_dialog(pipeline.root, "alpha.md", bold_entry(1, "KIRO", "deployment, edited"))
    (pipeline.root / "team" / "beta.md").unlink()
    pipeline.reindex()
    summary = pipeline.push()
    assert summary.ok, summary.lines()
    assert (summary.files_pushed, summary.files_removed, summary.files_unchanged) == (1, 1, 1)
    held = pipeline.held_ids()
    assert held == pipeline.db_ids()
    assert not (old_alpha - pipeline.db_ids("alpha.md")) & held


def failed_task_reported(pipeline: Pipeline) -> None:
    """An index made with another primary key makes the document task fail."""
    client = pipeline.client
    task = client.create_index(pipeline.target.index_uid, {"primaryKey": "other_key"})
    assert client.wait_for_task(task.task_uid, timeout_in_ms=10_000).status == "succeeded"
    summary = pipeline.push()
    assert not summary.ok
    assert any("index_primary_key_already_exists" in error for error in summary.errors)
    assert any("failed" in error for error in summary.errors)
    assert summary.files_not_pushed == ["alpha.md", "team/beta.md", "team/gamma.md"]


def down_during_push(pipeline: Pipeline) -> None:
    summary = pipeline.push(url=closed_port_url())
    assert not summary.ok
    assert "unreachable" in summary.errors[0]
    assert summary.files_not_pushed == ["alpha.md", "team/beta.md", "team/gamma.md"]
    again = pipeline.push()
    assert again.ok and again.files_pushed == 3
    assert pipeline.held_ids() == pipeline.db_ids()


def escaped_filters_find_exact_values(pipeline: Pipeline) -> None:
    from indexer.push_meili import filter_value

    assert pipeline.push().ok
    for speaker in (TRICKY_SPEAKER, TRICKY_NEIGHBOUR):
        answer = pipeline.search(filter=f"speaker = {filter_value(speaker)}", hitsPerPage=10)
        assert [hit["speaker"] for hit in answer["hits"]] == [speaker]


PUSH_SCENARIOS: list[Callable[[Pipeline], None]] = [
    settings_and_documents,
    batches,
    incremental_deletes,
    failed_task_reported,
    down_during_push,
    escaped_filters_find_exact_values,
]


def scenario_ids(scenarios: list[Callable[..., None]]) -> list[Any]:
    """pytest params named after the scenario functions."""
    return [pytest.param(scenario, id=scenario.__name__) for scenario in scenarios]


# --- search scenarios: Meilisearch's engine in front of SQLite's ---------------------------


def repositories(pipeline: Pipeline, url: str | None = None) -> tuple[Any, Any]:
    """(the stack of Meilisearch then SQLite, the SqliteRepository) for the pipeline's index."""
    from searchsvc.engines.repo_meili import MeiliEngine
    from searchsvc.engines.repo_sqlite import SqliteRepository
    from searchsvc.stack import SearchStack

    sqlite_repo = SqliteRepository(pipeline.db_path)
    client = (
        pipeline.client if url is None else open_client(url, pipeline.target.api_key, timeout_s=2)
    )
    meili = MeiliEngine(client, pipeline.target.index_uid)
    return SearchStack(database=sqlite_repo, meili=meili), sqlite_repo


def search_query(text: str = "", **options: Any) -> Any:
    """A SearchQuery as the API builds it: `q` parsed, its operators merged into filters."""
    from searchsvc.query.filters import Filters
    from searchsvc.query.fts_query import parse_user_query
    from searchsvc.repository import SearchQuery

    match, from_q = parse_user_query(text)
    filters = options.pop("filters", Filters()).merged(from_q)
    return SearchQuery(match=match, text=text, filters=filters, **options)


# Queries whose matches are the same for Meilisearch and SQLite (no typos, no OR).
SAME_MATCHES = [
    "",
    "beta",
    "gamma notes",
    "rollback",
    '"alpha build"',
    "speaks -neighbour",
    "deploy",
    "speaker:KIRO",
    "entry file:team/",
    "mood:FF0000 speaks",
    "mood:red",
    "target:@KIRO",
]


def same_matches_as_sqlite(pipeline: Pipeline) -> None:
    assert pipeline.push().ok
    meili_repo, sqlite_repo = repositories(pipeline)
    try:
        for text in SAME_MATCHES:
            query = search_query(text, per_page=100)
            from_meili, from_sqlite = meili_repo.search(query), sqlite_repo.search(query)
            assert from_meili.source == "meilisearch", text
            assert {h.entry_id for h in from_meili.hits} == {
                h.entry_id for h in from_sqlite.hits
            }, text
            assert from_meili.total == from_sqlite.total, text
            assert [h.to_dict() | {"snippet": ""} for h in sorted_hits(from_meili)] == [
                h.to_dict() | {"snippet": ""} for h in sorted_hits(from_sqlite)
            ], text
    finally:
        meili_repo.close()


def sorted_hits(page: Any) -> list[Any]:
    return sorted(page.hits, key=lambda hit: hit.entry_id)


def snippets_are_marked_and_escaped(pipeline: Pipeline) -> None:
    assert pipeline.push().ok
    meili_repo, _ = repositories(pipeline)
    try:
        (hit,) = meili_repo.search(search_query("rollback")).hits
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hit.snippet
        assert "<script>" not in hit.snippet
        assert "<mark>rollback</mark>" in hit.snippet.lower()
        deploy = meili_repo.search(search_query("deploy")).hits
        assert deploy and all("<mark>deploy" in h.snippet.lower() for h in deploy)
    finally:
        meili_repo.close()


def escaped_speaker_filters(pipeline: Pipeline) -> None:
    from searchsvc.query.filters import Filters

    assert pipeline.push().ok
    meili_repo, _ = repositories(pipeline)
    try:
        for speaker in (TRICKY_SPEAKER, TRICKY_NEIGHBOUR):
            page = meili_repo.search(search_query(filters=Filters(speakers=(speaker,))))
            assert [hit.entry.speaker for hit in page.hits] == [speaker]
    finally:
        meili_repo.close()


def facets_keep_siblings_of_a_selected_value(pipeline: Pipeline) -> None:
    from searchsvc.query.filters import Filters

    assert pipeline.push().ok
    meili_repo, sqlite_repo = repositories(pipeline)
    try:
        query = search_query(
            filters=Filters(speakers=("KIRO",)), facets=("speaker", "file", "target", "mood")
        )
        from searchsvc.stack import SearchStack

        sqlite_stack = SearchStack(database=sqlite_repo)  # names folded as the Meili stack's
        from_meili, from_sqlite = meili_repo.search(query), sqlite_stack.search(query)
        speakers = {facet.value: facet.count for facet in from_meili.facets["speaker"]}
        assert speakers["KIRO"] == 2 and speakers["LILITH"] == 1
        assert {f.value: f.count for f in from_meili.facets["file"]} == {"alpha.md": 2}
        for name in query.facets:
            assert from_meili.facets[name] == from_sqlite.facets[name], name
    finally:
        meili_repo.close()


def paging_and_sort(pipeline: Pipeline) -> None:
    assert pipeline.push().ok
    meili_repo, sqlite_repo = repositories(pipeline)
    try:
        for sort in ("newest", "oldest"):
            pages = [
                meili_repo.search(search_query("speaks", sort=sort, page=page, per_page=1))
                for page in (1, 2, 3)
            ]
            assert [page.total for page in pages] == [2, 2, 2]
            assert [len(page.hits) for page in pages] == [1, 1, 0]
            ordered = [page.hits[0].entry_id for page in pages[:2]]
            expected = sqlite_repo.search(search_query("speaks", sort=sort, per_page=10))
            assert ordered == [hit.entry_id for hit in expected.hits]
    finally:
        meili_repo.close()


def unexpressible_queries_go_behind(pipeline: Pipeline) -> None:
    assert pipeline.push().ok
    meili_repo, _ = repositories(pipeline)
    try:
        page = meili_repo.search(search_query("beta OR gamma"))
        assert page.source == "database"
        assert page.total == 2
    finally:
        meili_repo.close()


def down_during_search(pipeline: Pipeline) -> None:
    from searchsvc.repository import StoreUnavailable

    assert pipeline.push().ok
    meili_repo, sqlite_repo = repositories(pipeline, url=closed_port_url())
    try:
        query = search_query("beta")
        with pytest.raises(StoreUnavailable) as raised:
            meili_repo.meili.search_meili(query)
        assert "unreachable" in str(raised.value)
        page = meili_repo.search(query)
        assert page.source == "database"
        assert page.total == sqlite_repo.search(query).total == 1
        assert meili_repo.meili.fallbacks == 1
        meili = meili_repo.health()["meilisearch"]
        assert (meili["status"], meili["failing"]) == ("unreachable", True)
    finally:
        meili_repo.close()


SEARCH_SCENARIOS: list[Callable[[Pipeline], None]] = [
    same_matches_as_sqlite,
    snippets_are_marked_and_escaped,
    escaped_speaker_filters,
    facets_keep_siblings_of_a_selected_value,
    paging_and_sort,
    unexpressible_queries_go_behind,
    down_during_search,
]
