"""How much work one write does in a big file, counted (tests/support/write_work.py).

A write plans its edit (the file read, the new text parsed back and checked) before it
takes the write lock; under the lock it only checks the file is as planned, writes it
and loads the rows of the entries that changed.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest
from support.fixtures_api import bold
from support.fixtures_writes import AUTH, db_rows, make_app
from support.write_work import counted_work

from indexer.reindex import reindex
from searchsvc.web.api_write import EXTENSION_KEY

ENTRIES = 200
BIG = "big_meeting.md"


def _indexed_big_file(tmp_path: Path) -> tuple[Path, Path]:
    """A dialogs root holding BIG (ENTRIES bold entries) and its reindexed database."""
    root = tmp_path / "dialogs"
    root.mkdir()
    text = "# Big meeting\n\n" + "".join(
        bold(
            f"SPEAKER{n % 7}",
            f"message number {n}",
            day="2026-01-12",
            target="@everyone",
            mood="FF0000",
            title=f"topic {n}",
        )
        for n in range(ENTRIES)
    )
    (root / BIG).write_text(text, encoding="utf-8")
    db = tmp_path / "dialogs.db"
    reindex(root, db)
    return root, db


@pytest.fixture
def big(tmp_path: Path) -> dict:
    root, db = _indexed_big_file(tmp_path)
    app = make_app(root, db, FALLBACK_PRELOAD=False)
    client = app.test_client()
    service = app.extensions[EXTENSION_KEY]
    post = {"speaker": "KIRO", "message": "first write", "dialog_file": BIG}
    created = client.post("/api/dialog/entry", json=post, headers=AUTH)
    assert created.status_code == 201  # the file has been written once: caches as in service
    entry_id = created.get_json()["dialog_entry_id"]
    yield {"client": client, "service": service, "id": entry_id, "root": root, "db": db}
    app.extensions["dialogsearch"].close()


def test_a_post_parses_the_file_once_outside_the_lock_and_makes_one_row(big: dict) -> None:
    post = {"speaker": "KIRO", "message": "second write", "dialog_file": BIG}

    def write() -> None:
        assert big["client"].post("/api/dialog/entry", json=post, headers=AUTH).status_code == 201

    calls, locked = counted_work(write, big["service"]._thread_lock)
    # The new text parsed back once (and the block alone, for its id), never under the lock,
    # and only from the last heading on (dialogfile.reparse), not the file's 201 entries.
    assert calls["parse_file"] == 2 and locked["parse_file"] == 0
    assert calls["entries parsed"] == 4  # the block alone, the last bold entry, 2 inline
    # The block alone (for its id) and in the file (under a heading: another title); the
    # others' keys are remembered.
    assert calls["entries keyed"] == 2
    assert locked["ids computed"] == 0  # the rows take the ids the plan computed
    assert calls["entry rows made"] == locked["entry rows made"] == 1
    assert calls["migrations read"] == 0  # the service's first write checked them


@pytest.mark.parametrize("method", ["put", "delete"])
def test_a_change_parses_the_file_once_outside_the_lock(big: dict, method: str) -> None:
    path = f"/api/dialog/entry/{big['id']}"

    def write() -> None:
        if method == "put":
            answer = big["client"].put(path, json={"message": "changed"}, headers=AUTH)
        else:
            answer = big["client"].delete(path, headers=AUTH)
        assert answer.status_code == 200

    calls, locked = counted_work(write, big["service"]._thread_lock)
    assert calls["parse_file"] == 1 and locked["parse_file"] == 0
    # Only from the last heading on (dialogfile.reparse): the last bold entry and the block.
    assert calls["entries parsed"] == (2 if method == "put" else 1)
    assert calls["entries keyed"] == (1 if method == "put" else 0)
    assert calls["ids computed"] <= ENTRIES + 2 and locked["ids computed"] == 0
    assert locked["entry rows made"] == (1 if method == "put" else 0)


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_the_first_write_takes_the_stored_rows_of_the_entries_it_leaves(
    tmp_path: Path, method: str
) -> None:
    """A new service's first write to a big file makes rows only for what it changes: the
    database's rows of the entries it leaves as they were are taken as they are."""
    root, db = _indexed_big_file(tmp_path)
    app = make_app(root, db, FALLBACK_PRELOAD=False)
    client = app.test_client()
    try:
        last = db_rows(db, "line = (SELECT max(line) FROM lupo_dialog_entries)")[0][0]
        url = f"/api/dialog/entry/{last}"

        def write() -> None:
            if method == "post":
                post = {"speaker": "KIRO", "message": "first write", "dialog_file": BIG}
                assert client.post("/api/dialog/entry", json=post, headers=AUTH).status_code == 201
            elif method == "put":
                changed = client.put(url, json={"message": "one\ntwo"}, headers=AUTH)
                assert changed.status_code == 200
            else:
                assert client.delete(url, headers=AUTH).status_code == 200

        calls, _ = counted_work(write, app.extensions[EXTENSION_KEY]._thread_lock)
        # The new or changed entry's row (a DELETE leaves the entry's heading behind, a
        # section of its own); the 200 others are taken as stored.
        assert calls["entry rows made"] == 1
    finally:
        app.extensions["dialogsearch"].close()
    fresh = tmp_path / "fresh.db"
    reindex(root, fresh)
    assert db_rows(db) == db_rows(fresh)


