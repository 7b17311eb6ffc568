"""The file index's counts for the stats document (searchsvc.engines.stats_document)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from searchsvc.engines.matching import EntryAttrs, day_of
from searchsvc.engines.stats_document import StatsCounts, stats_document


def stats_of_attrs(rows: list[EntryAttrs], files_total: int, source: str) -> dict[str, Any]:
    """The stats document (as SqliteRepository.stats) from entry attributes."""
    speakers: Counter[str] = Counter()
    targets: Counter[str] = Counter()
    moods: Counter[str] = Counter()
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
        day = day_of(attrs.timestamp_utc)
        if day is not None:
            days[day] += 1
    ordered_pairs = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))
    counts = StatsCounts(
        speakers=list(speakers.items()),
        targets=list(targets.items()),
        moods=list(moods.items()),
        files=list(files.items()),
        formats=dict(formats),
        days=sorted(days.items()),
        pairs=[(speaker, target, count) for (speaker, target), count in ordered_pairs],
        files_total=files_total,
    )
    return stats_document(counts, source)
