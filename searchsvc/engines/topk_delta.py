"""The top-k index's delta: rows changed since its last sync, searched beside it in RAM.

After a write the database is ahead of the top-k index until the background sync
commits the change (indexer.topk_index.catch_up). Meanwhile a `Delta` holds the
entries the change log names after the index's seq, as the database has them now,
in a small in-memory tantivy index of the same schema; `MergedSearcher` searches
both: the main index with every changed id masked out (its stale versions, deleted
entries included), plus the delta. Counts and facets are summed, hits merged by their
order key, so totals and facet counts stay exact; a changed entry's relevance score
comes from the delta's own term statistics until the sync folds it in.

A delta for changes (since, until] serves every view whose seq is at least `since`
while the database is at `until`: the ids it masks are a superset of what that view
misses, and it holds their current rows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import tantivy

from indexer.topk_index import changed_ids, documents_for
from indexer.topk_schema import register

#: More pending changes than this: no delta (FTS5 answers until the sync catches up).
DELTA_MAX_CHANGES = 2000
#: The delta writer's memory (tantivy's floor per thread is 15 MB).
DELTA_HEAP_BYTES = 15_000_000
#: Up to this many ids, the mask is one term query per id: tantivy's term set query
#: scans a column of every segment (about 2.3 ms at 1M whatever the query; 20 term
#: queries: 0.1 ms).
MASK_TERMS_MAX = 256


@dataclass(frozen=True)
class Delta:
    """The rows changed in (since, until] of one store, searchable in RAM."""

    uuid: str
    since: int
    until: int
    ids: tuple[int, ...]
    #: The changed rows that still exist (None: every changed entry was deleted).
    searcher: tantivy.Searcher | None
    mask: tantivy.Query

    def serves(self, uuid: str | None, view_seq: int, seq: int) -> bool:
        """Whether it completes a view at `view_seq` to the database at `seq`."""
        return uuid == self.uuid and self.since <= view_seq and self.until == seq


def build_delta(
    conn: Any, schema: tantivy.Schema, uuid: str, since: int, until: int
) -> Delta | None:
    """The delta of (since, until] from `conn`'s snapshot; None when the change log no
    longer holds all of it, or holds too much."""
    ids = changed_ids(conn, since, until, DELTA_MAX_CHANGES)
    if ids is None:
        return None
    searcher = None
    documents = list(documents_for(conn, ids, schema))
    if documents:
        index = register(tantivy.Index(schema))
        writer = index.writer(heap_size=DELTA_HEAP_BYTES, num_threads=1)
        for document in documents:
            writer.add_document(document)
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        searcher = index.searcher()
    return Delta(uuid, since, until, tuple(ids), searcher, id_mask(schema, ids))


def id_mask(schema: tantivy.Schema, ids: list[int]) -> tantivy.Query:
    """The query matching the documents of `ids` (see MASK_TERMS_MAX)."""
    if len(ids) > MASK_TERMS_MAX:
        return tantivy.Query.term_set_query(schema, "id", ids)
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "id", i)) for i in ids]
    )


class DeltaKeeper:
    """The latest delta, built once per database seq and shared by the request threads."""

    def __init__(self) -> None:
        self.latest: Delta | None = None
        self.built = 0  # how many were built (the tests count them)
        self._lock = threading.Lock()

    def get(
        self, conn: Any, schema: tantivy.Schema, uuid: str, view_seq: int, seq: int
    ) -> Delta | None:
        """The delta completing a view at `view_seq` to `seq` (`conn`'s snapshot), or None."""
        delta = self.latest
        if delta is not None and delta.serves(uuid, view_seq, seq):
            return delta
        with self._lock:
            delta = self.latest
            if delta is not None and delta.serves(uuid, view_seq, seq):
                return delta
            delta = build_delta(conn, schema, uuid, view_seq, seq)
            if delta is not None:
                self.latest = delta
                self.built += 1
            return delta


class DeltaAddress:
    """A hit's address in the delta (plain DocAddress values are the main index's)."""

    __slots__ = ("address",)

    def __init__(self, address: Any) -> None:
        self.address = address


@dataclass(frozen=True)
class MergedResult:
    """SearchResult's shape: `hits` as (order key, address), `count`."""

    hits: list[tuple[Any, Any]]
    count: int | None


class MergedSearcher:
    """The main index's Searcher with the delta's changes applied (the methods the top-k
    engine uses: search, fast_field_values, aggregate, doc_freq, terms_with_prefix)."""

    def __init__(self, main: tantivy.Searcher, delta: Delta) -> None:
        self.main = main
        self.delta = delta
        self.num_docs = main.num_docs
        self._masked_ids = frozenset(delta.ids)

    def _masked(self, query: tantivy.Query) -> tantivy.Query:
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, query), (tantivy.Occur.MustNot, self.delta.mask)]
        )

    def search(
        self,
        query: tantivy.Query,
        limit: int = 10,
        count: bool = True,
        order_by_field: str | None = None,
        offset: int = 0,
        order: tantivy.Order = tantivy.Order.Desc,
        weight_by_field: str | None = None,
    ) -> MergedResult:
        """The first `offset + limit` of both sides, merged by order key (ties: main first).

        The main index is asked the query as it is, for as many more hits as the delta
        masks, and the masked ones are dropped; its count less the masked documents
        that match. (The query with the mask as a MustNot clause loses tantivy's fast
        paths: a rare word's search took 16 times as long at 1M, a common one's 1.5.)
        """
        wanted = offset + limit
        options: dict[str, Any] = {"limit": wanted, "count": count}
        if order_by_field is not None:
            options.update(order_by_field=order_by_field, order=order)
        if weight_by_field is not None:
            options.update(weight_by_field=weight_by_field)
        found = self.main.search(query, **{**options, "limit": wanted + len(self.delta.ids)})
        hits = self._unmasked(found.hits)[:wanted]
        total = int(found.count) - self._masked_matches(query) if count else None
        if self.delta.searcher is not None:
            extra = self.delta.searcher.search(query, **options)
            hits += [(key, DeltaAddress(address)) for key, address in extra.hits]
            total = total + int(extra.count) if total is not None else None
            descending = order_by_field is None or order != tantivy.Order.Asc
            hits.sort(key=lambda hit: hit[0], reverse=descending)  # stable: main first
        return MergedResult(hits[offset : offset + limit], total)

    def _unmasked(self, hits: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
        """The main index's hits whose documents the delta does not mask, in order."""
        if not hits:
            return []
        ids = self.main.fast_field_values("id", [address for _, address in hits])
        masked = self._masked_ids
        return [hit for hit, entry_id in zip(hits, ids, strict=True) if int(entry_id) not in masked]

    def _masked_matches(self, query: tantivy.Query) -> int:
        """How many of the main index's documents that the delta masks match `query`."""
        both = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, query), (tantivy.Occur.Must, self.delta.mask)]
        )
        return int(self.main.search(both, limit=1, count=True).count)

    def fast_field_values(self, field: str, addresses: list[Any]) -> list[Any]:
        """Each address's value, from the side it came from, in order."""
        main = [a for a in addresses if not isinstance(a, DeltaAddress)]
        delta = [a.address for a in addresses if isinstance(a, DeltaAddress)]
        from_main = iter(self.main.fast_field_values(field, main) if main else [])
        from_delta = iter(
            self.delta.searcher.fast_field_values(field, delta)
            if delta and self.delta.searcher is not None
            else []
        )
        return [
            next(from_delta) if isinstance(a, DeltaAddress) else next(from_main) for a in addresses
        ]

    def aggregate(self, query: tantivy.Query, spec: dict[str, Any]) -> dict[str, Any]:
        """Both sides' aggregations, bucket counts summed."""
        answer = self.main.aggregate(self._masked(query), spec)
        if self.delta.searcher is None:
            return answer
        return merge_aggregations(answer, self.delta.searcher.aggregate(query, spec))

    def doc_freq(self, field: str, value: Any) -> int:
        """An upper bound: the main index still counts the masked versions."""
        extra = self.delta.searcher.doc_freq(field, value) if self.delta.searcher else 0
        return int(self.main.doc_freq(field, value)) + int(extra)

    def terms_with_prefix(self, field: str, prefix: str) -> list[tuple[str, int]]:
        """Both sides' terms (a masked version's terms stay: they match nothing extra)."""
        found = dict(self.main.terms_with_prefix(field, prefix))
        if self.delta.searcher is not None:
            for term, frequency in self.delta.searcher.terms_with_prefix(field, prefix):
                found[term] = found.get(term, 0) + frequency
        return sorted(found.items())


