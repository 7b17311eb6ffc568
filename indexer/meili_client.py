"""The Meilisearch edge: the client, its calls and tasks, the index, its settings, searches.

The client is always passed in (`open_client` builds one with a timeout; the official
client otherwise waits forever). Every request to it goes through `call_client`, which
turns the client's exceptions into ours (indexer/push_meili.py enqueues its document
tasks that way too). Every task is waited for, with a bound, and its final
status checked: a failed task becomes a `MeiliTaskFailed` naming its error, never a
silent success. Errors, as a tree:

    MeiliError                   anything Meilisearch did not do
    ├── MeiliUnavailable         unreachable, or a 5xx answer
    │   └── MeiliTimedOut        no answer within the timeout
    ├── MeiliRequestRejected     a 4xx answer (bad key, bad filter, unknown index, ...)
    └── MeiliTaskFailed          a task ended `failed` or `canceled`

What the index holds (settings, documents, ids, filters) is indexer/meili_documents.py's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from indexer.meili_documents import INDEX_SETTINGS, PRIMARY_KEY

if TYPE_CHECKING:
    import meilisearch
    from meilisearch.errors import MeilisearchError

#: Seconds one HTTP request to Meilisearch may take.
DEFAULT_REQUEST_TIMEOUT_S = 10.0
#: Seconds one task may take to finish once enqueued.
DEFAULT_TASK_TIMEOUT_S = 120.0


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


def call_client(action: Callable[[], Any]) -> Any:
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
        task = call_client(
            lambda uid=uid, ms=remaining_ms: client.wait_for_task(uid, timeout_in_ms=ms)
        )
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
        return call_client(lambda: client.get_raw_index(index_uid))
    except MeiliRequestRejected as error:
        if error.code != "index_not_found":
            raise
    task = call_client(lambda: client.create_index(index_uid, {"primaryKey": PRIMARY_KEY}))
    try:
        wait_for_tasks(client, [task.task_uid], timeout_s=task_timeout_s)
    except MeiliTaskFailed as error:
        if error.code != "index_already_exists":  # created meanwhile by another run
            raise
    return call_client(lambda: client.get_raw_index(index_uid))


def apply_settings(
    client: meilisearch.Client,
    index_uid: str,
    *,
    task_timeout_s: float = DEFAULT_TASK_TIMEOUT_S,
) -> None:
    """Send INDEX_SETTINGS and wait until Meilisearch has applied them."""
    index = client.index(index_uid)
    task = call_client(lambda: index.update_settings(dict(INDEX_SETTINGS)))
    wait_for_tasks(client, [task.task_uid], timeout_s=task_timeout_s)


def search_index(
    client: meilisearch.Client, index_uid: str, searches: list[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Run several searches on one index in one request (`POST /multi-search`).

    Each search is a body of `POST /indexes/{uid}/search`; the answers come back in
    order. Raises MeiliError subclasses, never the client's own exceptions.
    """
    queries = [{"indexUid": index_uid, **search} for search in searches]
    answer = call_client(lambda: client.multi_search(queries))
    return list(answer["results"])


def server_status(client: meilisearch.Client) -> str:
    """What `GET /health` says ("available"); raises MeiliError when it cannot be asked."""
    return str(call_client(client.health).get("status"))
