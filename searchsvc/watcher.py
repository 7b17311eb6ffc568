"""DialogWatcher: `serve` follows the dialogs root, so hand edits reach search by themselves.

One background thread waits for file-system events (watchfiles: inotify, or polling when
asked for or when inotify cannot be used, e.g. its watch limit is reached). A burst of
events becomes ONE change: it is applied once no event came for `settle_ms`, or at the
latest `max_delay_ms` after its first event (a `git checkout` of 1,000 files is a few
reindexes, not 1,000). Applying a change is the incremental reindex (indexer.reindex:
same code path, same `<db>.lock`, one transaction), then the stack's stores follow
(`SearchStack.reload_file` per changed file: the file index re-reads it, the top-k index
wakes up). Every `rescan_seconds` a plain incremental reindex catches what events missed.

While answers come from the files (the database is unavailable), only the file index is
reloaded: DatabaseRecovery syncs the database when it is back, and the watcher does not
fight it. A reindex that fails on the database hands the stack to that recovery as a
write does (`database_behind`); one that waits too long for the lock (another reindex)
is retried.

A named file that changed within the last `file_settle_ms` is stat'ed again once that
time has passed: if its size or mtime moved meanwhile (it is still being written), it is
held (the reindex leaves it as the database has it) and stays pending for the next
round, so a half-written file is read once it settles. A file that cannot be read (no
permission) is left as the database has it, logged once (again only when it changes, or
after it was readable) and retried by every later reindex, the periodic rescan among them.

Without a stack (`dialogsearch reindex --watch`) a change is the reindex alone;
`on_reindex` hears of each one.

Ignored: editor temp and swap files (`*.swp`, `*~`, `.#*`, `4913`), temp files (`*.tmp`,
the write service's `.<name>.md.<random>.tmp` among them) and the database's own files
when they live below the root. The service's own API writes are skipped: the write service
names each file it wrote and loaded (`written`), and while the file still has the size and
mtime it had then, its events start no reindex (one that would find its hash unchanged,
after waiting for `<db>.lock` and scanning the root, beside the next writes).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The public watch() hides which watcher notify chose; RustNotify (what watch() wraps)
# says it, so the health report and the log name the mode that really runs.
from watchfiles._rust_notify import RustNotify

from indexer.database import classify_error
from indexer.reindex import ReindexBusy, ReindexSummary, reindex
from searchsvc.settings import Settings
from searchsvc.stack import SearchStack

log = logging.getLogger("searchsvc.watcher")

#: How long a watcher reindex waits for `<db>.lock` before it is retried later.
LOCK_WAIT_SECONDS = 5.0
#: How often the thread wakes without events (to retry, rescan or stop), in ms.
TICK_MS = 1000
#: After a failed reindex, how long until the next attempt (events keep collecting).
RETRY_SECONDS = 5.0
#: notify's poller compares mtimes in whole seconds, so a file changed again within the
#: second it was last seen (or within the second polling started) shows no change. In
#: polling mode an incremental reindex (nanosecond mtimes, hashes) follows this long
#: after the start and after every change, and catches those.
POLL_RECHECK_SECONDS = 2.0
#: watchfiles' change codes.
DELETED = 3
#: Suffixes and names of editor and temp files, never dialog files.
IGNORED_SUFFIXES = (".swp", ".swx", ".swo", "~", ".tmp")
IGNORED_NAMES = ("4913",)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def ignored(name: str) -> bool:
    """Whether a file name is an editor's temp/swap file or a temp file (never a dialog)."""
    lower = name.lower()
    return lower.startswith(".#") or lower.endswith(IGNORED_SUFFIXES) or lower in IGNORED_NAMES


#: Hears of each applied reindex: (its summary, whether it was the periodic rescan).
OnReindex = Callable[[ReindexSummary, bool], None]


