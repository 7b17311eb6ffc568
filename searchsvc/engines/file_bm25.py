"""bm25 of the file index's docs for a query, as FTS5 computes it over one weighted field.

The file index keeps one token stream per entry (its fields weighted by repetition, see
file_index), so the ranking is close to, not identical with, the database's
per-column bm25. Per-token weights are cached in the index (`FileIndex.weights`).
Equal scores rank by id, as the database's engines rank them (best_by_score).
"""

from __future__ import annotations

import heapq
import math
from array import array
from operator import itemgetter
from typing import Any

from searchsvc.engines.file_index import FileIndex
from searchsvc.engines.file_match import phrase_terms
from searchsvc.query.fts_query import MatchQuery

# bm25 parameters, as FTS5 uses them.
K1 = 1.2
B = 0.75
#: Most postings whose bm25 weights are kept (8 bytes each); beyond it the cache restarts.
WEIGHTS_CACHE_POSTINGS = 2_000_000


def bm25_scores(index: FileIndex, match: MatchQuery, docs: set[int]) -> dict[int, float]:
    """bm25 of each doc in `docs` for the query's positive phrases.

    A word counts once per phrase; a prefix counts as one word whose
    frequency is that of all the words it expands to (as FTS5 sees it).
    """
    scores = dict.fromkeys(docs, 0.0)
    for phrase in match.positive_phrases():
        for i in range(len(phrase.tokens)):
            expansions = phrase_terms(index, phrase, i)
            if len(expansions) == 1:
                _add_weights(
                    scores, index.postings[expansions[0]][0], _weights(index, expansions[0])
                )
            elif expansions:
                _add_prefix_scores(scores, index, expansions)
    return scores


def _add_weights(scores: dict[int, float], numbers: Any, weights: array) -> None:
    """Add one word's per-doc weights to the docs in `scores` (looping over the smaller side)."""
    if len(numbers) <= len(scores):
        for number, weight in zip(numbers, weights, strict=True):
            if number in scores:
                scores[number] += weight
    else:
        by_doc = dict(zip(numbers, weights, strict=True))
        get = by_doc.get
        for number in scores:
            scores[number] += get(number, 0.0)


def _add_prefix_scores(scores: dict[int, float], index: FileIndex, expansions: list[str]) -> None:
    """bm25 of a prefix taken as one word: frequencies summed over its expansions."""
    frequencies: dict[int, int] = {}
    get = frequencies.get
    for token in expansions:
        numbers, counts = index.postings[token]
        for number, count in zip(numbers, counts, strict=True):
            if number in scores:
                frequencies[number] = get(number, 0) + count
    total = max(1, index.alive)
    having = len(frequencies)
    idf = max(1e-6, math.log((total - having + 0.5) / (having + 0.5)))
    average, lengths = index.average_length, index.lengths
    for number, frequency in frequencies.items():
        norm = K1 * (1 - B + B * lengths[number] / average)
        scores[number] += idf * frequency * (K1 + 1) / (frequency + norm)


def _weights(index: FileIndex, token: str) -> array:
    """Each posting's bm25 contribution for `token` (idf and length norm included), cached."""
    cached = index.weights.get(token)
    if cached is not None:
        return cached
    numbers, frequencies = index.postings[token]
    total = max(1, index.alive)
    # Postings keep removed docs until compaction: count only live ones, or `having`
    # can pass `total` and the logarithm fails ("math domain error", a 500).
    docs = index.docs
    having = sum(1 for number in numbers if docs[number] is not None)
    idf = max(1e-6, math.log((total - having + 0.5) / (having + 0.5)))
    average = index.average_length
    lengths = index.lengths
    factor = idf * (K1 + 1)
    weights = array(
        "d",
        [
            factor * frequency / (frequency + K1 * (1 - B + B * lengths[number] / average))
            for number, frequency in zip(numbers, frequencies, strict=True)
        ],
    )
    cached_postings = sum(map(len, index.weights.values()))
    if cached_postings + len(weights) > WEIGHTS_CACHE_POSTINGS:
        index.weights.clear()
    index.weights[token] = weights
    return weights


def best_by_score(index: FileIndex, scores: dict[int, float], end: int) -> list[int]:
    """The `end` best doc numbers by score, equal scores by id (as the database orders them)."""
    best = heapq.nlargest(end, scores.items(), key=itemgetter(1))
    if not best:
        return []
    last = best[-1][1]
    tied = [item for item in scores.items() if item[1] == last]  # also past the `end`-th
    attrs = index.attrs
    found = [item for item in best if item[1] > last] + tied
    found.sort(key=lambda item: (-item[1], attrs[item[0]].entry_id))
    return [number for number, _ in found[:end]]
