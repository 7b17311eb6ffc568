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
- Then facet counts are the sample's counts scaled to the whole match count
  (`facets_exact: false`); with filters the total is estimated the same way
  (`total_exact: false`); without filters it is exact. sort=newest/oldest stays exact.
- Totals, facets, match samples and stats are cached per database version
  (PRAGMA data_version), so any write empties the cache.
"""

from __future__ import annotations

import heapq
import json
import logging
import sys
import threading
from dataclasses import replace
from itertools import compress
from pathlib import Path
from typing import Any

from dialogfile.fields import MOOD
from indexer.database import Connection, Database, SqliteError, open_memory
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
from searchsvc.engines.snippets import Highlighter
from searchsvc.engines.sqlite_matches import read_matches
from searchsvc.engines.sqlite_page import entry_from_row, highlighter_for, load_hits, ordered_ids
from searchsvc.engines.sqlite_stats import compute_stats
from searchsvc.query.filters import Filters, target_variants
from searchsvc.query.fts_query import QueryError, match_expression, tokenize
from searchsvc.query.names import NameIndex
from searchsvc.repository import (
    ALSO_IN_LIMIT,
    ENGINE_FACET_LIMIT,
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


def _interned(value: str | None) -> str | None:
    """One shared string object per distinct speaker, mood, file, format, ..."""
    return None if value is None else sys.intern(value)


class _Validator(threading.local):
    """This thread's in-memory FTS5 table, for checking expressions (see _validate)."""

    conn: Connection | None = None


