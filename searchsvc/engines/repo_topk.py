"""TopkEngine: searches from the embedded top-k index (tantivy) and its delta.

SQLite + FTS5 stays the system of record: the index (indexer/topk_index.py)
answers for the database's state read in the same read snapshot as the hit rows:
at its recorded change-log seq (and store uuid) alone, and past it with the delta
of the changes since (topk_delta: the changed rows in RAM, their old versions
masked), so a search right after a write finds it (read-your-writes). Totals and
facet counts are exact (every match is counted, each facet without its own
filter, as the SQL path does), relevance is BM25 with the FTS5 column weights
times each entry's copy weight (dialogfile.copies.copy_weight), and sort=newest/oldest
is exact (ties by id, undated last); hit rows and snippets come from SQLite exactly as
in repo_sqlite. Otherwise the engine
declines (searchsvc.stack: behind past the change log or DELTA_MAX_CHANGES, raw
FTS5 syntax, a word tantivy tokenizes differently, prefixes too broad, no index
yet or an index error) and the next engine, SQLite's FTS5, answers.

One background thread catches the index up after writes (reload_file) and every
`sync_seconds`, builds it when it is missing, and swaps in one Searcher per reload,
shared by the request threads; no request waits for a commit. After a write it waits
`catch_up_delay` seconds before it commits, so that one commit to the big index takes
the writes of that while: a commit per write (20-30 ms of CPU at 1M, tantivy's threads
beside it, and a new searcher whose caches start empty) ran beside the write's own
delta and the searches; the delta answers meanwhile. It does not wait when a search
found no delta (FTS5 is answering) or the delta holds CATCH_UP_CHANGES."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import tantivy

from indexer.topk_index import (
    IndexState,
    NoDatabase,
    SyncResult,
    build,
    catch_up,
    open_index,
    prune_log,
    read_state,
    store_point,
)
from searchsvc.engines.answer_cache import AnswerCache
from searchsvc.engines.base import Declined
from searchsvc.engines.beside import BESIDE
from searchsvc.engines.follow_up import FollowUp
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.engines.sqlite_page import highlighter_for, load_hits
from searchsvc.engines.topk_copies import (
    CopyWords,
    copy_words,
    holds_copies,
    without_copy_exclusion,
)
from searchsvc.engines.topk_counts import (
    ScopeCounts,
    facets_of,
    id_sample,
    joint_pairs,
    joint_total,
    scope_counts,
)
from searchsvc.engines.topk_delta import DeltaKeeper, MergedSearcher
from searchsvc.engines.topk_page import page_ids, weighed_best
from searchsvc.engines.topk_query import (
    Compiled,
    TermCounts,
    Terms,
    TooBroad,
    Untranslatable,
    compile_search,
)
from searchsvc.query.budget import BUDGET
from searchsvc.query.filters import Filters
from searchsvc.repository import (
    SearchPage,
    SearchQuery,
    StoreUnavailable,
)

log = logging.getLogger("searchsvc.engines.repo_topk")

DEFAULT_SYNC_SECONDS = 5.0
#: Seconds from the first write the index lacks to the commit that folds it in.
CATCH_UP_DELAY_SECONDS = 0.5
#: This many changes the index lacks: catch up at once (each write's delta holds them all).
CATCH_UP_CHANGES = 200
ENGINE_TOPK = "topk"
ENGINE_FTS5 = "fts5"
#: How many searches' scope and copy counts the engine remembers.
COUNTS_CACHE_SIZE = 256


@dataclass
class _View:
    """One opened generation and the Searcher every request shares until the next reload
    (and the copies' words, read at the first search that needs them)."""

    state: IndexState
    index: tantivy.Index
    searcher: tantivy.Searcher
    #: The searcher's term statistics for the search budget, remembered while it lives.
    stats: TermCounts
    copies: CopyWords | None = None


class TopkEngine:
    """Searches answered by the top-k index while it holds what the database holds."""

    name = ENGINE_TOPK
    source = "database"

    def __init__(
        self,
        sqlite: SqliteRepository,
        index_dir: str | Path,
        *,
        sync_seconds: float = DEFAULT_SYNC_SECONDS,
        catch_up_delay: float = CATCH_UP_DELAY_SECONDS,
        background: bool = True,
    ) -> None:
        self.sqlite = sqlite
        self.index_dir = Path(index_dir)
        self.sync_seconds = sync_seconds
        self.catch_up_delay = catch_up_delay
        self.last_sync: SyncResult | None = None
        self.last_error: str | None = None
        self._view: _View | None = None
        #: The scope's and copies' counts (joint_pairs) per index state and query.
        self._counts = AnswerCache(COUNTS_CACHE_SIZE)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._urgent = threading.Event()  # catch up without the delay
        self._first_pending: float | None = None  # when the index first lacked a write
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None
        self._rebuild = False
        self._syncing = False
        #: The changes since the view's seq, searched beside it (topk_delta).
        self.deltas = DeltaKeeper()
        self.delta_searches = 0  # searches answered with a delta (the tests count them)
        self._delta_follow_up = FollowUp(self._prepare_delta_now, "dialogsearch-topk-delta")
        self.background = background
        self._refresh_view()
        if background:
            self._start_syncer()

    @property
    def db_path(self) -> Path:
        """The database file (DatabaseRecovery moves it aside and rebuilds it)."""
        return self.sqlite.db_path

    # ---- the background thread ------------------------------------------------

    def _start_syncer(self) -> None:
        with self._lock:
            if self._syncer is not None and self._syncer.is_alive():
                return
            self._stop.clear()
            self._syncer = threading.Thread(
                target=self._sync_loop, name="dialogsearch-topk", daemon=True
            )
            self._syncer.start()

    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self._urgent.clear()
            self._first_pending = None
            self.sync_now()
            self._wake.wait(self.sync_seconds)
            first = self._first_pending
            if first is not None:  # writes the index lacks: let more gather (see above)
                self._urgent.wait(first + self.catch_up_delay - time.monotonic())

    def _behind(self, *, urgent: bool = False) -> None:
        """The database holds changes the index lacks: catch up after the delay, or now."""
        if self._first_pending is None:
            self._first_pending = time.monotonic()
        if urgent:
            self._urgent.set()
        self._wake.set()

    def sync_now(self) -> SyncResult | None:
        """Catch the index up (or build it) and reload the Searcher; None when it failed."""
        self._syncing = True
        try:
            if self._rebuild:
                self._rebuild = False
                result = build(self.db_path, self.index_dir)
            else:
                # Pruned below, once the view is at the new seq: a search still on the old
                # view completes it with a delta of the log rows from its own seq.
                result = catch_up(self.db_path, self.index_dir, prune=False)
            self.last_sync, self.last_error = result, None
        except NoDatabase as error:
            self.last_error = str(error)
            result = None
        except Exception as error:  # any failure leaves FTS5 answering; it is retried
            self.last_error = f"{type(error).__name__}: {error}"
            log.warning("top-k index sync failed: %s", self.last_error)
            result = None
        finally:
            self._syncing = False
        self._refresh_view()
        view = self._view
        if result is not None and result.action == "caught_up" and view is not None:
            prune_log(self.db_path, view.state.seq)
        return result

    def _refresh_view(self) -> None:
        """Open the generation current.json names (or reload it); None when there is none."""
        state = read_state(self.index_dir)
        view = self._view
        if state is None:
            self._view = None
            return
        if view is not None and view.state == state:
            return
        try:
            if view is not None and view.state.generation == state.generation:
                index = view.index
                index.reload()
            else:
                index = open_index(self.index_dir, state)
            searcher = index.searcher()
            self._view = _View(state, index, searcher, TermCounts(searcher))
        except (ValueError, OSError) as error:
            self.last_error = f"the index cannot be opened: {error}"
            self._view = None
            self._rebuild = True

    # ---- Engine -------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchPage:
        """From the top-k index; Declined when it is not fresh or cannot be exact."""
        if self.background and self._stop.is_set():
            self._start_syncer()
        view = self._view
        if view is None:
            raise Declined("unavailable", self.last_error or "the top-k index is not built yet")
        if query.match is not None and query.match.raw is not None:
            raise Declined("cannot_express", "raw FTS5 syntax")
        try:
            page = self._search_topk(view, query)
        except TooBroad as error:
            raise Declined("too_slow", str(error)) from None
        except Untranslatable as error:
            raise Declined("cannot_express", str(error)) from None
        except ValueError as error:  # tantivy refused the query or the index failed
            self.last_error = f"top-k search failed: {error}"
            log.warning("%s", self.last_error)
            raise Declined("unavailable", self.last_error) from None
        if page is None:
            raise Declined("behind", "the database has changes the index does not hold yet")
        return page

    def _search_topk(self, view: _View, query: SearchQuery) -> SearchPage | None:
        """The page from tantivy, or None when the index is not at the database's state."""
        with self.sqlite.database.reading() as (conn, generation):
            searcher, point = self._searcher_at(conn, view)
            if searcher is None:
                return None
            delta = isinstance(searcher, MergedSearcher)
            self.delta_searches += delta
            moods = self.sqlite.known_moods(conn, generation) if query.filters.moods else []
            copies = _copies_may_match(view, searcher, conn, query)
            if not copies:  # no copy holds the words: leaving them out is no work
                query = replace(query, filters=without_copy_exclusion(query.filters))
            terms = Terms(searcher)
            texts: dict[tuple[Any, ...], Any] = {}  # the words' query per sides, compiled once

            def compile_for(
                filters: Filters, facets: tuple[str, ...] = (), scored: bool = True
            ) -> Compiled:
                return compile_search(
                    view.index.schema,
                    query.match,
                    filters,
                    facets,
                    known_moods=moods,
                    terms=terms,
                    texts=texts,
                    scored=scored,
                )

            # The scope's and the folded counts alone come from scope_counts, not facets.
            facets = tuple(name for name in query.facets if name not in query.scope_facets)
            compiled = compile_for(query.filters, facets)
            weigh = weighed_best(searcher, view.index.schema, compiled, query) if copies else None
            count = self._scope_counts(searcher, point, query, compile_for, copies)
            weighed, counted = _beside(weigh, count)
            # Joint counts visit every match, the total with them: the page is found uncounted.
            pairs = self._joint_counts(searcher, point, query, compiled) if compiled.joint else None
            ids, total = page_ids(
                searcher, view.index.schema, compiled, query, count=pairs is None, weighed=weighed
            )
            if pairs is not None:
                total = joint_total(compiled, pairs)
            sample = id_sample(view.index.schema, total, BUDGET.facet_matches)
            found, facets_exact = facets_of(searcher, compiled, facets, pairs, sample=sample)
            hits = load_hits(conn, ids, highlighter_for(query))
            counts = counted() or ScopeCounts(None, None)
        return SearchPage(
            engine=ENGINE_TOPK,
            hits=hits,
            total=total,
            source=self.source,
            facets=found,
            total_exact=True,
            facets_exact=facets_exact,
            scopes=counts.scopes(total),
            folded=counts.folded,
        )

    def _searcher_at(self, conn: Any, view: _View) -> tuple[Any, tuple[Any, ...]]:
        """The searcher holding what `conn`'s snapshot holds, and that point (the cache key):
        the view's own when it is at the snapshot's seq, else the view with the delta of
        the changes since (topk_delta); (None, ()) when neither can say (another database,
        or the change log no longer holds the changes the view misses)."""
        uuid, seq = store_point(conn)
        state = view.state
        if uuid is None or uuid != state.uuid or seq < state.seq:
            if uuid is not None:
                self._behind(urgent=True)  # another database: the sync rebuilds the index
            return None, ()
        point = (state.generation, uuid, state.seq, seq)
        if seq == state.seq:
            return view.searcher, point
        # Behind: the sync catches up; meanwhile the delta answers (without one, FTS5 does).
        delta = self.deltas.get(conn, view.index.schema, uuid, state.seq, seq)
        self._behind(urgent=delta is None or len(delta.ids) >= CATCH_UP_CHANGES)
        if delta is None:
            return None, ()
        return MergedSearcher(view.searcher, delta), point

    def _scope_counts(
        self,
        searcher: Any,
        point: tuple[Any, ...],
        query: SearchQuery,
        compile_for: Any,
        copies: bool,
    ) -> tuple[Callable[[], ScopeCounts] | None, ScopeCounts | None]:
        """(the work that finds scope_counts and remembers them per index point, None when
        they are remembered (the other tab asks them again) or not asked; those remembered).
        `copies`: whether any copy may match."""
        if not query.scope_facets:
            return None, None
        key = ("scopes", *point, query.match, query.filters, query.scope_facets)
        known = self._counts.cached(key)
        if known is not None:
            return None, known

        def count() -> ScopeCounts:
            def compile_count(filters: Filters) -> tantivy.Query:
                return compile_for(filters, scored=False).query

            counts = scope_counts(searcher, query, compile_count, copies=copies)
            self._counts.put(key, counts)
            return counts

        return count, None

    def _joint_counts(
        self, searcher: Any, point: tuple[Any, ...], query: SearchQuery, compiled: Compiled
    ) -> list[tuple[str, str, int]]:
        """joint_pairs, remembered per index point: the next page, the other scope's tab or
        a facet click asks the same words and filters again (as FTS5's answer cache)."""
        first, second = compiled.joint  # type: ignore[misc]
        filters = query.filters.without(first).without(second)
        key = (*point, query.match, filters, compiled.joint)
        return self._counts.get(key, lambda: joint_pairs(searcher, compiled))  # type: ignore[no-any-return]

    def term_stats(self) -> TermCounts | None:
        """The terms of the index as it is now, fresh or behind (the search budget's
        statistics for the database: they bound work, so a moment behind does no harm);
        None while there is no index."""
        view = self._view
        return view.stats if view is not None else None

    def reload_file(self, rel: str) -> None:
        """A write went to the database: catch the index up in the background."""
        self._behind()

    def prepare_delta(self) -> None:
        """Build the delta of the changes the index does not hold yet, if it is not built:
        the searches until the sync use it (the writer's next one among them). With the
        background thread on, in a thread of its own (FollowUp): the write's answer does
        not wait for it, and a search that comes first builds it or waits for it."""
        if self.background:
            self._delta_follow_up.request()
        else:
            self._prepare_delta_now()

    def _prepare_delta_now(self) -> None:
        view = self._view
        if view is None:
            return
        try:
            with self.sqlite.database.reading() as (conn, _):
                self._searcher_at(conn, view)
        except (StoreUnavailable, ValueError, OSError) as error:  # the next search retries
            log.warning("top-k delta after a write failed: %s", error)

    def topk_health(self, answered: dict[str, int]) -> dict[str, Any]:
        """Whether the index answers searches now, and how far behind the database it is.

        `answered`: how many searches the index and FTS5 answered (the stack counts them).
        """
        view = self._view
        info: dict[str, Any] = {
            "ready": False,
            "state": "building" if self._syncing else "missing",
            "answered": answered,
            "last_sync": self.last_sync.to_dict() if self.last_sync else None,
            "last_error": self.last_error,
        }
        if view is None:
            return info
        info.update(
            generation=view.state.generation, seq=view.state.seq, entries=view.state.entries
        )
        try:
            with self.sqlite.database.reading(0.5) as (conn, _):
                uuid, seq = store_point(conn)
        except StoreUnavailable:
            info["state"] = "unknown"
            return info
        if uuid != view.state.uuid or uuid is None:
            info["state"] = "other database"
        else:
            info["behind"] = max(0, seq - view.state.seq)
            info["ready"] = seq == view.state.seq
            info["state"] = "fresh" if info["ready"] else "behind"
        return info

    def close(self) -> None:
        """Stop the background thread (a search restarts it)."""
        self._stop.set()
        self._urgent.set()
        self._wake.set()
        self._delta_follow_up.close()
        syncer = self._syncer
        if syncer is not None and syncer is not threading.current_thread():
            syncer.join(timeout=60)


def _copies_may_match(view: _View, searcher: Any, conn: Any, query: SearchQuery) -> bool:
    """Whether an entry with copies may match `query` (False: copy clauses do no work).

    The view's copies' words cover the main side (a delta's mask only takes away); a
    delta's own copies they may not know: no shortcut then. (A write that makes an entry
    a copy, or no longer one, puts that entry in the delta.)
    """
    if view.copies is None:
        view.copies = copy_words(view.searcher, view.index.schema, conn)
    if view.copies.may_match(query.match):
        return True
    return isinstance(searcher, MergedSearcher) and holds_copies(searcher.delta.searcher)


def _beside(
    weigh: Callable[[], list[Any]] | None,
    count: tuple[Callable[[], ScopeCounts] | None, ScopeCounts | None],
) -> tuple[Callable[[], list[Any]] | None, Callable[[], ScopeCounts | None]]:
    """Started on a free core while the page's own search runs (BESIDE): the best of the
    entries with copies, weighed (wanted first), then the other tab's and the folded
    counts (`count`: the work, or those remembered). The callables give each."""
    work, known = count
    works = [each for each in (weigh, work) if each is not None]
    started = iter(BESIDE.start_each(*works))
    weighed = next(started) if weigh is not None else None
    counted = next(started) if work is not None else lambda: known
    return weighed, counted
