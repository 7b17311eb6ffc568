"""Work beside a request: a part of one search run on another core while the request's
thread does the rest.

tantivy releases the GIL while it searches, so what the page's own search does not need
(the best of the entries with copies, weighed: topk_page.weighed_best; then the other
scope's tab and the folded copies: topk_counts.scope_counts) can run on a second core at
the same time as that search, and the search answers in about the time of
the longer of the two instead of their sum. It costs the same CPU either way; it only
uses a core that is free. When none is (every helper thread busy, e.g. under a load of
several clients), the work runs on the request's thread when its answer is asked for,
as if there were no helper: a search never queues behind another one's count.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Beside:
    """Runs work on up to `workers` helper threads when one is free, else later inline."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._free = threading.BoundedSemaphore(workers) if workers > 0 else None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        #: How many pieces of work ran on a helper thread, how many on the caller's.
        self.helped = 0
        self.inline = 0

    def start(self, work: Callable[[], T]) -> Callable[[], T]:
        """Start `work` on a free helper thread; the callable returned gives its result
        (or raises its exception), running `work` itself when no helper was free."""
        return self.start_each(work)[0]

    def start_each(self, *works: Callable[[], Any]) -> list[Callable[[], Any]]:
        """Start `works` one after the other on one free helper thread (the first is the
        one wanted first); the callables returned give each one's result (or raise its
        exception), each running its work itself when no helper was free."""
        if not works:
            return []
        if self._free is None or not self._free.acquire(blocking=False):
            self.inline += 1
            return list(works)
        futures: list[Future[Any]] = [Future() for _ in works]
        try:
            self._executor().submit(self._run, works, futures)
        except RuntimeError:  # the pool was shut down (interpreter exit)
            self._free.release()
            self.inline += 1
            return list(works)
        self.helped += 1
        return [future.result for future in futures]

    def _run(self, works: tuple[Callable[[], Any], ...], futures: list[Future[Any]]) -> None:
        try:
            for work, future in zip(works, futures, strict=True):
                try:
                    future.set_result(work())
                except BaseException as error:  # noqa: BLE001 - handed to the caller
                    future.set_exception(error)
        finally:
            assert self._free is not None
            self._free.release()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix="dialogsearch-beside"
                )
            return self._pool


def helper_threads() -> int:
    """One helper per core beyond the first (the request's own thread has that one)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, (cores or 1) - 1)


#: The process's helpers, shared by every engine (tests open many).
BESIDE = Beside(helper_threads())