class DialogWatcher:
    """Follows `root`: changed `.md` files reach the database and the stack's stores."""

    def __init__(
        self,
        stack: SearchStack | None,
        root: Path,
        db_path: Path,
        *,
        polling: bool = False,
        settle_ms: int = 200,
        max_delay_ms: int = 2000,
        rescan_seconds: float = 300.0,
        poll_ms: int = 300,
        file_settle_ms: int = 300,
        on_reindex: OnReindex | None = None,
    ) -> None:
        self.stack = stack
        self.file_settle_ms = file_settle_ms
        self.on_reindex = on_reindex
        #: Files held back because they were still being written (a count, for health).
        self.holds = 0
        #: Unreadable files (no permission) by path: the (size, mtime_ns) logged for them.
        self._unreadable: dict[str, tuple[int, int] | None] = {}
        self.root = Path(root)
        self.db_path = Path(db_path)
        self.polling = polling
        self.settle_ms = settle_ms
        self.max_delay_ms = max(max_delay_ms, settle_ms)
        self.rescan_seconds = rescan_seconds
        self.poll_ms = poll_ms
        self.mode = "polling" if polling else "inotify"
        self.events = 0
        self.last_event: str | None = None
        self.reindexes = 0
        self.rescans = 0
        self.last_reindex: dict[str, Any] | None = None
        #: Totals over every reindex: seconds spent, entries added/updated/deleted (metrics).
        self.reindex_seconds_total = 0.0
        self.entries_reindexed = {"added": 0, "updated": 0, "deleted": 0}
        self.last_error: str | None = None
        self._pending: set[str] = set()
        self._pending_unnamed = False
        self._real_root = os.path.realpath(self.root)
        self._lock = threading.Lock()  # guards _pending (the health report reads it)
        self._db_prefix = os.path.realpath(self.db_path)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0  # monotonic: no attempt before this after a failure
        #: Files the write service wrote and loaded: (size, mtime_ns) as it left them.
        self._written: dict[str, tuple[int, int]] = {}
        self.own_writes_skipped = 0

    # ---- start and stop ----------------------------------------------------------------

    def start(self) -> None:
        """Start following the root (the watcher is set up here: its errors raise here)."""
        notify = self._open()
        log.info(
            json.dumps(
                {
                    "event": "watching",
                    "root": str(self.root),
                    "mode": self.mode,
                    "settle_ms": self.settle_ms,
                    "max_delay_ms": self.max_delay_ms,
                    "rescan_seconds": self.rescan_seconds,
                }
            )
        )
        self._thread = threading.Thread(
            target=self._run, args=(notify,), name="dialogsearch-watcher", daemon=True
        )
        self._thread.start()

    def _open(self) -> RustNotify:
        """A watcher on the root: inotify, else (asked for, or inotify failed) polling."""
        if not self.polling:
            try:
                # (paths, debug, force_polling, poll_delay_ms, recursive, ignore_errors):
                # with ignore_errors a folder inotify cannot watch (its watch limit
                # reached, no permission) would be skipped silently, so errors raise here.
                notify = RustNotify([self._real_root], False, False, self.poll_ms, True, False)
            except OSError as error:
                log.warning(json.dumps({"event": "inotify_unavailable", "error": str(error)[:300]}))
                self.last_error = f"inotify unavailable, polling instead: {error}"
            else:
                self.mode = "polling" if "Poll(" in repr(notify) else "inotify"
                return notify
        notify = RustNotify([self._real_root], False, True, self.poll_ms, True, True)
        self.mode = "polling"
        return notify

    def stop(self) -> None:
        """Stop following (waits for a reindex in progress to finish)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=30)

    # ---- the loop ----------------------------------------------------------------------

    def _run(self, notify: RustNotify | None) -> None:
        next_rescan = time.monotonic() + self.rescan_seconds
        if self.mode == "polling":
            next_rescan = time.monotonic() + POLL_RECHECK_SECONDS
        while not self._stop.is_set():
            if notify is None:  # the last one failed: a new one, then a scan for what was lost
                if self._stop.wait(TICK_MS / 1000):
                    return
                notify = self._reopen()
                self._pending_unnamed = notify is not None
            else:
                changes = self._wait_for_changes(notify)
                if changes == "stop":
                    notify.close()
                    return
                if changes is None:
                    notify = None
                    continue
                self._note(changes)
            rescan = time.monotonic() >= next_rescan
            if rescan:
                next_rescan = time.monotonic() + self.rescan_seconds
            waiting = self._pending or self._pending_unnamed  # new changes, or a retry
            if rescan or (waiting and time.monotonic() >= self._retry_at):
                self._apply_safely(rescan=rescan)
                if self.mode == "polling" and not rescan:
                    next_rescan = min(next_rescan, time.monotonic() + POLL_RECHECK_SECONDS)

    def _wait_for_changes(self, notify: RustNotify) -> set[tuple[int, str]] | str | None:
        """The next batch of changes (empty after a quiet tick), "stop", or None: it failed."""
        try:
            changes = notify.watch(self.max_delay_ms, self.settle_ms, TICK_MS, self._stop)
        except RuntimeError as error:  # e.g. the inotify queue overflowed: events were lost
            notify.close()  # it would answer every call with the same error
            self.last_error = f"{type(error).__name__}: {error}"
            log.warning(json.dumps({"event": "watch_error", "error": str(error)[:300]}))
            return None
        if changes == "stop":
            return "stop"
        return changes if isinstance(changes, set) else set()

    def _reopen(self) -> RustNotify | None:
        try:
            return self._open()
        except (OSError, RuntimeError) as error:
            self.last_error = f"cannot follow {self.root}: {error}"
            log.warning(json.dumps({"event": "watch_error", "error": str(error)[:300]}))
            return None

    def _note(self, changes: Iterable[tuple[int, str]]) -> None:
        """Add the dialog files (or folders) that changed to the pending change."""
        for change, path in changes:
            if path == self._db_prefix or path.startswith(self._db_prefix + "."):
                continue  # the database, its -wal, .lock and .topk/ below the root
            if ignored(os.path.basename(path)):
                continue
            self.events += 1
            self.last_event = _now()
            if path.lower().endswith(".md"):
                rel = os.path.relpath(path, self._real_root).replace(os.sep, "/")
                if not rel.startswith("../"):
                    with self._lock:
                        self._pending.add(rel)
            elif change == DELETED or os.path.isdir(path):
                # A folder moved in, out or away: its files are found by the reindex's scan.
                self._pending_unnamed = True

    def _apply_safely(self, *, rescan: bool) -> None:
        try:
            self._apply(rescan=rescan)
        except Exception as error:  # noqa: BLE001 - logged once, shown in health, retried
            message = f"{type(error).__name__}: {error}"
            if message != self.last_error:
                log.exception("applying changed dialog files failed; retrying")
            self.last_error = message
            self._retry_at = time.monotonic() + RETRY_SECONDS

    def written(self, rel: str, path: Path) -> None:
        """The write service wrote `rel` (at `path`) and loaded it: skip it as it is now."""
        try:
            info = os.stat(path)
        except OSError:
            return
        with self._lock:
            self._written[rel] = (info.st_size, info.st_mtime_ns)

    def _skip_own_writes(self) -> list[str]:
        """The pending files, less those still as the write service left them (done)."""
        with self._lock:
            own = {
                rel
                for rel in self._pending
                if rel in self._written and self._written[rel] == self._stamp(rel)
            }
            for rel in own:
                del self._written[rel]
            self._pending.difference_update(own)
            self.own_writes_skipped += len(own)
            return sorted(self._pending)

    def _apply(self, *, rescan: bool) -> None:
        """One reindex for everything pending, then the stores follow; or the files only."""
        rels = self._skip_own_writes()
        unnamed = self._pending_unnamed
        if not rels and not unnamed and not rescan:
            return
        if self.stack is None:
            self._reindex(rels, unnamed=unnamed, rescan=rescan)
            return
        if self.stack.mode == "files" or self.stack.database is None:
            # The recovery syncs the database when it is back: only the file index follows.
            self._follow(rels, unnamed=unnamed or rescan, database=False)
            self._done(rels)
            return
        if not self.db_path.exists():
            # Never create it here (reindex would): rebuilding is the recovery's to decide.
            self._follow(rels, unnamed=True, database=False)
            self.stack.database_behind("the database file is missing")
            self._done(rels)
            return
        try:
            self._reindex(rels, unnamed=unnamed, rescan=rescan)
        except Exception as error:
            unavailable = classify_error(error)
            if unavailable is None:
                raise
            self.last_error = f"the database cannot take the change: {unavailable}"
            self._follow(rels, unnamed=True, database=False)
            self.stack.database_behind(f"changed files did not reach the database ({error})")
            self._done(rels)

    def _reindex(self, rels: list[str], *, unnamed: bool, rescan: bool) -> None:
        """The reindex of a change (files still being written held back), then the stores."""
        held = self._unsettled(rels)
        rels = [rel for rel in rels if rel not in held]
        started = time.monotonic()
        try:
            summary = reindex(
                self.root, self.db_path, wait=LOCK_WAIT_SECONDS, hold=held, skip_unreadable=True
            )
        except ReindexBusy as error:
            self.last_error = str(error)  # pending stays: retried soon
            self._retry_at = time.monotonic() + RETRY_SECONDS
            return
        self._note_unreadable(summary.unreadable)
        self.reindexes += 1
        self.rescans += int(rescan)
        changed = summary.files_changed + summary.files_removed
        self.last_reindex = {
            "at": _now(),
            "files_changed": summary.files_changed,
            "files_removed": summary.files_removed,
            "entries_added": summary.entries_added,
            "entries_updated": summary.entries_updated,
            "entries_deleted": summary.entries_deleted,
            "seconds": round(time.monotonic() - started, 3),
            "rescan": rescan,
        }
        self.reindex_seconds_total += self.last_reindex["seconds"]
        for change in self.entries_reindexed:
            self.entries_reindexed[change] += self.last_reindex[f"entries_{change}"]
        if changed or not rescan:
            log.info(json.dumps({"event": "reindexed", **self.last_reindex}))
        if self.stack is not None:
            # A rescan names no files: when it changed some, every store catches up by a scan.
            self._follow(rels, unnamed=unnamed or (rescan and changed > 0), database=True)
        self.last_error = None
        self._done(rels)
        if self.on_reindex is not None:
            self.on_reindex(summary, rescan)

    def _stamp(self, rel: str) -> tuple[int, int] | None:
        """(size, mtime_ns) of a file below the root; None when it is gone."""
        try:
            info = os.stat(os.path.join(self.root, rel))
        except OSError:
            return None
        return info.st_size, info.st_mtime_ns

    def _unsettled(self, rels: list[str]) -> set[str]:
        """The files still being written: changed again within `file_settle_ms`.

        A file whose mtime is older than that has settled. A younger one is stat'ed
        again once it is that old: moved meanwhile, it is held for the next round.
        """
        settle_ns = self.file_settle_ms * 1_000_000
        now = time.time_ns()
        first = {rel: self._stamp(rel) for rel in rels}
        young = {
            rel: now - stamp[1]
            for rel, stamp in first.items()
            if stamp and now - stamp[1] < settle_ns
        }
        if not young:
            return set()
        self._stop.wait((settle_ns - min(young.values())) / 1e9)
        held = {rel for rel in young if self._stamp(rel) != first[rel]}
        self.holds += len(held)
        return held

    def _note_unreadable(self, unreadable: dict[str, str]) -> None:
        """Log each unreadable file once (again when it changed or was readable between)."""
        seen: dict[str, tuple[int, int] | None] = {}
        for rel, error in sorted(unreadable.items()):
            seen[rel] = self._stamp(rel)
            if rel not in self._unreadable or self._unreadable[rel] != seen[rel]:
                log.warning(json.dumps({"event": "unreadable", "file": rel, "error": error[:300]}))
        self._unreadable = seen

    def _follow(self, rels: list[str], *, unnamed: bool, database: bool) -> None:
        """The stack's stores follow the files: each named one, or a scan for the rest."""
        for rel in rels:
            if database:
                self.stack.reload_file(rel)
            elif self.stack.files is not None:
                self.stack.files.reload_file(rel)
        if unnamed:
            self.stack.refresh_files(database=database)
        if rels and not database:
            self.stack.note_change()  # the file index alone followed (stack.reload_file did not)

    def _done(self, rels: Iterable[str]) -> None:
        with self._lock:
            self._pending.difference_update(rels)
        self._pending_unnamed = False

    # ---- health ------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """What /api/dialog/health shows under `watcher`."""
        with self._lock:
            pending = sorted(self._pending)
        return {
            "mode": self.mode,
            "running": self._thread is not None and self._thread.is_alive(),
            "events": self.events,
            "last_event": self.last_event,
            "pending_files": pending,
            "reindexes": self.reindexes,
            "own_writes_skipped": self.own_writes_skipped,
            "rescans": self.rescans,
            "last_reindex": self.last_reindex,
            "reindex_seconds_total": round(self.reindex_seconds_total, 3),
            "entries_reindexed": dict(self.entries_reindexed),
            "last_error": self.last_error,
            "holds": self.holds,
            "unreadable_files": sorted(self._unreadable),
            "settle_ms": self.settle_ms,
            "file_settle_ms": self.file_settle_ms,
            "max_delay_ms": self.max_delay_ms,
            "rescan_seconds": self.rescan_seconds,
        }


def start_watcher(stack: SearchStack, settings: Settings) -> DialogWatcher | None:
    """Follow the settings' root for `stack` (None when WATCH is off or nothing to follow).

    The stack stops the watcher when it closes.
    """
    if settings.watch == "off" or settings.root is None or settings.db is None:
        return None
    watcher = watcher_for(stack, settings, settings.root, settings.db)
    watcher.start()
    stack.watcher = watcher
    return watcher


def watcher_for(
    stack: SearchStack | None, settings: Settings, root: Path, db: Path, **options: Any
) -> DialogWatcher:
    """A DialogWatcher of `root` as the settings say (`options`: DialogWatcher's others)."""
    return DialogWatcher(
        stack,
        root,
        db,
        polling=settings.watch == "poll",
        settle_ms=settings.watch_settle_ms,
        max_delay_ms=settings.watch_max_delay_ms,
        rescan_seconds=settings.watch_rescan_seconds,
        poll_ms=settings.watch_poll_ms,
        file_settle_ms=settings.watch_file_settle_ms,
        **options,
    )
