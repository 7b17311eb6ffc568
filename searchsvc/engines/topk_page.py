"""The page of a top-k search: its entries' ids in order, by relevance (weighed by the
places that hold each entry) or by date, and the exact total (searchsvc.engines.repo_topk).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tantivy

from indexer.topk_schema import COPY_WEIGHT, UNDATED_OLDEST
from searchsvc.engines.topk_query import Compiled
from searchsvc.repository import SearchQuery

#: How many matches past the page a search reads, for those tied with its last one.
TIES = 16


def page_ids(
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    compiled: Compiled,
    query: SearchQuery,
    *,
    count: bool = True,
    weighed: Callable[[], list[tuple[float, Any]]] | None = None,
) -> tuple[list[int], int]:
    """The ids of the page wanted, in order, and the exact total (-1 when not `count`ed).

    Relevance weighs each score by the places that hold the entry (topk_schema.COPY_WEIGHT).
    Only the few entries with copies have a weight above 1, so the page is the search's
    own best merged with `weighed()`, the best of those entries alone, weighed
    (weighed_best, which the caller may have started on another core; None: no entry
    with copies can match, every weight is 1): exact, without reading a weight for each
    of a million matches (a tenth more CPU for a common word).
    """
    if _by_relevance(query):
        needed = query.offset + query.per_page
        hits, total = _best(searcher, compiled.query, needed, count=count)
        if weighed is not None:
            hits += weighed()
        ids = searcher.fast_field_values("id", [address for _, address in hits])
        # A record in both lists keeps its weighed score (the higher one); equal scores by
        # id, as FTS5 and the file index order them (tantivy orders them by document
        # address, which each build of the index lays out anew).
        best: dict[int, float] = {}
        for (score, _), entry_id in zip(hits, ids, strict=True):
            best[entry_id] = max(score, best.get(entry_id, score))
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        page = ranked[query.offset : needed]
        return [entry_id for entry_id, _ in page], total
    field = "oldest" if query.sort == "oldest" else "newest"
    needed = query.offset + query.per_page
    return _by_date(searcher, schema, compiled.query, field, query.offset, needed)


def _by_relevance(query: SearchQuery) -> bool:
    return query.sort == "relevance" and query.match is not None and query.match.include is not None


def weighed_best(
    searcher: tantivy.Searcher, schema: tantivy.Schema, compiled: Compiled, query: SearchQuery
) -> Callable[[], list[tuple[float, Any]]] | None:
    """The work that finds page_ids' `weighed` list, or None when the page is not by
    relevance (nothing to weigh)."""
    if not _by_relevance(query):
        return None
    needed = query.offset + query.per_page
    return lambda: _weighed_best(searcher, schema, compiled.query, needed)


def _weighed_best(
    searcher: tantivy.Searcher, schema: tantivy.Schema, query: tantivy.Query, needed: int
) -> list[tuple[float, Any]]:
    """The `needed` best matches among the entries with copies (copy_count > 1, an
    original or a copy), each score weighed by its COPY_WEIGHT. A weight only raises a score,
    so the weighed page's entries with copies are among these and the others among the
    search's own best."""
    # Weights above 0 (copy_count > 1), a filter that adds nothing to the score.
    holders = tantivy.Query.range_query(
        schema, COPY_WEIGHT, tantivy.FieldType.Float, 0.0, None,
        include_lower=False, use_inverted_index=True,
    )  # fmt: skip
    within = tantivy.Query.boolean_query(
        [
            (tantivy.Occur.Must, query),
            (tantivy.Occur.Must, tantivy.Query.const_score_query(holders, 0.0)),
        ]
    )
    return _best(searcher, within, needed, weight=COPY_WEIGHT)[0]


def _best(
    searcher: tantivy.Searcher,
    query: tantivy.Query,
    needed: int,
    *,
    count: bool = False,
    weight: str | None = None,
) -> tuple[list[tuple[float, Any]], int]:
    """The `needed` best matches and up to TIES more (tantivy cuts a tie by document
    address, the page orders it by id: a tie of up to TIES past the cut is ordered right;
    a longer one, e.g. a prefix that scores every match alike, as tantivy laid it out),
    and the total (-1 unless `count`). One search: asking for a few more costs nothing."""
    found = searcher.search(query, limit=needed + TIES, count=count, weight_by_field=weight)
    return list(found.hits), int(found.count) if count else -1


def _by_date(
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    query: tantivy.Query,
    field: str,
    offset: int,
    needed: int,
) -> tuple[list[int], int]:
    """A page by date key (descending), ties by id as SQLite orders them (newest: id desc)."""
    ids_descending = field == "newest"
    result = searcher.search(
        query, limit=needed, count=True, order_by_field=field, order=tantivy.Order.Desc
    )
    keys = [int(key) for key, _ in result.hits]
    ids = searcher.fast_field_values("id", [address for _, address in result.hits])
    pairs = list(zip(keys, ids, strict=True))

    def order(pair: tuple[int, int]) -> tuple[int, int]:
        return (-pair[0], -pair[1] if ids_descending else pair[1])

    if int(result.count) > len(pairs) and pairs:
        # More matches share the last key than this page holds: take them by id order.
        last = pairs[-1][0]
        pairs = [pair for pair in pairs if pair[0] > last]
        # The same entries by their `newest` key, which is indexed (a fast-field range
        # would scan the whole column: 20 ms at 1M entries).
        stamp = last if ids_descending else (-1 if last == UNDATED_OLDEST else -last)
        same_key = tantivy.Query.range_query(
            schema, "newest", tantivy.FieldType.Integer, stamp, stamp, use_inverted_index=True
        )
        tied = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, query), (tantivy.Occur.Must, same_key)]
        )
        rest = searcher.search(
            tied,
            limit=needed - len(pairs),
            count=False,
            order_by_field="id",
            order=tantivy.Order.Desc if ids_descending else tantivy.Order.Asc,
        )
        tied_ids = searcher.fast_field_values("id", [address for _, address in rest.hits])
        pairs = sorted(pairs, key=order) + [(last, entry_id) for entry_id in tied_ids]
    else:
        pairs.sort(key=order)
    return [entry_id for _, entry_id in pairs[offset:needed]], int(result.count)
