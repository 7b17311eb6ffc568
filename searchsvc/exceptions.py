"""The domain's errors: what can go wrong in a search or a write, with no HTTP in it.

Engines, the repository and the write service raise these; the web layer maps
each class to a status code, headers and the one error shape in one place
(`searchsvc.web.errors.init_app`). An error carries domain data (an entry id, a
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
`dialogfile.writer.EntryNotInFile`, `dialogfile.writer.ReadOnlyEntry`, `dialog_paths.UnsafePath`)
stay that layer's own ValueError / LookupError; the write service turns them into the
errors above, since the same one means a conflict in one write and a bad
change in another.
"""

from __future__ import annotations

from typing import Any

from indexer.store_errors import (
    READ_RETRY_AFTER_SECONDS,
    WRITE_RETRY_AFTER_SECONDS,
    DialogsearchError,
    InvalidRequest,
    QueryError,
    QueryTooExpensive,
    StoreUnavailable,
    Unavailable,
)

# Defined below the Database that raises them (indexer.store_errors), re-exported here.
__all__ = [
    "READ_RETRY_AFTER_SECONDS",
    "WRITE_RETRY_AFTER_SECONDS",
    "DialogsearchError",
    "EditConflict",
    "EntryNotFound",
    "InvalidEntry",
    "InvalidParameter",
    "InvalidRequest",
    "MalformedBody",
    "NotAuthenticated",
    "PermissionDenied",
    "QueryError",
    "QueryTooExpensive",
    "ReadOnlySection",
    "StoreUnavailable",
    "Unavailable",
    "UnstorableChange",
    "UnsupportedBody",
    "WriteUnavailable",
]


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
            " the API; a server following the dialogs folder (the default) indexes it as it"
            " is now, moments later (one started with --no-watch needs POST"
            " /api/dialog/sync first): find the entry again (a hand-edited entry gets a new"
            " dialog_entry_id) and retry",
            entry_id=entry_id,
        )

    @property
    def context(self) -> dict[str, Any]:
        return {} if self.entry_id is None else {"dialog_entry_id": self.entry_id}


class WriteUnavailable(Unavailable):
    """A write lock is held, or a dialog file or the database cannot be read or written."""
