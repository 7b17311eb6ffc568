"""FollowUp: work done in the background after a request, requests that come meanwhile
folded into one more run.

`request()` never waits: it marks the work wanted and starts a thread when none runs.
The thread runs the work until no request came during the last run, then ends (no idle
thread is kept). Used for the top-k delta after a write (repo_topk): the write's answer
does not wait for it, and a burst of writes builds it once or twice, not once each.
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
        self._lock = threading.Lock()
        self._wanted = False
        self._thread: threading.Thread | None = None
        #: How many runs the work had (the tests count them).
        self.runs = 0

    def request(self) -> None:
        """Run the work soon (once more if it is running now); never waits for it."""
        with self._lock:
            self._wanted = True
            if self._thread is not None:
                return  # the running thread sees `_wanted` before it ends
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._wanted:
                    self._thread = None
                    return
                self._wanted = False
                self.runs += 1
            try:
                self._work()
            except Exception:  # noqa: BLE001 - a background run must not end the thread silently
                log.exception("%s failed", self._name)

    def close(self, timeout: float = 30.0) -> None:
        """Drop a request not yet run; wait up to `timeout` for a run in progress. (Later
        requests start a thread again.)"""
        with self._lock:
            self._wanted = False
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
