"""DatabaseRecovery: whether the database answers, and bringing it back when it does not.

The search stack (searchsvc.stack) reports every StoreUnavailable from the database
(missing, deleted under us, unreadable, corrupt, locked past the busy timeout, too
slow) with `enter_fallback`. The switch is logged once, as one JSON line; from then on
`mode` is "files": the stack answers every read from the file index (same shape,
`"source": "files"`), and a recovery thread, at most every `probe_seconds`:

1. re-reads files that changed on disk into the file index;
2. probes the database; a missing, empty or corrupt one is rebuilt from the
   files (a corrupt file and its -wal/-shm are first renamed to
   `<db>.corrupt-<YYYYMMDDHHMMSS>`, never deleted); a locked or slow one is
   left alone until the next probe;
3. syncs files -> database (incremental reindex: writes accepted during the
   fallback reach the database), switches back, logs the recovery as one JSON
   line, and syncs once more to catch a write that raced the switch;
4. drops the file index (unless it is resident, FileRepository.drop): a healthy
   server holds none of it; the next fallback builds it again.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer.database import SqliteError, classify_error
from indexer.reindex import reindex
from searchsvc.engines.repo_files import FileRepository
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.repository import StoreUnavailable

log = logging.getLogger("searchsvc.fallback")

#: Reasons for which the database file is rebuilt from the files.
REBUILD_REASONS = ("missing", "empty", "corrupt")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class DatabaseRecovery:
    """The database's mode ("database" or "files") and the thread that brings it back."""

    def __init__(
        self,
        database: SqliteRepository,
        files: FileRepository,
        *,
        root: str | Path,
        probe_seconds: float = 5.0,
        rebuild: bool = True,
    ) -> None:
        self.database = database
        self.files = files
        self.root = Path(root)
        self.probe_seconds = probe_seconds
        self.rebuild = rebuild
        self.mode = "database"
        self.since = _now()
        self.reason: str | None = None
        self.last_error: str | None = None
        self.last_probe: str | None = None
        self.switches = 0
        self.recoveries = 0
        self.moved_aside: list[str] = []
        self.last_recovery_seconds: float | None = None
        self._entered_at = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._recoverer: threading.Thread | None = None

    # ---- switching ---------------------------------------------------------------

    def enter_fallback(self, error: StoreUnavailable) -> None:
        """The database cannot answer: reads go to the files until it recovers."""
        with self._lock:
            self.last_error = str(error)
            self.reason = error.reason
            if self.mode == "files":
                return
            self.mode = "files"
            self.since = _now()
            self.switches += 1
            self._entered_at = time.monotonic()
            event = {"event": "fallback", "mode": "files", "reason": error.reason}
            log.warning(json.dumps({**event, "error": str(error), "at": self.since}))
            self.files.start_build()
            # The loop clears _recoverer under this lock when it sees the database
            # mode, so a failure right after a recovery always gets a new loop.
            if self._recoverer is None:
                self._recoverer = threading.Thread(
                    target=self._recover_loop, name="dialogsearch-recovery", daemon=True
                )
                self._recoverer.start()

    def check_now(self) -> None:
        """Probe the database once and switch to the files if it cannot answer."""
        try:
            self.database.probe()
        except StoreUnavailable as error:
            self.enter_fallback(error)

    def _recover_loop(self) -> None:
        """Probe and recover while in files mode; end once the database answers again."""
        while not self._stop.is_set():
            with self._lock:
                if self.mode == "database":
                    self._recoverer = None
                    return
            try:
                self.files.refresh()
                if self._try_recover():
                    continue
            except Exception:  # noqa: BLE001 - a recovery attempt failed: logged, retried
                log.exception("recovery attempt failed; retrying in %s s", self.probe_seconds)
            self._stop.wait(self.probe_seconds)
        with self._lock:
            self._recoverer = None

    def _try_recover(self) -> bool:
        """One probe; rebuild or sync as needed; switch back when the database answers."""
        self.last_probe = _now()
        rebuilt = None
        # Start without connections of ours: an open one can pin a stale shared WAL index
        # (its -wal file removed or replaced), failing every new connection with I/O errors.
        self.database.close()
        try:
            self.database.probe()
            if self.reason == "corrupt":
                self._check_every_page()
            # The probe reads a few pages; the sync reads many more and may find the damage.
            self._sync()
        except StoreUnavailable as error:
            # `reason` stays why reads went to the files; the attempt's failure is last_error.
            self.last_error = str(error)
            if error.reason not in REBUILD_REASONS or not self.rebuild:
                return False
            rebuilt = self._rebuild(error.reason)  # "" unless a corrupt file was moved
            self.database.probe()
            self._sync()
        with self._lock:
            self.mode = "database"
            self.since = _now()
            self.recoveries += 1
            self.last_recovery_seconds = round(time.monotonic() - self._entered_at, 3)
            log.warning(
                json.dumps(
                    {
                        "event": "recovered",
                        "mode": "database",
                        "seconds_in_fallback": self.last_recovery_seconds,
                        "rebuilt": rebuilt is not None,
                        "moved_aside": rebuilt or None,  # the corrupt file's new name
                        "at": self.since,
                    }
                )
            )
            self.last_error = self.reason = None
        reindex(self.root, self.database.db_path)
        with self._lock:
            if self.mode == "database":  # not failed again during that sync
                self.files.drop()
        return True

    def _check_every_page(self) -> None:
        """After SQLite reported damage, StoreUnavailable("corrupt") unless every page reads
        well (PRAGMA integrity_check): the probe and an incremental sync read only a few
        pages, and a database truncated to half its size passed them, switched back, and
        failed again at the next search that read a lost page (the fault checks, now and
        then). Not quick_check: SQLite 3.40.1's reports a NULL in every row of the WITHOUT
        ROWID targets table of a sound database."""
        try:
            conn = self.database.database.open_reader()
            if conn is None:
                raise StoreUnavailable("the database has no dialog tables", "empty")
            try:
                found = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
            finally:
                conn.close()
        except SqliteError as error:
            raise (classify_error(error) or StoreUnavailable(str(error), "corrupt")) from error
        if found != ["ok"]:
            raise StoreUnavailable(f"the database is corrupt ({'; '.join(found)[:300]})", "corrupt")

    def _sync(self) -> None:
        """Files -> database (incremental reindex); a database failure as StoreUnavailable."""
        try:
            reindex(self.root, self.database.db_path)
        except OSError as error:  # e.g. <db>.lock in a read-only database folder
            raise StoreUnavailable(
                f"the database cannot be written ({error.strerror or error})", "unwritable"
            ) from error
        except Exception as error:
            unavailable = classify_error(error)
            if unavailable is None:
                raise
            raise unavailable from error

    def _rebuild(self, reason: str) -> str:
        """Move a corrupt database aside (never delete it) and rebuild it from the files.

        Returns the name the corrupt file was moved to ("" when none was moved).
        """
        db = self.database.db_path
        moved = ""
        if reason == "corrupt" and db.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
            target = db.with_name(f"{db.name}.corrupt-{stamp}")
            number = 1
            while target.exists():
                number += 1
                target = db.with_name(f"{db.name}.corrupt-{stamp}-{number}")
            # -journal: a first load killed mid-run leaves its rollback journal, which
            # belongs to this file (indexer.bulk_load.use_rollback_journal), never to a new one.
            for suffix in ("", "-wal", "-shm", "-journal"):
                source = Path(f"{db}{suffix}")
                if source.exists():
                    os.replace(source, Path(f"{target}{suffix}"))
            moved = target.name
            self.moved_aside.append(moved)
            log.warning(json.dumps({"event": "moved_aside", "file": moved, "reason": reason}))
        summary = reindex(self.root, db)
        log.warning(
            json.dumps(
                {
                    "event": "rebuilt",
                    "reason": reason,
                    "entries": summary.entries_added,
                    "seconds": round(summary.seconds, 3),
                }
            )
        )
        return moved

    # ---- health and shutdown ---------------------------------------------------------

    def health(self, database: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        """Mode, since when and why, with the database's and the file index's reports."""
        if self.mode == "database" and not database["ok"]:
            self.enter_fallback(
                StoreUnavailable(
                    database["last_error"] or "unavailable", database["database"]["status"]
                )
            )
        ok = database["ok"] if self.mode == "database" else files["ok"]
        return {
            "ok": ok,
            "mode": self.mode,
            "since": self.since,
            "reason": self.reason,
            "last_error": self.last_error,
            "database": database["database"],
            "files_index": files["files_index"],
            "probe_seconds": self.probe_seconds,
            "last_probe": self.last_probe,
            "switches": self.switches,
            "recoveries": self.recoveries,
            "last_recovery_seconds": self.last_recovery_seconds,
            "moved_aside": list(self.moved_aside),
        }

    def stop(self) -> None:
        """Stop the recovery thread (the stack closes the stores)."""
        self._stop.set()
        recoverer = self._recoverer
        if recoverer is not None:
            recoverer.join(timeout=30)
