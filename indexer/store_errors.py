"""The domain errors a store raises, and the bases of the domain's error tree they need.

They live here, below the Database (indexer.database) that raises them, because
`indexer` never imports `searchsvc`; `searchsvc.exceptions` re-exports them with
the rest of the tree (its docstring draws all of it), and the web layer maps each
class to HTTP in one place (`searchsvc.web.errors.init_app`). No HTTP in here:

    DialogsearchError            a request the service refuses: `message`, `errors`
    ├── InvalidRequest           the request must change before it can succeed
    │   └── QueryError           a search expression the user must change (a ValueError)
    │       └── QueryTooExpensive   it ran past the time limit on a healthy store
    └── Unavailable              nothing changed; try again in `retry_after` seconds
        └── StoreUnavailable     no store can answer reads now: `reason`
"""

from __future__ import annotations

from typing import Any

#: Seconds a client should wait before asking a store that cannot answer again.
READ_RETRY_AFTER_SECONDS = 5
#: Seconds a client should wait before retrying a write that found a lock held.
WRITE_RETRY_AFTER_SECONDS = 1


class DialogsearchError(Exception):
    """A request the service refuses; `message` says why, `errors` lists each problem."""

    def __init__(self, message: str, *, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self._errors = errors

    @property
    def message(self) -> str:
        """The one-line answer to show the client."""
        return str(self)

    @property
    def errors(self) -> list[str]:
        """Every problem found (the message alone when there is one)."""
        return self._errors if self._errors is not None else [self.message]

    @property
    def context(self) -> dict[str, Any]:
        """Domain data the answer repeats beside the message (JSON-ready)."""
        return {}


class InvalidRequest(DialogsearchError):
    """The request must change before it can succeed."""


class QueryError(InvalidRequest, ValueError):
    """A search the user must change: a bad expression or operator value.

    `str(error)` is the reason alone (as FTS5 gives it); `message` says what it is about.
    """

    def __init__(self, message: str, query: str | None = None) -> None:
        super().__init__(message)
        self.query = query

    @property
    def message(self) -> str:
        return f"Invalid search query: {self}"

    @property
    def context(self) -> dict[str, Any]:
        return {"query": self.query, "reason": "syntax"}


class QueryTooExpensive(QueryError):
    """The query ran past the time limit while the store itself answers quickly."""

    @property
    def message(self) -> str:
        return str(self)

    @property
    def context(self) -> dict[str, Any]:
        return {"query": self.query, "reason": "too_expensive"}


class Unavailable(DialogsearchError):
    """Nothing was done and it may work later: try again in `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int = WRITE_RETRY_AFTER_SECONDS) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreUnavailable(Unavailable):
    """The store cannot answer now; `reason` is missing/corrupt/locked/timeout/error (...).

    `str(error)` is the store's reason alone; `message` says what it means to a client.
    """

    def __init__(
        self, message: str, reason: str = "error", *, retry_after: int = READ_RETRY_AFTER_SECONDS
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.reason = reason

    @property
    def message(self) -> str:
        return f"The search store is unavailable: {self}"

    @property
    def context(self) -> dict[str, Any]:
        return {"reason": self.reason}


class WorkLimitReached(Exception):
    """A statement inside `Database.limited_work()` did more work than it allowed (never
    reaches a client: the caller does something cheaper instead)."""
