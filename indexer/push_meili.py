"""Push the database to Meilisearch: changed files' documents in batches, gone files deleted.

`push_to_meilisearch` plans per file (indexer/meili_sync.py records what the index
holds), encodes the documents (indexer/meili_documents.py) in batches, enqueues the
tasks and records only what a task acknowledged; indexer/meili_client.py is the
HTTP edge. Never raises for Meilisearch's sake: the summary says what did not go
through. The index settings, document ids and `open_client`, which callers import
from here, are re-exported.

Locks (`push_database`): `<db>.meili.lock` for the whole push, so two pushes (the CLI's,
a server's follower) never interleave their tasks; the reindex lock `<db>.lock` only
around each read and write of the database, never while Meilisearch is waited for, so
a push never reads a file half-changed by a reindex or a write, and neither of those
waits for Meilisearch. Each file's documents and the content hash recorded for them are
read together under that lock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexer import meili_sync
from indexer.database import Database
from indexer.meili_client import (
    DEFAULT_REQUEST_TIMEOUT_S,
    DEFAULT_TASK_TIMEOUT_S,
    MeiliError,
    MeiliTaskFailed,
    apply_settings,
    call_client,
    ensure_index,
    open_client,
    wait_for_tasks,
)
from indexer.meili_documents import (
    DOCUMENT_ID_PATTERN,
    FILTERABLE_ATTRIBUTES,
    INDEX_SETTINGS,
    PRIMARY_KEY,
    RANKING_RULES,
    SEARCHABLE_ATTRIBUTES,
    SORTABLE_ATTRIBUTES,
    document_id,
    entry_document,
    entry_id_from_document_id,
    file_version,
    filter_value,
    folders_of,
    in_filter,
)
from indexer.meili_sync import IndexedEntry
from indexer.reindex import advisory_lock, reindex_lock

if TYPE_CHECKING:
    import meilisearch

    from indexer.database import Connection

__all__ = [
    "DEFAULT_BATCH_BYTES",
    "DEFAULT_BATCH_DOCUMENTS",
    "DEFAULT_INDEX",
    "DOCUMENT_ID_PATTERN",
    "FILES_PER_DELETE",
    "FILTERABLE_ATTRIBUTES",
    "INDEX_SETTINGS",
    "RANKING_RULES",
    "SEARCHABLE_ATTRIBUTES",
    "SORTABLE_ATTRIBUTES",
    "MeiliPushSummary",
    "document_id",
    "encoded_batches",
    "entry_document",
    "files_behind",
    "index_prefix",
    "entry_id_from_document_id",
    "filter_value",
    "folders_of",
    "open_client",
    "push_database",
    "push_lock",
    "push_to_meilisearch",
]

DEFAULT_INDEX = "dialog_entries"
DEFAULT_BATCH_DOCUMENTS = 1000
#: Bytes of JSON per document batch, well under Meilisearch's 100 MB payload limit.
DEFAULT_BATCH_BYTES = 8_000_000
#: Files per delete-by-filter task (keeps each filter expression short).
FILES_PER_DELETE = 200

#: Entered around every read and write of the database during a push (never around a
#: wait for Meilisearch); the default enters nothing: the caller holds the lock throughout.
Guard = Callable[[], AbstractContextManager[Any]]


def encoded_batches(
    documents: list[dict[str, Any]],
    *,
    max_documents: int = DEFAULT_BATCH_DOCUMENTS,
    max_bytes: int = DEFAULT_BATCH_BYTES,
) -> Iterator[tuple[int, bytes]]:
    """(documents, UTF-8 JSON array) batches of at most `max_documents` and `max_bytes`.

    A batch is encoded once, and that encoding is what is sent; one over `max_bytes`
    is split in halves (a single larger document goes alone).
    """
    for start in range(0, len(documents), max_documents):
        yield from _fitted(documents[start : start + max_documents], max_bytes)


def _fitted(batch: list[dict[str, Any]], max_bytes: int) -> Iterator[tuple[int, bytes]]:
    payload = json.dumps(batch, ensure_ascii=False).encode("utf-8")
    if len(payload) <= max_bytes or len(batch) == 1:
        yield len(batch), payload
        return
    half = len(batch) // 2
    yield from _fitted(batch[:half], max_bytes)
    yield from _fitted(batch[half:], max_bytes)


@dataclass
class MeiliPushSummary:
    """What one push did: counts, the files it could not push, and why."""

    url: str
    index_uid: str
    files_pushed: int = 0
    files_removed: int = 0
    files_unchanged: int = 0
    documents_pushed: int = 0
    tasks: int = 0
    files_not_pushed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when everything that needed pushing was pushed."""
        return not self.errors and not self.files_not_pushed

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return {
            "url": self.url,
            "index": self.index_uid,
            "ok": self.ok,
            "files_pushed": self.files_pushed,
            "files_removed": self.files_removed,
            "files_unchanged": self.files_unchanged,
            "documents_pushed": self.documents_pushed,
            "tasks": self.tasks,
            "files_not_pushed": list(self.files_not_pushed),
            "errors": list(self.errors),
            "seconds": round(self.seconds, 3),
        }

    def lines(self) -> list[str]:
        """The summary as lines for the CLI."""
        lines = [
            f"meilisearch {self.url} index {self.index_uid}: {self.files_pushed} files pushed "
            f"({self.documents_pushed} documents), {self.files_removed} removed, "
            f"{self.files_unchanged} unchanged, {self.tasks} tasks, {self.seconds:.2f}s"
        ]
        if self.files_not_pushed:
            shown = ", ".join(self.files_not_pushed[:10])
            more = len(self.files_not_pushed) - 10
            lines.append(
                f"meilisearch: {len(self.files_not_pushed)} files NOT pushed: {shown}"
                + (f" and {more} more" if more > 0 else "")
                + " (the next reindex with --meili-url pushes them)"
            )
        lines.extend(f"meilisearch error: {error}" for error in self.errors)
        return lines


