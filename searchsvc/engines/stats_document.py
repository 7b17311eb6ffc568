"""The stats document, built in one place from counts each engine gathers its own way.

SQLite counts with GROUP BY (sqlite_stats), the file index from the entries'
attributes (file_stats); both hand their counts to `stats_document`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from searchsvc.engines.matching import top_counts
from searchsvc.query.filters import mood_family
from searchsvc.query.names import group_facet, group_pairs
from searchsvc.repository import FacetCount

#: Most (speaker, target) pairs listed.
PAIRS_LIMIT = 500


@dataclass(frozen=True)
class StatsCounts:
    """(value, count) per list; `days` in date order, `pairs` most frequent first."""

    speakers: list[tuple[str, int]]
    targets: list[tuple[str, int]]
    moods: list[tuple[str, int]]
    files: list[tuple[str, int]]
    formats: dict[str, int]
    days: list[tuple[str, int]]
    pairs: list[tuple[str, str, int]]
    files_total: int
    last_sync_utc: int | None = None


def _listed(pairs: Iterable[tuple[Any, int]]) -> list[dict[str, Any]]:
    return [{"value": str(c.value), "count": c.count} for c in top_counts(pairs, limit=None)]


def _people(facet: str, pairs: list[tuple[str, int]]) -> tuple[FacetCount, ...]:
    """A list of names as persons (searchsvc.query.names): one value per person."""
    return group_facet(facet, (FacetCount(value, count) for value, count in pairs), None)


def _listed_people(people: tuple[FacetCount, ...]) -> list[dict[str, Any]]:
    return [{"value": c.value, "count": c.count, "variants": list(c.variants)} for c in people]


def stats_document(counts: StatsCounts, source: str) -> dict[str, Any]:
    """Totals, the lists, mood families, days and pairs; `source` names the engine's store.

    Speakers and targets are persons: every spelling of a name counted as one, shown by
    its most common spelling (with `variants`), in the lists and in the pairs.
    """
    speakers, targets = _people("speaker", counts.speakers), _people("target", counts.targets)
    pairs = group_pairs(counts.pairs, speakers, targets)
    families: dict[str, int] = {}
    for mood, count in counts.moods:
        family = mood_family(mood)
        if family is not None:
            families[family] = families.get(family, 0) + count
    entries = sum(counts.formats.values())
    sections = counts.formats.get("section", 0)
    return {
        "totals": {
            "entries": entries,
            "dialog_entries": entries - sections,
            "sections": sections,
            "files": counts.files_total,
            "speakers": len(speakers),
            "targets": len(targets),
        },
        "speakers": _listed_people(speakers),
        "targets": _listed_people(targets),
        "moods": _listed(counts.moods),
        "mood_families": _listed(families.items()),
        "files": _listed(counts.files),
        "formats": _listed(counts.formats.items()),
        "days": [{"value": day, "count": count} for day, count in counts.days],
        "pairs": [
            {"speaker": speaker, "target": target, "count": count}
            for speaker, target, count in pairs[:PAIRS_LIMIT]
        ],
        "last_sync_utc": counts.last_sync_utc,
        "database_size_bytes": None,
        "mode": source,
        "source": source,
    }
