"""The stats document from SQLite: totals, speakers, targets, moods, files, days, pairs.

One GROUP BY per list over the entries a WHERE clause selects (sqlite_sql).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from searchsvc.engines import sqlite_sql as sql
from searchsvc.engines.matching import day_of, top_counts
from searchsvc.query.filters import mood_family

if TYPE_CHECKING:
    from indexer.database import Connection

PAIRS_LIMIT = 500


def compute_stats(conn: Connection, where: sql.Where, source: str) -> dict[str, Any]:
    """The stats document over the entries in `where` (`source` names the store)."""

    def counts(facet: str) -> list[tuple[Any, int]]:
        return conn.execute(sql.facet_sql(facet, where, None), where.params).fetchall()

    formats = dict(conn.execute(sql.FORMAT_TOTALS_SQL.format(where=where.sql()), where.params))
    moods = counts("mood")
    families: dict[str, int] = {}
    for mood, count in moods:
        family = mood_family(mood)
        if family is not None:
            families[family] = families.get(family, 0) + count
    dated = where.extended("e.timestamp_utc IS NOT NULL")
    days = conn.execute(sql.DAYS_SQL.format(where=dated.sql()), dated.params).fetchall()
    spoken = where.extended("e.speaker IS NOT NULL")
    pairs = conn.execute(
        sql.PAIRS_SQL.format(where=spoken.sql()), [*spoken.params, PAIRS_LIMIT]
    ).fetchall()
    files_total, last_sync = conn.execute(sql.FILES_TOTAL).fetchone()
    speakers = counts("speaker")
    targets = counts("target")
    entries = sum(formats.values())
    return {
        "totals": {
            "entries": entries,
            "dialog_entries": entries - formats.get("section", 0),
            "sections": formats.get("section", 0),
            "files": files_total,
            "speakers": len(speakers),
            "targets": len(targets),
        },
        "speakers": _count_list(speakers),
        "targets": _count_list(targets),
        "moods": _count_list(moods),
        "mood_families": _count_list(families.items()),
        "files": _count_list(counts("file")),
        "formats": _count_list(formats.items()),
        "days": [{"value": day_of(day * 1000000), "count": count} for day, count in days if day],
        "pairs": [
            {"speaker": speaker, "target": target, "count": count}
            for speaker, target, count in pairs
        ],
        "last_sync_utc": last_sync,
        "mode": source,
        "source": source,
    }


def _count_list(pairs: Any) -> list[dict[str, Any]]:
    return [{"value": str(c.value), "count": c.count} for c in top_counts(pairs, limit=None)]
