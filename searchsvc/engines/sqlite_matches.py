"""The matches of an FTS5 expression: every one, or an even sample of a frequent expression.

FTS5 gives matches in rowid order, and rowids follow the order rows were written: file
after file (sql/0008). So the first N matches of a frequent word would all come from
the first files. When an expression matches more than the engine wants to read, it
reads a systematic sample instead: the rowid range is cut into STRIPES equal stripes
and the first `depth` rowids of every stripe are read (a seek per stripe, FTS5 skips
the rest). Every match is as likely to be in the sample wherever it sits, so counts
scaled from it are unbiased; a larger sample reads deeper into each stripe. It is not a
random sample: its matches come in runs of neighbouring rows (a stripe is 1/STRIPES of
the database, its sampled part a few dozen to a few hundred rows of one file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from searchsvc.engines import sqlite_sql as sql
from searchsvc.engines.answer_cache import Matches, MatchRows

if TYPE_CHECKING:
    from indexer.database import Connection

#: Stripes the rowid range is cut into (one FTS5 query each per read).
STRIPES = 32
#: ... each at least this many rowids wide (a small database has fewer stripes).
MIN_STRIPE_ROWIDS = 4
#: Read this much more than asked, so that one read usually suffices.
MARGIN = 1.1


@dataclass(frozen=True)
class Stripes:
    """Where a sample reads: `count` stripes of `width` rowids from `low`, `depth` of each read."""

    low: int
    width: int
    count: int
    depth: int = 0

    @classmethod
    def over(cls, low: int, high: int) -> Stripes:
        """Stripes covering the rowids low..high."""
        span = high - low + 1
        count = max(1, min(STRIPES, span // MIN_STRIPE_ROWIDS))
        return cls(low=low, width=math.ceil(span / count), count=count)

    @property
    def done(self) -> bool:
        """Whether every stripe was read to its end (the sample is every match)."""
        return self.depth >= self.width


def read_matches(
    conn: Connection, expression: str, want: int, found: Matches, total: int
) -> Matches:
    """`found` grown to at least `want` matches of `expression` (or all `total` of them).

    At most `want` matches: all of them, in one read. More: a sample (Stripes) read deep
    enough for about `want` matches, then deeper until it has `want`.
    """
    if found.stripes is None:
        if total <= want:
            rows = conn.execute(sql.SELECT_MATCHES, (expression,)).fetchall()
            return replace(found, rows=MatchRows(rows), complete=True)
        low, high = conn.execute(sql.ROWID_RANGE).fetchone()
        found = replace(found, stripes=Stripes.over(low or 0, high or 0))
    rows = list(found.rows)
    stripes = found.stripes
    assert stripes is not None
    while len(rows) < want and not stripes.done:
        if not stripes.depth:  # as deep as the matches' density says
            deeper = math.ceil(stripes.width * want * MARGIN / total)
        elif rows:  # as much deeper as the matches read so far say
            deeper = math.ceil(stripes.depth * want * MARGIN / len(rows))
        else:
            deeper = 4 * stripes.depth
        depth = min(stripes.width, max(stripes.depth + 1, deeper))
        rows += _read_stripes(conn, expression, stripes, depth)
        stripes = replace(stripes, depth=depth)
    complete = stripes.done or len(rows) >= total
    return replace(found, rows=MatchRows(rows), complete=complete, stripes=stripes)


def _read_stripes(
    conn: Connection, expression: str, stripes: Stripes, depth: int
) -> list[tuple[int, float]]:
    """The matches at depths stripes.depth..depth-1 of every stripe."""
    rows: list[tuple[int, float]] = []
    for number in range(stripes.count):
        start = stripes.low + number * stripes.width
        rows += conn.execute(
            sql.SELECT_MATCHES_BETWEEN, (expression, start + stripes.depth, start + depth)
        ).fetchall()
    return rows
