"""MeiliRepository: searches answered by Meilisearch, every other read by the store behind it.

searchsvc.meili_query turns the SearchQuery into Meilisearch searches. A search it
cannot express (OR, a prefix before the last word, raw FTS5) goes to the store behind,
whose answer says so in its `source`. A mood family needs the colours the index holds:
they come from its `mood_rgb` facet, fetched at most every KNOWN_MOODS_SECONDS.

When Meilisearch errs or times out, `search_meili` raises StoreUnavailable and `search`
answers that request from the store behind (FallbackRepository: SQLite, then files),
logging it as one JSON line. For `retry_seconds` after a failure, searches go straight
to the store behind instead of waiting for Meilisearch's timeout again; the next
search after that tries Meilisearch again, and a success is logged as the recovery.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from indexer.push_meili import (
    DEFAULT_INDEX,
    MAX_VALUES_PER_FACET,
    MeiliError,
    MeiliTimedOut,
    open_client,
    search_index,
    server_status,
)
from searchsvc.meili_query import SOURCE, Unexpressible, needs_known_moods, plan_search, search_page
from searchsvc.repository import (
    Repository,
    SearchPage,
    SearchQuery,
    StoredEntry,
    StoreUnavailable,
)

log = logging.getLogger("searchsvc.meilisearch")

#: Seconds searches skip Meilisearch after it failed.
DEFAULT_RETRY_SECONDS = 5.0
#: Seconds one search request to Meilisearch may take before SQLite answers instead.
DEFAULT_SEARCH_TIMEOUT_S = 2.0
#: Seconds the list of mood colours the index holds is reused (for mood families).
KNOWN_MOODS_SECONDS = 30.0


class MeiliRepository:
    """Search from Meilisearch; entries, stats, health and reloads from `behind`."""

    source = SOURCE

    def __init__(
        self,
        client: Any,
        index_uid: str,
        behind: Repository,
        *,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        self.client = client
        self.index_uid = index_uid
        self.behind = behind
        self.retry_seconds = retry_seconds
        self.fallbacks = 0
        self.last_error: str | None = None
        self._failing_since: float | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()
        self._moods_lock = threading.Lock()
        self._known_moods: tuple[float, list[str] | None] = (-KNOWN_MOODS_SECONDS, None)

    def search(self, query: SearchQuery) -> SearchPage:
        """From Meilisearch; from the store behind when it fails (or failed moments ago)."""
        with self._lock:
            skipping = time.monotonic() < self._retry_at
        if skipping:
            return self.behind.search(query)
        try:
            page = self.search_meili(query)
        except Unexpressible:
            return self.behind.search(query)
        except StoreUnavailable as error:
            page = self.behind.search(query)
            self._failed(error, page.source)
            return page
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

    def _failed(self, error: StoreUnavailable, answered_by: str) -> None:
        with self._lock:
            now = time.monotonic()
            self.fallbacks += 1
            self.last_error = str(error)
            self._retry_at = now + self.retry_seconds
            if self._failing_since is None:
                self._failing_since = now
        event = {
            "event": "meilisearch_fallback",
            "reason": error.reason,
            "error": str(error),
            "answered_by": answered_by,
            "retry_in_seconds": self.retry_seconds,
        }
        log.warning(json.dumps(event))

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

    def get_entry(self, entry_id: int) -> StoredEntry | None:
        """The entry, from the store behind (the system of record)."""
        return self.behind.get_entry(entry_id)

    def stats(self, query: SearchQuery | None = None) -> dict[str, Any]:
        """Statistics from the store behind."""
        return self.behind.stats() if query is None else self.behind.stats(query)  # type: ignore[call-arg]

    def health(self) -> dict[str, Any]:
        """The store behind's health, plus whether Meilisearch answers searches."""
        report = dict(self.behind.health())
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
        report["search_backend"] = "meilisearch"
        report["meilisearch"] = meili
        return report

    def reload_file(self, rel: str) -> None:
        """Pass the change on; Meilisearch learns of it at the next push."""
        self.behind.reload_file(rel)

    def close(self) -> None:
        """Close the store behind."""
        self.behind.close()


def meili_in_front(config: Mapping[str, Any], behind: Repository) -> Repository:
    """`behind`, or a MeiliRepository in front of it when SEARCH_BACKEND is meilisearch.

    Reads SEARCH_BACKEND, MEILI_URL, MEILI_API_KEY, MEILI_INDEX, MEILI_TIMEOUT_SECONDS
    and MEILI_RETRY_SECONDS from `config`, then MEILI_URL, MEILI_API_KEY and MEILI_INDEX
    from the environment. Raises ValueError for an unknown backend or a missing URL.
    """
    backend = str(config.get("SEARCH_BACKEND") or "sqlite").strip().lower()
    if backend in ("sqlite", "database", "default"):
        return behind
    if backend != "meilisearch":
        raise ValueError(
            f"DIALOGSEARCH_SEARCH_BACKEND={backend!r} is not one of sqlite, meilisearch"
        )

    def setting(name: str, default: Any = None) -> Any:
        value = config.get(name)
        return value if value not in (None, "") else os.environ.get(name) or default

    url = setting("MEILI_URL")
    if not url:
        raise ValueError(
            "DIALOGSEARCH_SEARCH_BACKEND=meilisearch needs MEILI_URL (e.g. http://127.0.0.1:7700)"
        )
    client = open_client(
        str(url),
        setting("MEILI_API_KEY"),
        timeout_s=float(setting("MEILI_TIMEOUT_SECONDS", DEFAULT_SEARCH_TIMEOUT_S)),
    )
    return MeiliRepository(
        client,
        str(setting("MEILI_INDEX", DEFAULT_INDEX)),
        behind,
        retry_seconds=float(setting("MEILI_RETRY_SECONDS", DEFAULT_RETRY_SECONDS)),
    )
