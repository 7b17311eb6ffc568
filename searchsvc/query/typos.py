"""Typo tolerance: a word that matches nothing is searched as the closest indexed word.

One rule for every engine; each engine's vocabulary (the database's FTS5 terms, the
file index's tokens) only answers two questions: which words match nothing, and
which indexed terms are near a word. The search stack asks only when a search found
nothing, so an exact match is never replaced and always ranks first.

What is corrected: a word of the full-text part that must match (not an excluded
word, not raw FTS5, not a word in "quotes"), written as one token of letters only
(no digits, not `foo-bar`), that no indexed term equals (for a prefix, as the last
word while typing is, that no indexed term starts with). Within `a OR b` a word is
corrected only when no alternative matches anything.

Its correction: an indexed term at most 1 edit away (words of MIN_LETTERS_ONE letters
or more) or 2 edits (MIN_LETTERS_TWO or more); an edit inserts, deletes or replaces a
letter, or swaps two neighbours (optimal string alignment distance). The closest
term wins, then the one in most entries, then the first in alphabetical order. A
prefix stays a prefix: `migraton` typed last searches `migration*`.

Candidates keep the first two or the last two letters of the word (TermBuckets):
every term one edit away does; of two edits, one at each end of a word is not
found. That keeps a lookup to a few hundred comparisons among a million terms.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from rapidfuzz import process
from rapidfuzz.distance import OSA

from searchsvc.query.fts_query import AllOf, AnyOf, MatchQuery, Node, Phrase, Without

#: Letters a word needs before it is corrected at all (one edit), and for two edits.
MIN_LETTERS_ONE = 5
MIN_LETTERS_TWO = 9
#: Longer words are neither corrected nor offered as corrections.
MAX_LETTERS = 40
#: How many letters at each end of a word pick its candidates' buckets.
END_LETTERS = 2

#: A word as the vocabularies see it: its folded token, and whether it is a prefix.
Word = tuple[str, bool]


@dataclass(frozen=True)
class Candidate:
    """An indexed term near a word: how many edits away, and how many entries hold it."""

    term: str
    distance: int
    frequency: int


class Vocabulary(Protocol):
    """An engine's indexed terms, as typo correction asks about them."""

    def missing(self, words: Sequence[Word]) -> set[Word]:
        """The words no indexed term equals (for a prefix: that no term starts with)."""
        ...

    def near(self, word: str, distance: int) -> list[Candidate]:
        """Indexed terms at most `distance` edits from `word` (see TermBuckets), in entries now."""
        ...


@dataclass(frozen=True)
class Correction:
    """The query to search instead, and which word became which (empty: no correction)."""

    match: MatchQuery | None
    corrected: dict[str, str] = field(default_factory=dict)


def max_distance(token: str) -> int:
    """How many edits a word may be from its correction (0: it is never corrected)."""
    if not token.isalpha() or len(token) > MAX_LETTERS:
        return 0
    if len(token) >= MIN_LETTERS_TWO:
        return 2
    return 1 if len(token) >= MIN_LETTERS_ONE else 0


def correctable(phrase: Phrase) -> bool:
    """Whether the phrase is one plain word that may be corrected (not quoted, letters only)."""
    return not phrase.quoted and len(phrase.tokens) == 1 and max_distance(phrase.tokens[0]) > 0


def correct(match: MatchQuery | None, vocabulary: Vocabulary) -> Correction:
    """The corrected query and the corrections (`{"migraton": "migration"}`), or none."""
    if match is None or match.raw is not None or match.include is None:
        return Correction(match)
    words = [_word(phrase) for phrase in match.positive_phrases() if len(phrase.tokens) == 1]
    if not any(max_distance(token) for token, _ in words):
        return Correction(match)
    missing = vocabulary.missing(list(dict.fromkeys(words)))
    wanted = [p for p in _phrases_to_correct(match.include, missing) if correctable(p)]
    replacements: dict[Word, str] = {}
    for word in dict.fromkeys(_word(phrase) for phrase in wanted):
        best = best_candidate(vocabulary.near(word[0], max_distance(word[0])))
        if best is not None:
            replacements[word] = best.term
    if not replacements:
        return Correction(match)
    corrected = {
        phrase.text: replacements[_word(phrase)]
        for phrase in wanted
        if _word(phrase) in replacements
    }
    include = _replaced(match.include, replacements, {id(phrase) for phrase in wanted})
    return Correction(MatchQuery(include=include, exclude=match.exclude), corrected)


