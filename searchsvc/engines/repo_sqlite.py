"""SqliteRepository: search, entries, stats and health from the SQLite + FTS5 database.

Every read goes through `indexer.database.Database.reading()`: read-only connections,
one per thread, one snapshot per request, and failures classified there. A missing,
unreadable, corrupt or locked database, or a query stopped by the time limit while the
database itself is slow, raises StoreUnavailable; a query stopped by the time limit on
a healthy database raises QueryTooExpensive (a 400: "no input gives a 5xx").

What the speed tricks change for users (all exact up to CANDIDATE_LIMIT matches):
- When a query matches more than CANDIDATE_LIMIT entries, relevance ranks a sample
  of them (sqlite_matches: rows spread evenly over the database by a hash of their
  rowid, extended until the page is full) instead of every match: the best hits are
  among the best of the sample; `ranked` says how many were ranked.
- Then facets and totals are the sample's counts scaled (`facets_exact`/`total_exact`
  false); a total is counted exactly up to EXACT_ROWS matches (within COUNT_STEPS).
- Within the budget (searchsvc.query.budget, sqlite_budget): past `exact_postings` a
  search is not ranked (`ranked` 0, cut "unranked"; a sample of runs of rowids),
  listings are estimated from samples (sqlite_listing), SEARCH_STEPS stops the rest.
- Totals, facets, match samples and stats are cached per database version
  (PRAGMA data_version), so any write empties the cache.
"""

from __future__ import annotations

import heapq
import json
import logging
import sys
from dataclasses import replace
from itertools import compress
from pathlib import Path
from typing import Any

from dialogfile.fields import MOOD
from indexer.database import Connection, Database, WorkLimitReached
from searchsvc.engines import sqlite_sql as sql
from searchsvc.engines.answer_cache import AnswerCache, Matches, MatchRows
from searchsvc.engines.matching import (
    EntryAttrs,
    FilterCheck,
    count_facets,
    entry_attrs,
    newest_key,
    oldest_key,
)
from searchsvc.engines.sqlite_budget import (
    COUNT_STEPS,
    EXACT_ROWS,
    entries_estimate,
    estimated_total,
    guessed_matches,
    matches_by_date,
)
from searchsvc.engines.sqlite_listing import search_plain
from searchsvc.engines.sqlite_matches import read_matches
from searchsvc.engines.sqlite_page import entry_from_row, highlighter_for, load_hits
from searchsvc.engines.sqlite_stats import compute_stats
from searchsvc.engines.sqlite_validator import FtsValidator
from searchsvc.query.budget import Cut, budget_for, check_raw
from searchsvc.query.filters import Filters
from searchsvc.query.fts_query import match_expression
from searchsvc.query.names import NameIndex
from searchsvc.repository import (
    ALSO_IN_LIMIT,
    Copies,
    FacetCount,
    QueryTooExpensive,
    SearchPage,
    SearchQuery,
    StoredEntry,
    StoreUnavailable,
)

log = logging.getLogger("searchsvc.engines.repo_sqlite")

MAX_ID = 2**63 - 1
#: Stats read everything; they may take this many times the query time limit.
STATS_TIME_FACTOR = 10
#: SQLite steps a search may take (work, not time), then a 400: what the budget missed.
SEARCH_STEPS = 5_000_000


def _interned(value: str | None) -> str | None:
    """One shared string object per distinct speaker, mood, file, format, ..."""
    return None if value is None else sys.intern(value)


