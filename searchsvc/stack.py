"""The search stack: which engine answers, decided in this one module.

A search asks the engines in this order and takes the first answer
(`SearchStack.engines_now`); an engine that cannot answer *declines* with a reason:

    engine       source       declines when
    meilisearch  meilisearch  cannot_express: OR, raw FTS5, a prefix before the last word
                              unavailable: an error or time-out (and for retry_seconds after)
    topk         database     behind: the index and its delta of the changes since its
                              last sync do not reach the database (read-your-writes)
                              cannot_express: raw FTS5, a word tantivy would split otherwise
                              too_slow: prefixes past 100,000 terms (no term statistics)
                              unavailable: no index yet, or the index failed
    fts5         database     never: it answers, or the database is unavailable
                              (StoreUnavailable), and then the files answer every read
                              until DatabaseRecovery brings the database back
    files        files        never: the last resort (its StoreUnavailable is a 503)

Each engine is asked the search as its budget bounds it (searchsvc.query.budget, from
its source's term statistics: `_term_stats`); the answer's `cuts` say what was left out.
The database's engines are skipped while the database is unavailable (mode "files").
Entries and stats come from the database while it answers, else from the files. The
answer's `source` and `engine` are set here, from the engine that answered.

When an engine finds nothing, it is asked once more with the words that match nothing
corrected (searchsvc.query.typos) from its source's vocabulary: the database's terms
for topk and fts5, the file index's for files (Meilisearch corrects typos itself).
Both vocabularies hold the same terms, so every engine makes the same corrections.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer.meili_client import open_client
from indexer.topk_index import default_index_dir
from searchsvc.engines.base import Declined, Engine
from searchsvc.engines.repo_files import FileRepository
from searchsvc.engines.repo_meili import MeiliEngine
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.engines.repo_topk import TopkEngine
from searchsvc.engines.sqlite_vocabulary import DatabaseVocabulary
from searchsvc.query.budget import Bounded, TermStats, bound, budget_for
from searchsvc.query.filters import Filters
from searchsvc.query.fts_query import MatchQuery
from searchsvc.query.names import NAME_FILTERS, NameIndex
from searchsvc.query.plan import engine_query, finished_page
from searchsvc.query.typos import Correction, Vocabulary, correct
from searchsvc.recovery import DatabaseRecovery
from searchsvc.repository import SearchPage, SearchQuery, StoredEntry, StoreUnavailable
from searchsvc.settings import Settings


class SearchStack:
    """The app's repository: engines for searches, the database or files for the rest."""

    def __init__(
        self,
        *,
        database: SqliteRepository | None = None,
        files: FileRepository | None = None,
        topk: TopkEngine | None = None,
        meili: MeiliEngine | None = None,
        recovery: DatabaseRecovery | None = None,
    ) -> None:
        if database is None and files is None:
            raise ValueError("a search stack needs the database, the files or both")
        self.database = database
        self.files = files
        self.topk = topk
        self.meili = meili
        self.recovery = recovery
        #: The DialogWatcher following the root (searchsvc.watcher), when serve started one.
        self.watcher: Any = None
        #: The MeiliFollower pushing changes to Meilisearch (searchsvc.meili_follow), if any.
        self.meili_follower: Any = None
        self.answered: Counter[str] = Counter()
        #: The index's change point (`index_state`): a count of changes and when the last was.
        self._changes = 0
        self._changed_at = _now()
        self._changes_lock = threading.Lock()
        #: Each source's vocabulary, for typo correction.
        self.vocabularies: dict[str, Vocabulary] = {}
        self._database_vocabulary: DatabaseVocabulary | None = None
        if database is not None:
            self._database_vocabulary = DatabaseVocabulary(database.database)
            self.vocabularies["database"] = self._database_vocabulary
        if files is not None:
            self.vocabularies["files"] = files.vocabulary

    @classmethod
    def with_fallback(
        cls,
        database: SqliteRepository,
        files: FileRepository,
        *,
        root: Path,
        probe_seconds: float = 5.0,
        rebuild: bool = True,
        topk: TopkEngine | None = None,
        meili: MeiliEngine | None = None,
    ) -> SearchStack:
        """The database (and its engines) first, the files while it cannot answer."""
        recovery = DatabaseRecovery(
            database, files, root=root, probe_seconds=probe_seconds, rebuild=rebuild
        )
        return cls(database=database, files=files, topk=topk, meili=meili, recovery=recovery)

    @property
    def mode(self) -> str:
        """Where entries come from now: "database" or "files"."""
        if self.database is None:
            return "files"
        return self.recovery.mode if self.recovery is not None else "database"

    @property
    def source(self) -> str:
        """Where answers come from now (the mode)."""
        return self.mode

    def engines_now(self) -> list[Engine]:
        """The engines a search asks now, in order: the whole routing policy."""
        engines: list[Any] = [self.meili] if self.meili is not None else []
        if self.mode == "database":
            engines += [engine for engine in (self.topk, self.database) if engine is not None]
        if self.files is not None:
            engines.append(self.files)
        return engines

    def search(self, query: SearchQuery) -> SearchPage:
        """The first answer of engines_now() to the query made for engines (query.plan).

        Names are resolved to every spelling, the scope becomes a format filter, name
        facets are folded per person, and both scopes are counted (`scopes`).
        """
        names = self._names(query.filters)
        page = finished_page(query, self._answer(engine_query(query, names)))
        if page.total == 0 and page.folded:
            # Only copies match, not what they fold into (a garbled backup holds words its
            # original does not): shown unfolded rather than nothing found.
            query = replace(query, collapse=False)
            page = finished_page(query, self._answer(engine_query(query, names)))
        return self._with_copies(page) if page.folded else page

    def _entries_store(self) -> SqliteRepository | FileRepository | None:
        """Where entries (names, copies) come from now: the database, else the files."""
        return self.database if self.mode == "database" else self.files

    def _names(self, filters: Filters) -> NameIndex | None:
        """The spellings of names where entries come from now, when `filters` name someone
        (None otherwise, or while no store can say): most searches need no read for it."""
        if not any(filters.get(name) or filters.get_excluded(name) for name in NAME_FILTERS):
            return None
        store = self._entries_store()
        try:
            return store.names() if store is not None else None
        except StoreUnavailable as error:
            # The database noticed it cannot answer: the files answer from now on, as
            # for a search (a fault seen here must not be lost to the search after it).
            if store is self.database and self._fall_back(error):
                return self._names(filters)
            return None

    def _with_copies(self, page: SearchPage) -> SearchPage:
        """The hits with the places of their copies (`also_in`), as far as the store says."""
        store = self._entries_store()
        try:
            copies = store.copies_of([hit.entry_id for hit in page.hits]) if store else {}
        except StoreUnavailable:
            return page
        hits = tuple(
            replace(hit, also_in=copies[hit.entry_id][0], copies=copies[hit.entry_id][1])
            if hit.entry_id in copies
            else replace(hit, also_in=())
            for hit in page.hits
        )
        return replace(page, hits=hits)

    def _answer(self, query: SearchQuery) -> SearchPage:
        """The first answer of engines_now(); StoreUnavailable when none can answer."""
        try:
            return self._first_answer(query)
        except StoreUnavailable as error:
            if not self._back_while_building(error):
                raise
            return self._first_answer(query)

    def _back_while_building(self, error: StoreUnavailable) -> bool:
        """Whether the database answers again after this read waited for the file index
        (its build then goes unused): the read asks the database once more."""
        return error.reason == "building" and self.mode == "database"

    def _first_answer(self, query: SearchQuery) -> SearchPage:
        """The first answer of engines_now(), each engine asked the search as its source's
        budget bounds it (query.budget)."""
        declines: list[tuple[str, Declined]] = []
        corrections: dict[str, Correction] = {}  # per source
        for engine in self.engines_now():
            try:
                bounded = self._bound(query.match, engine)
                page = self._search_bounded(engine, query, bounded)
                if page.total == 0 and query.typos:
                    page = self._corrected_search(engine, query, corrections) or page
            except Declined as declined:
                declines.append((engine.name, declined))
                continue
            except StoreUnavailable as error:
                if engine.source != "database" or not self._fall_back(error):
                    raise
                continue
            self.answered[engine.name] += 1
            for name, declined in declines:
                if declined.event is not None:  # logged as the declining engine's
                    event = {**declined.event, "answered_by": engine.source}
                    logging.getLogger(f"searchsvc.{name}").warning(json.dumps(event))
            return replace(page, source=engine.source, engine=engine.name)
        raise StoreUnavailable("no search engine can answer now", "unavailable")

    def _corrected_search(
        self, engine: Engine, query: SearchQuery, corrections: dict[str, Correction]
    ) -> SearchPage | None:
        """The engine's answer with the query's typos corrected, when that finds something."""
        vocabulary = self.vocabularies.get(engine.source)
        if vocabulary is None:
            return None
        correction = corrections.get(engine.source)
        if correction is None:
            correction = corrections[engine.source] = correct(query.match, vocabulary)
        if not correction.corrected:
            return None
        bounded = self._bound(correction.match, engine)
        page = self._search_bounded(engine, query, bounded)
        return replace(page, corrected=correction.corrected) if page.total else None

    def _bound(self, match: MatchQuery | None, engine: Engine) -> Bounded:
        """`match` as the engine's budget lets it run, by its source's term statistics."""
        return bound(match, self._term_stats(engine.source), budget_for(engine.name))

    def _term_stats(self, source: str) -> TermStats | None:
        """The terms of `source` as the budget reads them: the top-k index's for the
        database (FTS5 answers while it is behind by a moment), else FTS5's own (read in
        the background once), the file index's for the files; None when there are none
        yet (the budget's counts alone apply)."""
        if source == "database":
            stats = self.topk.term_stats() if self.topk is not None else None
            if stats is None and self._database_vocabulary is not None:
                stats = self._database_vocabulary.term_stats()
            return stats
        if source == "files" and self.files is not None:
            return self.files.vocabulary
        return None

    @staticmethod
    def _search_bounded(engine: Engine, query: SearchQuery, bounded: Bounded) -> SearchPage:
        """The engine's answer to `query` as `bounded`, with what the budget cut."""
        page = engine.search(replace(query, match=bounded.match, postings=bounded.postings))
        return replace(page, cuts=bounded.cuts + page.cuts) if bounded.cuts else page

    def _fall_back(self, error: StoreUnavailable) -> bool:
        """Switch reads to the files (True), or False when there are none."""
        if self.recovery is None:
            return False
        self.recovery.enter_fallback(error)
        return True

    def _read(self, name: str, *args: Any) -> Any:
        if self.mode == "database":
            try:
                return getattr(self.database, name)(*args)
            except StoreUnavailable as error:
                if not self._fall_back(error):
                    raise
        try:
            return getattr(self.files, name)(*args)
        except StoreUnavailable as error:
            if not self._back_while_building(error):
                raise
            return getattr(self.database, name)(*args)

    def get_entry(self, entry_id: int) -> StoredEntry | None:
        """From the database, or the files while it cannot answer."""
        return self._read("get_entry", entry_id)

    def stats(self, query: SearchQuery | None = None) -> dict[str, Any]:
        """From the database, or the files while it cannot answer (names as persons)."""
        if query is not None:
            names = self._names(query.filters)
            if names is not None:
                query = replace(query, filters=names.resolve(query.filters))
        return self._read("stats", query)

    def note_change(self) -> None:
        """The indexed files changed (a write, a reindex by the watcher): a new change point."""
        with self._changes_lock:
            self._changes += 1
            self._changed_at = _now()

    def index_state(self) -> dict[str, Any]:
        """The index's change point, cheap to ask: `version` (changes since the service
        started) and `changed_at` (the last change, or the start). A page compares both to
        learn whether its results may be stale (search answers and health carry it)."""
        with self._changes_lock:
            return {"version": self._changes, "changed_at": self._changed_at}

    def reload_file(self, rel: str) -> None:
        """A file changed on disk (a write): every store that keeps a copy follows."""
        self.database_changed([rel])  # first: a store failing below must not lose it
        for store in (self.files, self.database, self.topk):
            if store is not None:
                store.reload_file(rel)
        self.note_change()

    def wrote(self, rel: str, path: Path) -> None:
        """The write service wrote `rel` and loaded it into every store: the watcher (when
        one runs) skips the events of the file as it is now."""
        if self.watcher is not None:
            self.watcher.written(rel, path)

    def writes_done(self) -> None:
        """A write was acknowledged: the top-k engine readies the delta of the changes its
        index does not hold yet (the writer's next search then waits for nothing)."""
        if self.topk is not None and self.mode == "database":
            self.topk.prepare_delta()

    def refresh_files(self, *, database: bool = True) -> None:
        """Files changed that nobody named (a folder moved, a rescan): the stores catch up.

        The file index re-reads what changed by size and mtime; `database`: the database
        took the change (a reindex), so the top-k index wakes up to follow it too.
        """
        if self.files is not None:
            self.files.refresh()
        if database and self.topk is not None:
            self.topk.reload_file("")
        self.note_change()
        if database:
            self.database_changed()

    def database_changed(self, rels: list[str] | None = None) -> None:
        """The database took changes (these files; None: any): Meilisearch follows, when
        a follower runs (the push happens in its thread; this never waits)."""
        if self.meili_follower is not None:
            self.meili_follower.request(rels)

    def database_behind(self, reason: str) -> None:
        """A write reached the files but not the database: the files answer until recovery."""
        self._fall_back(StoreUnavailable(reason, "behind"))

    def check_now(self) -> None:
        """Probe the database once (at start-up); the files answer if it cannot. Without a
        top-k index, start reading FTS5's term counts for the search budget."""
        if self.recovery is not None:
            self.recovery.check_now()
        if self.topk is None and self._database_vocabulary is not None and self.mode == "database":
            self._database_vocabulary.term_stats()

    def health(self) -> dict[str, Any]:
        """The mode and each store's state (the shape depends on which stores there are)."""
        if self.database is None:
            assert self.files is not None
            report = self.files.health()
        else:
            report = self.database.health()
            if self.topk is not None:
                answered = {name: self.answered[name] for name in ("topk", "fts5")}
                report["database"]["topk"] = self.topk.topk_health(answered)
            elif self._database_vocabulary is not None:
                # The search budget's statistics without a top-k index (None: being read).
                report["database"]["term_counts"] = self._database_vocabulary.counted_terms
            if self.recovery is not None and self.files is not None:
                report = self.recovery.health(report, self.files.health())
        if self.meili is not None:
            report = {
                **report,
                "search_backend": "meilisearch",
                "meilisearch": self.meili.health(),
            }
        if self.meili_follower is not None:
            report = {**report, "meilisearch_follow": self.meili_follower.health()}
        watcher = self.watcher.health() if self.watcher is not None else {"mode": "off"}
        return {**report, "watcher": watcher, "index": self.index_state()}

    def close(self) -> None:
        """Stop the background threads and close every store."""
        if self.watcher is not None:
            self.watcher.stop()
        if self.meili_follower is not None:
            self.meili_follower.stop()
        if self.recovery is not None:
            self.recovery.stop()
        if self._database_vocabulary is not None:
            self._database_vocabulary.close()
        for store in (self.topk, self.database, self.files):
            if store is not None:
                store.close()


