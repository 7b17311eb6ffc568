"""What an engine is to the search stack (searchsvc.stack): it answers a search or declines.

Exception
└── Declined     the engine cannot answer this search; `reason` is one of
                 DECLINE_REASONS, and the stack asks the next engine
"""

from __future__ import annotations

from typing import Any, Protocol

from searchsvc.repository import SearchPage, SearchQuery

#: Why an engine may decline a search (Declined.reason).
DECLINE_REASONS = ("behind", "cannot_express", "too_slow", "unavailable")


class Declined(Exception):
    """The engine cannot answer this search; the next engine of the stack is asked.

    `event`, when set, is logged as one JSON line with `answered_by` added.
    """

    def __init__(self, reason: str, detail: str, *, event: dict[str, Any] | None = None) -> None:
        assert reason in DECLINE_REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.event = event


class Engine(Protocol):
    """Something that answers searches: `name` goes to the answer's `engine`."""

    name: str
    source: str

    def search(self, query: SearchQuery) -> SearchPage:
        """The page, or Declined (or StoreUnavailable: its store is down)."""
        ...

    def reload_file(self, rel: str) -> None:
        """The file `rel` changed on disk (a write): follow it."""
        ...

    def close(self) -> None:
        """Release connections and stop background work."""
        ...
