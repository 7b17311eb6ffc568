"""FollowUp: work done in the background after a request, requests that come meanwhile
folded into one more run.

`request()` never waits: it marks the work wanted and wakes one thread, started at the
first request and kept (its thread-local resources, e.g. a database connection, are
opened once, not once per run). A request that comes during a run makes one more run
after it, however many came. Used for the top-k delta after a write (repo_topk): the
write's answer does not wait for it, and a burst of writes builds it once or twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("searchsvc.engines.follow_up")


class FollowUp:
    """Runs `work` in a background thread named `name` after requests, one run at a time."""

    def __init__(self, work: Callable[[], None], name: str) -> None:
        self._work = work
        self._name = name
        self._changed = threading.Condition(threading.Lock())
        self._wanted = False
        self._thread: threading.Thread | None = None  # the thread serving requests now
        #: How many runs the work had (the tests count them).
        self.runs = 0

    def request(self) -> None:
        """Run the work soon (once more if it is running now); never waits for it."""
        with self._changed:
            self._wanted = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._changed.notify()

    def _loop(self) -> None:
        me = threading.current_thread()
        while True:
            with self._changed:
                while not self._wanted and self._thread is me:
                    self._changed.wait()
                if self._thread is not me:  # closed (a later request has its own thread)
                    return
                self._wanted = False
                self.runs += 1
            try:
                self._work()
            except Exception:  # noqa: BLE001 - a failed run must not end the thread
                log.exception("%s failed", self._name)

    def close(self, timeout: float = 30.0) -> None:
        """Stop the thread: a request not yet run is dropped, a run in progress waited for
        (up to `timeout`). A later request starts a thread again."""
        with self._changed:
            thread, self._thread = self._thread, None
            self._wanted = False
            self._changed.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
