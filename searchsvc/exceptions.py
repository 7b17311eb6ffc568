"""The domain's errors: what can go wrong in a search or a write, with no HTTP in it.

Engines, the repository and the write service raise these; the web layer maps
each class to a status code, headers and the one error shape in one place
(`searchsvc.errors.init_app`). An error carries domain data (an entry id, a
parameter, a list of problems, a reason, seconds to wait), never a status.

    Exception
    └── DialogsearchError            a request the service refuses: `message`, `errors`
        ├── InvalidRequest           the request must change before it can succeed
        │   ├── InvalidParameter     a parameter cannot be read: `parameter`
        │   ├── QueryError           a search expression the user must change (a ValueError)
        │   │   └── QueryTooExpensive   it ran past the time limit on a healthy store
        │   ├── MalformedBody        the body is not valid JSON
        │   ├── UnsupportedBody      the body is not JSON at all: `content_type`
        │   └── InvalidEntry         fields that cannot be stored, each one in `errors`
        │       └── UnstorableChange    valid fields the entry's own text cannot hold
        ├── NotAuthenticated         a write without a bearer token
        ├── PermissionDenied         a wrong token, or writes are disabled
        ├── EntryNotFound            no entry has `entry_id` (a LookupError)
        ├── ReadOnlySection          a section record (a file's text outside entries)
        ├── EditConflict             the file no longer holds the entry as it was read
        └── Unavailable              nothing changed; try again in `retry_after` seconds
            ├── StoreUnavailable     no store can answer reads now: `reason`
            └── WriteUnavailable     a lock, a dialog file or the database refuses a write

The dialog format's own errors (`entry_edits.UnrepresentableEdit`,
`file_writer.EntryNotInFile`, `file_writer.ReadOnlyEntry`, `dialog_paths.UnsafePath`)
stay that layer's own ValueError / LookupError; the write service turns them into the
errors above, since the same one means a conflict in one write and a bad
change in another.
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


class InvalidParameter(InvalidRequest):
    """A parameter that cannot be read; `parameter` names it, `query` repeats `q`."""

    def __init__(self, parameter: str, message: str, *, query: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.query = query

    @property
    def context(self) -> dict[str, Any]:
        if self.query is None:
            return {"parameter": self.parameter}
        return {"parameter": self.parameter, "query": self.query}


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


class MalformedBody(InvalidRequest):
    """The request body is not valid JSON."""

    def __init__(self, message: str = "The request body is not valid JSON") -> None:
        super().__init__(message)


class UnsupportedBody(InvalidRequest):
    """The request body is not JSON at all; `content_type` is what was sent (or None)."""

    def __init__(self, content_type: str | None) -> None:
        super().__init__("Send the body as JSON with 'Content-Type: application/json'")
        self.content_type = content_type

    @property
    def context(self) -> dict[str, Any]:
        return {"content_type": self.content_type}


class InvalidEntry(InvalidRequest):
    """Entry fields that cannot be stored; `errors` names each field's problem."""


class UnstorableChange(InvalidEntry):
    """Valid fields that the entry's own text cannot hold (its format has no place for them)."""


class NotAuthenticated(DialogsearchError):
    """A write sent without a bearer token."""


class PermissionDenied(DialogsearchError):
    """A write with a wrong token, or with no token configured (writes disabled)."""


class EntryNotFound(DialogsearchError, LookupError):
    """No entry has `entry_id` (deleted, never there, or edited into another id)."""

    def __init__(self, entry_id: int) -> None:
        super().__init__(f"Entry {entry_id} doesn't exist")
        self.entry_id = entry_id

    @property
    def context(self) -> dict[str, Any]:
        return {"entry_id": self.entry_id}


class ReadOnlySection(DialogsearchError):
    """`entry_id` is a section record: a file's text outside dialog entries, read-only."""

    def __init__(self, entry_id: int) -> None:
        super().__init__(
            f"Entry {entry_id} is a section record (a file's text outside dialog entries),"
            " which is read-only; edit the file itself"
        )
        self.entry_id = entry_id

    @property
    def context(self) -> dict[str, Any]:
        return {"entry_id": self.entry_id}


class EditConflict(DialogsearchError):
    """The file cannot take the edit as it is now; `entry_id` is the entry (None: a new one)."""

    def __init__(self, message: str, *, entry_id: int | None = None) -> None:
        super().__init__(message)
        self.entry_id = entry_id

    @classmethod
    def changed_outside(cls, entry_id: int, reason: str) -> EditConflict:
        """The entry's file was edited outside the API: the advice that gets past it."""
        return cls(
            f"Entry {entry_id} was not changed: {reason}. The file was edited outside"
            " the API: run POST /api/dialog/sync to index it as it is now, then find the entry"
            " again (a hand-edited entry gets a new dialog_entry_id) and retry",
            entry_id=entry_id,
        )

    @property
    def context(self) -> dict[str, Any]:
        return {} if self.entry_id is None else {"dialog_entry_id": self.entry_id}


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


class WriteUnavailable(Unavailable):
    """A write lock is held, or a dialog file or the database cannot be read or written."""
