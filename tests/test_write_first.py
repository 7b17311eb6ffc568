"""Writes first (searchsvc/web/write_first.py): reads wait while a write runs, bounded."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from support.fixtures_writes import AUTH, make_app, make_root

from searchsvc.web.write_first import WriteFirst

NEW = {"speaker": "KIRO", "target": "@everyone", "message": "written first"}


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_read_with_no_write_running_passes_at_once() -> None:
    door = WriteFirst(0.25)
    assert door.wait_to_read() == 0.0
    assert door.reads_held == 0


def test_a_read_waits_for_the_running_write_and_goes_when_it_ends() -> None:
    door = WriteFirst(60.0)
    inside, read_done = threading.Event(), threading.Event()

    def read() -> None:
        door.wait_to_read()
        read_done.set()

    with door.writing():
        reader = threading.Thread(target=read)
        reader.start()
        # The reader is counted as held before it waits; it cannot be done before the write.
        while door.reads_held == 0:
            inside.wait(0.001)
        assert not read_done.is_set()
    reader.join(timeout=30)
    assert read_done.is_set() and door.reads_held == 1 and door.writes == 1


def test_a_write_past_its_priority_holds_no_read_back() -> None:
    clock = Clock()
    door = WriteFirst(0.25, clock=clock)
    with door.writing():
        clock.now += 0.25  # the write is still running (a lock it waits for), its time is up
        assert door.wait_to_read() == 0.0
    with door.writing(), door.writing():
        clock.now += 0.3
        assert door.wait_to_read() == 0.0
    assert door.writes == 3 and door._deadlines == []


def test_the_latest_running_write_sets_how_long_a_read_may_wait() -> None:
    clock = Clock()
    door = WriteFirst(1.0, clock=clock)
    with door.writing():
        clock.now += 0.9
        with door.writing():  # a second write from here: reads wait for it up to its own end
            clock.now += 0.5  # the first write's priority is over, the second's is not
            waited: list[float] = []
            reader = threading.Thread(target=lambda: waited.append(door.wait_to_read()))
            reader.start()
            while door.reads_held == 0:
                threading.Event().wait(0.001)
            assert not waited
            clock.now += 0.6  # the second's is over too: the waiting read goes on its own
        reader.join(timeout=30)
    assert waited and waited[0] == pytest.approx(0.6)


def test_the_app_sends_writes_through_the_door_and_reads_past_it(tmp_path: Path) -> None:
    root, db = make_root(tmp_path)
    app = make_app(root, db)
    door: Any = app.extensions["dialogsearch.write_first"]
    client = app.test_client()
    created = client.post("/api/dialog/entry", json=NEW, headers=AUTH)
    assert created.status_code == 201
    entry_id = created.get_json()["dialog_entry_id"]
    assert client.get("/api/dialog/search?q=written").get_json()["total"] == 1
    assert client.delete(f"/api/dialog/entry/{entry_id}", headers=AUTH).status_code == 200
    assert door.writes == 2 and door.reads_held == 0 and door._deadlines == []


def test_write_first_ms_0_takes_the_door_away(tmp_path: Path) -> None:
    root, db = make_root(tmp_path)
    app = make_app(root, db, WRITE_FIRST_MS=0)
    assert "dialogsearch.write_first" not in app.extensions
    assert app.test_client().post("/api/dialog/entry", json=NEW, headers=AUTH).status_code == 201
