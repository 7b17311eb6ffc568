"""Whether a search's words can match a copy at all: the few copies' words, read once.

A folded search (copies excluded, `folded` counted) pays for the copies twice: a
clause that leaves them out of the page, and a count of those it left out. When
the index holds few copies, their words are read once per index state (from the
rows the index was built from, analyzed as the index analyzes them); a search with
a word no copy holds cannot match one, so neither is needed: the exclusion clause
is a no-op and `folded` is 0. The answer is the same either way (tests in
tests/test_topk_copies.py, every engine agreeing); only the work differs.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import TYPE_CHECKING

import tantivy

from dialogfile.copies import COPY as COPY_STATE
from indexer.topk_index import documents_for
from indexer.topk_schema import FACET_FIELDS, SIDE_FIELDS, analyzer
from searchsvc.query.filters import Filters
from searchsvc.query.fts_query import AllOf, AnyOf, MatchQuery, Node, Phrase, Without

if TYPE_CHECKING:
    from indexer.database import Connection

#: The copy filter's name (dialogfile.fields).
COPY = "copy"
#: The most copies whose words are kept (beyond it, every search may match a copy).
COPY_WORDS_LIMIT = 256
_TEXT_FIELDS = tuple(name for side in SIDE_FIELDS.values() for name in side)
_ANALYZER = analyzer()


@dataclass(frozen=True)
class CopyWords:
    """The sorted words of every copy in the index; None when there are too many copies."""

    words: tuple[str, ...] | None

    def may_match(self, match: MatchQuery | None) -> bool:
        """False only when the search's words cannot match any copy."""
        if self.words is None or match is None or match.raw is not None:
            return True
        return match.include is None or self._node(match.include)

    def _node(self, node: Node) -> bool:
        if isinstance(node, Phrase):
            *whole, last = node.tokens or ("",)
            return all(self._has(token) for token in whole) and (
                self._starts(last) if node.prefix else self._has(last)
            )
        if isinstance(node, Without):
            return self._node(node.base)
        if isinstance(node, AllOf):
            return all(self._node(child) for child in node.children)
        assert isinstance(node, AnyOf)
        return any(self._node(child) for child in node.children)

    def _has(self, token: str) -> bool:
        words = self.words or ()
        at = bisect_left(words, token)
        return at < len(words) and words[at] == token

    def _starts(self, prefix: str) -> bool:
        words = self.words or ()
        at = bisect_left(words, prefix)
        return at < len(words) and words[at].startswith(prefix)


def copy_words(searcher: tantivy.Searcher, schema: tantivy.Schema, conn: Connection) -> CopyWords:
    """The copies' words, from `conn` (a snapshot at the state `searcher` holds)."""
    field = FACET_FIELDS[COPY]
    count = searcher.doc_freq(field, COPY_STATE)
    if count > COPY_WORDS_LIMIT:
        return CopyWords(None)
    if count == 0:
        return CopyWords(())
    found = searcher.search(tantivy.Query.term_query(schema, field, COPY_STATE), limit=count)
    ids = [int(i) for i in searcher.fast_field_values("id", [a for _, a in found.hits])]
    words: set[str] = set()
    for doc in documents_for(conn, ids, schema):
        values = doc.to_dict()
        for name in _TEXT_FIELDS:
            for text in values.get(name, ()):
                words.update(_ANALYZER.analyze(text))
    return CopyWords(tuple(sorted(words)))


def holds_copies(searcher: tantivy.Searcher | None) -> bool:
    """Whether the index `searcher` reads holds any copy (a delta's, mostly: none, mostly)."""
    return searcher is not None and searcher.doc_freq(FACET_FIELDS[COPY], COPY_STATE) > 0


def without_copy_exclusion(filters: Filters) -> Filters:
    """`filters` without leaving copies out, for a search no copy can match (the same
    answer). Filters that ask for copies by value are kept as they are."""
    if filters.get(COPY) or COPY_STATE not in filters.get_excluded(COPY):
        return filters
    return filters.without(COPY)
