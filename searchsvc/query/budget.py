"""The work a search may do, bounded before it runs: one set of rules for every engine.

tantivy cannot be interrupted, FTS5's bm25 reads the whole posting list of each word
before the first row, and the file index builds Python sets: how much a search costs is
decided by its words, so it is bounded before it runs. The search stack
(searchsvc.stack) asks every engine the search `bound()` made of it, from the term
statistics of the engine's source (`TermStats`: how many entries hold a term, and which
terms a prefix begins), with the engine's Budget (BUDGETS: the same rules, an allowance
measured per engine); the answer's `partial` names every cut.

The rules, applied from the top of the parsed search down (fts_query's nodes):

- an alternative or a required word given twice counts once (the same matches: no cut);
- `a OR b OR ...` keeps its first `max_alternatives` alternatives    (cut "alternatives")
- of the words that must all match, the `max_words` rarest are required; the matches may
  then lack the others                                                  (cut "words")
- a phrase of more than `max_phrase_tokens` words keeps its most selective run of that
  many words                                                            (cut "phrase")
- a prefix past its share stands for its most frequent terms that fit (at most
  `max_prefix_terms`), the word itself first                            (cut "prefix")
- the whole search reads at most `max_postings` postings: the sum, over the terms it
  reads, of how many entries hold each (through a prefix: up to `prefix_weight` times,
  with its number of terms). Each part gets
  an equal share of what is left (words that must all match the rarest first,
  alternatives in the order written): a prefix keeps its most frequent terms that fit
  its share, a phrase its most selective run, and a word, alternative or exclusion that
  does not fit what is left is dropped (cuts as above; "excluded" for `-word`). The
  rarest required word, the first alternative and a lone exclusion always stay.

Without statistics (Meilisearch, or FTS5 before its term counts are read) only the
counts apply. Raw FTS5 syntax is never cut: `check_raw` refuses one past the budget.
Beyond the plan, the budget says how far an engine ranks and counts every match before
it takes a sample: `exact_postings` (FTS5: bm25 reads every posting of the search),
`facet_matches` (the top-k index's facets), `exact_matches` and `phrase_checks` (the
file index visits matches and reads docs in Python). Those are flagged by the answer's
`ranked`, `total_exact` and `facets_exact` and the cuts "unranked" and "sampled".
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from searchsvc.exceptions import QueryError, QueryTooExpensive
from searchsvc.query.fts_query import AllOf, AnyOf, MatchQuery, Node, Phrase, Without, parse_raw


class TermStats(Protocol):
    """A source's indexed terms, as the budget asks about them."""

    def doc_freq(self, term: str) -> int:
        """How many entries hold `term` (an estimate will do: it bounds work)."""
        ...

    def prefix_terms(self, prefix: str) -> list[tuple[str, int]]:
        """Every indexed term that begins with `prefix` and its doc_freq, most frequent
        first (then alphabetical)."""
        ...


class TermTable:
    """TermStats from every (term, entries holding it) pair of an index, held sorted."""

    def __init__(self, pairs: Iterable[tuple[str, int]]) -> None:
        ordered = sorted(pairs)
        self.terms = [term for term, _ in ordered]
        self.counts = array("q", (count for _, count in ordered))

    def doc_freq(self, term: str) -> int:
        """How many entries hold `term` (0: none)."""
        at = bisect_left(self.terms, term)
        found = at < len(self.terms) and self.terms[at] == term
        return self.counts[at] if found else 0

    def prefix_terms(self, prefix: str) -> list[tuple[str, int]]:
        """The terms that begin with `prefix` and their counts, most first, then alphabetical."""
        start = bisect_left(self.terms, prefix)
        end = bisect_left(self.terms, prefix + "\U0010ffff")
        found = zip(self.terms[start:end], self.counts[start:end], strict=True)
        return sorted(found, key=lambda pair: (-pair[1], pair[0]))


