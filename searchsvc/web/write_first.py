"""Writes first, searches a few at a time: the door in front of the app's WSGI call.

Under a mixed load on two cores a write is mostly waiting for the GIL: each SQLite
statement, file stat or fsync and tantivy call gives it up, and every time it has to win
it back from the busy search threads (up to the interpreter's switch interval, 5 ms,
each time; about 116 times per write). So:

- while a write request runs, read requests that arrive wait at the door, and the write
  competes only with the reads already running. A write's priority lasts
  `priority_seconds` at most (WRITE_FIRST_MS): a write stuck on a lock (a reindex holding
  `<db>.lock`) stops holding reads back after that, and reads never wait longer;
- searches (SEARCH_PATHS) run at most `search_slots` at a time (SEARCH_SLOTS: "auto" is
  the number of cores and one more, at least 3: while one search waits in compiled code
  without the GIL, another runs; 0: no limit), the others wait for a slot without
  holding the GIL. Health, stats, single entries, the page and /metrics take no slot.

Which requests are writes: POST, PUT, PATCH and DELETE; everything else is a read. The
door wraps the WSGI call only: a read's response body is sent after it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from searchsvc.web import metrics

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The reads that take a search slot (the path's start).
SEARCH_PATHS = ("/api/dialog/search", "/api/dialog/entries")
EXTENSION_KEY = "dialogsearch.write_first"


class WriteFirst:
    """The door: `writing()` holds reads back for up to `priority_seconds`; `reading()`
    waits for that, then (`search=True`) for one of `search_slots` (0: no limit).

    `clock` is time.monotonic unless a test gives another.
    """

    def __init__(
        self,
        priority_seconds: float,
        search_slots: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.priority_seconds = priority_seconds
        self.search_slots = search_slots
        self._slots = threading.BoundedSemaphore(search_slots) if search_slots > 0 else None
        self._clock = clock
        self._changed = threading.Condition(threading.Lock())
        # One deadline per running write, in the clock's seconds.
        self._deadlines: list[float] = []
        #: Reads that waited for a write, how long in all, and writes that held the door
        #: (GET /metrics reports them; tests count them).
        self.reads_held = 0
        self.read_wait_seconds = 0.0
        self.writes = 0

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Run a write with priority over the reads that arrive meanwhile."""
        if self.priority_seconds <= 0:
            yield
            return
        deadline = self._clock() + self.priority_seconds
        with self._changed:
            self._deadlines.append(deadline)
            self.writes += 1
        try:
            yield
        finally:
            with self._changed:
                self._deadlines.remove(deadline)
                self._changed.notify_all()

    def wait_to_read(self) -> float:
        """Wait until no write holds priority; the seconds waited (0.0 when none did)."""
        if not self._deadlines:  # the common case, without the lock
            return 0.0
        with self._changed:
            if not self._deadlines:
                return 0.0
            start = self._clock()
            self.reads_held += 1
            while self._deadlines:
                left = max(self._deadlines) - self._clock()
                if left <= 0:
                    break
                self._changed.wait(left)
            waited = self._clock() - start
            self.read_wait_seconds += waited
            return waited

    def reading(self, search: bool = False) -> Any:
        """A context to run a read in: after the running writes; a `search` in a slot."""
        self.wait_to_read()
        if search and self._slots is not None:
            return self._slots
        return nullcontext()


class WriteFirstMiddleware:
    """WSGI middleware: write requests run under `door.writing()`, reads pass `reading()`."""

    def __init__(self, app: Callable[..., Iterable[bytes]], door: WriteFirst) -> None:
        self.app = app
        self.door = door

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD", "GET").upper() in WRITE_METHODS:
            with self.door.writing():
                return self.app(environ, start_response)
        search = environ.get("PATH_INFO", "").startswith(SEARCH_PATHS)
        with self.door.reading(search):
            return self.app(environ, start_response)


def init_app(app: Any, priority_ms: int, search_slots: int) -> WriteFirst | None:
    """Put the door in front of `app` (a Flask app), its numbers in the app's /metrics;
    None when both rules are off (0)."""
    if priority_ms <= 0 and search_slots <= 0:
        return None
    door = WriteFirst(priority_ms / 1000.0, search_slots)
    app.wsgi_app = WriteFirstMiddleware(app.wsgi_app, door)
    app.extensions[EXTENSION_KEY] = door
    metrics.report_door(app, door)
    return door
