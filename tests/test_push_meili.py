"""Pushing the database to Meilisearch, against the stand-in (tests/support/meili_standin.py)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from support.meili_scenarios import (
    PUSH_SCENARIOS,
    MeiliTarget,
    Pipeline,
    bold_entry,
    scenario_ids,
    write_dialog,
)
from support.meili_standin import MeiliStandIn
from support.meili_standin_filter import compile_filter

from dialogfile.model import Entry
from indexer import push_meili
from indexer.database import Database
from indexer.meili_sync import IndexedEntry
from indexer.push_meili import (
    DOCUMENT_ID_PATTERN,
    INDEX_SETTINGS,
    document_id,
    entry_document,
    entry_id_from_document_id,
    filter_value,
    open_client,
    push_to_meilisearch,
)
from indexer.reindex import reindex

INDEX = "dialog_entries_test"


@pytest.fixture
def meili() -> Iterator[MeiliStandIn]:
    with MeiliStandIn() as server:
        yield server


@pytest.fixture
def dialogs_root(tmp_path: Path) -> Path:
    root = tmp_path / "dialogs"
    write_dialog(root, "alpha.md", bold_entry(1, "KIRO", "alpha one"), bold_entry(2, "KIRO", "a2"))
    write_dialog(root, "team/beta.md", bold_entry(3, "LILITH", "beta one"))
    write_dialog(root, "team/gamma.md", bold_entry(4, "WOLFIE", "gamma one"))
    return root


@pytest.fixture
def db(tmp_path: Path, dialogs_root: Path) -> Iterator[sqlite3.Connection]:
    db_path = tmp_path / "dialogs.db"
    reindex(dialogs_root, db_path)
    conn = Database(db_path).open_writer()
    yield conn
    conn.close()


def push(conn: sqlite3.Connection, meili: MeiliStandIn, **options) -> push_meili.MeiliPushSummary:
    client = open_client(meili.url, meili.api_key, timeout_s=options.pop("timeout_s", 5))
    return push_to_meilisearch(conn, client, INDEX, task_timeout_s=5, **options)


def entry_ids(conn: sqlite3.Connection, dialog_file: str | None = None) -> set[int]:
    sql = "SELECT dialog_entry_id FROM lupo_dialog_entries"
    rows = (
        conn.execute(sql + " WHERE dialog_file = ?", (dialog_file,))
        if dialog_file
        else (conn.execute(sql))
    )
    return {row[0] for row in rows}


def held_ids(meili: MeiliStandIn) -> set[int]:
    return {entry_id_from_document_id(doc_id) for doc_id in meili.documents(INDEX)}


# --- ids, documents, filter values -------------------------------------------------------


@given(st.integers(min_value=1, max_value=2**53 - 1))
def test_every_entry_id_maps_to_a_valid_meilisearch_id_and_back(entry_id: int) -> None:
    doc_id = document_id(entry_id)
    assert DOCUMENT_ID_PATTERN.fullmatch(doc_id)
    assert len(doc_id.encode()) <= 511
    assert entry_id_from_document_id(doc_id) == entry_id


@pytest.mark.parametrize("bad", [0, -5, True, 1.5, "12"])
def test_document_id_refuses_what_is_no_entry_id(bad: object) -> None:
    with pytest.raises(ValueError):
        document_id(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["12", "e", "e-1", "e1x", "e١٢"])
def test_entry_id_from_document_id_refuses_foreign_ids(bad: str) -> None:
    with pytest.raises(ValueError):
        entry_id_from_document_id(bad)


def test_entry_document_carries_fields_targets_and_metadata_as_json() -> None:
    entry = Entry(
        "team/beta.md",
        "bold",
        5,
        9,
        speaker="LILITH",
        target="@KIRO @everyone",
        mood_rgb="00FF00",
        timestamp_utc=20260103000000,
        message="hi",
        metadata={"weird key!": [1, 2]},
    )
    document = entry_document(IndexedEntry.from_entry(42, entry, ("@KIRO", "@everyone")), "v1")
    assert document["id"] == "e42"
    assert document["dialog_entry_id"] == 42
    assert document["targets"] == ["@KIRO", "@everyone"]
    assert document["target"] == "@KIRO @everyone"
    assert document["metadata_json"] == '{"weird key!": [1, 2]}'
    assert "metadata" not in document
    assert document["file_version"] == "v1"
    assert {k: document[k] for k in ("speaker", "timestamp_utc", "line", "end_line")} == {
        "speaker": "LILITH",
        "timestamp_utc": 20260103000000,
        "line": 5,
        "end_line": 9,
    }


@pytest.mark.parametrize(
    "value, expected",
    [
        ("KIRO", '"KIRO"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ('\\"', '"\\\\\\""'),
        ("a' OR speaker = 'b", "\"a' OR speaker = 'b\""),
        ("", '""'),
        (20260101, "20260101"),
    ],
)
def test_filter_values_are_quoted_and_escaped(value: str | int, expected: str) -> None:
    assert filter_value(value) == expected


@given(st.text())
def test_an_escaped_value_reads_back_as_itself(value: str) -> None:
    expression = f"speaker = {filter_value(value)}"
    predicate = compile_filter(expression, ["speaker"])
    assert predicate({"speaker": value})
    assert not predicate({"speaker": value + "x"})


# --- pushes ----------------------------------------------------------------------------


def test_push_creates_the_index_sends_the_settings_and_every_entry(
    db: sqlite3.Connection, meili: MeiliStandIn
) -> None:
    summary = push(db, meili)
    assert summary.ok, summary.lines()
    assert summary.files_pushed == 3
    assert held_ids(meili) == entry_ids(db)
    (create,) = meili.requests("POST", "/indexes")
    assert create.body == {"uid": INDEX, "primaryKey": "id"}
    (settings,) = meili.requests("PATCH", "/settings")
    assert settings.body == INDEX_SETTINGS
    searchable = ["title", "message", "body", "speaker", "target"]
    assert settings.body["searchableAttributes"] == searchable
    for request in meili.requests():
        assert request.headers["Authorization"] == f"Bearer {meili.api_key}"
    for request in meili.requests("POST") + meili.requests("PATCH"):
        assert request.headers["Content-Type"] == "application/json"
    assert all(task["status"] == "succeeded" for task in meili.tasks())
    document = next(iter(meili.documents(INDEX).values()))
    assert DOCUMENT_ID_PATTERN.fullmatch(document["id"])


def test_documents_go_in_batches(db: sqlite3.Connection, meili: MeiliStandIn) -> None:
    total = len(entry_ids(db))
    summary = push(db, meili, batch_documents=2)
    assert summary.ok, summary.lines()
    sizes = [len(request.body) for request in meili.requests("POST", "/documents")]
    assert max(sizes) <= 2
    assert sum(sizes) == total
    assert len(sizes) >= total // 2


def test_batches_split_by_bytes_too() -> None:
    documents = [{"id": f"e{i}", "body": "é" * 100} for i in range(10)]
    one = len(json.dumps(documents[:1], ensure_ascii=False).encode())
    batches = list(push_meili.encoded_batches(documents, max_documents=100, max_bytes=3 * one + 2))
    assert [count for count, _ in batches] == [2, 3, 2, 3]
    assert all(len(payload) <= 3 * one + 2 for _, payload in batches)
    assert [d for _, payload in batches for d in json.loads(payload)] == documents


def test_a_document_larger_than_a_batch_goes_alone() -> None:
    documents = [{"id": "e1", "body": "x" * 500}, {"id": "e2", "body": "y"}]
    batches = list(push_meili.encoded_batches(documents, max_bytes=100))
    assert [count for count, _ in batches] == [1, 1]


def test_an_unchanged_database_pushes_nothing(db: sqlite3.Connection, meili: MeiliStandIn) -> None:
    push(db, meili)
    before = len(meili.requests("POST", "/documents"))
    summary = push(db, meili)
    assert summary.ok
    assert (summary.files_pushed, summary.files_unchanged) == (0, 3)
    assert len(meili.requests("POST", "/documents")) == before


def test_only_changed_files_move_and_gone_entries_are_deleted(
    tmp_path: Path, dialogs_root: Path, db: sqlite3.Connection, meili: MeiliStandIn
) -> None:
    push(db, meili)
    gamma_before = entry_ids(db, "team/gamma.md")
    old_alpha = entry_ids(db, "alpha.md")
    write_dialog(dialogs_root, "alpha.md", bold_entry(1, "KIRO", "alpha one, edited"))
    (dialogs_root / "team" / "beta.md").unlink()
    reindex(dialogs_root, tmp_path / "dialogs.db")
    pushed_before = len(meili.requests("POST", "/documents"))

    summary = push(db, meili)

    assert summary.ok, summary.lines()
    assert (summary.files_pushed, summary.files_removed, summary.files_unchanged) == (1, 1, 1)
    added = meili.requests("POST", "/documents")[pushed_before:]
    assert {doc["dialog_file"] for request in added for doc in request.body} == {"alpha.md"}
    assert held_ids(meili) == entry_ids(db)
    assert entry_ids(db, "team/gamma.md") == gamma_before
    assert old_alpha - entry_ids(db, "alpha.md"), "the edit should have replaced an entry"
    assert not (old_alpha - entry_ids(db, "alpha.md")) & held_ids(meili)
    filters = [r.body["filter"] for r in meili.requests("POST", "/documents/delete")]
    assert 'dialog_file IN ["team/beta.md"]' in filters


def test_a_failed_task_is_reported_with_its_error_and_retried_next_time(
    db: sqlite3.Connection, meili: MeiliStandIn
) -> None:
    meili.fail_next_task(
        "documentAdditionOrUpdate", code="invalid_document_id", message="Document identifier bad"
    )
    summary = push(db, meili, batch_documents=1000)
    assert not summary.ok
    (error,) = summary.errors
    assert "invalid_document_id" in error and "Document identifier bad" in error
    assert "failed" in error
    assert summary.files_not_pushed == ["alpha.md", "team/beta.md", "team/gamma.md"]
    assert any(task["status"] == "failed" for task in meili.tasks())
    assert "NOT pushed" in "\n".join(summary.lines())

    again = push(db, meili)
    assert again.ok, again.lines()
    assert again.files_pushed == 3
    assert held_ids(meili) == entry_ids(db)


def test_a_failed_settings_task_stops_the_push(db: sqlite3.Connection, meili: MeiliStandIn) -> None:
    meili.fail_next_task("settingsUpdate", code="internal", message="disk full")
    summary = push(db, meili)
    assert "disk full" in summary.errors[0] and "settingsUpdate" in summary.errors[0]
    assert summary.files_not_pushed == ["alpha.md", "team/beta.md", "team/gamma.md"]
    assert held_ids(meili) == set()


def test_tasks_still_processing_are_waited_for(db: sqlite3.Connection, meili: MeiliStandIn) -> None:
    meili.set_processing_polls(2)
    summary = push(db, meili)
    assert summary.ok, summary.lines()
    assert held_ids(meili) == entry_ids(db)


def test_meilisearch_down_then_back(db: sqlite3.Connection, meili: MeiliStandIn) -> None:
    meili.down()
    summary = push(db, meili)
    assert not summary.ok
    assert "unreachable" in summary.errors[0]
    assert summary.files_not_pushed == ["alpha.md", "team/beta.md", "team/gamma.md"]

    meili.up()
    again = push(db, meili)
    assert again.ok, again.lines()
    assert held_ids(meili) == entry_ids(db)


def test_meilisearch_down_after_a_push_reports_only_what_changed(
    tmp_path: Path, dialogs_root: Path, db: sqlite3.Connection, meili: MeiliStandIn
) -> None:
    push(db, meili)
    write_dialog(dialogs_root, "team/gamma.md", bold_entry(4, "WOLFIE", "gamma edited"))
    reindex(dialogs_root, tmp_path / "dialogs.db")
    meili.down()
    summary = push(db, meili)
    assert summary.files_not_pushed == ["team/gamma.md"]


def test_a_stalled_meilisearch_times_out(db: sqlite3.Connection, meili: MeiliStandIn) -> None:
    meili.stall()
    summary = push(db, meili, timeout_s=0.3)
    assert "timed out" in summary.errors[0]
    assert len(summary.files_not_pushed) == 3


def test_a_wrong_key_is_reported(db: sqlite3.Connection, meili: MeiliStandIn) -> None:
    client = open_client(meili.url, "not-the-key", timeout_s=5)
    summary = push_to_meilisearch(db, client, INDEX, task_timeout_s=5)
    assert "invalid_api_key" in summary.errors[0]
    assert held_ids(meili) == set()


def test_a_recreated_index_gets_everything_again(
    db: sqlite3.Connection, meili: MeiliStandIn
) -> None:
    push(db, meili)
    client = open_client(meili.url, meili.api_key)
    task = client.delete_index(INDEX)
    client.wait_for_task(task.task_uid, timeout_in_ms=2000)
    summary = push(db, meili)
    assert summary.files_pushed == 3
    assert held_ids(meili) == entry_ids(db)
    rows = db.execute("SELECT DISTINCT index_key FROM meili_sync").fetchall()
    assert len(rows) == 1


def test_a_rebuilt_database_sweeps_documents_of_files_gone(
    tmp_path: Path, dialogs_root: Path, db: sqlite3.Connection, meili: MeiliStandIn
) -> None:
    push(db, meili)
    # The database is rebuilt from scratch after a file went away: no record says that
    # the index holds that file, so only the sweep can remove its documents.
    (dialogs_root / "team" / "beta.md").unlink()
    rebuilt = tmp_path / "rebuilt.db"
    reindex(dialogs_root, rebuilt)
    conn = Database(rebuilt).open_writer()
    try:
        summary = push(conn, meili)
        assert summary.ok, summary.lines()
        assert held_ids(meili) == entry_ids(conn)
        assert {doc["dialog_file"] for doc in meili.documents(INDEX).values()} == {
            "alpha.md",
            "team/gamma.md",
        }
    finally:
        conn.close()


def test_full_push_sends_every_file_again(db: sqlite3.Connection, meili: MeiliStandIn) -> None:
    push(db, meili)
    summary = push(db, meili, full=True)
    assert summary.ok and summary.files_pushed == 3


# --- the stand-in checks requests as Meilisearch does ------------------------------------


def test_standin_refuses_requests_without_key_or_content_type(meili: MeiliStandIn) -> None:
    url = f"{meili.url}/indexes/x/search"
    no_key = requests.post(url, json={"q": "a"}, timeout=5)
    assert no_key.status_code == 401
    assert no_key.json()["code"] == "missing_authorization_header"
    assert set(no_key.json()) == {"message", "code", "type", "link"}
    headers = {"Authorization": f"Bearer {meili.api_key}"}
    no_type = requests.post(url, data=b'{"q": "a"}', headers=headers, timeout=5)
    assert (no_type.status_code, no_type.json()["code"]) == (415, "missing_content_type")
    unknown = requests.post(url, json={"query": "a"}, headers=headers, timeout=5)
    assert (unknown.status_code, unknown.json()["code"]) == (400, "bad_request")


# --- dialogsearch reindex --meili-url -----------------------------------------------------


def run_reindex_cli(root: Path, db_path: Path, *args: str, env: dict[str, str] | None = None):
    from click.testing import CliRunner

    from indexer.cli import reindex as reindex_command

    arguments = ["--root", str(root), "--db", str(db_path), "--meili-index", INDEX, *args]
    return CliRunner().invoke(reindex_command, arguments, env=env or {}, catch_exceptions=False)


def db_entry_count(db_path: Path) -> int:
    conn = Database(db_path).open_writer()
    try:
        return conn.execute("SELECT count(*) FROM lupo_dialog_entries").fetchone()[0]
    finally:
        conn.close()


def test_reindex_pushes_to_meilisearch_named_by_the_environment(
    tmp_path: Path, dialogs_root: Path, meili: MeiliStandIn
) -> None:
    db_path = tmp_path / "cli.db"
    env = {"MEILI_URL": meili.url, "MEILI_API_KEY": meili.api_key or ""}
    result = run_reindex_cli(dialogs_root, db_path, env=env)
    assert result.exit_code == 0, result.output
    assert "3 files pushed" in result.output
    assert len(meili.documents(INDEX)) == db_entry_count(db_path) > 0


def test_reindex_completes_when_meilisearch_is_down_and_catches_up_later(
    tmp_path: Path, dialogs_root: Path, meili: MeiliStandIn
) -> None:
    db_path = tmp_path / "cli.db"
    meili.down()
    args = ["--meili-url", meili.url, "--meili-key", meili.api_key or ""]
    result = run_reindex_cli(dialogs_root, db_path, *args)
    assert result.exit_code == 0, result.output
    assert "3 files NOT pushed" in result.output
    assert "unreachable" in result.output
    assert db_entry_count(db_path) > 0

    required = run_reindex_cli(dialogs_root, db_path, *args, "--meili-required", "--json")
    assert required.exit_code == 1
    assert "--meili-required" in required.output
    report = json.loads(required.stdout.splitlines()[0])
    assert report["meilisearch"]["ok"] is False
    assert report["meilisearch"]["files_not_pushed"] == [
        "alpha.md",
        "team/beta.md",
        "team/gamma.md",
    ]

    meili.up()
    again = run_reindex_cli(dialogs_root, db_path, *args, "--meili-required")
    assert again.exit_code == 0, again.output
    assert "3 files pushed" in again.output
    assert len(meili.documents(INDEX)) == db_entry_count(db_path)


@pytest.mark.parametrize(
    "path, folders",
    [("a.md", []), ("team/b.md", ["team/"]), ("x/y/z.md", ["x/", "x/y/"])],
)
def test_documents_list_the_folders_above_their_file(path: str, folders: list[str]) -> None:
    assert push_meili.folders_of(path) == folders


# --- the scenarios tests/test_meili_real.py runs against a real server ---------------------


@pytest.mark.parametrize("scenario", scenario_ids(PUSH_SCENARIOS))
def test_push_scenario_on_the_standin(scenario, meili: MeiliStandIn, tmp_path: Path) -> None:
    pipeline = Pipeline(MeiliTarget(meili.url, meili.api_key, INDEX), tmp_path)
    try:
        scenario(pipeline)
    finally:
        pipeline.close()