@dataclass(frozen=True)
class Budget:
    """How much one search may read (see the module docstring)."""

    max_postings: int = 3_000_000
    #: A posting read through a prefix of n terms counts 1 + log2(n) times, at most this
    #: (FTS5 merges the posting lists of a prefix's terms into one before it reads the
    #: first row; it keeps no prefix indexes since sql/0008).
    prefix_weight: int = 1
    max_prefix_terms: int = 1000
    max_alternatives: int = 32
    max_words: int = 32
    max_phrase_tokens: int = 12
    #: FTS5 ranks (bm25) and counts every match of a search reading at most this many
    #: postings; past it, a uniform sample of the matches, unranked.
    exact_postings: int = 1_500_000
    #: The top-k index counts facets over every match up to this many; past it, over a
    #: uniform sample of about this many, scaled.
    facet_matches: int = 200_000
    #: The file index ranks, filters and counts every match up to this many; past it, an
    #: even spread of about this many.
    exact_matches: int = 50_000
    #: The file index reads at most this many docs to check a search's phrases; past it,
    #: an even spread of them (its matches are then a sample).
    phrase_checks: int = 5_000


#: What the top-k index may read: its figures were measured at 1M entries (docs/benchmarks.md).
BUDGET = Budget()
#: Each engine's budget (the same rules; FTS5 and the file index read a posting 5-10 times
#: slower than tantivy, and FTS5 cannot stop inside one row's step).
BUDGETS = {
    "topk": BUDGET,
    # FTS5 keeps no prefix indexes (sql/0008): every prefix, `a*` too, merges the posting
    # lists of its terms, so it counts prefix_weight times and keeps at most
    # max_prefix_terms terms.
    # It ranks a hash sample of the matches (sqlite_matches), found by walking every match
    # (about 9 SQLite steps each): at most 400,000 of them, so that the walk stays well
    # within its work limit (repo_sqlite.SEARCH_STEPS, 5M steps); past them, unranked.
    "fts5": Budget(
        max_postings=800_000,
        prefix_weight=16,
        max_prefix_terms=32,
        exact_postings=400_000,
    ),
    "files": Budget(max_postings=250_000),
}


def budget_for(engine: str) -> Budget:
    """The budget of the engine named `engine` (BUDGET for any other)."""
    return BUDGETS.get(engine, BUDGET)


#: What a cut can be (Cut.kind), in the order the rules apply.
CUT_KINDS = ("alternatives", "words", "phrase", "prefix", "excluded", "unranked", "sampled")


@dataclass(frozen=True)
class Cut:
    """One part of a search the budget left out: `kept` of `of` (words, terms, ...)."""

    kind: str
    text: str
    kept: int
    of: int

    def describe(self) -> str:
        """One phrase a person reads."""
        if self.kind == "prefix":
            return f"{self.text}* stands for its {self.kept} most frequent words (of {self.of})"
        if self.kind == "alternatives":
            return f"{self.kept} of {self.of} alternatives searched ({self.text})"
        if self.kind == "words":
            return f"{self.kept} of {self.of} words required (the rarest)"
        if self.kind == "phrase":
            return f'"{self.text}": {self.kept} of its {self.of} words searched as a phrase'
        if self.kind == "excluded":
            return f"-{self.text} not applied"
        if self.kind == "sampled":
            return f"counted and ranked in a sample of {self.kept:,} of about {self.of:,} matches"
        return f"not ranked: about {self.of:,} matches are too many to rank; a sample is shown"

    def to_dict(self) -> dict[str, Any]:
        """The cut as the API shows it."""
        return {"kind": self.kind, "text": self.text, "kept": self.kept, "of": self.of}


def partial_of(cuts: tuple[Cut, ...]) -> dict[str, Any] | None:
    """What an answer says of its cuts (its `partial`), or None: nothing was cut."""
    if not cuts:
        return None
    return {
        "reason": "too_expensive",
        "message": "Too broad to search in full: " + "; ".join(cut.describe() for cut in cuts),
        "cuts": [cut.to_dict() for cut in cuts],
    }


