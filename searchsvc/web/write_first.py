"""Writes first: while a write request runs, new read requests wait at the door a moment.

Under a mixed load on two cores a write is mostly waiting for the GIL: each SQLite
statement, file stat or fsync and tantivy call gives it up, and every time it has to win
it back from the busy search threads (up to the interpreter's switch interval, 5 ms,
each time; about 116 times per write). While a write runs, reads that arrive wait here,
so the write competes only with the reads already running. A write's priority lasts
`priority_seconds` at most (WRITE_FIRST_MS): a write stuck on a lock (a reindex holding
`<db>.lock`) stops holding reads back after that, and reads never wait longer.

Which requests are writes: POST, PUT, PATCH and DELETE; everything else is a read. The
gate wraps the WSGI call only: a read's response body is sent after it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class WriteFirst:
    """The door: `writing()` holds reads back for up to `priority_seconds`, `reading()` waits.

    `clock` is time.monotonic unless a test gives another.
    """

    def __init__(self, priority_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.priority_seconds = priority_seconds
        self._clock = clock
        self._changed = threading.Condition(threading.Lock())
        # One deadline per running write, in the clock's seconds.
        self._deadlines: list[float] = []
        #: Reads that waited at the door, and writes that held it (for tests and /metrics).
        self.reads_held = 0
        self.writes = 0

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Run a write with priority over the reads that arrive meanwhile."""
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
            return self._clock() - start


class WriteFirstMiddleware:
    """WSGI middleware: write requests run under `door.writing()`, reads wait first."""

    def __init__(self, app: Callable[..., Iterable[bytes]], door: WriteFirst) -> None:
        self.app = app
        self.door = door

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD", "GET").upper() in WRITE_METHODS:
            with self.door.writing():
                return self.app(environ, start_response)
        self.door.wait_to_read()
        return self.app(environ, start_response)


def init_app(app: Any, priority_ms: int) -> WriteFirst | None:
    """Put the door in front of `app` (a Flask app); None when WRITE_FIRST_MS is 0."""
    if priority_ms <= 0:
        return None
    door = WriteFirst(priority_ms / 1000.0)
    app.wsgi_app = WriteFirstMiddleware(app.wsgi_app, door)
    app.extensions["dialogsearch.write_first"] = door
    return door