def push_to_meilisearch(
    conn: Connection,
    client: meilisearch.Client,
    index_uid: str = DEFAULT_INDEX,
    *,
    full: bool = False,
    batch_documents: int = DEFAULT_BATCH_DOCUMENTS,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    task_timeout_s: float = DEFAULT_TASK_TIMEOUT_S,
    progress: Callable[[str], None] | None = None,
    guard: Guard = nullcontext,
) -> MeiliPushSummary:
    """Bring the index up to date with the database: push changed files, drop gone ones.

    Never raises for Meilisearch's sake: whatever it refused or could not do is in the
    summary (`errors`, `files_not_pushed`), and those files stay unrecorded so the next
    push retries them. Database errors propagate, and so does ReindexBusy from `guard`
    (what was acknowledged until then stays recorded).
    """
    started = time.monotonic()
    url = client.config.url
    summary = MeiliPushSummary(url=url, index_uid=index_uid)
    prefix = index_prefix(url, index_uid)
    plan: meili_sync.SyncPlan | None = None
    done: set[str] = set()
    try:
        info = ensure_index(client, index_uid, task_timeout_s=task_timeout_s)
        apply_settings(client, index_uid, task_timeout_s=task_timeout_s)
        summary.tasks += 1
        index_key = prefix + str(info.get("createdAt"))
        with guard():
            meili_sync.forget_old_incarnations(conn, prefix, index_key)
            plan = meili_sync.plan_sync(conn, index_key, full=full)
        summary.files_unchanged = plan.unchanged
        pusher = _Pusher(conn, client, index_uid, index_key, summary, task_timeout_s, done, guard)
        pusher.run(plan, batch_documents, batch_bytes, progress)
    except MeiliError as error:
        summary.errors.append(str(error))
        with guard():
            if plan is None:
                # Meilisearch never answered: judge from the last records of this index.
                recorded_key = meili_sync.recorded_index_key(conn, prefix)
                plan = meili_sync.plan_sync(conn, recorded_key or "", full=full)
                summary.files_unchanged = plan.unchanged
            elif plan.sweep:
                meili_sync.forget_index(conn, index_key)  # so the next push sweeps
    if plan is not None:
        pending = [path for path, _ in plan.to_push] + list(plan.to_remove)
        summary.files_not_pushed = sorted(path for path in pending if path not in done)
    summary.seconds = time.monotonic() - started
    return summary


