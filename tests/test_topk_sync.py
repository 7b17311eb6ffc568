"""The top-k index stays in step with SQLite: change log, catch-up, rebuilds, crashes, locks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.fixtures_api import wait_until, write_tree
from support.fixtures_store import REPO_ROOT, bold, topk_stack, write_dialog
from support.fixtures_writes import AUTH, make_app, make_root

from indexer.reindex import reindex, reindex_lock
from indexer.topk_index import (
    IndexBusy,
    build,
    catch_up,
    folder_lock,
    open_index,
    prune_log,
    read_state,
)
from searchsvc.engines.repo_topk import TopkEngine
from searchsvc.query.fts_query import parse_user_query
from searchsvc.repository import SearchQuery


def query(text: str) -> SearchQuery:
    match, filters = parse_user_query(text)
    return SearchQuery(match=match, text=text, filters=filters, per_page=50)


def changes(db: Path) -> list[tuple[int, int]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT seq, dialog_entry_id FROM lupo_dialog_entry_changes").fetchall()
    finally:
        conn.close()


def indexed(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(root, db, index folder): the API fixture tree, indexed, with a built top-k index."""
    root = write_tree(tmp_path / "dialogs")
    db = tmp_path / "dialogs.db"
    reindex(root, db)
    index_dir = tmp_path / "topk"
    assert build(db, index_dir).action == "built"
    return root, db, index_dir


def test_triggers_log_every_insert_update_and_delete(tmp_path: Path) -> None:
    root, db, index_dir = indexed(tmp_path)
    assert changes(db) == []  # the build pruned what it holds
    write_dialog(root, "new.md", bold("ROSE", "zebracorn sighting"))
    reindex(root, db)
    logged = changes(db)
    assert len(logged) >= 2  # the new entries (a section and a bold entry)
    conn = sqlite3.connect(db)
    try:
        uuid = conn.execute("SELECT store_uuid FROM lupo_store_meta").fetchone()[0]
        entry_id = logged[0][1]
        with conn:
            conn.execute("UPDATE lupo_dialog_entries SET mood_rgb = 'ABCDEF' WHERE "
                         "dialog_entry_id = ?", (entry_id,))  # fmt: skip
            conn.execute("DELETE FROM lupo_dialog_entries WHERE dialog_entry_id = ?", (entry_id,))
    finally:
        conn.close()
    assert [row[1] for row in changes(db)[-2:]] == [entry_id, entry_id]
    assert len(uuid) == 32 and read_state(index_dir).uuid == uuid  # type: ignore[union-attr]


def test_catch_up_applies_changes_prunes_the_log_and_is_idempotent(tmp_path: Path) -> None:
    root, db, index_dir = indexed(tmp_path)
    repo = topk_stack(db, index_dir, background=False)
    try:
        assert repo.search(query("zebracorn ")).total == 0
        write_dialog(root, "new.md", bold("ROSE", "zebracorn sighting"))
        reindex(root, db)
        behind = repo.search(query("zebracorn "))
        # read-your-writes before the sync: the index's delta holds the change
        assert behind.engine == "topk" and behind.total == 1
        assert repo.health()["database"]["topk"]["state"] == "behind"
        result = catch_up(db, index_dir)
        assert result.action == "caught_up" and result.applied >= 2
        assert changes(db) == []
        repo.topk.sync_now()
        page = repo.search(query("zebracorn "))
        assert page.engine == "topk" and page.total == 1
        # An index older than the (pruned) log cannot catch up: it is rebuilt.
        state = read_state(index_dir)
        assert state is not None
        (index_dir / "current.json").write_text(
            json.dumps({**state.__dict__, "seq": state.seq - result.applied}), "utf-8"
        )
        again = catch_up(db, index_dir)
        assert again.action == "built" and again.reason == "change log pruned past the index"
        assert read_state(index_dir).entries == state.entries  # type: ignore[union-attr]
        assert repo.topk.sync_now() is not None
        assert repo.search(query("zebracorn ")).total == 1
        assert repo.health()["database"]["topk"]["state"] == "fresh"
    finally:
        repo.close()


def test_replayed_changes_are_idempotent(tmp_path: Path) -> None:
    root, db, index_dir = indexed(tmp_path)
    write_dialog(root, "new.md", bold("ROSE", "zebracorn sighting"))
    reindex(root, db)
    before = read_state(index_dir)
    assert before is not None
    first = catch_up(db, index_dir, prune=False)
    assert first.action == "caught_up"
    # As if the process died between the commit and current.json: the old seq again.
    (index_dir / "current.json").write_text(json.dumps(before.__dict__), "utf-8")
    second = catch_up(db, index_dir)
    assert second.action == "caught_up" and second.state == first.state
    index = open_index(index_dir, second.state)  # type: ignore[arg-type]
    assert index.searcher().num_docs == second.state.entries  # type: ignore[union-attr]