def _now() -> str:
    """UTC now to the millisecond (two changes within a second read apart)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def build_stack(settings: Settings) -> SearchStack:
    """The stack the settings ask for; the only place that decides which engines exist.

    :raise ValueError: neither ROOT nor DB is set, or Meilisearch without MEILI_URL.
    """
    if settings.root is None and settings.db is None:
        raise ValueError(
            "dialogsearch needs a dialogs folder and/or a database: set ROOT and DB "
            "(DIALOGSEARCH_ROOT, DIALOGSEARCH_DB)"
        )
    database = files = topk = meili = None
    if settings.db is not None:
        database = SqliteRepository(
            settings.db,
            time_limit_ms=settings.query_time_limit_ms,
            search_steps=settings.search_steps,
            busy_timeout_ms=settings.busy_timeout_ms,
            candidate_limit=settings.candidate_limit,
        )
        if settings.topk:
            topk = _topk_engine(settings, database)
    if settings.root is not None:
        # Built at start-up and kept when it answers everything (no database) or when
        # FALLBACK_PRELOAD=on; else built when the database first fails and dropped
        # once it answers again (searchsvc.recovery).
        resident = database is None or settings.fallback_preload is True
        files = FileRepository(
            settings.root, wait_seconds=settings.fallback_wait_seconds, resident=resident
        )
    if settings.search_backend == "meilisearch":
        meili = meili_engine(settings)
    if database is not None and files is not None:
        stack = SearchStack.with_fallback(
            database,
            files,
            root=settings.root,  # type: ignore[arg-type]
            probe_seconds=settings.probe_seconds,
            rebuild=settings.rebuild,
            topk=topk,
            meili=meili,
        )
    else:
        stack = SearchStack(database=database, files=files, topk=topk, meili=meili)
    if files is not None and files.resident:
        files.start_build()
    stack.check_now()
    return stack


def _topk_engine(settings: Settings, database: SqliteRepository) -> TopkEngine:
    index_dir = settings.topk_dir or default_index_dir(database.db_path)
    return TopkEngine(
        database,
        index_dir,
        sync_seconds=settings.topk_sync_seconds,
        catch_up_delay=settings.topk_catch_up_seconds,
    )


def meili_engine(settings: Settings) -> MeiliEngine:
    """Meilisearch's engine; :raise ValueError: MEILI_URL is not set."""
    if not settings.meili_url:
        raise ValueError(
            "DIALOGSEARCH_SEARCH_BACKEND=meilisearch needs MEILI_URL (e.g. http://127.0.0.1:7700)"
        )
    client = open_client(
        settings.meili_url, settings.meili_api_key, timeout_s=settings.meili_timeout_seconds
    )
    return MeiliEngine(client, settings.meili_index, retry_seconds=settings.meili_retry_seconds)