def index_prefix(url: str, index_uid: str) -> str:
    """The start of every `meili_sync` key of one index, whatever its incarnation."""
    return f"{url.rstrip('/')} {index_uid} "


def push_lock(db_path: str | Path, wait: float) -> AbstractContextManager[None]:
    """Hold `<db>.meili.lock`: one push of this database at a time, across processes."""
    lock_path = Path(f"{db_path}.meili.lock")
    busy = f"{db_path}: another push to Meilisearch is running (waited {wait:g} s for {lock_path})"
    return advisory_lock(lock_path, wait, busy)


def push_database(
    db_path: str | Path,
    url: str,
    api_key: str | None = None,
    index_uid: str = DEFAULT_INDEX,
    *,
    full: bool = False,
    wait: float = 60.0,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    task_timeout_s: float = DEFAULT_TASK_TIMEOUT_S,
) -> MeiliPushSummary:
    """Push the database at `db_path` to Meilisearch at `url` (the locks: module docstring).

    Raises ReindexBusy when another push, or a reindex, holds its lock for more than
    `wait` seconds.
    """
    client = open_client(url, api_key, timeout_s=request_timeout_s)
    db_path = Path(db_path)
    with push_lock(db_path, wait):
        with reindex_lock(db_path, wait):
            # Never created or migrated here: the reindex that made it did that.
            conn = Database(db_path).open_writer(migrate=False)
        try:
            return push_to_meilisearch(
                conn,
                client,
                index_uid,
                full=full,
                task_timeout_s=task_timeout_s,
                guard=lambda: reindex_lock(db_path, wait),
            )
        finally:
            conn.close()


def files_behind(db_path: str | Path, url: str, index_uid: str, paths: Iterable[str]) -> list[str]:
    """Of `paths`, the files the index's records say it lacks in the database's version.

    Judged from the records of the incarnation last pushed to (Meilisearch is not asked);
    every path when none was ever pushed. No database: none.
    """
    conn = Database(db_path).open_reader()
    if conn is None:
        return []
    try:
        index_key = meili_sync.recorded_index_key(conn, index_prefix(url, index_uid))
        if index_key is None:
            return sorted(paths)
        return meili_sync.files_behind(conn, index_key, paths)
    finally:
        conn.close()


def _file_groups(
    conn: Connection,
    files: Iterable[tuple[str, str]],
    batch_documents: int,
    guard: Guard,
    gone: set[str],
) -> Iterator[list[tuple[str, str, list[IndexedEntry]]]]:
    """Whole files (path, hash, entries) grouped until a group holds about `batch_documents`.

    Each group is read under `guard`, each file's hash with its entries (the hash may be
    newer than the plan's); a file gone from the database since the plan joins `gone`.
    """
    queue = iter(files)
    while True:
        group: list[tuple[str, str, list[IndexedEntry]]] = []
        count = 0
        with guard():
            for path, _ in queue:
                content_hash = meili_sync.file_hash(conn, path)
                if content_hash is None:
                    gone.add(path)  # the next push removes what the index holds of it
                    continue
                entries = meili_sync.stored_entries(conn, path)
                group.append((path, content_hash, entries))
                count += len(entries)
                if count >= batch_documents:
                    break
        if not group:
            return
        yield group  # outside the guard: the caller waits for Meilisearch now


