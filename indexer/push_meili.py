"""The one module that talks to Meilisearch: documents, settings, batched pushes, searches.

The client is always passed in (`open_client` builds one with a timeout; the official
client otherwise waits forever). Every task is waited for, with a bound, and its final
status checked: a failed task becomes a `MeiliTaskFailed` naming its error, never a
silent success. Errors, as a tree:

    MeiliError                   anything Meilisearch did not do
    ├── MeiliUnavailable         unreachable, or a 5xx answer
    │   └── MeiliTimedOut        no answer within the timeout
    ├── MeiliRequestRejected     a 4xx answer (bad key, bad filter, unknown index, ...)
    └── MeiliTaskFailed          a task ended `failed` or `canceled`

Ids: our `dialog_entry_id` (an int in 1..2**53-1) becomes the document id
`e<decimal id>`, e.g. `e4521`, which always matches Meilisearch's rule for ids
(`[A-Za-z0-9_-]{1,511}`); the int is kept in the document as `dialog_entry_id`.
The primary key attribute is `id`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogfile.fields import DATE_FILTER, FILTERS, TARGETS, TEXT_FIELDS
from indexer import meili_sync
from indexer.database import Database
from indexer.meili_sync import IndexedEntry
from indexer.reindex import reindex_lock

if TYPE_CHECKING:
    import meilisearch
    from meilisearch.errors import MeilisearchError

    from indexer.database import Connection

DEFAULT_INDEX = "dialog_entries"
PRIMARY_KEY = "id"
#: Meilisearch's rule for document ids (its docs: "Primary field").
DOCUMENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,511}")
#: Seconds one HTTP request to Meilisearch may take.
DEFAULT_REQUEST_TIMEOUT_S = 10.0
#: Seconds one task may take to finish once enqueued.
DEFAULT_TASK_TIMEOUT_S = 120.0
DEFAULT_BATCH_DOCUMENTS = 1000
#: Bytes of JSON per document batch, well under Meilisearch's 100 MB payload limit.
DEFAULT_BATCH_BYTES = 8_000_000
#: Files per delete-by-filter task (keeps each filter expression short).
FILES_PER_DELETE = 200

#: The searchable fields, in FTS5 column order (Meilisearch ranks earlier ones higher).
SEARCHABLE_ATTRIBUTES = list(TEXT_FIELDS)
#: The attributes of the filters (dialogfile.fields.FILTERS), in their order.
FILTERABLE_ATTRIBUTES = [
    *(
        attribute
        for spec in FILTERS
        # A path filter's document also lists every folder above the path ("a/", "a/b/"),
        # so `file=a/` is an equality filter.
        for attribute in (spec.meili_attribute, spec.meili_folders)
        if attribute
    ),
    # Internal: which version of its file a document came from, so stale documents
    # of a changed file are deleted by one filter without knowing their ids.
    "file_version",
]
SORTABLE_ATTRIBUTES = [DATE_FILTER.meili_attribute]
# Meilisearch's default rules, then newest first as the last tie-breaker.
RANKING_RULES = [
    "words",
    "typo",
    "proximity",
    "attribute",
    "sort",
    "exactness",
    f"{DATE_FILTER.meili_attribute}:desc",
]
#: Largest total a search reports exactly (Meilisearch's default is 1000).
MAX_TOTAL_HITS = 10_000
#: Most values a facet lists (Meilisearch's default is 100).
MAX_VALUES_PER_FACET = 500
INDEX_SETTINGS: dict[str, Any] = {
    "searchableAttributes": SEARCHABLE_ATTRIBUTES,
    "filterableAttributes": FILTERABLE_ATTRIBUTES,
    "sortableAttributes": SORTABLE_ATTRIBUTES,
    "rankingRules": RANKING_RULES,
    "pagination": {"maxTotalHits": MAX_TOTAL_HITS},
    # Most frequent values first, so a long facet loses only its rarest values.
    "faceting": {"maxValuesPerFacet": MAX_VALUES_PER_FACET, "sortFacetValuesBy": {"*": "count"}},
}


class MeiliError(Exception):
    """Meilisearch did not do what was asked."""


class MeiliUnavailable(MeiliError):
    """Meilisearch could not be reached, timed out, or answered with a 5xx."""


class MeiliTimedOut(MeiliUnavailable):
    """Meilisearch did not answer (or finish a task) in time."""


class MeiliRequestRejected(MeiliError):
    """Meilisearch refused a request (4xx): `code` is its error code."""

    def __init__(self, message: str, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class MeiliTaskFailed(MeiliError):
    """A task ended `failed` or `canceled`; `code` and the message are its error's."""

    def __init__(self, uid: int, task_type: str, status: str, code: str | None, message: str):
        super().__init__(f"task {uid} ({task_type}) {status}: {message} [{code}]")
        self.uid = uid
        self.task_type = task_type
        self.status = status
        self.code = code


