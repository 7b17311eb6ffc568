"""MeiliFollower: Meilisearch follows the database by itself when MEILI_URL is set (#14).

Whatever changes the database asks for a push: the watcher's reindexes, API writes and
sync (through `SearchStack.database_changed`), and `reindex --watch` after each change.
Asking never waits: it adds file names to a set and wakes one background thread. That
thread runs the pushes, one at a time: once requests stop coming for `settle_seconds`
(at the latest `max_delay_seconds` after the first), ONE incremental push
(indexer.push_meili.push_database: every file whose content hash the `meili_sync`
records do not hold), so a burst of 1,000 changed files is one push, or a few. A request
that names only files whose version the records already hold (the watcher's echo of an
API write) asks Meilisearch nothing.

Locks are push_database's: one push of a database at a time (across processes), and the
reindex lock only around each read and write of the database, never while Meilisearch
is waited for, so neither the watcher nor a write ever waits for Meilisearch. A lock
another holds past LOCK_WAIT_SECONDS: the push is tried again BUSY_RETRY_SECONDS later.

A failure (Meilisearch unreachable or refusing, a task failed, the database unreadable)
is logged once per distinct error, shown in health, and retried after a backoff (1, 2,
4, ... BACKOFF_MAX_SECONDS); nothing is lost, as the records hold only what Meilisearch
acknowledged. While the database is unavailable (the stack answers from the files, or
the file is missing) nothing is pushed; once it is back, a push catches up.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer.push_meili import MeiliPushSummary, files_behind, push_database
from indexer.reindex import ReindexBusy
from searchsvc.settings import Settings

log = logging.getLogger("searchsvc.meili_follow")

#: A push starts once no request came for this long (a burst is one push)...
SETTLE_SECONDS = 0.2
#: ...or at the latest this long after the first request of the burst.
MAX_DELAY_SECONDS = 2.0
#: How often the thread wakes without requests (a retry due, the database back, stop).
TICK_SECONDS = 1.0
#: How long a push waits for another push's or a reindex's lock before it is retried.
LOCK_WAIT_SECONDS = 5.0
BUSY_RETRY_SECONDS = 2.0
#: The backoff after consecutive failures: 1, 2, 4, ... seconds, at most this.
BACKOFF_MAX_SECONDS = 60.0
#: How long stopping waits for a push in progress (its records stay consistent anyway).
STOP_WAIT_SECONDS = 10.0
#: Outcomes of a push attempt: pushed everything, failed, a lock was busy, nothing to push.
OUTCOMES = ("ok", "failed", "busy", "skipped")
#: Pending file names shown in health (the count is complete).
SHOWN_PENDING = 20


#: What differs between two reports of one error (addresses, task uids, ports): ignored
#: when deciding whether an error is new, so a lasting outage is logged once.
_VARYING = re.compile(r"0x[0-9a-fA-F]+|\d+")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class MeiliFollower:
    """Pushes the database's changes to one Meilisearch index, in the background."""

    def __init__(
        self,
        db_path: Path,
        url: str,
        api_key: str | None,
        index_uid: str,
        *,
        database_up: Callable[[], bool] | None = None,
        on_push: Callable[[MeiliPushSummary], None] | None = None,
        settle_seconds: float = SETTLE_SECONDS,
        max_delay_seconds: float = MAX_DELAY_SECONDS,
    ) -> None:
        self.db_path = Path(db_path)
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.index_uid = index_uid
        #: Whether the database answers now (the stack's mode); pushes wait while it does not.
        self.database_up = database_up or (lambda: True)
        self.on_push = on_push
        self.settle_seconds = settle_seconds
        self.max_delay_seconds = max(max_delay_seconds, settle_seconds)
        self.pushes: Counter[str] = Counter({outcome: 0 for outcome in OUTCOMES})
        self.files_pushed = 0  # files pushed or removed, over every push
        self.documents_pushed = 0
        self.last_push: dict[str, Any] | None = None
        self.last_error: str | None = None
        self.last_error_at: str | None = None
        self.failures = 0  # consecutive
        self._last_outcome: str | None = None
        self._pending: set[str] = set()
        self._pending_all = False  # a request that named no files: whatever changed
        self._in_flight: set[str] = set()
        self._pushing = False
        self._waiting_for_database = False
        self._retry_at = 0.0  # monotonic: no attempt before this
        self._lock = threading.Lock()  # guards the pending sets (health reads them)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- asking, starting, stopping ------------------------------------------------------

    def request(self, paths: Iterable[str] | None = None) -> None:
        """Ask for a push of these files (None: of whatever changed); never waits."""
        with self._lock:
            if paths is None:
                self._pending_all = True
            else:
                self._pending.update(paths)
        self._wake.set()

    def start(self) -> None:
        """Start the thread that pushes."""
        self._thread = threading.Thread(
            target=self._run, name="dialogsearch-meili-follow", daemon=True
        )
        self._thread.start()
        log.info(json.dumps({"event": "following", "url": self.url, "index": self.index_uid}))

    def stop(self) -> None:
        """Stop pushing (waits a while for a push in progress to finish)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=STOP_WAIT_SECONDS)

    # ---- the loop --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._wake.wait(TICK_SECONDS):
                self._settle()
            if self._stop.is_set():
                return
            if self._due():
                self._attempt()

    def _settle(self) -> None:
        """Wait until requests stop coming (a burst is one push), within the max delay."""
        deadline = time.monotonic() + self.max_delay_seconds
        self._wake.clear()
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or not self._wake.wait(min(self.settle_seconds, left)):
                return
            self._wake.clear()

    def _due(self) -> bool:
        """Whether to push now: something pending, no backoff running, the database up."""
        if not self.database_up() or not self.db_path.is_file():
            # Never push (or create) a database the service does not read: it may be
            # behind the files; the recovery brings it back, and then a push catches up.
            self._waiting_for_database = True
            return False
        with self._lock:
            if self._waiting_for_database:
                self._waiting_for_database = False
                self._pending_all = True  # what reached the database meanwhile
            waiting = self._pending_all or bool(self._pending)
        return waiting and time.monotonic() >= self._retry_at

    def _attempt(self) -> None:
        """One push of everything pending; its outcome counted, a failure retried later."""
        with self._lock:
            paths, everything = self._pending, self._pending_all
            self._pending, self._pending_all = set(), False
            self._in_flight = set(paths)
            self._pushing = True
        try:
            outcome = self._push(paths, everything)
        except Exception as error:  # noqa: BLE001 - the database failed: logged once, retried
            self._requeue(paths, everything)
            self._failed(f"{type(error).__name__}: {error}")
            outcome = "failed"
        finally:
            with self._lock:
                self._in_flight = set()
                self._pushing = False
        self.pushes[outcome] += 1
        self._last_outcome = outcome

    def _push(self, paths: set[str], everything: bool) -> str:
        if not everything and not files_behind(self.db_path, self.url, self.index_uid, paths):
            return "skipped"  # the index already holds these files as they are
        try:
            summary = push_database(
                self.db_path, self.url, self.api_key, self.index_uid, wait=LOCK_WAIT_SECONDS
            )
        except ReindexBusy as error:
            self._requeue(paths, everything)
            self._retry_at = time.monotonic() + BUSY_RETRY_SECONDS
            if self._last_outcome != "busy":  # a long reindex makes many in a row: said once
                log.info(json.dumps({"event": "meili_push_busy", "reason": str(error)[:300]}))
            return "busy"
        self._record(summary)
        if summary.ok:
            self._succeeded()
            return "ok"
        # What did not go through is pending again; an error with no file named (a
        # failed sweep) retries the whole push.
        not_pushed = set(summary.files_not_pushed)
        self._requeue(paths | not_pushed, everything or not not_pushed)
        self._failed("; ".join(summary.errors) or f"{len(not_pushed)} files not pushed")
        return "failed"

    def _requeue(self, paths: set[str], everything: bool) -> None:
        with self._lock:
            self._pending.update(paths)
            self._pending_all = self._pending_all or everything

    def _record(self, summary: MeiliPushSummary) -> None:
        self.files_pushed += summary.files_pushed + summary.files_removed
        self.documents_pushed += summary.documents_pushed
        self.last_push = {
            "at": _now(),
            "ok": summary.ok,
            "files_pushed": summary.files_pushed,
            "files_removed": summary.files_removed,
            "documents_pushed": summary.documents_pushed,
            "files_not_pushed": len(summary.files_not_pushed),
            "tasks": summary.tasks,
            "seconds": round(summary.seconds, 3),
        }
        if summary.files_pushed or summary.files_removed:
            log.info(json.dumps({"event": "meili_pushed", **self.last_push}))
        if self.on_push is not None:
            self.on_push(summary)

    def _failed(self, message: str) -> None:
        self.failures += 1
        delay = min(2.0 ** (self.failures - 1), BACKOFF_MAX_SECONDS)
        self._retry_at = time.monotonic() + delay
        if self.last_error is None or _VARYING.sub("#", message) != _VARYING.sub(
            "#", self.last_error
        ):
            event = {"event": "meili_push_failed", "error": message[:500], "retry_in": delay}
            log.warning(json.dumps(event))
        self.last_error = message
        self.last_error_at = _now()

    def _succeeded(self) -> None:
        if self.last_error is not None:
            log.info(json.dumps({"event": "meili_push_recovered", "failures": self.failures}))
        self.last_error = None
        self.failures = 0
        self._retry_at = 0.0

    # ---- health ----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """What /api/dialog/health shows under `meilisearch_follow`."""
        with self._lock:
            pending = sorted(self._pending | self._in_flight)
            catch_up = self._pending_all
            pushing = self._pushing
        retry_in = self._retry_at - time.monotonic()
        return {
            "url": self.url,
            "index": self.index_uid,
            "running": self._thread is not None and self._thread.is_alive(),
            "pushes": dict(self.pushes),
            "files_pushed": self.files_pushed,
            "documents_pushed": self.documents_pushed,
            "last_push": self.last_push,
            "pending": len(pending),
            "pending_files": pending[:SHOWN_PENDING],
            "catch_up_pending": catch_up,
            "pushing": pushing,
            "waiting_for_database": self._waiting_for_database,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "retry_in_seconds": round(retry_in, 1) if retry_in > 0 else None,
        }


def follower_for(settings: Settings, db_path: Path, **options: Any) -> MeiliFollower | None:
    """The follower the settings ask for (None: no MEILI_URL, or MEILI_FOLLOW=off)."""
    if not settings.meili_url or not settings.meili_follow:
        return None
    return MeiliFollower(
        db_path, settings.meili_url, settings.meili_api_key, settings.meili_index, **options
    )


def start_meili_follower(stack: Any, settings: Settings) -> MeiliFollower | None:
    """Keep Meilisearch following the stack's database (None: nothing to follow).

    The stack hands it every change (`database_changed`) and stops it when it closes.
    The first push catches up with what changed while nobody followed.
    """
    if settings.db is None:
        return None
    follower = follower_for(settings, settings.db, database_up=lambda: stack.mode == "database")
    if follower is None:
        return None
    stack.meili_follower = follower
    follower.start()
    follower.request()
    return follower


def follow_meilisearch(stack: Any, settings: Settings) -> str | None:
    """start_meili_follower, as a line for the log (None: MEILI_URL is not set)."""
    if not settings.meili_url:
        return None
    if not settings.meili_follow:
        return "not pushing changes to Meilisearch (MEILI_FOLLOW=off)"
    follower = start_meili_follower(stack, settings)
    if follower is None:
        return "not pushing changes to Meilisearch (no database)"
    return f"pushing every change to Meilisearch at {follower.url} (index {follower.index_uid})"
