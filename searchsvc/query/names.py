"""People's names in searches: any spelling finds every spelling, facets show one per person.

The stores hold names as written. A NameIndex knows every spelling a store holds (the
distinct speaker fields, the distinct @target tokens) and turns a filter value into the
spellings of the same person (dialogfile.names: one key per name; a speaker field that
names several people belongs to each of them). `group_facet` folds a facet's counts per
spelling into counts per person, shown by the most common spelling, with the others as
`variants`. The search stack applies both, so every engine answers the same.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from dialogfile.fields import FILTER, TARGETS
from dialogfile.names import name_key, name_keys, split_names
from searchsvc.query.filters import Filters
from searchsvc.repository import FacetCount

#: The filters (and facets) that compare names: speaker, target.
NAME_FILTERS = tuple(name for name, spec in FILTER.items() if spec.names)


class NameIndex:
    """Every spelling of the names a store holds: speaker fields and @target tokens."""

    def __init__(self, speakers: Iterable[str | None], targets: Iterable[str | None]) -> None:
        self._speakers: dict[str, list[str]] = defaultdict(list)
        for field in {value for value in speakers if value}:
            for key in name_keys(field):
                self._speakers[key].append(field)
        self._targets: dict[str, list[str]] = defaultdict(list)
        for token in {value for value in targets if value}:
            self._targets[name_key(token)].append(token)

    def spellings(self, facet: str, value: str) -> tuple[str, ...]:
        """The stored values that name the person (or people) of `value`, itself included.

        A speaker value naming several people finds the fields naming all of them.
        """
        if FILTER[facet].kind == TARGETS:
            found = set(self._targets.get(name_key(value), ()))
        else:
            keys = name_keys(value)
            sets = [set(self._speakers.get(key, ())) for key in keys]
            found = set.intersection(*sets) if sets else set()
        return tuple(sorted(found | {value}))

    def resolve(self, filters: Filters) -> Filters:
        """`filters` with each name value replaced by every spelling of that name."""
        for facet in NAME_FILTERS:
            wanted, unwanted = filters.get(facet), filters.get_excluded(facet)
            if wanted or unwanted:
                filters = filters.replaced(
                    facet, self._all(facet, wanted), self._all(facet, unwanted)
                )
        return filters

    def _all(self, facet: str, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for value in values for s in self.spellings(facet, value)))


def group_facet(
    facet: str, counts: Iterable[FacetCount], limit: int | None
) -> tuple[FacetCount, ...]:
    """Counts per person: a speaker field counts for each name in it; the most common spelling.

    Counts of a person's spellings add up (an entry has one speaker field, so no entry
    is counted twice for one person).
    """
    totals: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for item in counts:
        names = (item.value,) if FILTER[facet].kind == TARGETS else split_names(item.value)
        for name in names:
            key = name_key(name)
            if key:
                totals[key] += item.count
                spellings[key][name] += item.count
    ordered = []
    for key, total in totals.items():
        variants = sorted(spellings[key].items(), key=lambda pair: (-pair[1], pair[0]))
        shown = variants[0][0]
        ordered.append(FacetCount(shown, total, tuple(name for name, _ in variants)))
    ordered.sort(key=lambda item: (-item.count, item.value))
    return tuple(ordered[:limit])


def group_pairs(
    pairs: Iterable[tuple[str, str, int]],
    speakers: Iterable[FacetCount],
    targets: Iterable[FacetCount],
) -> list[tuple[str, str, int]]:
    """(speaker, target, count) per pair of persons, each shown as in its grouped facet.

    `speakers` and `targets` are group_facet's answers (their variants name every
    spelling); a speaker field naming several people counts for each of them.
    """
    shown = {
        ("speaker", name_key(variant)): item.value
        for item in speakers
        for variant in (*item.variants, item.value)
    }
    shown.update(
        {
            ("target", name_key(variant)): item.value
            for item in targets
            for variant in (*item.variants, item.value)
        }
    )
    totals: Counter[tuple[str, str]] = Counter()
    for speaker, target, count in pairs:
        to = shown.get(("target", name_key(target)), target)
        for name in split_names(speaker) or (speaker,):
            totals[(shown.get(("speaker", name_key(name)), name), to)] += count
    return [(s, t, c) for (s, t), c in sorted(totals.items(), key=lambda i: (-i[1], i[0]))]