def open_client(
    url: str, api_key: str | None = None, *, timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
) -> meilisearch.Client:
    """A client for `url` whose every request gives up after `timeout_s` seconds."""
    import meilisearch  # here, not at the top: the CLI and the app start faster without it

    # The client's timeout is handed to `requests`, which accepts a float.
    return meilisearch.Client(url.rstrip("/"), api_key or None, timeout=timeout_s)  # type: ignore[arg-type]


def document_id(dialog_entry_id: int) -> str:
    """The Meilisearch id of an entry: `e` and the decimal id; ValueError if out of range."""
    if isinstance(dialog_entry_id, bool) or not isinstance(dialog_entry_id, int):
        raise ValueError(f"dialog_entry_id must be an int, not {dialog_entry_id!r}")
    if dialog_entry_id <= 0:
        raise ValueError(f"dialog_entry_id must be positive, not {dialog_entry_id}")
    return f"e{dialog_entry_id}"


def entry_id_from_document_id(doc_id: str) -> int:
    """The `dialog_entry_id` behind a Meilisearch id made by `document_id`."""
    if not (doc_id.startswith("e") and doc_id[1:].isascii() and doc_id[1:].isdigit()):
        raise ValueError(f"not an entry document id: {doc_id!r}")
    return int(doc_id[1:])


def file_version(dialog_file: str, content_hash: str) -> str:
    """A short key for one version of one file (its path and content together)."""
    return hashlib.sha256(f"{dialog_file}\0{content_hash}".encode()).hexdigest()[:24]


def folders_of(dialog_file: str) -> list[str]:
    """Every folder that holds `dialog_file`, outermost first, each ending in '/'."""
    parts = dialog_file.split("/")[:-1]
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def entry_document(stored: IndexedEntry, version: str) -> dict[str, Any]:
    """One entry as a Meilisearch document: the entry's fields, its id, its @targets."""
    document = {
        PRIMARY_KEY: document_id(stored.dialog_entry_id),
        "dialog_entry_id": stored.dialog_entry_id,
        **stored.fields,
        # A JSON string, not an object: free-form keys would each become an index field.
        "metadata_json": stored.metadata_json,
        "file_version": version,
    }
    for spec in FILTERS:
        if spec.kind == TARGETS:
            document[spec.meili_attribute] = list(stored.targets)
        elif spec.meili_folders:
            document[spec.meili_folders] = folders_of(stored.fields[spec.field])
    return document


def filter_value(value: str | int) -> str:
    """A value for a filter expression: a number as is, text double-quoted and escaped.

    Inside a quoted filter string Meilisearch reads `\\"` as `"` and `\\\\` as `\\`
    (since v1.4), so backslashes are doubled first, then quotes escaped.
    """
    if isinstance(value, bool):
        raise ValueError("a filter value cannot be a bool")
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def in_filter(attribute: str, values: Iterable[str | int]) -> str:
    """`attribute IN [v1, v2, ...]` with every value quoted and escaped."""
    return f"{attribute} IN [{', '.join(filter_value(value) for value in values)}]"


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


