"""MeiliEngine: searches answered by Meilisearch (SEARCH_BACKEND=meilisearch).

searchsvc.engines.meili_query turns the SearchQuery into Meilisearch searches. A search it
cannot express (OR, a prefix before the last word, raw FTS5) is declined, and the
next engine of the stack (searchsvc.stack) answers it, saying so in its `source`.
A mood family needs the colours the index holds: they come from its `mood_rgb`
facet, fetched at most every KNOWN_MOODS_SECONDS.

When Meilisearch errs or times out the search is declined as unavailable and the
next engine answers (the database, then the files), logged as one JSON line. For
`retry_seconds` after a failure, searches are declined at once instead of waiting
for Meilisearch's timeout again; the next search after that tries Meilisearch
again, and a success is logged as the recovery.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from indexer.meili_client import MeiliError, MeiliTimedOut, search_index, server_status
from indexer.meili_documents import MAX_VALUES_PER_FACET
from searchsvc.engines.base import Declined
from searchsvc.engines.meili_query import (
    SOURCE,
    Unexpressible,
    needs_known_moods,
    plan_search,
    search_page,
)
from searchsvc.repository import SearchPage, SearchQuery, StoreUnavailable

log = logging.getLogger("searchsvc.meilisearch")

#: Seconds searches skip Meilisearch after it failed.
DEFAULT_RETRY_SECONDS = 5.0
#: Seconds one search request to Meilisearch may take before SQLite answers instead.
DEFAULT_SEARCH_TIMEOUT_S = 2.0
#: Seconds the list of mood colours the index holds is reused (for mood families).
KNOWN_MOODS_SECONDS = 30.0


class MeiliEngine:
    """Searches answered by Meilisearch; declined when it cannot express them or fails."""

    name = SOURCE
    source = SOURCE

    def __init__(
        self, client: Any, index_uid: str, *, retry_seconds: float = DEFAULT_RETRY_SECONDS
    ) -> None:
        self.client = client
        self.index_uid = index_uid
        self.retry_seconds = retry_seconds
        self.fallbacks = 0
        self.last_error: str | None = None
        self._failing_since: float | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()
        self._moods_lock = threading.Lock()
        self._known_moods: tuple[float, list[str] | None] = (-KNOWN_MOODS_SECONDS, None)

    def search(self, query: SearchQuery) -> SearchPage:
        """From Meilisearch; Declined when it cannot express the query or fails (or failed)."""
        with self._lock:
            skipping = time.monotonic() < self._retry_at
        if skipping:
            raise Declined("unavailable", f"Meilisearch failed: {self.last_error}")
        try:
            page = self.search_meili(query)
        except Unexpressible as error:
            raise Declined("cannot_express", str(error)) from None
        except StoreUnavailable as error:
            raise Declined("unavailable", str(error), event=self._failed(error)) from None
        self._succeeded()
        return page

    def search_meili(self, query: SearchQuery) -> SearchPage:
        """Hits, total and facets from Meilisearch; StoreUnavailable when it fails.

        Raises Unexpressible for a query Meilisearch cannot express.
        """
        try:
            known = self._moods() if needs_known_moods(query.filters) else None
            plan = plan_search(query, known)
            answers = search_index(self.client, self.index_uid, plan.searches)
            return search_page(query, plan, answers)
        except MeiliError as error:
            reason = "timeout" if isinstance(error, MeiliTimedOut) else "error"
            raise StoreUnavailable(f"Meilisearch: {error}", reason=reason) from error
        except (KeyError, TypeError, ValueError) as error:
            raise StoreUnavailable(
                f"Meilisearch answered in an unexpected shape: {error!r}", reason="error"
            ) from error

    def _failed(self, error: StoreUnavailable) -> dict[str, Any]:
        """Count the failure; the event the stack logs (with who answered instead)."""
        with self._lock:
            now = time.monotonic()
            self.fallbacks += 1
            self.last_error = str(error)
            self._retry_at = now + self.retry_seconds
            if self._failing_since is None:
                self._failing_since = now
        return {
            "event": "meilisearch_fallback",
            "reason": error.reason,
            "error": str(error),
            "retry_in_seconds": self.retry_seconds,
        }

    def _succeeded(self) -> None:
        with self._lock:
            if self._failing_since is None:
                return
            seconds = round(time.monotonic() - self._failing_since, 3)
            self._failing_since = None
            self.last_error = None
        log.warning(json.dumps({"event": "meilisearch_recovered", "seconds_failing": seconds}))

    def _moods(self) -> list[str] | None:
        """The mood colours the index holds (None when the facet list may be cut short)."""
        with self._moods_lock:
            fetched_at, moods = self._known_moods
            if time.monotonic() - fetched_at < KNOWN_MOODS_SECONDS:
                return moods
            search = {"q": "", "limit": 0, "facets": ["mood_rgb"]}
            (answer,) = search_index(self.client, self.index_uid, [search])
            values = list((answer.get("facetDistribution") or {}).get("mood_rgb", {}))
            moods = values if len(values) < MAX_VALUES_PER_FACET else None
            self._known_moods = (time.monotonic(), moods)
            return moods

    def health(self) -> dict[str, Any]:
        """Whether Meilisearch answers searches (the stack adds it to the health report)."""
        meili: dict[str, Any] = {"url": self.client.config.url, "index": self.index_uid}
        try:
            meili["status"] = server_status(self.client)
        except MeiliError as error:
            meili.update(status="unreachable", error=str(error))
        with self._lock:
            meili.update(
                failing=self._failing_since is not None,
                last_error=self.last_error,
                fallbacks=self.fallbacks,
            )
        return meili

    def reload_file(self, rel: str) -> None:
        """Nothing to do here: serve's MeiliFollower pushes changes (searchsvc.meili_follow)."""

    def close(self) -> None:
        """Nothing to close: the client holds no connection between requests."""
