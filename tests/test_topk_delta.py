"""After a write the top-k engine answers at once: its delta holds the changes the index
does not yet (searchsvc/engines/topk_delta.py), stale versions masked, counts exact."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fixtures_api import bold, wait_until, write_tree
from support.fixtures_store import topk_stack
from support.fixtures_writes import AUTH, make_app
from test_topk_search import FIXTURE_QUERIES, _search_pair, assert_same_answer, make_query

from indexer.reindex import reindex
from indexer.topk_index import build, read_state
from searchsvc.engines import repo_topk
from searchsvc.engines.topk_delta import merge_aggregations
from searchsvc.stack import SearchStack

#: A word the fixture tree does not hold, written by the changes below.
NEW_WORD = "zebracorn"


def change_the_tree(root: Path) -> None:
    """Add, change, copy and remove entries (the database follows by a reindex)."""
    (root / "fresh.md").write_text(
        "# Fresh\n\n"
        + bold(
            "KIRO",
            f"{NEW_WORD} search sighting",
            day="2026-02-01",
            target="@everyone",
            mood="FF0000",
            title="sighting",
        )
        + bold(
            "ROSE",
            "another search note",
            day="2026-01-15",
            target="@KIRO",
            mood="00CC66",
            title="note",
        ),
        encoding="utf-8",
    )
    team = root / "team_dialog.md"
    team.write_text(
        team.read_text("utf-8").replace("Migration plan for", f"{NEW_WORD} plan for"), "utf-8"
    )
    shutil.copy(root / "opsnotes.md", root / "opsnotes_copy.md")  # copies of its entries
    (root / "ops" / "archive" / "old_notes.md").unlink()


@pytest.fixture(scope="module")
def changed_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """(FTS5 alone, top-k first) over the fixture tree changed after the index was built."""
    tmp = tmp_path_factory.mktemp("topk_delta")
    root = write_tree(tmp / "dialogs")
    db = tmp / "dialogs.db"
    reindex(root, db)
    exact, topk = _search_pair(db, tmp)
    change_the_tree(root)
    reindex(root, db)
    yield exact, topk, tmp / "topk"
    exact.close()
    topk.close()


CHANGED_QUERIES = [
    make_query(f"{NEW_WORD} ", per_page=50),
    make_query("migration ", per_page=50),  # the changed entry no longer says it
    make_query("ranking ", per_page=50),  # only the deleted file said it
    make_query("prefix check ", per_page=50),  # the copied entries
    make_query("", sort="newest", per_page=50),
    make_query("search ", sort="oldest", per_page=3, page=2),
    make_query("", files=("fresh.md",), sort="newest"),
    make_query("", speakers=("KIRO",), moods=("red",), sort="newest"),
]


@pytest.mark.parametrize("query", FIXTURE_QUERIES + CHANGED_QUERIES, ids=lambda q: q.text[:30])
def test_after_changes_topk_answers_with_its_delta_like_exact_sqlite(changed_pair, query) -> None:
    exact, topk, index_dir = changed_pair
    assert_same_answer(exact, topk, query)  # answered by topk: totals, facets, order
    state = read_state(index_dir)
    assert state is not None and topk.topk._view.state.seq == state.seq  # not caught up
    assert topk.topk.delta_searches > 0


def test_the_new_word_is_found_and_the_stale_versions_are_not(changed_pair) -> None:
    exact, topk, _ = changed_pair
    found = topk.search(make_query(f"{NEW_WORD} ", per_page=50))
    assert found.engine == "topk" and found.total == 2
    gone = topk.search(make_query("ranking legacy ", per_page=50))
    assert gone.engine == "topk" and gone.total == 0
    old = topk.search(make_query('"Migration plan for the dialog tables" ', per_page=50))
    assert old.engine == "topk" and old.total == 0
    copies = topk.search(make_query("prefix check ", per_page=50))
    assert (
        copies.engine == "topk"
        and copies.total == exact.search(make_query("prefix check ", per_page=50)).total
    )
    assert topk.topk.deltas.built == 1  # one delta for every search at this seq


def test_a_pruned_change_log_is_not_guessed_at(tmp_path: Path) -> None:
    """Changes the log no longer holds cannot make a delta: FTS5 answers, as before."""
    root = write_tree(tmp_path / "dialogs")
    db = tmp_path / "dialogs.db"
    reindex(root, db)
    build(db, tmp_path / "topk")
    stack = topk_stack(db, tmp_path / "topk", background=False)
    try:
        change_the_tree(root)
        reindex(root, db)
        conn = sqlite3.connect(db)
        with conn:
            conn.execute("DELETE FROM lupo_dialog_entry_changes")
        conn.close()
        page = stack.search(make_query(f"{NEW_WORD} "))
        assert page.engine == "fts5" and page.total == 2
        assert stack.topk.deltas.built == 0
    finally:
        stack.close()


def test_a_write_through_the_api_is_found_by_the_topk_engine_at_once(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "dialogs")
    db = tmp_path / "dialogs.db"
    reindex(root, db)
    app = make_app(root, db, TOPK_SYNC_SECONDS=3600)
    client = app.test_client()
    stack: SearchStack = app.extensions["dialogsearch"]
    try:
        assert stack.topk is not None
        wait_until(lambda: stack.health()["database"]["topk"]["ready"], timeout=60)
        created = client.post(
            "/api/dialog/entry",
            json={"speaker": "KIRO", "message": f"{NEW_WORD} written now", "dialog_file": "w.md"},
            headers=AUTH,
        )
        assert created.status_code == 201
        entry_id = created.get_json()["dialog_entry_id"]
        answer = client.get(f"/api/dialog/search?q={NEW_WORD}+").get_json()
        assert answer["engine"] == "topk"
        assert [hit["dialog_entry_id"] for hit in answer["hits"]] == [entry_id]
        changed = client.put(
            f"/api/dialog/entry/{entry_id}", json={"message": "renamed now"}, headers=AUTH
        )
        assert changed.status_code == 200
        assert client.get(f"/api/dialog/search?q={NEW_WORD}+").get_json()["total"] == 0
        again = client.get("/api/dialog/search?q=renamed+now+").get_json()
        assert again["engine"] == "topk" and again["total"] == 1
        assert client.delete(f"/api/dialog/entry/{entry_id}", headers=AUTH).status_code == 200
        gone = client.get("/api/dialog/search?q=renamed+now+").get_json()
        assert gone["engine"] == "topk" and gone["total"] == 0
        # Each write asked the delta's background thread (not the write) to build it.
        wait_until(lambda: stack.topk._delta_follow_up.runs >= 1, timeout=60)
    finally:
        stack.close()


def test_merged_facet_counts_are_summed_and_a_cut_list_is_flagged() -> None:
    main = {
        "f": {
            "buckets": [{"key": "KIRO", "doc_count": 5}, {"key": "ROSE", "doc_count": 2}],
            "sum_other_doc_count": 0,
            "doc_count_error_upper_bound": 0,
        }
    }
    delta = {"f": {"buckets": [{"key": "ROSE", "doc_count": 4}], "sum_other_doc_count": 0}}
    merged = merge_aggregations(main, delta)["f"]
    assert [(b["key"], b["doc_count"]) for b in merged["buckets"]] == [("ROSE", 6), ("KIRO", 5)]
    assert merged["doc_count_error_upper_bound"] == 0
    cut = {"f": {**main["f"], "sum_other_doc_count": 3}}
    assert merge_aggregations(cut, delta)["f"]["doc_count_error_upper_bound"] == 1


def test_the_sync_folds_the_delta_in_and_then_prunes_the_log(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "dialogs")
    db = tmp_path / "dialogs.db"
    reindex(root, db)
    build(db, tmp_path / "topk")
    stack = topk_stack(db, tmp_path / "topk", background=False)
    try:
        change_the_tree(root)
        reindex(root, db)
        assert stack.search(make_query(f"{NEW_WORD} ")).total == 2
        assert stack.topk.delta_searches == 1
        result = stack.topk.sync_now()
        assert result is not None and result.action == "caught_up"
        conn = sqlite3.connect(db)
        assert conn.execute("SELECT count(*) FROM lupo_dialog_entry_changes").fetchone()[0] == 0
        conn.close()
        page = stack.search(make_query(f"{NEW_WORD} "))
        assert page.engine == "topk" and page.total == 2
        assert stack.topk.delta_searches == 1  # the index itself holds the changes now
    finally:
        stack.close()


def test_writes_gather_in_the_delta_until_the_catch_up_delay_or_too_many(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index is not committed after each write (each commit of a big index costs both
    cores): the delta serves them until TOPK_CATCH_UP_SECONDS, or CATCH_UP_CHANGES."""
    root = write_tree(tmp_path / "dialogs")
    db = tmp_path / "dialogs.db"
    reindex(root, db)
    app = make_app(root, db, TOPK_SYNC_SECONDS=3600, TOPK_CATCH_UP_SECONDS=3600)
    client = app.test_client()
    stack: SearchStack = app.extensions["dialogsearch"]
    try:
        assert stack.topk is not None
        wait_until(lambda: stack.health()["database"]["topk"]["ready"], timeout=60)
        seq = stack.health()["database"]["topk"]["seq"]
        for number in range(2):
            body = {"speaker": "KIRO", "message": f"{NEW_WORD} {number}", "dialog_file": "w.md"}
            assert client.post("/api/dialog/entry", json=body, headers=AUTH).status_code == 201
            answer = client.get(f"/api/dialog/search?q={NEW_WORD}").get_json()
            assert answer["engine"] == "topk" and answer["total"] == number + 1
        topk = stack.health()["database"]["topk"]
        # Two writes, no commit: the thread waits out the delay (an hour here).
        assert topk["seq"] == seq and topk["behind"] >= 2 and topk["state"] == "behind"
        # A delta that holds CATCH_UP_CHANGES: the search that built it wakes the thread.
        monkeypatch.setattr(repo_topk, "CATCH_UP_CHANGES", 2)
        body = {"speaker": "KIRO", "message": f"{NEW_WORD} 2", "dialog_file": "w.md"}
        assert client.post("/api/dialog/entry", json=body, headers=AUTH).status_code == 201
        assert client.get(f"/api/dialog/search?q={NEW_WORD}").get_json()["total"] == 3
        wait_until(lambda: stack.health()["database"]["topk"]["ready"], timeout=60)
        assert stack.health()["database"]["topk"]["seq"] > seq
    finally:
        stack.close()
