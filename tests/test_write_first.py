"""The door (searchsvc/web/write_first.py): reads wait while a write runs (bounded), and
searches run a few at a time."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from support.fixtures_writes import AUTH, make_app, make_root

from searchsvc.settings import Settings, load_config
from searchsvc.web.write_first import EXTENSION_KEY, WriteFirst

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
    door: Any = app.extensions[EXTENSION_KEY]
    client = app.test_client()
    created = client.post("/api/dialog/entry", json=NEW, headers=AUTH)
    assert created.status_code == 201
    entry_id = created.get_json()["dialog_entry_id"]
    assert client.get("/api/dialog/search?q=written").get_json()["total"] == 1
    assert client.delete(f"/api/dialog/entry/{entry_id}", headers=AUTH).status_code == 200
    assert door.writes == 2 and door.reads_held == 0 and door._deadlines == []


def test_write_first_ms_0_and_search_slots_0_take_the_door_away(tmp_path: Path) -> None:
    root, db = make_root(tmp_path)
    app = make_app(root, db, WRITE_FIRST_MS=0, SEARCH_SLOTS=0)
    assert EXTENSION_KEY not in app.extensions
    assert app.test_client().post("/api/dialog/entry", json=NEW, headers=AUTH).status_code == 201


def test_searches_past_the_slots_wait_for_one_and_other_reads_do_not() -> None:
    door = WriteFirst(0.25, search_slots=2)
    started, release = threading.Semaphore(0), threading.Event()
    running, most = [0], [0]
    count = threading.Lock()

    def search() -> None:
        with door.reading(search=True):
            with count:
                running[0] += 1
                most[0] = max(most[0], running[0])
            started.release()
            release.wait(30)
            with count:
                running[0] -= 1

    threads = [threading.Thread(target=search) for _ in range(5)]
    for thread in threads:
        thread.start()
    assert started.acquire(timeout=30) and started.acquire(timeout=30)
    assert not started.acquire(timeout=0.05)  # the third waits for a slot
    with door.reading(search=False):  # a read that is no search takes no slot
        assert running[0] == 2
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert most[0] == 2 and running[0] == 0


def test_search_slots_auto_is_the_cores_and_one_more_at_least_three() -> None:
    cores = len(os.sched_getaffinity(0))
    auto = Settings.from_config(load_config({"SEARCH_SLOTS": "auto"}, {})).search_slots
    assert auto == max(3, cores + 1)
    assert Settings.from_config(load_config({"SEARCH_SLOTS": "3"}, {})).search_slots == 3
    assert (
        Settings.from_config(load_config({}, {"DIALOGSEARCH_SEARCH_SLOTS": "0"})).search_slots == 0
    )
    with pytest.raises(ValueError, match="SEARCH_SLOTS"):
        Settings.from_config(load_config({"SEARCH_SLOTS": "many"}, {}))


def test_metrics_say_how_often_reads_waited_for_writes(tmp_path: Path) -> None:
    root, db = make_root(tmp_path)
    app = make_app(root, db, METRICS="open", SEARCH_SLOTS=3)
    client = app.test_client()
    assert client.post("/api/dialog/entry", json=NEW, headers=AUTH).status_code == 201
    door: Any = app.extensions[EXTENSION_KEY]
    door.reads_held, door.read_wait_seconds = 2, 0.5  # as two reads that waited would leave
    text = client.get("/metrics").get_data(as_text=True)
    lines = set(text.splitlines())
    assert "dialogsearch_write_first_writes_total 1.0" in lines
    assert "dialogsearch_write_first_reads_held_total 2.0" in lines
    assert "dialogsearch_write_first_wait_seconds_total 0.5" in lines
    assert "dialogsearch_search_slots 3.0" in lines