def merge_aggregations(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two terms aggregations (nested ones too) as one: counts per key summed.

    When either side cut its list (sum_other_doc_count), a value may be missing from the
    sum: the merged answer says so in doc_count_error_upper_bound (the caller asks again
    for every value, as for an inexact answer of one index).
    """
    merged: dict[str, Any] = {}
    for name, value in first.items():
        other = second.get(name)
        if not isinstance(value, dict) or not isinstance(other, dict) or "buckets" not in value:
            merged[name] = value
            continue
        buckets: dict[Any, dict[str, Any]] = {}
        for bucket in [*value["buckets"], *other.get("buckets", [])]:
            key = bucket["key"]
            if key in buckets:
                buckets[key] = _merge_bucket(buckets[key], bucket)
            else:
                buckets[key] = bucket
        cut = value.get("sum_other_doc_count", 0) + other.get("sum_other_doc_count", 0)
        error = value.get("doc_count_error_upper_bound", 0) or 0
        error += other.get("doc_count_error_upper_bound", 0) or 0
        merged[name] = {
            **value,
            "buckets": sorted(buckets.values(), key=lambda b: (-b["doc_count"], str(b["key"]))),
            "sum_other_doc_count": cut,
            "doc_count_error_upper_bound": error + (1 if cut else 0),
        }
    return merged


def _merge_bucket(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    merged = {**first, "doc_count": first["doc_count"] + second["doc_count"]}
    nested = {k: v for k, v in first.items() if isinstance(v, dict)}
    if nested:
        merged.update(merge_aggregations(nested, {k: second.get(k, {}) for k in nested}))
    return merged
