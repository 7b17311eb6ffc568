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
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from searchsvc.engines import sqlite_sql as sql
from searchsvc.engines.answer_cache import Matches, MatchRows

if TYPE_CHECKING:
    from indexer.database import Connection

#: Hash values run over [0, HASH_RANGE) (sqlite_sql.SELECT_MATCHES_HASHED).
HASH_RANGE = sql.HASH_RANGE
#: Read this much more than asked, so that one read usually suffices.
MARGIN = 1.1


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
    select, hashed = sql.SELECT_MATCHES, sql.SELECT_MATCHES_HASHED
    if not ranked:
        select, hashed = sql.SELECT_MATCHES_UNRANKED, sql.SELECT_MATCHES_HASHED_UNRANKED
    if found.sampled is None and total <= want:
        rows = conn.execute(select, (expression,)).fetchall()
        return replace(found, rows=MatchRows(rows), complete=True, sampled=HASH_RANGE)
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
