"""MergedSearcher drops the delta's masked documents from the main index's hits
(searchsvc/engines/topk_delta.py): the same pages and counts as the query with the
mask as a MustNot clause, which costs tantivy its fast paths."""

from __future__ import annotations

import pytest
import tantivy

from searchsvc.engines.topk_delta import MASK_TERMS_MAX, Delta, MergedSearcher, id_mask


def _index(docs: list[tuple[int, str, int]]) -> tantivy.Index:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("id", stored=True, indexed=True, fast=True)
    builder.add_text_field("message")
    builder.add_integer_field("newest", fast=True)
    index = tantivy.Index(builder.build())
    writer = index.writer(heap_size=15_000_000, num_threads=1)
    for entry_id, message, newest in docs:
        writer.add_document(
            tantivy.Document.from_dict(
                {"id": entry_id, "message": message, "newest": newest}, index.schema
            )
        )
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index


MAIN = [(n, "alpha " * (1 + n % 7) + ("beta" if n % 3 else "gamma"), n * 10) for n in range(1, 41)]
#: The delta: new versions of some of the best hits, one deleted (9), one new entry (99).
CHANGED = [3, 6, 7, 13, 9]
DELTA = [(3, "alpha beta", 31), (6, "gamma", 61), (7, "alpha " * 9, 71), (13, "beta", 131)]
DELTA += [(99, "alpha alpha", 990)]


def _ids(searcher: MergedSearcher, result) -> list[int]:
    return [int(i) for i in searcher.fast_field_values("id", [a for _, a in result.hits])]


def _expected(main: tantivy.Index, delta: tantivy.Index, mask: tantivy.Query, query, **options):
    """The old way: the main index asked the query with the mask as MustNot."""
    masked = tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, query), (tantivy.Occur.MustNot, mask)]
    )
    limit, offset = options.pop("limit"), options.pop("offset", 0)
    first = main.searcher().search(masked, limit=limit + offset, **options)
    second = delta.searcher().search(query, limit=limit + offset, **options)
    hits = [(k, ("main", a)) for k, a in first.hits] + [(k, ("delta", a)) for k, a in second.hits]
    descending = options.get("order", tantivy.Order.Desc) != tantivy.Order.Asc
    hits.sort(key=lambda hit: hit[0], reverse=descending)
    ids = []
    for _, (side, address) in hits[offset : offset + limit]:
        searcher = main.searcher() if side == "main" else delta.searcher()
        ids.append(int(searcher.fast_field_values("id", [address])[0]))
    return ids, first.count + second.count


@pytest.mark.parametrize("offset", [0, 2, 5])
@pytest.mark.parametrize("word", ["alpha", "beta", "gamma"])
@pytest.mark.parametrize("order", [None, tantivy.Order.Desc, tantivy.Order.Asc])
def test_masked_hits_are_dropped_like_a_mustnot_clause(offset: int, word: str, order) -> None:
    main, delta = _index(MAIN), _index(DELTA)
    mask = id_mask(main.schema, CHANGED + [99])
    merged = MergedSearcher(
        main.searcher(),
        Delta("u", 0, 6, tuple(CHANGED + [99]), delta.searcher(), mask),
    )
    query = main.parse_query(word, ["message"])
    options = {"order_by_field": "newest", "order": order} if order is not None else {}
    found = merged.search(query, limit=6, offset=offset, **options)
    assert (_ids(merged, found), found.count) == _expected(
        main, delta, mask, query, limit=6, offset=offset, **options
    )
    assert not {9} & set(_ids(merged, merged.search(query, limit=50)))  # deleted: gone


def test_a_large_mask_is_a_term_set_and_both_match_the_same_ids() -> None:
    main = _index([(n, "alpha", n) for n in range(1, MASK_TERMS_MAX + 50)])
    searcher = main.searcher()
    for ids in ([1, 5, 9], list(range(1, MASK_TERMS_MAX + 20))):
        found = searcher.search(id_mask(main.schema, ids), limit=len(ids) + 5)
        assert (
            sorted(int(i) for i in searcher.fast_field_values("id", [a for _, a in found.hits]))
            == ids
        )
