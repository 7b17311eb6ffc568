"""Filter, facet and order entries by their attributes: the rules both repositories share.

The SQLite repository applies them to candidate rows it has fetched, the file
repository to every entry it holds, so a filter means the same thing in both. The
attributes, the filters and the facets come from dialogfile.fields; each filter is
checked by its kind.
"""

from __future__ import annotations

from collections import Counter, namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import compress
from operator import and_, attrgetter
from typing import Any, NamedTuple

from dialogfile.fields import DATE_FILTER, FILTER, MOOD, PATH, TARGETS, VALUE_FILTERS, Filter
from searchsvc.query.filters import Filters, file_matches, mood_family, target_variants
from searchsvc.repository import ENGINE_FACET_LIMIT, FacetCount


def _attribute(spec: Filter) -> str:
    """The EntryAttrs attribute a filter reads: its field, or `targets` (the @target tokens)."""
    return "targets" if spec.kind == TARGETS else spec.field


#: What filters, facets and orders look at: the id, the attribute of each filter with
#: values (the @target tokens for `target`), then the date's (`timestamp_utc`).
ATTRIBUTES = (
    "entry_id",
    *dict.fromkeys(_attribute(spec) for spec in VALUE_FILTERS),
    DATE_FILTER.field,
)
EntryAttrs = namedtuple("EntryAttrs", ATTRIBUTES)  # type: ignore[misc]
#: The attributes read from an entry's own columns: all but the id and the @targets.
COLUMN_ATTRIBUTES = tuple(name for name in ATTRIBUTES[1:] if name != "targets")
_TARGETS_AT = ATTRIBUTES.index("targets")


def entry_attrs(entry_id: int, values: Iterable[Any], targets: tuple[str, ...]) -> EntryAttrs:
    """EntryAttrs from the COLUMN_ATTRIBUTES values (in that order) and the @target tokens."""
    items = [entry_id, *values]
    items.insert(_TARGETS_AT, targets)
    return EntryAttrs._make(items)


@lru_cache(maxsize=4096)
def _family(mood_rgb: str) -> str | None:
    return mood_family(mood_rgb)


def _target_set(targets: tuple[str, ...]) -> frozenset[str]:
    return frozenset(variant for target in targets for variant in target_variants(target))


class _Test(NamedTuple):
    """One filter compiled: the attribute it reads and whether a value of it passes."""

    name: str
    read: Callable[[EntryAttrs], Any]
    passes: Callable[[Any], bool]


def _value_test(spec: Filter, values: tuple[str, ...]) -> _Test:
    """The test of one filter with values, by the filter's kind."""
    read = attrgetter(_attribute(spec))
    if spec.kind == TARGETS:
        variants = _target_set(values)
        return _Test(spec.name, read, lambda targets: not variants.isdisjoint(targets))
    if spec.kind == MOOD:
        moods = frozenset(values)

        def mood_passes(mood: str | None) -> bool:
            return mood is not None and (mood in moods or _family(mood) in moods)

        return _Test(spec.name, read, mood_passes)
    if spec.kind == PATH:
        return _Test(spec.name, read, lambda path: file_matches(path, values))
    return _Test(spec.name, read, frozenset(values).__contains__)


def _excluded_test(spec: Filter, values: tuple[str, ...]) -> _Test:
    """The test that the values of one filter do not hold (its facet skips it too)."""
    test = _value_test(spec, values)
    return _Test(spec.name, test.read, lambda value: not test.passes(value))


def _date_test(since: int | None, until: int | None) -> _Test:
    """The test of the date range (an undated entry never passes)."""

    def date_passes(stamp: int | None) -> bool:
        if stamp is None:
            return False
        return (since is None or stamp >= since) and (until is None or stamp <= until)

    return _Test(DATE_FILTER.name, attrgetter(DATE_FILTER.field), date_passes)


class FilterCheck:
    """A compiled Filters; `skip=facet` ignores the facet's own filter.

    `mask` and `select` test many rows at once: each filter looks at the distinct
    values of its attribute once, and the rows are sorted out in C (several times
    faster than `passes` row by row).
    """

    def __init__(self, filters: Filters) -> None:
        self.filters = filters
        self.tests = [_value_test(spec, values) for spec, values in filters.items()]
        self.tests += [_excluded_test(spec, values) for spec, values in filters.excluded_items()]
        if filters.since is not None or filters.until is not None:
            self.tests.append(_date_test(filters.since, filters.until))
        self.empty = not self.tests

    def passes(self, attrs: EntryAttrs, skip: str | None = None) -> bool:
        """Whether `attrs` satisfies every filter (but the one named `skip`)."""
        for test in self.tests:
            if test.name != skip and not test.passes(test.read(attrs)):
                return False
        return True

    def mask(self, rows: Sequence[EntryAttrs], skip: str | None = None) -> list[bool]:
        """Per row, whether it satisfies every filter (but the one named `skip`)."""
        result: Iterator[bool] | None = None
        for test in self.tests:
            if test.name == skip:
                continue
            values = list(map(test.read, rows))
            passing = {value for value in set(values) if test.passes(value)}
            flags = map(passing.__contains__, values)
            result = flags if result is None else map(and_, result, flags)
        return [True] * len(rows) if result is None else list(result)

    def select(self, rows: Sequence[EntryAttrs], skip: str | None = None) -> list[EntryAttrs]:
        """The rows that satisfy every filter (but the one named `skip`), in order."""
        return list(compress(rows, self.mask(rows, skip)))


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
        if check.filters.get(facet) or check.filters.get_excluded(facet):
            subset = check.select(rows, skip=facet)
        else:
            if filtered is None:
                filtered = check.select(rows)
            subset = filtered
        spec = FILTER[facet]
        read = attrgetter(_attribute(spec))
        counter: Counter[str] = Counter()
        if spec.kind == TARGETS:
            for attrs in subset:
                counter.update(read(attrs))
        else:
            counter.update(map(read, subset))
            counter.pop(None, None)  # type: ignore[call-overload]
        result[facet] = top_counts(counter.items(), scale)
    return result


def top_counts(
    pairs: Iterable[tuple[str, int]], scale: float = 1.0, limit: int | None = ENGINE_FACET_LIMIT
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