class SqliteRepository:
    """The Repository over one SQLite database file (read-only)."""

    name = "fts5"
    source = "database"

    def __init__(
        self,
        db_path: str | Path,
        *,
        time_limit_ms: int = 1500,
        search_steps: int = SEARCH_STEPS,
        busy_timeout_ms: int = 1000,
        candidate_limit: int = 2000,
        cache_size: int = 128,
    ) -> None:
        self.database = Database(
            db_path, time_limit_ms=time_limit_ms, busy_timeout_ms=busy_timeout_ms
        )
        self.db_path = self.database.path
        self.time_limit = self.database.time_limit
        self.search_steps = search_steps
        self.candidate_limit = max(1, candidate_limit)
        self._validator = FtsValidator()
        self.cache = AnswerCache(cache_size)

    def _validate(self, expression: str, text: str) -> None:
        """:raise QueryError: FTS5 rejects `expression` (sqlite_validator)."""
        self._validator.check(expression, text)

    def close(self) -> None:
        """Close every connection this repository opened (a later read opens a new one)."""
        self.database.close()

    def database_behind(self, reason: str) -> None:
        """Nothing to switch to: the database alone answers."""

    def reload_file(self, rel: str) -> None:
        """Nothing to do: the writer updates the database; data_version empties the cache."""

    # ---- search ----------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchPage:
        """Hits, total and facets for `query` (see the module docstring for the limits)."""
        with self.database.reading() as (conn, generation):
            try:
                with self.database.limited_work(self.search_steps):
                    return self._search(conn, generation, query)
            except WorkLimitReached as error:
                raise QueryTooExpensive(
                    f"The search needed more than {self.search_steps:,} steps of work and was "
                    "stopped; add words or filters, or use a longer prefix",
                    query.text,
                ) from error

    def _search(self, conn: Connection, generation: int, query: SearchQuery) -> SearchPage:
        if query.match is None:
            return search_plain(self, conn, generation, query, None)
        include, exclude = match_expression(query.match)
        self._validate(include or exclude or "", query.text)
        check_raw(query.match, query.postings, budget_for(self.name))
        if include is None:
            return search_plain(self, conn, generation, query, exclude)
        return self._search_text(conn, generation, query, include)

    def known_moods(self, conn: Connection, generation: int) -> list[str]:
        """The mood colours the database holds (for mood families), cached per generation."""
        return self.cache.get(
            ("moods", generation), lambda: [row[0] for row in conn.execute(sql.SELECT_MOODS)]
        )

    def names(self) -> NameIndex:
        """Every spelling of the speakers and @targets the database holds (cached per version)."""
        with self.database.reading() as (conn, generation):

            def known(sql_text: str) -> list[str]:
                return [row[0] for row in self._cached_rows(conn, generation, sql_text, [])]

            return self.cache.get(
                ("names", generation),
                lambda: NameIndex(known(sql.DISTINCT_SPEAKERS), known(sql.DISTINCT_TARGETS)),
            )

    def where_of(
        self, conn: Connection, generation: int, filters: Filters, skip: str | None = None
    ) -> sql.Where:
        """The conditions of `filters` (but the facet `skip`) on the entries table."""
        moods = self.known_moods(conn, generation) if filters.has(MOOD, skip) else []
        return sql.filter_where(filters, moods, skip=skip)

    def _cached_rows(
        self, conn: Connection, generation: int, text: str, params: list[object]
    ) -> list[tuple[Any, ...]]:
        key = ("rows", generation, text, tuple(params))
        return self.cache.get(key, lambda: conn.execute(text, params).fetchall())

    def _matches(
        self,
        conn: Connection,
        generation: int,
        expression: str,
        at_least: int,
        ranked: bool,
        postings: int | None,
    ) -> Matches:
        """At least `at_least` matches (or all), a sample when there are more; cached, grown.
        Not `ranked`: without bm25 (0.0 each), a sample of runs (sqlite_matches)."""
        key = ("matches", generation, expression, ranked)
        found = self.cache.get(key, lambda: Matches(rows=MatchRows(), complete=False))
        if found.complete or len(found.rows) >= at_least:
            return found
        total = self.cache.get(
            ("guess", generation, expression, postings),
            lambda: guessed_matches(self.database, conn, expression, postings),
        )
        want = max(at_least, self.candidate_limit)
        grown = read_matches(conn, expression, want, found, total, ranked=ranked)
        self.cache.put(key, grown)
        return grown

    def _with_attrs(
        self, conn: Connection, generation: int, expression: str, found: Matches, ranked: bool
    ) -> Matches:
        """`found` with the attributes of every row read so far."""
        missing = [entry_id for entry_id, _ in found.rows if entry_id not in found.attrs]
        if not missing:
            return found
        attrs = dict(found.attrs)
        attrs.update(self._fetch_attrs(conn, missing))
        grown = replace(found, attrs=attrs)
        key = ("matches", generation, expression, ranked)
        self.cache.put(key, grown)
        if any(entry_id not in attrs for entry_id in missing):
            # Matches read under another snapshot that this one no longer holds (a
            # commit raced the cache's generation): leave them out of this answer.
            grown = replace(grown, rows=MatchRows(row for row in grown.rows if row[0] in attrs))
        return grown

    def _fetch_attrs(self, conn: Connection, ids: list[int]) -> dict[int, EntryAttrs]:
        payload = json.dumps(ids)
        targets: dict[int, list[str]] = {}
        for entry_id, target in conn.execute(sql.SELECT_TARGETS_BY_IDS, (payload,)):
            targets.setdefault(entry_id, []).append(sys.intern(target))
        return {
            row[0]: entry_attrs(
                row[0],
                [_interned(value) if isinstance(value, str) else value for value in row[1:]],
                tuple(targets.get(row[0], ())),
            )
            for row in conn.execute(sql.SELECT_ATTRS_BY_IDS, (payload,))
        }

    def _total_matches(
        self, conn: Connection, generation: int, expression: str, found: Matches, ranked: bool
    ) -> tuple[int, bool]:
        """How many entries match `expression`, and whether exactly: counted when the search
        is `ranked` and `found` estimates at most EXACT_ROWS (and that takes at most
        COUNT_STEPS of work), else estimated from `found` (sqlite_budget.estimated_total)."""
        if found.complete:
            return len(found.rows), True
        if not ranked or estimated_total(found) > EXACT_ROWS:
            return estimated_total(found), False

        def count() -> tuple[int, bool]:
            try:
                with self.database.limited_work(COUNT_STEPS):
                    return conn.execute(sql.COUNT_MATCHES, (expression,)).fetchone()[0], True
            except WorkLimitReached:
                return estimated_total(found), False

        return self.cache.get(("count", generation, expression), count)  # type: ignore[no-any-return]

    def _scan(
        self,
        conn: Connection,
        generation: int,
        expression: str,
        query: SearchQuery,
        check: FilterCheck,
        *,
        attrs: bool,
        has_filters: bool,
        ranked: bool,
    ) -> tuple[Matches, list[tuple[int, float]]]:
        """Matches of `expression` read far enough for the page, and those passing the filters.

        `has_filters`: some filter is left to check here (not settled by narrow()).
        """
        needed = query.offset + query.per_page
        found = self._matches(
            conn, generation, expression, self.candidate_limit, ranked, query.postings
        )
        if attrs or has_filters:
            found = self._with_attrs(conn, generation, expression, found, ranked)
        passing = self._passing(found, check, has_filters)
        # Read more matches until the page is full (relevance) or the estimate has hits.
        extend = query.sort == "relevance" or has_filters
        while extend and not found.complete and len(passing) < needed:
            found = self._matches(
                conn, generation, expression, len(found.rows) * 4, ranked, query.postings
            )
            if attrs or has_filters:
                found = self._with_attrs(conn, generation, expression, found, ranked)
            passing = self._passing(found, check, has_filters)
        return found, passing

    def _search_text(
        self, conn: Connection, generation: int, query: SearchQuery, expression: str
    ) -> SearchPage:
        """Words to match: rank, filter and facet the matches (a sample when there are many).

        A search reading more postings than the budget's `exact_postings` is not ranked:
        bm25 reads every posting list of the search in full before the first row, so its
        matches are read in rowid order (a uniform sample, shown as it is) and counted
        from that sample.
        """
        filters = query.filters
        has_filters = filters != Filters() and not self._narrowing_is_exact(
            conn, generation, filters
        )
        check = FilterCheck(filters)
        narrowed = sql.narrow(expression, filters)
        self._validate(narrowed, query.text)
        ranked = query.postings is None or query.postings <= budget_for(self.name).exact_postings
        need_attrs = bool(query.facets) or query.sort != "relevance"
        found, passing = self._scan(
            conn,
            generation,
            narrowed,
            query,
            check,
            attrs=need_attrs,
            has_filters=has_filters,
            ranked=ranked,
        )
        fts_total, counted = self._total_matches(conn, generation, narrowed, found, ranked)
        scanned = len(found.rows)
        if found.complete or not has_filters:
            total, total_exact = (len(passing) if has_filters else fts_total), counted
        else:
            total = max(len(passing), round(len(passing) * fts_total / max(1, scanned)))
            total_exact = False
        facets, facets_exact = self._text_facets(
            conn, generation, query, expression, check, found, fts_total, ranked
        )
        ids = self._text_page(conn, generation, query, narrowed, found, passing, total)
        looked, cuts = None, ()
        if query.sort == "relevance" and not ranked:  # even had every match been read
            looked, cuts = 0, (Cut("unranked", "", 0, total),)
        elif query.sort == "relevance" and not found.complete:
            looked = scanned
        return SearchPage(
            hits=load_hits(conn, ids, highlighter_for(query)),
            total=total,
            source=self.source,
            facets=facets,
            total_exact=total_exact,
            facets_exact=facets_exact,
            ranked=looked,
            cuts=cuts,
        )

    def _text_page(
        self,
        conn: Connection,
        generation: int,
        query: SearchQuery,
        expression: str,
        found: Matches,
        passing: list[tuple[int, float]],
        total: int,
    ) -> list[int]:
        """The page's ids: the best of `passing`, or the newest (oldest) matches.

        By date, when `found` does not hold every match: sqlite_budget.matches_by_date.
        """
        needed = query.offset + query.per_page
        if query.sort == "relevance":
            best = heapq.nsmallest(needed, passing, key=lambda row: (-row[1], row[0]))
            return [entry_id for entry_id, _ in best[query.offset :]]
        if found.complete:
            key = newest_key if query.sort == "newest" else oldest_key
            ordered_attrs = sorted((found.attrs[entry_id] for entry_id, _ in passing), key=key)
            return [attrs.entry_id for attrs in ordered_attrs[query.offset : needed]]
        where = self.where_of(conn, generation, query.filters)
        entries = self.cache.get(("entries~", generation), lambda: entries_estimate(conn))
        return matches_by_date(conn, where, query, expression, total, entries)

    def _text_facets(
        self,
        conn: Connection,
        generation: int,
        query: SearchQuery,
        expression: str,
        check: FilterCheck,
        found: Matches,
        fts_total: int,
        ranked: bool,
    ) -> tuple[dict[str, tuple[FacetCount, ...]], bool]:
        """The facet counts of a text search (scaled from a sample), and whether exact.

        `found` holds the matches of `expression` narrowed by every filter, and
        `fts_total` their count; a facet with a filter of its own counts over the
        matches without that filter instead.
        """
        narrowed = sql.narrow(expression, query.filters)
        facets: dict[str, tuple[FacetCount, ...]] = {}
        facets_exact = True
        for name in query.facets:
            source, source_total = found, fts_total
            own = sql.narrow(expression, query.filters.without(name))
            if own != narrowed:
                # The speaker/target facet counts over matches without its own filter.
                source, _ = self._scan(
                    conn, generation, own, query, check, attrs=True, has_filters=True, ranked=ranked
                )
                source_total, _ = self._total_matches(conn, generation, own, source, ranked)
            scale = source_total / max(1, len(source.rows))
            rows = (source.attrs[entry_id] for entry_id, _ in source.rows)
            facets.update(count_facets(rows, check, (name,), 1.0 if source.complete else scale))
            facets_exact = facets_exact and source.complete
        return facets, facets_exact

    def _narrowing_is_exact(self, conn: Connection, generation: int, filters: Filters) -> bool:
        """Whether narrow() alone applies `filters` exactly (sqlite_sql.narrowing_is_exact)."""
        if filters.without("speaker").without("target") != Filters():
            return False

        def known(sql_text: str) -> list[str]:
            rows = self._cached_rows(conn, generation, sql_text, [])
            return [row[0] for row in rows if row[0] is not None]

        speakers = known(sql.DISTINCT_SPEAKERS) if filters.speakers else []
        targets = known(sql.DISTINCT_TARGETS) if filters.targets else []
        return sql.narrowing_is_exact(filters, speakers, targets)

    @staticmethod
    def _passing(found: Matches, check: FilterCheck, has_filters: bool) -> list[tuple[int, float]]:
        if not has_filters:
            return list(found.rows)
        rows = list(found.rows)
        return list(compress(rows, check.mask([found.attrs[row[0]] for row in rows])))

    def copies_of(self, entry_ids: list[int]) -> Copies:
        """Where the copies of each entry are (the first ALSO_IN_LIMIT) and how many."""
        found: dict[int, tuple[list[tuple[str, int, int]], int]] = {}
        with self.database.reading() as (conn, _):
            rows = conn.execute(sql.SELECT_COPIES, (json.dumps(entry_ids), ALSO_IN_LIMIT))
            for hit, path, line, entry_id, copies in rows:
                found.setdefault(hit, ([], copies))[0].append((path, line, entry_id))
        return {hit: (tuple(places), copies) for hit, (places, copies) in found.items()}

    # ---- single entries, stats, health ----------------------------------------

    def get_entry(self, entry_id: int) -> StoredEntry | None:
        """The entry and the ids of its neighbours in the file (by line), or None."""
        if not 0 < entry_id <= MAX_ID:
            return None
        with self.database.reading() as (conn, _):
            row = conn.execute(sql.SELECT_ENTRY, (entry_id,)).fetchone()
            if row is None:
                return None
            entry = entry_from_row(row)
            place = (entry.dialog_file, entry.line, entry.line, entry_id)
            before = conn.execute(sql.SELECT_ENTRY_BEFORE, place).fetchone()
            after = conn.execute(sql.SELECT_ENTRY_AFTER, place).fetchone()
        return StoredEntry(
            entry_id,
            entry,
            before=before[0] if before else None,
            after=after[0] if after else None,
        )

    def stats(self, query: SearchQuery | None = None) -> dict[str, Any]:
        """Counts over every entry (or those `query` matches); cached per database version."""
        with self.database.reading(self.time_limit * STATS_TIME_FACTOR) as (conn, generation):
            where = sql.Where()
            if query is not None:
                where = self.where_of(conn, generation, query.filters)
                if query.match is not None:
                    include, exclude = match_expression(query.match)
                    self._validate(include or exclude or "", query.text)
                    if include is not None:
                        where.add(f"e.entry_rowid IN ({sql.MATCHING_ROWIDS})", include)
                    if exclude is not None:
                        where.add(f"e.entry_rowid NOT IN ({sql.MATCHING_ROWIDS})", exclude)
            key = ("stats", generation, where.sql(), tuple(where.params))
            result = self.cache.get(key, lambda: compute_stats(conn, where, self.source))
            return {**result, "database_size_bytes": self.database.size_bytes()}

    def health(self) -> dict[str, Any]:
        """Whether the database answers now, and its counts (no file system path shown)."""
        info: dict[str, Any] = {"file": self.db_path.name, "size_bytes": self.database.size_bytes()}
        try:
            with self.database.reading(0.5) as (conn, generation):
                entries = self.cache.get(
                    ("entries", generation),
                    lambda: conn.execute("SELECT count(*) FROM lupo_dialog_entries").fetchone()[0],
                )
                files, last_sync = conn.execute(sql.FILES_TOTAL).fetchone()
            info.update(status="ok", entries=entries, files=files, last_sync_utc=last_sync)
            return {"ok": True, "mode": self.source, "database": info, "last_error": None}
        except (StoreUnavailable, QueryTooExpensive) as error:
            reason = getattr(error, "reason", "timeout")
            info.update(status=reason, error=str(error))
            return {"ok": False, "mode": self.source, "database": info, "last_error": str(error)}

    def probe(self) -> None:
        """Raise StoreUnavailable unless the database answers a small search right now."""
        with self.database.reading(0.5) as (conn, _):  # it reads lupo_dialog_files first
            conn.execute(f"SELECT rowid FROM {sql.FTS} LIMIT 1").fetchall()
