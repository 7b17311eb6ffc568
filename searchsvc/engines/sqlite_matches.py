"""The matches of an FTS5 expression: every one, or an even sample of a frequent expression.

FTS5 gives matches in rowid order, and rowids follow the order rows were written: file
after file (sql/0008). So the first N matches of a frequent word would all come from
the first files. When an expression matches more than the engine wants to read, it
reads a sample instead: the matches whose rowid hashes (Knuth's multiplicative hash,
modulo 2**32) below a threshold. Consecutive rowids hash far apart, so the sample is
spread evenly over the database, each file in proportion to its matches, and counts
scaled from it are unbiased; a larger sample raises the threshold and reads the
matches between the old and the new one.

What it costs: FTS5 still walks every match to test the hash (in SQLite's C, about
0.1 µs a match: some 80 ms for a word 900,000 of the 1.37 million entries of the 1M
benchmark hold), once per read; bm25 runs for the sampled rows only. (Reading runs of
rows at a few rowid ranges instead would cost one full bm25 set-up per range, which
walks the whole doclist each time: slower.)

Without bm25 (a search past the budget's `exact_postings`, unranked), walking every match
to test its hash would be the whole cost (about 9 SQLite steps a match: past the search's
work limit for a word most of a million entries hold), so an unranked sample of words
(not a prefix or a phrase: _IN_RUNS) is read in RUNS runs of consecutive rowids spread
evenly over the table instead: FTS5 seeks to each run's first rowid, and the sample costs
its own rows. Rows follow their files, so such a
sample is spread over RUNS places of the database rather than over every match (still
unbiased; coarser for a word a few files hold).
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from searchsvc.engines import sqlite_sql as sql
from searchsvc.engines.answer_cache import Matches, MatchRows
from searchsvc.engines.sqlite_budget import entries_estimate

if TYPE_CHECKING:
    from indexer.database import Connection

#: Hash values run over [0, HASH_RANGE) (sqlite_sql.SELECT_MATCHES_HASHED).
HASH_RANGE = sql.HASH_RANGE
#: Read this much more than asked, so that one read usually suffices.
MARGIN = 1.1
#: Runs of rowids an unranked sample reads (see the module docstring).
RUNS = 64
#: Expressions read cheaply in runs: words alone (FTS5 seeks each word's postings to the
#: run). Not a prefix (FTS5 expands and merges a prefix's postings in full for every
#: statement) nor a phrase of several words or NEAR (positions read for every statement):
#: those walk every match to sample them, unranked.
_IN_RUNS = re.compile(r'(?:\s|[()]|"[^"\s*]+"|OR|AND|NOT)*')


def read_matches(
    conn: Connection, expression: str, want: int, found: Matches, total: int, *, ranked: bool = True
) -> Matches:
    """`found` grown to at least `want` matches of `expression` (or all of about `total`).

    At most `want` matches: all of them, in one read. More: the sample whose hash is
    below a threshold set for about `want` matches, raised until it has `want`.
    `found.sampled` is the threshold read so far (None: nothing read yet). `total` need
    only be an estimate (the search budget's postings: at least the matches): it sets the
    first threshold. Not `ranked`: every score 0.0, no bm25.
    """
    if found.sampled is None and total <= want:
        select = sql.SELECT_MATCHES if ranked else sql.SELECT_MATCHES_UNRANKED
        rows = conn.execute(select, (expression,)).fetchall()
        return replace(found, rows=MatchRows(rows), complete=True, sampled=HASH_RANGE)
    if not ranked and _IN_RUNS.fullmatch(expression):
        return _read_runs(conn, expression, want, found, total)
    hashed = sql.SELECT_MATCHES_HASHED if ranked else sql.SELECT_MATCHES_HASHED_UNRANKED
    rows = list(found.rows)
    low = found.sampled or 0
    while len(rows) < want and low < HASH_RANGE:
        if rows:  # as much further as the matches read so far say
            high = math.ceil(low * want * MARGIN / len(rows))
        else:  # as far as the matches' density says
            high = math.ceil(HASH_RANGE * want * MARGIN / total) if not low else 4 * low
        high = min(HASH_RANGE, max(low + 1, high))
        rows += conn.execute(hashed, (expression, low, high)).fetchall()
        low = high
    complete = low >= HASH_RANGE
    return replace(found, rows=MatchRows(rows), complete=complete, sampled=low)


def _read_runs(conn: Connection, expression: str, want: int, found: Matches, total: int) -> Matches:
    """`found` grown to about `want` matches of `expression`, unranked (score 0.0), read in
    RUNS runs of rowids, one evenly placed in each RUNS-th of the table and each as long
    as about `want` of `total` matches need (grown at their ends, by the density found, while
    too few are read; every match at once when the runs say there are at most 2 `want`).
    `found.sampled` is the share of the table read, over HASH_RANGE (as a hash sample's)."""
    entries = max(1, entries_estimate(conn))
    if entries < RUNS:  # a table smaller than the runs: all of it
        return _every_unranked(conn, expression, found)
    step = entries / RUNS
    rows = list(found.rows)
    length = round((found.sampled or 0) / HASH_RANGE * step)
    while len(rows) < want and length < step:
        wanted = want * MARGIN / max(1, total)  # the share of the table to read
        if length:  # as far as the density of the runs read says
            if len(rows) * step / length <= 2 * want:  # few after all: all of them at once
                return _every_unranked(conn, expression, found)
            wanted = length / step * want * MARGIN / len(rows)
        grown = min(math.ceil(step), max(length + 1, math.ceil(step * wanted)))
        for run in range(RUNS):
            start = 1 + int(step * run)
            bounds = (start + length, min(start + grown, 1 + int(step * (run + 1))))
            rows += conn.execute(sql.SELECT_MATCHES_IN_RUN, (expression, *bounds)).fetchall()
        length = grown
    share = min(1.0, length / step)
    sampled = HASH_RANGE if share >= 1.0 else max(1, round(share * HASH_RANGE))
    return replace(found, rows=MatchRows(rows), complete=share >= 1.0, sampled=sampled)


def _every_unranked(conn: Connection, expression: str, found: Matches) -> Matches:
    rows = conn.execute(sql.SELECT_MATCHES_UNRANKED, (expression,)).fetchall()
    return replace(found, rows=MatchRows(rows), complete=True, sampled=HASH_RANGE)
