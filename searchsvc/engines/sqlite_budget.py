"""How FTS5 keeps a search within its budget (searchsvc.query.budget): counts bounded by
work, estimates from samples, and the newest matches of a broad search without reading
every match.

A match sample (sqlite_matches) holds the matches whose rowid hashes below a threshold,
`Matches.sampled`, of HASH_RANGE: that share of all the matches, spread evenly over the
database, so the total is the sample's size over its share. A total or facet over more
than EXACT_ROWS rows (as the sample estimates them), or one that would take more than
COUNT_STEPS SQLite steps (work, not time: `Database.limited_work`), is estimated from the
sample instead.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from indexer.store_errors import WorkLimitReached
from searchsvc.engines import sqlite_sql as sql
from searchsvc.engines.answer_cache import Matches
from searchsvc.engines.sqlite_page import ordered_ids
from searchsvc.repository import SearchQuery

if TYPE_CHECKING:
    from indexer.database import Connection, Database

#: A search's total (FTS5's count of its matches, about 70 ns a match) is counted exactly
#: up to about this many matches (its sample's estimate says how many), else estimated.
EXACT_ROWS = 100_000
#: The same for the totals and facets of a listing without words, which read the entries
#: table itself (about a microsecond a row: its big rows span overflow pages).
EXACT_LISTING_ROWS = 20_000
#: SQLite steps an exact count may take before it is estimated instead: a count(*) of
#: a MATCH takes about two a match, of the entries table with filters about eight a row
#: (whatever the result's size: a condition no index holds visits every row).
COUNT_STEPS = 250_000
#: Entries the newest-first walk looks at before the matches are read in full instead.
WALK_ROWS = 1000
#: Reading every match of an expression costs FTS5 about 0.4 µs a match (its posting list
#: and a temporary index of the ids); asking it whether one entry matches, about 0.2 ms
#: a word: the walk pays when it asks fewer entries than this many matches' worth.
MATCHES_PER_ASK = 500
#: About how many entries the table holds: its rowids are dense (sql/0008).
ENTRIES_ESTIMATE = "SELECT max(entry_rowid) FROM lupo_dialog_entries"
#: Which of some entries (public ids, a JSON list) match an expression (FTS5 is asked
#: for their rowids only).
MATCHES_AMONG = (
    f"SELECT e.dialog_entry_id FROM {sql.FTS} "
    f"JOIN lupo_dialog_entries e ON e.entry_rowid = {sql.FTS}.rowid "
    f"WHERE {sql.FTS} MATCH ? AND {sql.FTS}.rowid IN ("
    "SELECT entry_rowid FROM lupo_dialog_entries "
    "WHERE dialog_entry_id IN (SELECT value FROM json_each(?)))"
)


def estimated_total(found: Matches) -> int:
    """How many matches there are, from the share of the hash range the sample covers."""
    rows = found.rows
    if found.complete or not rows or not found.sampled:
        return len(rows)
    return max(len(rows), round(len(rows) * sql.HASH_RANGE / found.sampled))


def guessed_matches(
    database: Database, conn: Connection, expression: str, postings: int | None
) -> int:
    """About how many entries `expression` matches, to size its first sample
    (sqlite_matches): the postings the budget says the search reads (at least its
    matches), else counted within COUNT_STEPS of work, else every entry (the sample then
    grows by the density it finds)."""
    if postings is not None:
        return postings
    try:
        with database.limited_work(COUNT_STEPS):
            return int(conn.execute(sql.COUNT_MATCHES, (expression,)).fetchone()[0])
    except WorkLimitReached:
        return entries_estimate(conn)


def entries_estimate(conn: Connection) -> int:
    """About how many entries the table holds (its largest rowid: one index step)."""
    return int(conn.execute(ENTRIES_ESTIMATE).fetchone()[0] or 0)


def walk_pays(needed: int, share: float, matches: int, words: int) -> bool:
    """Whether walking the entries newest first to find `needed` of those kept (`share` of
    them) costs less than reading the `matches` of an expression of `words` words."""
    rows = needed / max(share, 1e-6)
    return rows <= WALK_ROWS and rows * MATCHES_PER_ASK * max(1, words) <= matches


def newest_matches(
    conn: Connection,
    where: sql.Where,
    sort: str,
    offset: int,
    per_page: int,
    expression: str,
    share: float,
    *,
    keep: bool = True,
) -> list[int] | None:
    """The page of matches of `expression` in `where` by date (not `keep`: of the entries
    that do not match it), walking the entries newest (or oldest) first and asking FTS5
    which of them match; `share`: the part of the entries kept (estimated). None when
    WALK_ROWS entries do not fill the page."""
    needed = offset + per_page
    batch = min(WALK_ROWS, max(needed, math.ceil(needed / max(share, 1e-6) * 1.5)))
    found: list[int] = []
    seen = 0
    while len(found) < needed and seen < WALK_ROWS:
        ids = ordered_ids(conn, where, sort, seen, batch, "idx_entries_timestamp")
        if not ids:
            return found[offset:needed]
        matching = {row[0] for row in conn.execute(MATCHES_AMONG, (expression, json.dumps(ids)))}
        found += [entry_id for entry_id in ids if (entry_id in matching) == keep]
        seen += len(ids)
    return found[offset:needed] if len(found) >= needed else None


def matches_by_date(
    conn: Connection,
    where: sql.Where,
    query: SearchQuery,
    expression: str,
    total: int,
    entries: int,
) -> list[int]:
    """The page of the `total` matches of `expression` in `where` by date (of `entries`):
    walked from the newest entries when that pays (a frequent word), else from every
    match of `expression`."""
    share = total / max(1, entries)
    words = len(query.match.positive_phrases()) if query.match is not None else 1
    if walk_pays(query.offset + query.per_page, share, total, words):
        ids = newest_matches(
            conn, where, query.sort, query.offset, query.per_page, expression, share
        )
        if ids is not None:
            return ids
    where = where.extended(f"e.entry_rowid IN ({sql.MATCHING_ROWIDS})", expression)
    return ordered_ids(
        conn, where, query.sort, query.offset, query.per_page, "idx_entries_timestamp"
    )
