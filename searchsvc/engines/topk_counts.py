"""A top-k search's counts: the facets (facets_of), the scope's and the copies' counts,
and the sample other facets are counted from when a search matches very many entries.

When the stack counts the format and copy facets only for the scopes and the folded
(SearchQuery.scope_facets), `scope_counts` answers them with two cheap count-only
searches. Otherwise two facets with filters of their own (the stack's `format` and
`copy`) are counted from one query without both filters: per pair of their values, how
many matches hold both. Each facet, and the search's total, is then read from those pairs
with the other's filter applied.

Counting speaker, target, mood or file over a million matches takes tens of
milliseconds; past the budget's `facet_matches` (searchsvc.query.budget) they are
counted over the matches whose id is below a bound instead, scaled: ids are hashes
(dialogfile.identity), so those are a uniform sample.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import tantivy

from dialogfile.copies import COPY as COPY_STATE
from dialogfile.identity import ID_BITS
from indexer.topk_schema import (
    CHOICE_FILTERS,
    CHOICE_KEY,
    ENTRY_SIDE,
    FACET_FIELDS,
    SECTION_FORMAT,
    SECTION_SIDE,
)
from searchsvc.engines.topk_query import CHOICES, FORMAT, Compiled, sides_of
from searchsvc.query.filters import Filters
from searchsvc.repository import ENGINE_FACET_LIMIT as LIMIT
from searchsvc.repository import FacetCount, SearchQuery

#: The copy filter's name (its facet counts the folded).
COPY = "copy"

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


@dataclass(frozen=True)
class ScopeCounts:
    """What scope_counts found: the other scope's matches (by its name) and the folded."""

    other: tuple[str, int] | None
    folded: int | None

    def scopes(self, total: int) -> dict[str, int] | None:
        """Both scopes' counts, the search's own `total` for its own scope."""
        if self.other is None:
            return None
        name, count = self.other
        mine = SECTION_SIDE if name == ENTRY_SIDE else ENTRY_SIDE
        return {ENTRY_SIDE: 0, SECTION_SIDE: 0} | {mine: total, name: count}


def scope_counts(
    searcher: tantivy.Searcher, query: SearchQuery, compile_query: Callable, *, copies: bool = True
) -> ScopeCounts:
    """The counts a search asks by SearchQuery.scope_facets beside its own total: two
    count-only searches, no facet pass over every match.

    The other scope is the other side of the index (topk_schema.SIDE_FIELDS): a pass over
    that side's postings alone. The folded are the matches that are copies: an
    intersection with the few copies' postings (none when the index holds no copy).
    `compile_query(filters)` is the search's query under other filters; `copies` False:
    no copy can match (topk_copies), none folded.
    """
    filters, counted = query.filters, set(query.scope_facets)
    other = folded = None
    if FORMAT in counted:
        base = filters.without(FORMAT)
        if sides_of(filters) == (ENTRY_SIDE,):
            name, narrowed = SECTION_SIDE, base.merged(Filters({FORMAT: (SECTION_FORMAT,)}))
        else:
            name, narrowed = ENTRY_SIDE, base.merged(Filters(excluded={FORMAT: (SECTION_FORMAT,)}))
        other = (name, _count(searcher, compile_query(narrowed)))
    if COPY in counted:
        only_copies = filters.without(COPY).merged(Filters({COPY: (COPY_STATE,)}))
        any_copy = copies and searcher.doc_freq(FACET_FIELDS[COPY], COPY_STATE) > 0
        folded = _count(searcher, compile_query(only_copies)) if any_copy else 0
    return ScopeCounts(other, folded)


def _count(searcher: tantivy.Searcher, query: tantivy.Query) -> int:
    return int(searcher.search(query, limit=1, count=True).count)


#: Every id is below this (dialogfile.identity).
ID_SPACE = 2**ID_BITS


@dataclass(frozen=True)
class IdSample:
    """The matches with an id below a bound: `query` keeps them, `share` of the id space."""

    query: tantivy.Query
    share: float


def id_sample(schema: tantivy.Schema, matches: int, wanted: int) -> IdSample | None:
    """A filter keeping about `wanted` of a search's `matches` (None: count them all)."""
    if matches <= wanted:
        return None
    share = wanted / matches
    upper = int(ID_SPACE * share)
    keep = tantivy.Query.range_query(
        schema, "id", tantivy.FieldType.Unsigned, 0, upper, use_inverted_index=False
    )
    return IdSample(keep, upper / ID_SPACE)


def facets_of(
    searcher: tantivy.Searcher,
    compiled: Compiled,
    names: tuple[str, ...],
    pairs: list[tuple[str, str, int]] | None = None,
    *,
    sample: IdSample | None = None,
) -> tuple[dict[str, tuple[FacetCount, ...]], bool]:
    """Each facet's LIMIT most frequent values (count desc, then value), exact?

    Facets without a filter of their own count over the full query, in one pass; the
    scope's and copies' (joint) from `pairs`, the others over `sample` when given (scaled).
    """
    joint = compiled.joint if compiled.joint and set(compiled.joint) <= set(names) else ()
    if joint and pairs is None:
        pairs = joint_pairs(searcher, compiled)
    counts = joint_facets(compiled, pairs) if joint and pairs is not None else {}
    shared = [n for n in names if n not in compiled.facet_queries and n not in joint]
    groups = [(compiled.query, shared)] if shared else []
    groups += [(compiled.facet_queries[n], [n]) for n in names if n in compiled.facet_queries]
    exact = sample is None or not groups
    for query, group in groups:
        if sample is not None:
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, query), (tantivy.Occur.Must, sample.query)]
            )
        answer = _terms(searcher, query, group, LIMIT * 4)
        for name in group:
            buckets, complete = answer[name]
            if not complete:  # values tied at the cut could be missing: ask for all of them
                buckets, complete = _terms(searcher, query, [name], FACET_TERMS)[name]
            if sample is not None:
                buckets = [(value, round(count / sample.share)) for value, count in buckets]
            counts[name] = tuple(FacetCount(value, count) for value, count in buckets[:LIMIT])
            exact = exact and complete
    return {name: counts[name] for name in names}, exact


def _terms(
    searcher: tantivy.Searcher, query: tantivy.Query, names: list[str], size: int
) -> dict[str, tuple[list[tuple[str, int]], bool]]:
    """Per facet: (value, count) most frequent first, and whether the list is exact to the limit."""
    spec = {
        name: {"terms": {"field": FACET_FIELDS[name], "size": size, "segment_size": FACET_TERMS}}
        for name in names
    }
    answer = searcher.aggregate(query, spec)
    result = {}
    for name in names:
        found = answer[name]
        pairs = sorted((-b["doc_count"], str(b["key"])) for b in found["buckets"])
        buckets = [(value, -negative) for negative, value in pairs]
        cut = found.get("sum_other_doc_count", 0) > 0
        # Past the limit, a value tied with the last one shown may have been cut off.
        tied_at_cut = cut and len(buckets) > LIMIT and buckets[-1][1] >= buckets[LIMIT - 1][1]
        complete = not found.get("doc_count_error_upper_bound") and not tied_at_cut
        result[name] = (buckets, complete)
    return result
