"""The scope's and the copies' counts of a top-k search, in one pass (see Compiled.joint).

Two facets with filters of their own (the stack's `format` and `copy`) are counted from
one query without both filters: per pair of their values, how many matches hold both.
Each facet, and the search's total, is then read from those pairs with the other's
filter applied.
"""

from __future__ import annotations

from collections import Counter

import tantivy

from indexer.topk_schema import CHOICE_FILTERS, CHOICE_KEY, FACET_FIELDS
from searchsvc.engines.topk_query import CHOICES, Compiled
from searchsvc.repository import ENGINE_FACET_LIMIT as LIMIT
from searchsvc.repository import FacetCount

#: Buckets asked per field (as repo_topk's facets): every value there is.
FACET_TERMS = 1_000_000


def joint_pairs(searcher: tantivy.Searcher, compiled: Compiled) -> list[tuple[str, str, int]]:
    """(value of the first joint facet, of the second, how many matches hold both), for the
    query without both facets' filters (see Compiled)."""
    first, second = compiled.joint  # type: ignore[misc]
    if {first, second} <= CHOICES:
        # Both in one column (indexer.topk_schema.CHOICE_KEY): one flat count, decoded.
        spec = {"k": {"terms": {"field": CHOICE_KEY, "size": FACET_TERMS}}}
        buckets = searcher.aggregate(compiled.joint_query, spec)["k"]["buckets"]
        return [
            (_digit(first, int(b["key"])), _digit(second, int(b["key"])), int(b["doc_count"]))
            for b in buckets
        ]
    spec = {
        "a": {
            "terms": {"field": FACET_FIELDS[first], "size": FACET_TERMS},
            "aggs": {"b": {"terms": {"field": FACET_FIELDS[second], "size": FACET_TERMS}}},
        }
    }
    answer = searcher.aggregate(compiled.joint_query, spec)["a"]
    return [
        (str(outer["key"]), str(inner["key"]), int(inner["doc_count"]))
        for outer in answer["buckets"]
        for inner in outer["b"]["buckets"]
    ]


def _digit(name: str, key: int) -> str:
    """The value of the few-choice filter `name` in a CHOICE_KEY ("" for none of them)."""
    scale = 1
    for other, choices in CHOICE_FILTERS:
        if other == name:
            place = key // scale % (len(choices) + 1)
            return choices[place] if place < len(choices) else ""
        scale *= len(choices) + 1
    raise KeyError(name)


def joint_total(compiled: Compiled, pairs: list[tuple[str, str, int]]) -> int:
    """How many matches the full query has: the pairs both filters let through."""
    first, second = compiled.joint  # type: ignore[misc]
    allows = compiled.filters.allows
    return sum(count for a, b, count in pairs if allows(first, a) and allows(second, b))


def joint_facets(
    compiled: Compiled, pairs: list[tuple[str, str, int]]
) -> dict[str, tuple[FacetCount, ...]]:
    """Both joint facets from the pairs: a value's count sums the other's values its filter
    allows."""
    first, second = compiled.joint  # type: ignore[misc]
    allows = compiled.filters.allows
    found: dict[str, Counter[str]] = {first: Counter(), second: Counter()}
    for a, b, count in pairs:
        if allows(second, b):
            found[first][a] += count
        if allows(first, a):
            found[second][b] += count
    return {
        name: tuple(
            FacetCount(value, count)
            for value, count in sorted(found[name].items(), key=lambda item: (-item[1], item[0]))
        )[:LIMIT]
        for name in (first, second)
    }