class SqliteRepository:
    """The Repository over one SQLite database file (read-only)."""

    name = "fts5"
    source = "database"

    def __init__(
        self,
        db_path: str | Path,
        *,
        time_limit_ms: int = 1500,
        busy_timeout_ms: int = 1000,
        candidate_limit: int = 2000,
        cache_size: int = 128,
    ) -> None:
        self.database = Database(
            db_path, time_limit_ms=time_limit_ms, busy_timeout_ms=busy_timeout_ms
        )
        self.db_path = self.database.path
        self.time_limit = self.database.time_limit
        self.candidate_limit = max(1, candidate_limit)
        self._validator = _Validator()
        self._cache = AnswerCache(cache_size)

    def _validate(self, expression: str, text: str) -> None:
        """Check an FTS5 expression on an empty in-memory table: QueryError with the reason."""
        validator = self._validator.conn
        if validator is None:
            validator = open_memory()
            validator.execute(sql.VALIDATOR_SCHEMA)
            self._validator.conn = validator
        try:
            validator.execute(sql.VALIDATE, (expression,)).fetchall()
        except SqliteError as error:
            raise QueryError(str(error), text) from error

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
            if query.match is None:
                return self._search_plain(conn, generation, query, None)
            include, exclude = match_expression(query.match)
            self._validate(include or exclude or "", query.text)
            if include is None:
                return self._search_plain(conn, generation, query, exclude)
            return self._search_text(conn, generation, query, include)

    def known_moods(self, conn: Connection, generation: int) -> list[str]:
        """The mood colours the database holds (for mood families), cached per generation."""
        return self._cache.get(
            ("moods", generation), lambda: [row[0] for row in conn.execute(sql.SELECT_MOODS)]
        )

    def names(self) -> NameIndex:
        """Every spelling of the speakers and @targets the database holds (cached per version)."""
        with self.database.reading() as (conn, generation):

            def known(sql_text: str) -> list[str]:
                return [row[0] for row in self._cached_rows(conn, generation, sql_text, [])]

            return self._cache.get(
                ("names", generation),
                lambda: NameIndex(known(sql.DISTINCT_SPEAKERS), known(sql.DISTINCT_TARGETS)),
            )

    def _where(
        self, conn: Connection, generation: int, filters: Filters, skip: str | None = None
    ) -> sql.Where:
        moods = self.known_moods(conn, generation) if filters.has(MOOD, skip) else []
        return sql.filter_where(filters, moods, skip=skip)

    def _cached_rows(
        self, conn: Connection, generation: int, text: str, params: list[object]
    ) -> list[tuple[Any, ...]]:
        key = ("rows", generation, text, tuple(params))
        return self._cache.get(key, lambda: conn.execute(text, params).fetchall())

    def _search_plain(
        self, conn: Connection, generation: int, query: SearchQuery, exclude: str | None
    ) -> SearchPage:
        """No words to match: filters (and words to exclude) over every entry, by date."""

        def where_for(skip: str | None = None) -> sql.Where:
            where = self._where(conn, generation, query.filters, skip)
            if exclude is not None:
                where.add(f"e.entry_rowid NOT IN ({sql.MATCHING_ROWIDS})", exclude)
            return where

        where = where_for()
        total = self._cached_rows(conn, generation, sql.count_where(where), where.params)[0][0]
        ids = ordered_ids(conn, where, query.sort, query.offset, query.per_page)
        facets = {
            name: tuple(
                FacetCount(str(value), count)
                for value, count in self._cached_rows(
                    conn,
                    generation,
                    sql.facet_sql(name, where_for(name), ENGINE_FACET_LIMIT),
                    where_for(name).params,
                )
            )
            for name in query.facets
        }
        hits = load_hits(conn, ids, Highlighter([]))
        return SearchPage(hits=hits, total=total, source=self.source, facets=facets)

    def _matches(
        self, conn: Connection, generation: int, expression: str, at_least: int
    ) -> Matches:
        """At least `at_least` matches (or all), a sample when there are more; cached, grown."""
        key = ("matches", generation, expression)
        found = self._cache.get(key, lambda: Matches(rows=MatchRows(), complete=False))
        if found.complete or len(found.rows) >= at_least:
            return found
        total = self._count(conn, generation, expression)
        want = max(at_least, self.candidate_limit)
        grown = read_matches(conn, expression, want, found, total)
        self._cache.put(key, grown)
        return grown

    def _with_attrs(
        self, conn: Connection, generation: int, expression: str, found: Matches
    ) -> Matches:
        """`found` with the attributes of every row read so far."""
        missing = [entry_id for entry_id, _ in found.rows if entry_id not in found.attrs]
        if not missing:
            return found
        attrs = dict(found.attrs)
        attrs.update(self._fetch_attrs(conn, missing))
        grown = replace(found, attrs=attrs)
        key = ("matches", generation, expression)
        self._cache.put(key, grown)
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
        self, conn: Connection, generation: int, expression: str, found: Matches
    ) -> int:
        return len(found.rows) if found.complete else self._count(conn, generation, expression)

    def _count(self, conn: Connection, generation: int, expression: str) -> int:
        """How many entries `expression` matches (cached)."""
        key = ("count", generation, expression)
        return self._cache.get(
            key, lambda: conn.execute(sql.COUNT_MATCHES, (expression,)).fetchone()[0]
        )

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
    ) -> tuple[Matches, list[tuple[int, float]]]:
        """Matches of `expression` read far enough for the page, and those passing the filters.

        `has_filters`: some filter is left to check here (not settled by narrow()).
        """
        needed = query.offset + query.per_page
        found = self._matches(conn, generation, expression, self.candidate_limit)
        if attrs or has_filters:
            found = self._with_attrs(conn, generation, expression, found)
        passing = self._passing(found, check, has_filters)
        # Read more matches until the page is full (relevance) or the estimate has hits.
        extend = query.sort == "relevance" or has_filters
        while extend and not found.complete and len(passing) < needed:
            found = self._matches(conn, generation, expression, len(found.rows) * 4)
            if attrs or has_filters:
                found = self._with_attrs(conn, generation, expression, found)
            passing = self._passing(found, check, has_filters)
        return found, passing

    def _search_text(
        self, conn: Connection, generation: int, query: SearchQuery, expression: str
    ) -> SearchPage:
        """Words to match: rank, filter and facet the matches (a sample when there are many)."""
        filters = query.filters
        has_filters = filters != Filters() and not self._narrowing_is_exact(
            conn, generation, filters
        )
        needed = query.offset + query.per_page
        check = FilterCheck(filters)
        narrowed = sql.narrow(expression, filters)
        self._validate(narrowed, query.text)
        need_attrs = bool(query.facets) or query.sort != "relevance"
        found, passing = self._scan(
            conn, generation, narrowed, query, check, attrs=need_attrs, has_filters=has_filters
        )
        fts_total = self._total_matches(conn, generation, narrowed, found)
        scanned = len(found.rows)
        if found.complete or not has_filters:
            total, total_exact = (len(passing) if has_filters else fts_total), True
        else:
            total = max(len(passing), round(len(passing) * fts_total / max(1, scanned)))
            total_exact = False
        facets, facets_exact = self._text_facets(
            conn, generation, query, expression, check, found, fts_total
        )
        ranked = None
        if query.sort == "relevance":
            best = heapq.nsmallest(needed, passing, key=lambda row: (-row[1], row[0]))
            ids = [entry_id for entry_id, _ in best[query.offset :]]
            ranked = None if found.complete else scanned
        elif found.complete:
            key = newest_key if query.sort == "newest" else oldest_key
            ordered_attrs = sorted((found.attrs[entry_id] for entry_id, _ in passing), key=key)
            ids = [attrs.entry_id for attrs in ordered_attrs[query.offset : needed]]
        else:
            where = self._where(conn, generation, filters)
            where.add(f"e.entry_rowid IN ({sql.MATCHING_ROWIDS})", narrowed)
            ids = ordered_ids(
                conn, where, query.sort, query.offset, query.per_page, "idx_entries_timestamp"
            )
        hits = load_hits(conn, ids, highlighter_for(query))
        return SearchPage(
            hits=hits,
            total=total,
            source=self.source,
            facets=facets,
            total_exact=total_exact,
            facets_exact=facets_exact,
            ranked=ranked,
        )

    def _text_facets(
        self,
        conn: Connection,
        generation: int,
        query: SearchQuery,
        expression: str,
        check: FilterCheck,
        found: Matches,
        fts_total: int,
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
                    conn, generation, own, query, check, attrs=True, has_filters=True
                )
                source_total = self._total_matches(conn, generation, own, source)
            scale = source_total / max(1, len(source.rows))
            rows = (source.attrs[entry_id] for entry_id, _ in source.rows)
            facets.update(count_facets(rows, check, (name,), 1.0 if source.complete else scale))
            facets_exact = facets_exact and source.complete
        return facets, facets_exact

    def _narrowing_is_exact(self, conn: Connection, generation: int, filters: Filters) -> bool:
        """Whether narrow() alone applies `filters` exactly (then no row needs checking).

        True when only speaker/target filters are set and no other speaker (or
        target) in the database holds one of their token sequences.
        """
        if filters.without("speaker").without("target") != Filters():
            return False

        def known(sql_text: str) -> list[str]:
            rows = self._cached_rows(conn, generation, sql_text, [])
            return [row[0] for row in rows if row[0] is not None]

        speakers = set(filters.speakers)
        for value in known(sql.DISTINCT_SPEAKERS) if speakers else ():
            if value not in speakers and any(
                sql.contains_tokens(value, wanted) for wanted in speakers
            ):
                return False
        variants = {v for target in filters.targets for v in target_variants(target)}
        for value in known(sql.DISTINCT_TARGETS) if variants else ():
            if value not in variants and any(
                sql.contains_tokens(value, wanted) for wanted in variants
            ):
                return False
        return all(len(tokenize(target)) == 1 for target in filters.targets)

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
                where = self._where(conn, generation, query.filters)
                if query.match is not None:
                    include, exclude = match_expression(query.match)
                    self._validate(include or exclude or "", query.text)
                    if include is not None:
                        where.add(f"e.entry_rowid IN ({sql.MATCHING_ROWIDS})", include)
                    if exclude is not None:
                        where.add(f"e.entry_rowid NOT IN ({sql.MATCHING_ROWIDS})", exclude)
            key = ("stats", generation, where.sql(), tuple(where.params))
            result = self._cache.get(key, lambda: compute_stats(conn, where, self.source))
            return {**result, "database_size_bytes": self.database.size_bytes()}

    def health(self) -> dict[str, Any]:
        """Whether the database answers now, and its counts (no file system path shown)."""
        info: dict[str, Any] = {"file": self.db_path.name, "size_bytes": self.database.size_bytes()}
        try:
            with self.database.reading(0.5) as (conn, generation):
                entries = self._cache.get(
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