def test_a_fresh_index_prunes_what_it_already_applied(tmp_path: Path) -> None:
    root, db, index_dir = indexed(tmp_path)
    write_dialog(root, "new.md", bold("ROSE", "zebracorn sighting"))
    reindex(root, db)
    assert catch_up(db, index_dir, prune=False).action == "caught_up"
    assert changes(db) != []
    assert catch_up(db, index_dir).action == "fresh"
    assert changes(db) == []


def test_the_index_takes_body_extra_as_the_body_when_the_entries_have_it(tmp_path: Path) -> None:
    root, db, index_dir = indexed(tmp_path)
    conn = sqlite3.connect(db)
    try:
        with conn:  # what migration 0003 adds: the body lines FTS5 indexes
            columns = {row[1] for row in conn.execute("PRAGMA table_info(lupo_dialog_entries)")}
            if "body_extra" not in columns:
                conn.execute("ALTER TABLE lupo_dialog_entries ADD COLUMN body_extra TEXT")
            first = conn.execute("SELECT min(dialog_entry_id) FROM lupo_dialog_entries").fetchone()
            conn.execute(
                "UPDATE lupo_dialog_entries SET body_extra = 'kumquat' WHERE dialog_entry_id = ?",
                first,
            )
    finally:
        conn.close()
    assert catch_up(db, index_dir).action == "caught_up"
    repo = topk_stack(db, index_dir, background=False)
    try:
        page = repo.search(query("kumquat "))
        assert page.engine == "topk" and page.total == 1
        assert build(db, index_dir).action == "built"
        repo.topk.sync_now()
        assert repo.search(query("kumquat ")).total == 1
    finally:
        repo.close()


def test_another_database_under_the_same_path_is_rebuilt(tmp_path: Path) -> None:
    root, db, index_dir = indexed(tmp_path)
    repo = topk_stack(db, index_dir, background=False)
    try:
        assert repo.search(query("search ")).engine == "topk"
        other = tmp_path / "other.db"
        write_dialog(root, "new.md", bold("ROSE", "zebracorn sighting"))
        reindex(root, other)
        os.replace(other, db)
        assert not repo.search(query("zebracorn ")).engine == "topk"
        result = catch_up(db, index_dir)
        assert (result.action, result.reason) == ("built", "another database")
        repo.topk.sync_now()
        page = repo.search(query("zebracorn "))
        assert page.engine == "topk" and page.total == 1
    finally:
        repo.close()


@pytest.mark.parametrize(
    "damage",
    ["deleted", "bad current.json", "bad generation", "other fields", "fields not recorded"],
)
def test_a_damaged_index_falls_back_to_fts5_then_is_rebuilt(tmp_path: Path, damage: str) -> None:
    """Also an index of other fields than dialogfile.fields declares (a filter was added)."""
    _, db, index_dir = indexed(tmp_path)
    state = read_state(index_dir)
    assert state is not None
    recorded = json.loads((index_dir / "current.json").read_text("utf-8"))
    if damage == "deleted":
        shutil.rmtree(index_dir)
    elif damage == "bad current.json":
        (index_dir / "current.json").write_text("{not json", "utf-8")
    elif damage == "other fields":
        recorded["fields"] = "0123456789abcdef"
        (index_dir / "current.json").write_text(json.dumps(recorded), "utf-8")
    elif damage == "fields not recorded":
        del recorded["fields"]
        (index_dir / "current.json").write_text(json.dumps(recorded), "utf-8")
    else:
        (index_dir / state.generation / "meta.json").write_text("garbage", "utf-8")
    repo = topk_stack(db, index_dir, background=False)
    try:
        page = repo.search(query("search "))
        assert page.engine != "topk" and page.total == 4
        result = repo.topk.sync_now()
        assert result is not None and result.action == "built"
        page = repo.search(query("search "))
        assert page.engine == "topk" and page.total == 4
        assert sorted(p.name for p in index_dir.iterdir() if p.name.startswith("gen-")) == [
            result.state.generation  # type: ignore[union-attr]
        ]
    finally:
        repo.close()


def test_a_build_killed_midway_leaves_a_usable_index(tmp_path: Path) -> None:
    _, db, index_dir = indexed(tmp_path)
    entries = read_state(index_dir).entries  # type: ignore[union-attr]
    loop = (
        "import sys\nfrom indexer.topk_index import build\n"
        "while True:\n    build(sys.argv[1], sys.argv[2])\n"
    )
    child = subprocess.Popen([sys.executable, "-c", loop, str(db), str(index_dir)], cwd=REPO_ROOT)
    try:
        wait_until(lambda: read_state(index_dir).generation >= "gen-000004")  # type: ignore[union-attr]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    state = read_state(index_dir)
    assert state is not None and state.entries == entries
    assert open_index(index_dir, state).searcher().num_docs == entries
    result = catch_up(db, index_dir)
    assert result.action == "fresh"
    repo = topk_stack(db, index_dir, background=False)
    try:
        page = repo.search(query("search "))
        assert page.engine == "topk" and page.total == 4
    finally:
        repo.close()
    rebuilt = build(db, index_dir)
    assert [p.name for p in index_dir.iterdir() if p.name.startswith("gen-")] == [
        rebuilt.state.generation  # type: ignore[union-attr]
    ]