def _translate(error: MeilisearchError) -> MeiliError:
    """Our exception for one of the client's."""
    from meilisearch.errors import (
        MeilisearchApiError,
        MeilisearchCommunicationError,
        MeilisearchTimeoutError,
    )

    if isinstance(error, MeilisearchApiError):
        if error.status_code >= 500:
            return MeiliUnavailable(f"Meilisearch answered {error.status_code}: {error.message}")
        return MeiliRequestRejected(
            f"Meilisearch refused the request ({error.status_code} {error.code}): {error.message}",
            code=error.code,
            status=error.status_code,
        )
    if isinstance(error, MeilisearchTimeoutError):
        return MeiliTimedOut(f"Meilisearch timed out: {error.message}")
    if isinstance(error, MeilisearchCommunicationError):
        return MeiliUnavailable(f"Meilisearch is unreachable: {error.message}")
    return MeiliUnavailable(f"Meilisearch failed: {error.message}")


def _call(action: Callable[[], Any]) -> Any:
    """Run one client call, turning the client's exceptions into ours."""
    from meilisearch.errors import MeilisearchError

    try:
        return action()
    except MeilisearchError as error:
        raise _translate(error) from error


def wait_for_tasks(
    client: meilisearch.Client, task_uids: list[int], *, timeout_s: float = DEFAULT_TASK_TIMEOUT_S
) -> None:
    """Wait until every task has finished; raise MeiliTaskFailed for the first that failed.

    Raises MeiliUnavailable when a task is still pending after `timeout_s` seconds in all.
    """
    deadline = time.monotonic() + timeout_s
    for uid in task_uids:
        remaining_ms = max(1, int((deadline - time.monotonic()) * 1000))
        task = _call(lambda uid=uid, ms=remaining_ms: client.wait_for_task(uid, timeout_in_ms=ms))
        if task.status != "succeeded":
            error = task.error or {}
            raise MeiliTaskFailed(
                task.uid,
                task.type,
                task.status,
                error.get("code"),
                error.get("message") or f"task ended {task.status} without an error message",
            )


def ensure_index(
    client: meilisearch.Client,
    index_uid: str,
    *,
    task_timeout_s: float = DEFAULT_TASK_TIMEOUT_S,
) -> dict[str, Any]:
    """The index's description (`uid`, `primaryKey`, `createdAt`, ...), created if missing."""
    try:
        return _call(lambda: client.get_raw_index(index_uid))
    except MeiliRequestRejected as error:
        if error.code != "index_not_found":
            raise
    task = _call(lambda: client.create_index(index_uid, {"primaryKey": PRIMARY_KEY}))
    try:
        wait_for_tasks(client, [task.task_uid], timeout_s=task_timeout_s)
    except MeiliTaskFailed as error:
        if error.code != "index_already_exists":  # created meanwhile by another run
            raise
    return _call(lambda: client.get_raw_index(index_uid))


def apply_settings(
    client: meilisearch.Client,
    index_uid: str,
    *,
    task_timeout_s: float = DEFAULT_TASK_TIMEOUT_S,
) -> None:
    """Send INDEX_SETTINGS and wait until Meilisearch has applied them."""
    index = client.index(index_uid)
    task = _call(lambda: index.update_settings(dict(INDEX_SETTINGS)))
    wait_for_tasks(client, [task.task_uid], timeout_s=task_timeout_s)