@dataclass(frozen=True)
class Bounded:
    """A search as the budget lets it run: its match, what was cut, and its cost.

    `postings`: how many postings it reads (None: no statistics, not known).
    """

    match: MatchQuery | None
    cuts: tuple[Cut, ...] = ()
    postings: int | None = None


def bound(match: MatchQuery | None, stats: TermStats | None, budget: Budget = BUDGET) -> Bounded:
    """`match` cut to what `budget` allows, by `stats` (None: the counts only).

    Raw FTS5 syntax cannot be cut (it is the expression asked for): its cost is only
    read, for the engine to refuse one that reads too much (check_raw).
    """
    if match is None:
        return Bounded(match)
    if match.raw is not None:
        return _raw(match, stats, budget)
    planner = _Planner(stats, budget)
    include = exclude = None
    used = 0
    if match.include is not None:
        include, used = planner.plan(match.include, budget.max_postings)
    if match.exclude is not None:
        # Without words to match, the first exclusion is the search: it stays.
        left = budget.max_postings - used
        exclude, cost = planner.exclusions(match.exclude, left, keep_first=include is None)
        used += cost
    bounded = replace(match, include=include, exclude=exclude)
    return Bounded(bounded, tuple(planner.cuts), used if stats is not None else None)


@dataclass
class _Planner:
    stats: TermStats | None
    budget: Budget
    cuts: list[Cut] = field(default_factory=list)
    _freq: dict[str, int] = field(default_factory=dict)
    _prefixes: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def cut(self, kind: str, text: str, kept: int, of: int) -> None:
        self.cuts.append(Cut(kind, text, kept, of))

    def doc_freq(self, term: str) -> int:
        """How many entries hold `term` (1 without statistics: the counts alone decide)."""
        if self.stats is None:
            return 1
        if term not in self._freq:
            self._freq[term] = self.stats.doc_freq(term)
        return self._freq[term]

    def prefix_terms(self, prefix: str) -> list[tuple[str, int]] | None:
        """The terms `prefix` begins, the word itself first; None without statistics."""
        if self.stats is None:
            return None
        if prefix not in self._prefixes:
            found = self.stats.prefix_terms(prefix)
            itself = [pair for pair in found if pair[0] == prefix]
            self._prefixes[prefix] = itself + [pair for pair in found if pair[0] != prefix]
        return self._prefixes[prefix]

    def exclusions(
        self, node: Node, allowance: int, *, keep_first: bool
    ) -> tuple[Node | None, int]:
        """The words to exclude that fit `allowance` (in the order written; the first
        always when `keep_first`), each other one cut as "excluded"; what they read."""
        kept: list[Node] = []
        left = allowance
        for child in node.children if isinstance(node, AnyOf) else (node,):
            planned, cost = self.plan(child, max(left, 0))
            if cost > left and not (keep_first and not kept):
                self.cut("excluded", _text(child), 0, 1)
                continue
            kept.append(planned)
            left -= cost
        if not kept:
            return None, 0
        return (kept[0] if len(kept) == 1 else AnyOf(tuple(kept))), allowance - left

    def prefix_weight(self, prefix: str, terms: int) -> int:
        """How many times a posting read through `prefix`, of `terms` terms, counts."""
        if self.budget.prefix_weight == 1:
            return 1
        return min(self.budget.prefix_weight, 1 + math.ceil(math.log2(max(1, terms))))

    def full_cost(self, node: Node) -> int:
        """What `node` reads as written (to order the words that must all match)."""
        if isinstance(node, Phrase):
            terms = self.prefix_terms(node.tokens[-1]) if node.prefix and node.tokens else None
            head = node.tokens[:-1] if terms is not None else node.tokens
            weight = self.prefix_weight(node.tokens[-1], len(terms or ())) if node.tokens else 1
            return sum(map(self.doc_freq, head)) + weight * sum(df for _, df in terms or ())
        if isinstance(node, Without):
            return self.full_cost(node.base) + self.full_cost(node.excluded)
        return sum(self.full_cost(child) for child in node.children)

    def plan(self, node: Node, allowance: int) -> tuple[Node, int]:
        """`node` within `allowance` postings where it can shrink, and what it reads."""
        if isinstance(node, Phrase):
            return self._phrase(node, allowance)
        if isinstance(node, Without):
            base, cost = self.plan(node.base, allowance)
            excluded, more = self.plan(node.excluded, allowance - cost)
            if cost + more > allowance:
                self.cut("excluded", _text(node.excluded), 0, 1)
                return base, cost
            return Without(base, excluded), cost + more
        if isinstance(node, AnyOf):
            return self._alternatives(node, allowance)
        return self._required(node, allowance)

    def _alternatives(self, node: AnyOf, allowance: int) -> tuple[Node, int]:
        children = list(dict.fromkeys(node.children))
        kept, cost = self._within(children[: self.budget.max_alternatives], allowance)
        if len(kept) < len(children):
            self.cut("alternatives", _text(node), len(kept), len(children))
        nodes = [planned for _, planned in kept]
        return (nodes[0] if len(nodes) == 1 else AnyOf(tuple(nodes))), cost

    def _required(self, node: AllOf, allowance: int) -> tuple[Node, int]:
        children = list(dict.fromkeys(node.children))
        rarest = sorted(range(len(children)), key=lambda at: self.full_cost(children[at]))
        order = rarest[: self.budget.max_words]
        kept, cost = self._within([children[at] for at in order], allowance)
        if len(kept) < len(children):
            self.cut("words", _text(node), len(kept), len(children))
        # In the order written: the same search reads the same way.
        nodes = [planned for _, planned in sorted((order[at], planned) for at, planned in kept)]
        return (nodes[0] if len(nodes) == 1 else AllOf(tuple(nodes))), cost

    def _within(self, children: list[Node], allowance: int) -> tuple[list[tuple[int, Node]], int]:
        """(place, planned child) of the children that fit, each planned within an equal
        share of what is left (the first always), and what they read."""
        kept: list[tuple[int, Node]] = []
        left = allowance
        for at, child in enumerate(children):
            share = left // (len(children) - at)
            planned, cost = self.plan(child, max(share, 0))
            if kept and cost > left:
                continue
            kept.append((at, planned))
            left -= cost
        return kept, allowance - left

    def _phrase(self, phrase: Phrase, allowance: int) -> tuple[Node, int]:
        tokens = phrase.tokens
        if not tokens:
            return phrase, 0
        if phrase.prefix and (terms := self.prefix_terms(tokens[-1])) is not None:
            head, head_cost = self._run(phrase, tokens[:-1], allowance, prefix_after=True)
            kept, cost = self._prefix(phrase, terms, allowance - head_cost)
            if head != tokens[:-1]:
                phrase = replace(
                    phrase, text=" ".join(head + tokens[-1:]), tokens=head + tokens[-1:]
                )
            return (phrase if kept is None else replace(phrase, expansions=kept)), head_cost + cost
        run, cost = self._run(phrase, tokens, allowance, prefix_after=False)
        if run == tokens:
            return phrase, cost
        prefix = phrase.prefix and run[-1:] == tokens[-1:] and len(run) > 0
        return replace(phrase, text=" ".join(run), tokens=run, prefix=prefix), cost

    def _run(
        self, phrase: Phrase, tokens: tuple[str, ...], allowance: int, *, prefix_after: bool
    ) -> tuple[tuple[str, ...], int]:
        """The most selective run of `tokens` that fits (MAX_PHRASE_TOKENS, `allowance`).

        `prefix_after`: a prefix follows these tokens, so the run must end at the last.
        """
        size = len(tokens)
        total = size + (1 if prefix_after else 0)
        limit = self.budget.max_phrase_tokens - (1 if prefix_after else 0)

        def cost_of(run: tuple[str, ...]) -> int:
            return sum(map(self.doc_freq, run))

        best = tokens
        if size > limit:
            best = self._best_run(tokens, max(limit, 0), anchored=prefix_after)
        while len(best) > (0 if prefix_after else 1) and cost_of(best) > allowance:
            best = self._best_run(tokens, len(best) - 1, anchored=prefix_after)
        if best != tokens:
            kept = len(best) + (1 if prefix_after else 0)
            self.cut("phrase", phrase.text, kept, total)
        return best, cost_of(best)

    def _best_run(self, tokens: tuple[str, ...], size: int, *, anchored: bool) -> tuple[str, ...]:
        """The run of `size` tokens read cheapest (the earliest of equals); `anchored`: the last."""
        if size <= 0:
            return ()
        starts = [len(tokens) - size] if anchored else range(len(tokens) - size + 1)
        return min(
            (tokens[start : start + size] for start in starts),
            key=lambda run: sum(map(self.doc_freq, run)),
        )

    def _prefix(
        self, phrase: Phrase, terms: list[tuple[str, int]], allowance: int
    ) -> tuple[tuple[str, ...] | None, int]:
        """The terms a prefix keeps (None: all of them, when they fit) and what they read:
        else its most frequent terms that fit, at most `max_prefix_terms`."""
        weight = self.prefix_weight(phrase.tokens[-1], len(terms))
        whole = weight * sum(frequency for _, frequency in terms)
        if whole <= allowance:
            return None, whole
        kept: list[str] = []
        cost = 0
        for term, frequency in terms:
            if len(kept) == self.budget.max_prefix_terms:
                break
            if kept and cost + frequency * weight > allowance:
                break  # its most frequent terms: what a person typing it most likely means
            kept.append(term)
            cost += frequency * weight
        if len(kept) == len(terms):
            return None, cost
        self.cut("prefix", phrase.tokens[-1], len(kept), len(terms))
        return tuple(kept), cost


