"""The stats document of the file index, computed from the entries' attributes.

Same shape as the database's (searchsvc/engines/sqlite_stats.py), with `"source"`
and `"mode"` set to the engine's source; the database's size and last sync are None.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from searchsvc.engines.matching import EntryAttrs, day_of, top_counts
from searchsvc.query.filters import mood_family

#: Most (speaker, target) pairs listed, as in sqlite_stats.
PAIRS_LIMIT = 500


def stats_of_attrs(rows: list[EntryAttrs], files_total: int, source: str) -> dict[str, Any]:
    """The stats document (same shape as SqliteRepository.stats) from entry attributes."""
    speakers: Counter[str] = Counter()
    targets: Counter[str] = Counter()
    moods: Counter[str] = Counter()
    families: Counter[str] = Counter()
    files: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    days: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for attrs in rows:
        formats[attrs.format] += 1
        files[attrs.dialog_file] += 1
        if attrs.speaker is not None:
            speakers[attrs.speaker] += 1
            for target in attrs.targets:
                pairs[(attrs.speaker, target)] += 1
        targets.update(attrs.targets)
        if attrs.mood_rgb is not None:
            moods[attrs.mood_rgb] += 1
            family = mood_family(attrs.mood_rgb)
            if family is not None:
                families[family] += 1
        day = day_of(attrs.timestamp_utc)
        if day is not None:
            days[day] += 1

    def listed(counter: Counter[str]) -> list[dict[str, Any]]:
        counts = top_counts(counter.items(), limit=None)
        return [{"value": c.value, "count": c.count} for c in counts]

    ordered_pairs = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:PAIRS_LIMIT]
    entries = len(rows)
    return {
        "totals": {
            "entries": entries,
            "dialog_entries": entries - formats.get("section", 0),
            "sections": formats.get("section", 0),
            "files": files_total,
            "speakers": len(speakers),
            "targets": len(targets),
        },
        "speakers": listed(speakers),
        "targets": listed(targets),
        "moods": listed(moods),
        "mood_families": listed(families),
        "files": listed(files),
        "formats": listed(formats),
        "days": [{"value": day, "count": count} for day, count in sorted(days.items())],
        "pairs": [
            {"speaker": speaker, "target": target, "count": count}
            for (speaker, target), count in ordered_pairs
        ],
        "last_sync_utc": None,
        "database_size_bytes": None,
        "mode": source,
        "source": source,
    }