def best_candidate(candidates: Iterable[Candidate]) -> Candidate | None:
    """The closest candidate, then the one in most entries, then the first alphabetically."""
    found = [candidate for candidate in candidates if candidate.frequency > 0]
    if not found:
        return None
    return min(found, key=lambda c: (c.distance, -c.frequency, c.term))


def _word(phrase: Phrase) -> Word:
    return phrase.tokens[-1], phrase.prefix


def _may_match(node: Node, missing: set[Word]) -> bool:
    """Whether the node may match something (a phrase of several words is assumed to)."""
    if isinstance(node, Phrase):
        return len(node.tokens) != 1 or _word(node) not in missing
    if isinstance(node, Without):
        return _may_match(node.base, missing)
    if isinstance(node, AnyOf):
        return any(_may_match(child, missing) for child in node.children)
    return all(_may_match(child, missing) for child in node.children)


def _phrases_to_correct(node: Node, missing: set[Word]) -> list[Phrase]:
    """The phrases matching nothing, outside an `OR` whose other alternatives match."""
    if _may_match(node, missing) and not isinstance(node, AllOf):
        return []
    if isinstance(node, Phrase):
        return [node]
    if isinstance(node, Without):
        return _phrases_to_correct(node.base, missing)
    return [found for child in node.children for found in _phrases_to_correct(child, missing)]


def _replaced(node: Node, replacements: dict[Word, str], chosen: set[int]) -> Node:
    if isinstance(node, Phrase):
        term = replacements.get(_word(node)) if id(node) in chosen else None
        if term is None:
            return node
        return Phrase(text=term, tokens=(term,), prefix=node.prefix)
    if isinstance(node, Without):
        return Without(_replaced(node.base, replacements, chosen), node.excluded)
    children = tuple(_replaced(child, replacements, chosen) for child in node.children)
    return AllOf(children) if isinstance(node, AllOf) else AnyOf(children)


# ---- candidate lookup ------------------------------------------------------------


class TermBuckets:
    """Indexed terms (letters only) by length and by their first and by their last letters.

    A term one edit from a word of MIN_LETTERS_ONE letters or more keeps its first or
    its last END_LETTERS letters (an edit touches at most two neighbouring letters),
    so looking in those buckets only loses nothing at one edit.
    """

    def __init__(self, terms: Iterable[tuple[str, int]]) -> None:
        """`terms`: (term, entries holding it); terms that are not letters only are skipped."""
        self.heads: dict[tuple[int, str], tuple[list[str], list[int]]] = {}
        self.tails: dict[tuple[int, str], tuple[list[str], list[int]]] = {}
        self.size = 0
        shortest = MIN_LETTERS_ONE - 1
        longest = MAX_LETTERS + 2
        for term, frequency in terms:
            if not shortest <= len(term) <= longest or not term.isalpha():
                continue
            for buckets, key in (
                (self.heads, (len(term), term[:END_LETTERS])),
                (self.tails, (len(term), term[-END_LETTERS:])),
            ):
                bucket = buckets.get(key)
                if bucket is None:
                    bucket = buckets[key] = ([], [])
                bucket[0].append(term)
                bucket[1].append(frequency)
            self.size += 1

    def near(self, word: str, distance: int) -> list[Candidate]:
        """The terms at most `distance` edits from `word` (the word itself left out)."""
        found: dict[str, Candidate] = {}
        if distance <= 0:
            return []
        for length in range(len(word) - distance, len(word) + distance + 1):
            for buckets, key in (
                (self.heads, (length, word[:END_LETTERS])),
                (self.tails, (length, word[-END_LETTERS:])),
            ):
                bucket = buckets.get(key)
                if bucket is None:
                    continue
                terms, frequencies = bucket
                for term, edits, at in process.extract(
                    word, terms, scorer=OSA.distance, score_cutoff=distance, limit=None
                ):
                    if term != word:
                        found[term] = Candidate(term, int(edits), frequencies[at])
        return sorted(found.values(), key=lambda c: (c.distance, -c.frequency, c.term))