def search_index(
    client: meilisearch.Client, index_uid: str, searches: list[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Run several searches on one index in one request (`POST /multi-search`).

    Each search is a body of `POST /indexes/{uid}/search`; the answers come back in
    order. Raises MeiliError subclasses, never the client's own exceptions.
    """
    queries = [{"indexUid": index_uid, **search} for search in searches]
    answer = _call(lambda: client.multi_search(queries))
    return list(answer["results"])


def server_status(client: meilisearch.Client) -> str:
    """What `GET /health` says ("available"); raises MeiliError when it cannot be asked."""
    return str(_call(client.health).get("status"))


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
) -> MeiliPushSummary:
    """Bring the index up to date with the database: push changed files, drop gone ones.

    Never raises for Meilisearch's sake: whatever it refused or could not do is in the
    summary (`errors`, `files_not_pushed`), and those files stay unrecorded so the next
    push retries them. Database errors propagate.
    """
    started = time.monotonic()
    url = client.config.url
    summary = MeiliPushSummary(url=url, index_uid=index_uid)
    prefix = f"{url} {index_uid} "
    plan: meili_sync.SyncPlan | None = None
    done: set[str] = set()
    try:
        info = ensure_index(client, index_uid, task_timeout_s=task_timeout_s)
        apply_settings(client, index_uid, task_timeout_s=task_timeout_s)
        summary.tasks += 1
        index_key = prefix + str(info.get("createdAt"))
        meili_sync.forget_old_incarnations(conn, prefix, index_key)
        plan = meili_sync.plan_sync(conn, index_key, full=full)
        summary.files_unchanged = plan.unchanged
        pusher = _Pusher(conn, client, index_uid, index_key, summary, task_timeout_s, done)
        for files in _file_groups(conn, plan.to_push, batch_documents):
            pusher.push_files(files, batch_documents=batch_documents, batch_bytes=batch_bytes)
            if progress:
                progress(f"meilisearch: {summary.files_pushed}/{len(plan.to_push)} files")
        for start in range(0, len(plan.to_remove), FILES_PER_DELETE):
            pusher.remove_files(list(plan.to_remove[start : start + FILES_PER_DELETE]))
        if plan.sweep:
            pusher.sweep([file_version(path, digest) for path, digest in plan.current])
    except MeiliError as error:
        summary.errors.append(str(error))
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
    """Push the database at `db_path` to Meilisearch at `url`, holding the reindex lock.

    The lock keeps a concurrent reindex from changing the database mid-push.
    Raises ReindexBusy when another run holds it for more than `wait` seconds.
    """
    client = open_client(url, api_key, timeout_s=request_timeout_s)
    with reindex_lock(Path(db_path), wait):
        conn = Database(db_path).open_writer()
        try:
            return push_to_meilisearch(
                conn, client, index_uid, full=full, task_timeout_s=task_timeout_s
            )
        finally:
            conn.close()


def _file_groups(
    conn: Connection, files: Iterable[tuple[str, str]], batch_documents: int
) -> Iterator[list[tuple[str, str, list[IndexedEntry]]]]:
    """Whole files grouped until a group holds about `batch_documents` entries."""
    group: list[tuple[str, str, list[IndexedEntry]]] = []
    count = 0
    for path, content_hash in files:
        entries = meili_sync.stored_entries(conn, path)
        group.append((path, content_hash, entries))
        count += len(entries)
        if count >= batch_documents:
            yield group
            group, count = [], 0
    if group:
        yield group


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
    ) -> None:
        self.conn = conn
        self.client = client
        self.index = client.index(index_uid)
        self.index_key = index_key
        self.summary = summary
        self.task_timeout_s = task_timeout_s
        self.done = done

    def _run(self, enqueue: list[Callable[[], Any]]) -> None:
        """Enqueue tasks in order, then wait for all; raise on the first failure."""
        uids = [_call(action).task_uid for action in enqueue]
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
        meili_sync.forget_files(self.conn, self.index_key, paths)
        self.done.update(paths)
        self.summary.files_removed += len(paths)

    def sweep(self, current_versions: list[str]) -> None:
        """Delete documents of every file version the database does not have now.

        Runs only when every file went through; otherwise the records are dropped so
        that the next push is a full one and sweeps then.
        """
        if self.summary.errors:
            meili_sync.forget_index(self.conn, self.index_key)
            return
        if current_versions:
            versions = "NOT " + in_filter("file_version", current_versions)
            action: Callable[[], Any] = lambda: self.index.delete_documents(filter=versions)  # noqa: E731
        else:
            action = self.index.delete_all_documents
        try:
            self._run([action])
        except MeiliTaskFailed as error:
            self.summary.errors.append(f"{error} (deleting documents of files gone)")
            meili_sync.forget_index(self.conn, self.index_key)


def _names(files: list[tuple[str, str, list[IndexedEntry]]]) -> str:
    """A short list of the files' paths for an error message."""
    paths = [path for path, _, _ in files]
    return ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
