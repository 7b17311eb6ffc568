"""Filter, facet and order entries by their attributes: the rules both repositories share.

The SQLite repository applies them to candidate rows it has fetched, the file
repository to every entry it holds, so a filter means the same thing in both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from operator import attrgetter
from typing import NamedTuple

from searchsvc.filters import Filters, file_matches, mood_family, target_variants
from searchsvc.repository import FACET_LIMIT, FacetCount


class EntryAttrs(NamedTuple):
    """What filters, facets and orders look at; `targets` are the entry's @targets."""

    entry_id: int
    speaker: str | None
    targets: tuple[str, ...]
    mood_rgb: str | None
    dialog_file: str
    format: str
    timestamp_utc: int | None


@lru_cache(maxsize=4096)
def _family(mood_rgb: str) -> str | None:
    return mood_family(mood_rgb)


def _target_set(targets: tuple[str, ...]) -> frozenset[str]:
    return frozenset(variant for target in targets for variant in target_variants(target))


class FilterCheck:
    """A compiled Filters: `passes(attrs, skip=facet)` ignores the facet's own filter."""

    def __init__(self, filters: Filters) -> None:
        self.filters = filters
        self.speakers = frozenset(filters.speakers)
        self.targets = _target_set(filters.targets)
        self.moods = frozenset(filters.moods)
        self.formats = frozenset(filters.formats)
        self.empty = filters == Filters()

    def passes(self, attrs: EntryAttrs, skip: str | None = None) -> bool:
        """Whether `attrs` satisfies every filter (but the one named `skip`)."""
        if self.empty:
            return True
        filters = self.filters
        if self.speakers and skip != "speaker" and attrs.speaker not in self.speakers:
            return False
        if self.formats and skip != "format" and attrs.format not in self.formats:
            return False
        if self.moods and skip != "mood":
            mood = attrs.mood_rgb
            if mood is None or (mood not in self.moods and _family(mood) not in self.moods):
                return False
        if self.targets and skip != "target" and self.targets.isdisjoint(attrs.targets):
            return False
        if filters.files and skip != "file" and not file_matches(attrs.dialog_file, filters.files):
            return False
        if filters.since is not None or filters.until is not None:
            stamp = attrs.timestamp_utc
            if stamp is None:
                return False
            if filters.since is not None and stamp < filters.since:
                return False
            if filters.until is not None and stamp > filters.until:
                return False
        return True


_FACET_FIELDS = {
    "speaker": "speaker",
    "mood": "mood_rgb",
    "file": "dialog_file",
    "format": "format",
}
_FILTER_OF_FACET = {
    "speaker": "speakers",
    "target": "targets",
    "mood": "moods",
    "file": "files",
    "format": "formats",
}


def count_facets(
    rows: Iterable[EntryAttrs], check: FilterCheck, facets: Iterable[str], scale: float = 1.0
) -> dict[str, tuple[FacetCount, ...]]:
    """Per facet, the most frequent values among `rows` passing all other filters.

    `scale` multiplies the counts (to estimate totals from a uniform sample).
    """
    rows = list(rows)
    filtered: list[EntryAttrs] | None = None
    result: dict[str, tuple[FacetCount, ...]] = {}
    for facet in facets:
        if getattr(check.filters, _FILTER_OF_FACET[facet]):
            subset = [attrs for attrs in rows if check.passes(attrs, skip=facet)]
        else:
            if filtered is None:
                filtered = [attrs for attrs in rows if check.passes(attrs)]
            subset = filtered
        counter: Counter[str] = Counter()
        if facet == "target":
            for attrs in subset:
                counter.update(attrs.targets)
        else:
            counter.update(map(attrgetter(_FACET_FIELDS[facet]), subset))
            counter.pop(None, None)  # type: ignore[call-overload]
        result[facet] = top_counts(counter.items(), scale)
    return result


def top_counts(
    pairs: Iterable[tuple[str, int]], scale: float = 1.0, limit: int | None = FACET_LIMIT
) -> tuple[FacetCount, ...]:
    """The `limit` largest (value, count) pairs, count desc then value, counts scaled."""
    ordered = sorted(pairs, key=lambda pair: (-pair[1], str(pair[0])))[:limit]
    if scale == 1.0:
        return tuple(FacetCount(value, count) for value, count in ordered)
    return tuple(FacetCount(value, max(1, round(count * scale))) for value, count in ordered)


def newest_key(attrs: EntryAttrs) -> tuple[bool, int, int]:
    """Sort key: newest first, entries without a timestamp last, then id descending."""
    stamp = attrs.timestamp_utc
    return (stamp is None, -(stamp or 0), -attrs.entry_id)


def oldest_key(attrs: EntryAttrs) -> tuple[bool, int, int]:
    """Sort key: oldest first, entries without a timestamp last, then id ascending."""
    stamp = attrs.timestamp_utc
    return (stamp is None, stamp or 0, attrs.entry_id)


def day_of(stamp: int | None) -> str | None:
    """YYYY-MM-DD of a YYYYMMDDHHMMSS timestamp."""
    if stamp is None:
        return None
    digits = f"{stamp:014d}"
    return f"{digits[0:4]}-{digits[4:6]}-{digits[6:8]}"
