"""Which docs of the file index a MatchQuery matches: words, prefixes, phrases, AND/OR/NOT.

Exact, but for phrases past a check limit (`matching`: the search budget's): a phrase is
checked by reading the doc, so past the limit an even spread of the docs holding its
words is checked, and `Matched.share` says which part. Raw FTS5 syntax (raw=1) is read
by fts_query.parse_raw: column filters, `^` and NEAR distances are ignored. A phrase
matches within one searchable field (dialogfile.fields.TEXT_FIELDS), never across two.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from dataclasses import dataclass
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
    return matching(index, match).docs


@dataclass(frozen=True)
class Matched:
    """The live docs a search matches; `share`: the part of the docs a phrase had to be
    checked in that were checked (1.0: all of them, the docs are exact)."""

    docs: list[int]
    share: float = 1.0


def matching(index: FileIndex, match: MatchQuery | None, check_limit: int = 0) -> Matched:
    """The live docs matching `match` (all when None). A phrase is checked in at most
    `check_limit` docs (0: in every one), an even spread of them past it (see Matched)."""
    alive = index.docs
    if match is None:
        return Matched([n for n, doc in enumerate(alive) if doc is not None])
    evaluator = _Evaluator(index, check_limit)
    if match.include is not None:
        found = evaluator.docs(match.include, None)
    else:
        found = {n for n, doc in enumerate(alive) if doc is not None}
    if match.exclude is not None:
        found -= evaluator.docs(match.exclude, found)
    return Matched([n for n in found if alive[n] is not None], evaluator.share)


class _Evaluator:
    """Docs of a search's nodes, each found among the docs its siblings left (`within`):
    the words that must all match are read rarest first, so a phrase is checked only in
    the docs that hold the other words too."""

    def __init__(self, index: FileIndex, check_limit: int) -> None:
        self.index = index
        self.check_limit = check_limit
        self.share = 1.0

    def docs(self, node: Node, within: set[int] | None) -> set[int]:
        """The docs of `node` (among `within`, when given)."""
        if isinstance(node, Phrase):
            return self.phrase(node, within)
        if isinstance(node, Without):
            base = self.docs(node.base, within)
            return base - self.docs(node.excluded, base)
        if isinstance(node, AnyOf):
            return set().union(*(self.docs(child, within) for child in node.children))
        assert isinstance(node, AllOf)
        found = within
        for child in sorted(node.children, key=self.size):
            found = self.docs(child, found)
            if not found:
                break
        return found if found is not None else set()

    def size(self, node: Node) -> int:
        """About how many docs `node` matches (its rarest word's postings)."""
        if isinstance(node, Phrase):
            return min(
                (
                    self._postings(phrase_terms(self.index, node, at))
                    for at in range(len(node.tokens))
                ),
                default=0,
            )
        if isinstance(node, Without):
            return self.size(node.base)
        sizes = [self.size(child) for child in node.children]
        return sum(sizes) if isinstance(node, AnyOf) else min(sizes, default=0)

    def _postings(self, terms: list[str]) -> int:
        postings = self.index.postings
        return sum(len(postings[term][0]) for term in terms)

    def phrase(self, phrase: Phrase, within: set[int] | None) -> set[int]:
        """The docs holding the phrase's words (among `within`), then the phrase itself."""
        if not phrase.tokens:
            return set()
        words = [phrase_terms(self.index, phrase, at) for at in range(len(phrase.tokens))]
        found = within
        for terms in sorted(words, key=self._postings):
            found = self._holding(terms, found)
            if not found:
                return set()
        assert found is not None
        if len(phrase.tokens) == 1:
            return found
        return self._checked(phrase, found)

    def _holding(self, terms: list[str], within: set[int] | None) -> set[int]:
        """The docs holding one of `terms` (among `within`)."""
        postings = self.index.postings
        lists = [postings[term][0] for term in terms]
        if within is not None and len(within) * 32 < sum(map(len, lists)):
            return {n for n in within if any(_holds(numbers, n) for numbers in lists)}
        result: set[int] = set()
        for numbers in lists:
            result.update(numbers)
        return result if within is None else result & within

    def _checked(self, phrase: Phrase, candidates: set[int]) -> set[int]:
        """The candidates that hold the phrase, checked in at most check_limit of them."""
        docs, index = self.index.docs, self.index
        if self.check_limit and len(candidates) > self.check_limit:
            ordered = sorted(candidates)
            step = math.ceil(len(ordered) / self.check_limit)
            picked = ordered[::step]
            self.share = min(self.share, len(picked) / len(ordered))
        else:
            picked = list(candidates)
        holds = _phrase_check(phrase)
        return {n for n in picked if docs[n] is not None and holds(index.doc(n))}


def _holds(numbers: Any, number: int) -> bool:
    """Whether the sorted doc numbers `numbers` hold `number`."""
    at = bisect_left(numbers, number)
    return at < len(numbers) and numbers[at] == number


def expand_token(index: FileIndex, token: str, prefix: bool) -> list[str]:
    """The indexed tokens a query token stands for (itself, or all with the prefix)."""
    if not prefix:
        return [token] if token in index.postings else []
    vocabulary = index.vocabulary()
    start = bisect_left(vocabulary, token)
    end = bisect_left(vocabulary, token + "\U0010ffff")
    return vocabulary[start:end]


def phrase_terms(index: FileIndex, phrase: Phrase, at: int) -> list[str]:
    """The indexed tokens the phrase's token number `at` stands for.

    The last token of a prefix phrase: every token it begins, or those its
    `expansions` keep (the search's budget cut the rest).
    """
    token = phrase.tokens[at]
    if not phrase.prefix or at != len(phrase.tokens) - 1:
        return expand_token(index, token, False)
    if phrase.expansions is not None:
        return [term for term in phrase.expansions if term in index.postings]
    return expand_token(index, token, True)


def _phrase_check(phrase: Phrase) -> Any:
    """A test of a Doc for the phrase: a regular expression over ASCII text (the same
    tokens: runs of a-z and 0-9 in the lower-cased text), _has_phrase over the rest."""
    words = list(phrase.tokens)
    if not all(word.isascii() for word in words) or (
        phrase.expansions is not None and not all(term.isascii() for term in phrase.expansions)
    ):
        return lambda doc: _has_phrase(doc, phrase)
    last = re.escape(words[-1])
    if phrase.prefix and phrase.expansions is not None:
        last = "(?:" + "|".join(map(re.escape, phrase.expansions)) + ")"
    elif phrase.prefix:
        last += "[a-z0-9]*"
    body = "[^a-z0-9]+".join([*map(re.escape, words[:-1]), last])
    pattern = re.compile(f"(?<![a-z0-9]){body}(?![a-z0-9])")

    def holds(doc: tuple[Any, ...]) -> bool:
        for text in _TEXT_VALUES(doc):
            if not text:
                continue
            lowered = text.lower()
            if not lowered.isascii():
                if _has_phrase(doc, phrase):
                    return True
            elif pattern.search(lowered):
                return True
        return False

    return holds


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
                _ends_phrase(tokens[start + last], phrase)
            ):
                return True
    return False


def _ends_phrase(token: str, phrase: Phrase) -> bool:
    """Whether `token` is what the phrase's last token stands for."""
    wanted = phrase.tokens[-1]
    if not phrase.prefix:
        return token == wanted
    if phrase.expansions is not None:
        return token in phrase.expansions
    return token.startswith(wanted)