def _raw(match: MatchQuery, stats: TermStats | None, budget: Budget) -> Bounded:
    """A raw FTS5 expression as it is, with what it reads (see check_raw)."""
    assert match.raw is not None
    if stats is None:
        return Bounded(match)
    try:
        node = parse_raw(match.raw).include
    except QueryError:
        return Bounded(match)  # the engine says what is wrong with it, in its words
    cost = _Planner(stats, budget).full_cost(node) if node is not None else 0
    return Bounded(match, (), cost)


def check_raw(match: MatchQuery | None, postings: int | None, budget: Budget) -> None:
    """Refuse a raw FTS5 expression that reads more than `budget` allows (it is the
    expression asked for, so it cannot be cut). :raise QueryTooExpensive: (a 400)."""
    if match is None or match.raw is None or postings is None:
        return
    if postings > budget.max_postings:
        raise QueryTooExpensive(
            f"This raw FTS5 expression would read {postings:,} postings (this index reads"
            f" at most {budget.max_postings:,}); use longer prefixes or fewer alternatives",
            match.raw,
        )


def _text(node: Node) -> str:
    """A node as a person would write it (for the cut's `text`, at most 80 characters)."""
    if isinstance(node, Phrase):
        words = " ".join(node.tokens) + ("*" if node.prefix else "")
        text = f'"{words}"' if len(node.tokens) > 1 else words
    elif isinstance(node, Without):
        text = f"{_text(node.base)} -{_text(node.excluded)}"
    else:
        joiner = " OR " if isinstance(node, AnyOf) else " "
        text = joiner.join(_text(child) for child in node.children)
    return text if len(text) <= 80 else text[:79] + "…"
