"""Which docs of the file index a MatchQuery matches: words, prefixes, phrases, AND/OR/NOT.

Exact (no sampling). Raw FTS5 syntax (raw=1) is read by fts_query.parse_raw: column
filters, `^` and NEAR distances are ignored. A phrase matches within one searchable
field (dialogfile.fields.TEXT_FIELDS), never across two.
"""

from __future__ import annotations

from bisect import bisect_left
from operator import itemgetter
from typing import Any

from dialogfile.fields import TEXT_FIELDS
from searchsvc.engines.file_index import DOC_INDEX, FileIndex
from searchsvc.query.fts_query import (
    AllOf,
    AnyOf,
    MatchQuery,
    Node,
    Phrase,
    Without,
    parse_raw,
    tokenize,
)

#: The searchable fields of a Doc (dialogfile.fields.TEXT_FIELDS).
_TEXT_VALUES = itemgetter(*(DOC_INDEX[name] for name in TEXT_FIELDS))


def effective_match(match: MatchQuery | None) -> MatchQuery | None:
    """The query as the index evaluates it: raw FTS5 text read by parse_raw."""
    if match is not None and match.raw is not None and match.include is None:
        return parse_raw(match.raw)
    return match


def matching_docs(index: FileIndex, match: MatchQuery | None) -> list[int]:
    """Doc numbers of the live docs matching `match` (all when None)."""
    alive = index.docs
    if match is None:
        return [n for n, doc in enumerate(alive) if doc is not None]
    if match.include is not None:
        found = _evaluate(index, match.include)
    else:
        found = {n for n, doc in enumerate(alive) if doc is not None}
    if match.exclude is not None:
        found -= _evaluate(index, match.exclude)
    return [n for n in found if alive[n] is not None]


def _evaluate(index: FileIndex, node: Node) -> set[int]:
    if isinstance(node, Phrase):
        return _phrase_docs(index, node)
    if isinstance(node, Without):
        return _evaluate(index, node.base) - _evaluate(index, node.excluded)
    sets = [_evaluate(index, child) for child in node.children]
    if isinstance(node, AnyOf):
        return set().union(*sets)
    assert isinstance(node, AllOf)
    sets.sort(key=len)
    result = sets[0]
    for other in sets[1:]:
        result = result & other
    return result


def expand_token(index: FileIndex, token: str, prefix: bool) -> list[str]:
    """The indexed tokens a query token stands for (itself, or all with the prefix)."""
    if not prefix:
        return [token] if token in index.postings else []
    vocabulary = index.vocabulary()
    start = bisect_left(vocabulary, token)
    end = bisect_left(vocabulary, token + "\U0010ffff")
    return vocabulary[start:end]


def _token_docs(index: FileIndex, token: str, prefix: bool) -> set[int]:
    result: set[int] = set()
    for expanded in expand_token(index, token, prefix):
        result.update(index.postings[expanded][0])
    return result


def _phrase_docs(index: FileIndex, phrase: Phrase) -> set[int]:
    tokens = phrase.tokens
    if not tokens:
        return set()
    sets = [
        _token_docs(index, token, phrase.prefix and i == len(tokens) - 1)
        for i, token in enumerate(tokens)
    ]
    sets.sort(key=len)
    found = sets[0]
    for other in sets[1:]:
        found = found & other
    if len(tokens) == 1:
        return found
    docs = index.docs
    return {n for n in found if docs[n] is not None and _has_phrase(index.doc(n), phrase)}


def _has_phrase(doc: tuple[Any, ...], phrase: Phrase) -> bool:
    """Whether one field of the doc holds the phrase's tokens in a row."""
    wanted = phrase.tokens
    last = len(wanted) - 1
    # One searchable field at a time: a phrase never spans two fields.
    for text in _TEXT_VALUES(doc):
        if not text:
            continue
        tokens = tokenize(text)
        for start in range(len(tokens) - last):
            if tokens[start : start + last] == list(wanted[:last]) and (
                tokens[start + last].startswith(wanted[last])
                if phrase.prefix
                else tokens[start + last] == wanted[last]
            ):
                return True
    return False
