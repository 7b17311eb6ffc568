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

from indexer.load_sqlite import connect
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
        self.conn = connect(self.db_path)
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