def test_a_stored_row_that_differs_from_its_entry_is_made_again(tmp_path: Path) -> None:
    """A stored row is taken only while it holds every field of the entry as it is parsed."""
    root, db = _indexed_big_file(tmp_path)
    conn = sqlite3.connect(db)
    with conn:
        # A row left stale: a column the parse gives otherwise (as if made by older code).
        conn.execute(
            "UPDATE lupo_dialog_entries SET title = 'stale' "
            "WHERE dialog_entry_id = (SELECT max(dialog_entry_id) FROM lupo_dialog_entries)"
        )
    conn.close()
    app = make_app(root, db, FALLBACK_PRELOAD=False)
    post = {"speaker": "KIRO", "message": "first write", "dialog_file": BIG}
    try:
        answer = app.test_client().post("/api/dialog/entry", json=post, headers=AUTH)
        assert answer.status_code == 201
    finally:
        app.extensions["dialogsearch"].close()
    fresh = tmp_path / "fresh.db"
    reindex(root, fresh)
    assert db_rows(db) == db_rows(fresh)
    assert not db_rows(db, "title = 'stale'")


def test_rows_changed_by_another_load_are_read_back_before_a_write(
    big: dict, tmp_path: Path
) -> None:
    """The rows a write loaded last are trusted only while the database holds that load."""
    path = big["root"] / BIG
    text = path.read_text(encoding="utf-8")
    added = bold("KIRO", "hand edit", day="2026-02-01", target="@x", mood="00FF00", title="h")
    path.write_text(added + text, "utf-8")
    reindex(big["root"], big["db"])  # a hand edit, loaded by someone else...
    path.write_text(text, "utf-8")  # ...and undone, not loaded yet: the write loads it
    answer = big["client"].put(
        f"/api/dialog/entry/{big['id']}", json={"message": "after"}, headers=AUTH
    )
    assert answer.status_code == 200
    fresh = tmp_path / "fresh.db"
    reindex(big["root"], fresh)
    assert db_rows(big["db"]) == db_rows(fresh)


def _waits_for_the_lock(thread: threading.Thread) -> bool:
    frame = sys._current_frames().get(thread.ident or 0)
    while frame is not None:
        if frame.f_code.co_name == "locked":
            return True
        frame = frame.f_back
    return False


def test_a_write_planned_before_another_change_is_planned_again(big: dict) -> None:
    """The plan stands only if the file still reads as planned from (no lost update)."""
    path = big["root"] / BIG
    answers: list = []
    change = {"message": "the change planned first"}

    def put() -> None:
        url = f"/api/dialog/entry/{big['id']}"
        answers.append(big["client"].put(url, json=change, headers=AUTH))

    with big["service"].locked():
        writer = threading.Thread(target=put)
        writer.start()
        deadline = time.monotonic() + 30
        while not _waits_for_the_lock(writer):  # planned, now waiting for the lock
            assert time.monotonic() < deadline
            time.sleep(0.01)
        hand = bold("KIRO", "hand edit", day="2026-02-01", target="@x", mood="00FF00", title="h")
        path.write_text(hand + path.read_text(encoding="utf-8"), "utf-8")
    writer.join(30)
    assert answers[0].status_code == 200
    text = path.read_text(encoding="utf-8")
    assert "hand edit" in text and "the change planned first" in text
