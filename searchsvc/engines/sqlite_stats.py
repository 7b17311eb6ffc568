"""SQLite's counts for the stats document (searchsvc.engines.stats_document).

One GROUP BY per list over the entries a WHERE clause selects (sqlite_sql).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from searchsvc.engines import sqlite_sql as sql
from searchsvc.engines.matching import day_of
from searchsvc.engines.stats_document import PAIRS_LIMIT, StatsCounts, stats_document

if TYPE_CHECKING:
    from indexer.database import Connection


def compute_stats(conn: Connection, where: sql.Where, source: str) -> dict[str, Any]:
    """The stats document over the entries in `where` (`source` names the store)."""

    def counts(facet: str) -> list[tuple[Any, int]]:
        return conn.execute(sql.facet_sql(facet, where, None), where.params).fetchall()

    formats = dict(conn.execute(sql.FORMAT_TOTALS_SQL.format(where=where.sql()), where.params))
    dated = where.extended("e.timestamp_utc IS NOT NULL")
    days = conn.execute(sql.DAYS_SQL.format(where=dated.sql()), dated.params).fetchall()
    spoken = where.extended("e.speaker IS NOT NULL")
    pairs = conn.execute(
        sql.PAIRS_SQL.format(where=spoken.sql()), [*spoken.params, PAIRS_LIMIT]
    ).fetchall()
    files_total, last_sync = conn.execute(sql.FILES_TOTAL).fetchone()
    counts_of = StatsCounts(
        speakers=counts("speaker"),
        targets=counts("target"),
        moods=counts("mood"),
        files=counts("file"),
        formats=formats,
        days=[(day_of(day * 1000000) or "", count) for day, count in days if day],
        pairs=[tuple(row) for row in pairs],
        files_total=files_total,
        last_sync_utc=last_sync,
    )
    return stats_document(counts_of, source)
