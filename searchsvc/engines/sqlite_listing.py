"""A search without words to match, from SQLite: the filters (and words to exclude) over
every entry, newest first, with its total and facets.

Counting a million entries takes SQLite seconds, so the entries are first counted in a
sample: SAMPLE_RUNS runs of consecutive rowids spread evenly over the table (about
SAMPLE_ROWS entries; rowids are dense, sql/0008, so runs read by rowid cost one lookup
each and FTS5 reads a run of its rowids cheaply). When that estimates more than
EXACT_LISTING_ROWS rows, the total and facets are the sample's counts scaled
(`total_exact`/`facets_exact` false), else they are counted exactly (within COUNT_STEPS
of work). Rows follow the files they were loaded from, so a run holds a few files'
entries: the sample is spread over SAMPLE_RUNS places of the database, not over every
entry (unbiased, coarser for a filter a few files hold). Words to exclude are read from
FTS5 within the runs, and the page of entries without them is found by walking the
entries newest first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from indexer.database import WorkLimitReached
from searchsvc.engines import sqlite_sql as sql
from searchsvc.engines.snippets import Highlighter
from searchsvc.engines.sqlite_budget import (
    COUNT_STEPS,
    EXACT_LISTING_ROWS,
    entries_estimate,
    newest_matches,
    walk_pays,
)
from searchsvc.engines.sqlite_page import load_hits, ordered_ids
from searchsvc.repository import ENGINE_FACET_LIMIT, FacetCount, SearchPage, SearchQuery

if TYPE_CHECKING:
    from indexer.database import Connection
    from searchsvc.engines.repo_sqlite import SqliteRepository

#: A count's or a facet's SQL for a WHERE clause (sqlite_sql.count_where, facet_sql).
Counting = Callable[[sql.Where, bool], str]
#: Rows a sample of the entries table holds (when counting all of them is too much), in
#: this many runs of consecutive rowids.
SAMPLE_ROWS = 4096
SAMPLE_RUNS = 64
#: The rowids of FTS5 matches in one run (the sample's share of an exclusion).
MATCHES_IN_RUN = f"SELECT rowid FROM {sql.FTS} WHERE {sql.FTS} MATCH ? AND rowid >= ? AND rowid < ?"


@dataclass(frozen=True)
class _Sample:
    """The entries of some runs of rowids (`share` of the table), less `excluded` rowids."""

    rowids: tuple[int, ...]
    share: float
    excluded: tuple[int, ...]

    def where(self, where: sql.Where) -> sql.Where:
        """`where` limited to the sample (rowid lookups)."""
        kept = sorted(set(self.rowids) - set(self.excluded))
        return where.extended("e.entry_rowid IN (SELECT value FROM json_each(?))", json.dumps(kept))


def sample_runs(entries: int) -> list[tuple[int, int]]:
    """[start, end) rowid runs of the sample over rowids 1..`entries`."""
    if entries <= SAMPLE_ROWS:
        return [(1, entries + 1)]
    length = SAMPLE_ROWS // SAMPLE_RUNS
    step = entries / SAMPLE_RUNS
    return [
        (start, start + length)
        for start in (1 + int(step * run + (step - length) / 2) for run in range(SAMPLE_RUNS))
    ]


def search_plain(
    repo: SqliteRepository,
    conn: Connection,
    generation: int,
    query: SearchQuery,
    exclude: str | None,
) -> SearchPage:
    """The entries the filters allow, less those matching `exclude`, by date."""
    listing = _Listing(repo, conn, generation, query, exclude)
    total, total_exact = listing.count(sql.count_where, listing.where())
    exact = total_exact
    ids = listing.page_ids(total)
    facets, facets_exact = {}, True
    for name in query.facets:

        def facet_text(where: sql.Where, sample: bool, name: str = name) -> str:
            return sql.facet_sql(name, where, ENGINE_FACET_LIMIT, sample=sample)

        counts, counted = listing.rows(facet_text, listing.where(name), exact=exact)
        facets[name] = tuple(FacetCount(str(value), count) for value, count in counts)
        facets_exact = facets_exact and counted
    return SearchPage(
        hits=load_hits(conn, ids, Highlighter([])),
        total=max(total, query.offset + len(ids)),
        source=repo.source,
        facets=facets,
        total_exact=total_exact,
        facets_exact=facets_exact,
    )


class _Listing:
    """One plain search's reads, cached per database generation."""

    def __init__(
        self,
        repo: SqliteRepository,
        conn: Connection,
        generation: int,
        query: SearchQuery,
        exclude: str | None,
    ) -> None:
        self.repo, self.conn, self.generation = repo, conn, generation
        self.query, self.exclude = query, exclude

    def where(self, skip: str | None = None) -> sql.Where:
        """The filters (but the facet `skip`) as a WHERE clause; not the exclusion."""
        return self.repo.where_of(self.conn, self.generation, self.query.filters, skip)

    def sample(self) -> _Sample:
        """The sample of the entries (the same for every count of this generation)."""

        def read() -> _Sample:
            entries = max(1, entries_estimate(self.conn))
            runs = sample_runs(entries)
            rowids = tuple(rowid for start, end in runs for rowid in range(start, end))
            excluded: list[int] = []
            for start, end in runs if self.exclude is not None else ():
                found = self.conn.execute(MATCHES_IN_RUN, (self.exclude, start, end))
                excluded += (row[0] for row in found)
            return _Sample(rowids, min(1.0, len(rowids) / entries), tuple(excluded))

        return self._cached(("sample", self.exclude), read)  # type: ignore[no-any-return]

    def count(self, counting: Counting, where: sql.Where) -> tuple[int, bool]:
        """The total of `where`: exact when the sample says it is small, else estimated."""
        estimate = self.rows(counting, where, exact=False)[0][0][0]
        if estimate > EXACT_LISTING_ROWS:
            return estimate, False
        rows, exact = self.rows(counting, where, exact=True)
        return rows[0][0], exact

    def rows(
        self, counting: Counting, where: sql.Where, *, exact: bool
    ) -> tuple[list[tuple[Any, ...]], bool]:
        """The rows of a count or facet over `where` less the exclusion, and whether exact:
        counted (`exact`, within COUNT_STEPS of work) or over the sample, scaled."""

        def sampled() -> tuple[list[tuple[Any, ...]], bool]:
            sample = self.sample()
            below = sample.where(where)
            rows = self.conn.execute(counting(below, True), below.params).fetchall()
            return [(*row[:-1], round(row[-1] / sample.share)) for row in rows], False

        def counted() -> tuple[list[tuple[Any, ...]], bool]:
            whole = where
            if self.exclude is not None:
                whole = where.extended(
                    f"e.entry_rowid NOT IN ({sql.MATCHING_ROWIDS})", self.exclude
                )
            try:
                with self.repo.database.limited_work(COUNT_STEPS):
                    return self.conn.execute(counting(whole, False), whole.params).fetchall(), True
            except WorkLimitReached:
                return sampled()

        key = ("counted", counting(where, False), tuple(where.params), self.exclude, exact)
        return self._cached(key, counted if exact else sampled)  # type: ignore[no-any-return]

    def page_ids(self, total: int) -> list[int]:
        """The page's ids by date: the entries newest first, less the excluded."""
        query, where = self.query, self.where()
        if self.exclude is None:
            return ordered_ids(self.conn, where, query.sort, query.offset, query.per_page)
        entries = self._cached("entries~", lambda: entries_estimate(self.conn))
        share = total / max(1, entries)
        sample = self.sample()
        excluded = round(len(sample.excluded) / sample.share)
        words = self.exclude.count('"') // 2
        if walk_pays(query.offset + query.per_page, share, excluded, words):
            found = newest_matches(
                self.conn,
                where,
                query.sort,
                query.offset,
                query.per_page,
                self.exclude,
                share,
                keep=False,
            )
            if found is not None:
                return found
        where.add(f"e.entry_rowid NOT IN ({sql.MATCHING_ROWIDS})", self.exclude)
        return ordered_ids(self.conn, where, query.sort, query.offset, query.per_page)

    def _cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        return self.repo.cache.get(("listing", self.generation, key), compute)
