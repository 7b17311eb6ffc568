"""The file index's vocabulary for typo correction (searchsvc.query.typos) and its term
statistics for the search budget (searchsvc.query.budget).

The index's tokens are its vocabulary. The buckets are rebuilt when the index's sorted
token list is (a new token or a rebuilt index); how many entries hold a term counts
live docs only, as the database counts rows, so both pick the same correction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from searchsvc.engines.file_index import FileIndex
from searchsvc.engines.file_match import expand_token
from searchsvc.query.typos import Candidate, TermBuckets, Word


class FileVocabulary:
    """The tokens of the index `ready_index()` returns, read under `lock`: typo correction's
    vocabulary (typos.Vocabulary) and the search budget's statistics (budget.TermStats)."""

    def __init__(self, ready_index: Callable[[], FileIndex], lock: threading.RLock) -> None:
        self._ready_index = ready_index
        self._lock = lock
        self._source: list[str] | None = None  # the sorted token list the buckets hold
        self._buckets = TermBuckets(())

    def forget(self) -> None:
        """Drop the buckets (the index was dropped: its tokens go with it)."""
        with self._lock:
            self._source = None
            self._buckets = TermBuckets(())

    def missing(self, words: Sequence[Word]) -> set[Word]:
        """The words no live entry holds (a prefix: no token of a live entry starts with it)."""
        index = self._ready_index()
        with self._lock:
            return {
                (token, prefix)
                for token, prefix in words
                if not any(_held(index, term) for term in expand_token(index, token, prefix))
            }

    def doc_freq(self, term: str) -> int:
        """How many docs hold `term` (removed ones too until compaction: it bounds work)."""
        index = self._ready_index()
        with self._lock:
            posting = index.postings.get(term)
            return len(posting[0]) if posting is not None else 0

    def prefix_terms(self, prefix: str) -> list[tuple[str, int]]:
        """The tokens that begin with `prefix` and their doc_freq, most first, then
        alphabetical (the search budget's statistics: searchsvc.query.budget)."""
        index = self._ready_index()
        with self._lock:
            postings = index.postings
            found = [(term, len(postings[term][0])) for term in expand_token(index, prefix, True)]
        return sorted(found, key=lambda pair: (-pair[1], pair[0]))

    def near(self, word: str, distance: int) -> list[Candidate]:
        """Tokens at most `distance` edits from `word` that live entries hold."""
        index = self._ready_index()
        with self._lock:
            tokens = index.vocabulary()
            if tokens is not self._source:
                self._buckets = TermBuckets((token, 0) for token in tokens)
                self._source = tokens
            found = self._buckets.near(word, distance)
            counted = [(candidate, entries(index, candidate.term)) for candidate in found]
        return [Candidate(c.term, c.distance, count) for c, count in counted if count]


def entries(index: FileIndex, term: str) -> int:
    """How many live docs hold `term`."""
    posting = index.postings.get(term)
    if posting is None:
        return 0
    numbers = posting[0]
    if index.alive == len(index.attrs):
        return len(numbers)
    attrs = index.attrs
    return sum(1 for number in numbers if attrs[number] is not None)


def _held(index: FileIndex, term: str) -> bool:
    """Whether a live doc holds `term` (stops at the first)."""
    posting = index.postings.get(term)
    if posting is None:
        return False
    attrs = index.attrs
    return any(attrs[number] is not None for number in posting[0])