def test_a_held_lock_makes_catch_up_busy_at_once(tmp_path: Path) -> None:
    root, db, index_dir = indexed(tmp_path)
    with folder_lock(index_dir):
        assert catch_up(db, index_dir).action == "busy"
        with pytest.raises(IndexBusy):
            build(db, index_dir)
    write_dialog(root, "new.md", bold("ROSE", "zebracorn sighting"))
    reindex(root, db)
    state = read_state(index_dir)
    writer = open_index(index_dir, state).writer(heap_size=15_000_000, num_threads=1)  # type: ignore[arg-type]
    try:
        assert catch_up(db, index_dir).action == "busy"
    finally:
        writer.rollback()
        del writer
    assert catch_up(db, index_dir).action == "caught_up"


def _dialogsearch(*args: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "searchsvc.cli", *args]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_reindex_in_another_process_catches_the_index_up(tmp_path: Path) -> None:
    root, db, index_dir = indexed(tmp_path)
    write_dialog(root, "new.md", bold("ROSE", "zebracorn sighting"))
    summary = _dialogsearch(
        "reindex", "--root", str(root), "--db", str(db), "--json", "--topk-dir", str(index_dir)
    )
    assert summary["topk"]["action"] == "caught_up" and summary["topk_seconds"] >= 0
    write_dialog(root, "newer.md", bold("ROSE", "unicornfish sighting"))
    skipped = _dialogsearch("reindex", "--root", str(root), "--db", str(db), "--json", "--no-topk")
    assert "topk" not in skipped and "topk_seconds" not in skipped
    # The server's background thread catches up with what the other process wrote.
    repo = topk_stack(db, index_dir, sync_seconds=0.05)
    try:
        wait_until(lambda: repo.search(query("unicornfish ")).engine == "topk")
        assert repo.search(query("unicornfish ")).total == 1
        assert repo.search(query("zebracorn ")).total == 1
    finally:
        repo.close()


def test_a_write_through_the_api_is_read_back_and_the_index_catches_up(tmp_path: Path) -> None:
    root, db = make_root(tmp_path)
    app = make_app(root, db, TOPK_SYNC_SECONDS=3600.0)
    client = app.test_client()
    topk = app.extensions["dialogsearch"]
    assert isinstance(topk.topk, TopkEngine)
    try:

        def ready() -> bool:
            health = client.get("/api/dialog/health").get_json()
            return health["database"]["topk"]["ready"]

        wait_until(ready)  # built in the background at start
        created = client.post(
            "/api/dialog/entry",
            json={"speaker": "KIRO", "target": "@everyone", "message": "zebracorn parade"},
            headers=AUTH,
        )
        assert created.status_code == 201
        body = client.get("/api/dialog/search", query_string={"q": "zebracorn "}).get_json()
        assert body["total"] == 1  # read-your-writes, whichever engine answered
        wait_until(ready)  # the write woke the background thread
        page = topk.search(query("zebracorn "))
        assert page.engine == "topk" and page.total == 1
        body = client.get("/api/dialog/search", query_string={"q": "zebracorn "}).get_json()
        assert body["engine"] == "topk" and body["source"] == "database"
        assert body["total"] == 1 and body["total_exact"] is True
    finally:
        app.extensions["dialogsearch"].close()


def test_a_full_reindex_restarts_the_change_log_under_a_new_store_id(tmp_path: Path) -> None:
    root, db, index_dir = indexed(tmp_path)
    old_uuid = read_state(index_dir).uuid  # type: ignore[union-attr]
    reindex(root, db, full=True)
    assert changes(db) == []  # no row logged one by one: the index is rebuilt instead
    result = catch_up(db, index_dir)
    assert result.action == "built"
    state = read_state(index_dir)
    assert state is not None and state.uuid != old_uuid
    write_dialog(root, "new.md", bold("ROSE", "zebracorn sighting"))
    reindex(root, db)
    assert changes(db)  # the triggers are back
    assert catch_up(db, index_dir).action != "built"
    repo = topk_stack(db, index_dir, background=False)
    try:
        page = repo.search(query("zebracorn "))
    finally:
        repo.close()
    assert page.engine == "topk" and page.total == 1


def test_the_log_is_pruned_only_under_the_databases_write_lock(tmp_path: Path) -> None:
    """prune_log writes like every writer of the service, under `<db>.lock`: the recovery
    that makes a new database holds it, and a writer of the deleted one closed afterwards
    would delete the new one's -wal and -shm by name (SQLite finds them by name)."""
    root, db, index_dir = indexed(tmp_path)
    write_dialog(root, "new.md", bold("ROSE", "zebracorn sighting"))
    reindex(root, db)
    logged = changes(db)
    assert logged
    last = max(seq for seq, _ in logged)
    with reindex_lock(db, 0):
        prune_log(db, last)
        assert changes(db) == logged  # skipped: someone holds the lock
    prune_log(db, last)
    assert changes(db) == []