class _Pusher:
    """Enqueues the tasks of one push and records what every task acknowledged."""

    def __init__(
        self,
        conn: Connection,
        client: meilisearch.Client,
        index_uid: str,
        index_key: str,
        summary: MeiliPushSummary,
        task_timeout_s: float,
        done: set[str],
        guard: Guard,
    ) -> None:
        self.conn = conn
        self.guard = guard
        self.client = client
        self.index = client.index(index_uid)
        self.index_key = index_key
        self.summary = summary
        self.task_timeout_s = task_timeout_s
        self.done = done

    def run(
        self,
        plan: meili_sync.SyncPlan,
        batch_documents: int,
        batch_bytes: int,
        progress: Callable[[str], None] | None,
    ) -> None:
        """Push the plan's files, remove its gone ones, then sweep when it says so."""
        groups = _file_groups(self.conn, plan.to_push, batch_documents, self.guard, self.done)
        for files in groups:
            self.push_files(files, batch_documents=batch_documents, batch_bytes=batch_bytes)
            if progress:
                progress(f"meilisearch: {self.summary.files_pushed}/{len(plan.to_push)} files")
        for start in range(0, len(plan.to_remove), FILES_PER_DELETE):
            self.remove_files(list(plan.to_remove[start : start + FILES_PER_DELETE]))
        if plan.sweep:
            self.sweep()

    def _run(self, enqueue: list[Callable[[], Any]]) -> None:
        """Enqueue tasks in order, then wait for all; raise on the first failure."""
        uids = [call_client(action).task_uid for action in enqueue]
        self.summary.tasks += len(uids)
        wait_for_tasks(self.client, uids, timeout_s=self.task_timeout_s)

    def push_files(
        self,
        files: list[tuple[str, str, list[IndexedEntry]]],
        *,
        batch_documents: int,
        batch_bytes: int,
    ) -> None:
        """Add or replace the documents of whole files, then delete their stale ones."""
        documents = [
            entry_document(stored, file_version(path, digest))
            for path, digest, entries in files
            for stored in entries
        ]
        enqueue: list[Callable[[], Any]] = [
            lambda payload=payload: self.index.add_documents_raw(
                payload, primary_key=PRIMARY_KEY, content_type="application/json"
            )
            for _, payload in encoded_batches(
                documents, max_documents=batch_documents, max_bytes=batch_bytes
            )
        ]
        # Added first, deleted after: tasks run in order, so a search never misses an
        # entry that stays (no window where the file's documents are all gone).
        stale = (
            f"{in_filter('dialog_file', [path for path, _, _ in files])} AND NOT "
            f"{in_filter('file_version', [file_version(p, d) for p, d, _ in files])}"
        )
        enqueue.append(lambda: self.index.delete_documents(filter=stale))
        try:
            self._run(enqueue)
        except MeiliTaskFailed as error:
            # Those files stay unrecorded (retried next time); the others go on.
            self.summary.errors.append(f"{error} (files: {_names(files)})")
            return
        with self.guard():
            meili_sync.record_pushed(
                self.conn,
                self.index_key,
                [(path, digest, len(entries)) for path, digest, entries in files],
            )
        self.done.update(path for path, _, _ in files)
        self.summary.files_pushed += len(files)
        self.summary.documents_pushed += len(documents)

    def remove_files(self, paths: list[str]) -> None:
        """Delete every document of files the database no longer has."""
        try:
            self._run([lambda: self.index.delete_documents(filter=in_filter("dialog_file", paths))])
        except MeiliTaskFailed as error:
            self.summary.errors.append(f"{error} (removing: {', '.join(paths[:5])})")
            return
        with self.guard():
            meili_sync.forget_files(self.conn, self.index_key, paths)
        self.done.update(paths)
        self.summary.files_removed += len(paths)

    def sweep(self) -> None:
        """Delete documents of every file version the records do not list.

        Runs only when every file went through (the records then list every file the
        database had, each in the version pushed); otherwise the records are dropped so
        that the next push is a full one and sweeps then.
        """
        with self.guard():
            if self.summary.errors:
                meili_sync.forget_index(self.conn, self.index_key)
                return
            recorded = meili_sync.recorded_files(self.conn, self.index_key)
        current_versions = [file_version(path, digest) for path, digest in recorded]
        if current_versions:
            versions = "NOT " + in_filter("file_version", current_versions)
            action: Callable[[], Any] = lambda: self.index.delete_documents(filter=versions)  # noqa: E731
        else:
            action = self.index.delete_all_documents
        try:
            self._run([action])
        except MeiliTaskFailed as error:
            self.summary.errors.append(f"{error} (deleting documents of files gone)")
            with self.guard():
                meili_sync.forget_index(self.conn, self.index_key)


def _names(files: list[tuple[str, str, list[IndexedEntry]]]) -> str:
    """A short list of the files' paths for an error message."""
    paths = [path for path, _, _ in files]
    return ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
