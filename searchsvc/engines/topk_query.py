"""Translate a parsed search (fts_query nodes + Filters) into tantivy queries for the top-k index.

A phrase matches inside one of the five text fields, like an FTS5 phrase inside
one column; each field's score is boosted by its sqlite_sql.BM25_WEIGHTS weight.
`word*` (and the as-you-type last word) matches the field's terms that start
with `word`, read from the term dictionary of the searcher that runs the query
(a term set: it scores a constant, where FTS5 scores the expanded terms with
bm25); a prefix phrase is a regex phrase and scores like a phrase. Raw FTS5 syntax (raw=1: NEAR,
column filters, ^) and words that tantivy's tokenizer would cut differently are
not translated: Untranslatable, and the caller asks SQLite instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import tantivy

from dialogfile.fields import DATE_FILTER, EXACT, FIELD, FILTER, MOOD, PATH, TARGETS, Filter
from indexer.topk_schema import (
    CHOICE_FILTERS,
    ENTRY_SIDE,
    FACET_FIELDS,
    SECTION_FORMAT,
    SECTION_SIDE,
    SIDE_FIELDS,
    TEXT_FIELDS,
    analyzer,
    fold,
)
from searchsvc.engines.sqlite_sql import BM25_WEIGHTS, mood_hexes
from searchsvc.query.filters import Filters, target_variants
from searchsvc.query.fts_query import AllOf, AnyOf, MatchQuery, Node, Phrase, Without

Q = tantivy.Query
MUST, SHOULD, MUST_NOT = tantivy.Occur.Must, tantivy.Occur.Should, tantivy.Occur.MustNot
_WEIGHTS = {
    side_name: weight
    for side in SIDE_FIELDS.values()
    for side_name, weight in zip(side, BM25_WEIGHTS, strict=True)
}
#: The format filter (its values say which sides of the index a search reads).
FORMAT = "format"
_FORMATS = FIELD[FILTER[FORMAT].field].choices
_ANALYZER = analyzer()
#: Every text field of every side: what a search and its scope counts read (Terms.doc_freq).
SEARCHED_FIELDS = tuple(name for side in SIDE_FIELDS.values() for name in side)
#: Terms all the prefixes of one search may expand to (see Terms).
MAX_PREFIX_TERMS = 100_000


class Untranslatable(Exception):
    """The search needs FTS5 itself (raw syntax, or a word tantivy would tokenize differently)."""


class TooBroad(Untranslatable):
    """The search's prefixes expand to too many terms for the index to answer in time."""


@dataclass(frozen=True)
class Compiled:
    """The full query, and per facet with a filter of its own the query without that filter.

    Two such facets of EXACT filters (the stack's scope and copies: format, copy) are
    counted together instead (`joint`): one query without both filters, counted by
    both fields at once, and each facet read from it with the other's values applied.
    """

    query: tantivy.Query
    facet_queries: dict[str, tantivy.Query]
    joint: tuple[str, str] | None = None
    joint_query: tantivy.Query | None = None
    filters: Filters = dataclass_field(default_factory=Filters)


#: The names of the few-choice filters (indexer.topk_schema.CHOICE_FILTERS).
CHOICES = frozenset(name for name, _ in CHOICE_FILTERS)
#: The shortest prefix whose whole word is scored too (see phrase_query): a two-letter
#: prefix is a word being typed, and scoring its word (`in`) costs a pass over most docs.
EXACT_BOOST_MIN = 3
#: What a longer word a prefix begins adds to a score, against the word itself (its
#: bm25): small, so the word ranks first, and more than nothing, so the fields count.
PREFIX_WEIGHT = 0.01


def sides_of(filters: Filters) -> tuple[str, ...]:
    """The sides of the index (topk_schema.SIDE_FIELDS) whose records the format filter lets
    through: entries, text sections, or both."""
    allowed = [name for name in _FORMATS if filters.allows(FORMAT, name)]
    sides = [ENTRY_SIDE] if any(name != SECTION_FORMAT for name in allowed) else []
    return (*sides, SECTION_SIDE) if SECTION_FORMAT in allowed else tuple(sides)


def _implied(filters: Filters, sides: tuple[str, ...]) -> bool:
    """Whether reading only `sides` is all the format filter asks (no clause of its own)."""
    allowed = {name for name in _FORMATS if filters.allows(FORMAT, name)}
    wanted = set() if ENTRY_SIDE not in sides else set(_FORMATS) - {SECTION_FORMAT}
    return allowed == (wanted | ({SECTION_FORMAT} if SECTION_SIDE in sides else set()))


def compile_search(
    schema: tantivy.Schema,
    match: MatchQuery | None,
    filters: Filters,
    facets: Iterable[str],
    *,
    known_moods: Iterable[str],
    terms: Terms,
    texts: dict[tuple[Any, ...], tantivy.Query | None] | None = None,
    scored: bool = True,
) -> Compiled:
    """The tantivy queries for a search; raises Untranslatable when it cannot be exact.

    The words are looked for on the sides of the index the format filter lets through
    (sides_of): a search of dialog entries reads no section's postings. `texts` keeps the
    words' query per sides for the next compile of the same `match` (one search's counts).
    `scored` False: a query only to count matches (no clause that only adds to scores).
    """
    moods = list(known_moods) if filters.has(MOOD) else []
    texts = {} if texts is None else texts

    def with_filters(*skip: str) -> tantivy.Query:
        sides = sides_of(filters.without(FORMAT) if FORMAT in skip else filters)
        if not sides:
            return Q.empty_query()
        if (sides, scored) not in texts:
            texts[sides, scored] = _match_query(schema, match, terms, sides, scored)
        text = texts[sides, scored]
        # Words read only their sides' fields, so they imply the format filter; a search
        # of exclusions alone (`-word`) reads every record and keeps the filter.
        reads_sides = text is not None and match is not None and match.include is not None
        skipped = {*skip, FORMAT} if reads_sides and _implied(filters, sides) else set(skip)
        parts = [text] if text is not None else []
        parts += filter_queries(schema, filters, moods, terms, skip=skipped)
        # Excluded values as MUST_NOT clauses of this one boolean (cheaper than each
        # its own "everything but" query).
        unwanted = excluded_queries(schema, filters, moods, terms, skip=skipped)
        if not parts:
            if not unwanted:
                return Q.all_query()
            parts = [Q.all_query()]
        if len(parts) == 1 and text is not None and not unwanted:
            return text
        return Q.boolean_query(
            [(MUST, part) for part in parts] + [(MUST_NOT, part) for part in unwanted]
        )

    own = sorted(name for name in facets if filters != filters.without(name))
    pair = [name for name in own if FILTER[name].kind == EXACT][:2]
    if len(pair) < 2:
        return Compiled(with_filters(), {name: with_filters(name) for name in own})
    first, second = pair
    return Compiled(
        with_filters(),
        {name: with_filters(name) for name in own if name not in pair},
        joint=(first, second),
        joint_query=with_filters(first, second),
        filters=filters,
    )


def _match_query(
    schema: tantivy.Schema,
    match: MatchQuery | None,
    terms: Terms,
    sides: tuple[str, ...],
    scored: bool = True,
) -> tantivy.Query | None:
    if match is None:
        return None
    if match.raw is not None:
        raise Untranslatable("raw FTS5 syntax")
    fields = [name for side in sides for name in SIDE_FIELDS[side]]
    include = node_query(schema, match.include, terms, fields, scored) if match.include else None
    if match.exclude is None:
        return include
    excluded = node_query(schema, match.exclude, terms, fields, False)
    base = include if include is not None else Q.all_query()
    return Q.boolean_query([(MUST, base), (MUST_NOT, excluded)])


def node_query(
    schema: tantivy.Schema, node: Node, terms: Terms, fields: list[str], scored: bool = True
) -> tantivy.Query:
    """The query for one node of a parsed search (a phrase matches in any of `fields`)."""
    if isinstance(node, Phrase):
        return phrase_query(schema, node, terms, fields, scored)
    if isinstance(node, Without):
        base = node_query(schema, node.base, terms, fields, scored)
        excluded = node_query(schema, node.excluded, terms, fields, False)
        return Q.boolean_query([(MUST, base), (MUST_NOT, excluded)])
    occur = MUST if isinstance(node, AllOf) else SHOULD
    assert isinstance(node, AllOf | AnyOf)
    return Q.boolean_query(
        [(occur, node_query(schema, child, terms, fields, scored)) for child in node.children]
    )


def phrase_query(
    schema: tantivy.Schema,
    phrase: Phrase,
    terms: Terms,
    fields: list[str] | None = None,
    scored: bool = True,
) -> tantivy.Query:
    """The phrase in any of the text fields, each field boosted by its bm25 weight.

    Not `scored` (a query that only counts): without the exact word's clause beside a
    prefix, which only ranks (the prefix's terms hold the word already).
    """
    tokens = list(phrase.tokens)
    if not tokens or _ANALYZER.analyze(fold(" ".join(tokens))) != tokens:
        raise Untranslatable(f"the word {phrase.text!r} tokenizes differently")
    clauses = []
    for field in fields or TEXT_FIELDS:
        if phrase.prefix and len(tokens) == 1:
            clauses += _prefix_clauses(schema, field, tokens[0], terms, scored, phrase.expansions)
            continue
        if phrase.prefix:
            last = tokens[-1] + ".*"
            if phrase.expansions is not None:  # the budget kept only these terms
                last = "(" + "|".join(map(re.escape, phrase.expansions)) + ")"
            query = Q.regex_phrase_query(schema, field, [*tokens[:-1], last])
            # The phrase itself (`agent_id` as typed) ranks above phrases it begins.
            if scored:
                exact = Q.phrase_query(schema, field, tokens)
                clauses.append((SHOULD, Q.boost_query(exact, _WEIGHTS[field])))
        elif len(tokens) == 1:
            query = Q.term_query(schema, field, tokens[0])
        else:
            query = Q.phrase_query(schema, field, tokens)
        clauses.append((SHOULD, Q.boost_query(query, _WEIGHTS[field])))
    return Q.boolean_query(clauses) if clauses else Q.empty_query()


def _prefix_clauses(
    schema: tantivy.Schema,
    field: str,
    word: str,
    terms: Terms,
    scored: bool,
    expansions: tuple[str, ...] | None = None,
) -> list[tuple[tantivy.Occur, tantivy.Query]]:
    """`word*` in `field`: its terms as one set, which scores every word alike; when scored
    (and the word is EXACT_BOOST_MIN letters or more) the word itself apart, by its bm25, so
    that it ranks above the longer words it begins, and those by PREFIX_WEIGHT (each term's
    postings read once: the set holds the word only when nothing ranks it). `expansions`:
    the terms the search budget kept (Phrase.expansions), else every term of the field."""
    expanded = list(expansions) if expansions is not None else terms.with_prefix(field, word)
    if not expanded:
        return []
    weight = _WEIGHTS[field]
    # Not scored (a count), the word apart too: a term's postings are read at half the
    # cost of a term set's (which collects them first), and the word is the most common.
    if word not in expanded or (scored and len(word) < EXACT_BOOST_MIN):
        return [(SHOULD, Q.boost_query(Q.term_set_query(schema, field, expanded), weight))]
    clauses = [(SHOULD, Q.boost_query(Q.term_query(schema, field, word), weight))]
    longer = [term for term in expanded if term != word]
    if longer:
        query = Q.term_set_query(schema, field, longer)
        clauses.append((SHOULD, Q.boost_query(query, weight * PREFIX_WEIGHT)))
    return clauses


class Terms:
    """Indexed terms by prefix, from one searcher's term dictionaries.

    A search whose prefixes expand to more than MAX_PREFIX_TERMS terms in all is
    left to FTS5, which stops a query at its time limit (tantivy has none here). The
    search budget's statistics too (searchsvc.query.budget.TermStats): a term's
    frequency is the postings it has in the text fields of both sides of the index
    together (SEARCHED_FIELDS), what a search reads for its page and for the other
    scope's count (topk_counts.scope_counts), so a search cheap on its own side is not
    left expensive in its counts.
    """

    def __init__(self, searcher: tantivy.Searcher) -> None:
        self.searcher = searcher
        self.expanded = 0
        self._known: dict[tuple[str, str], list[str]] = {}

    def doc_freq(self, term: str) -> int:
        """The postings of `term` in every text field of both sides (a term in two fields
        counts twice)."""
        return sum(self.searcher.doc_freq(field, term) for field in SEARCHED_FIELDS)

    def prefix_terms(self, prefix: str) -> list[tuple[str, int]]:
        """The terms of the text fields that begin with `prefix` and their postings (as
        doc_freq), most first, then alphabetical."""
        found: dict[str, int] = {}
        for field in SEARCHED_FIELDS:
            for term, count in self.searcher.terms_with_prefix(field, prefix):
                found[term] = found.get(term, 0) + count
        return sorted(found.items(), key=lambda pair: (-pair[1], pair[0]))

    def with_prefix(self, field: str, prefix: str) -> list[str]:
        """The terms of `field` that start with `prefix` (each expansion counted once, however
        many of one search's queries ask it)."""
        if (field, prefix) in self._known:
            return self._known[field, prefix]
        found = [term for term, _ in self.searcher.terms_with_prefix(field, prefix)]
        self._known[field, prefix] = found
        self.expanded += len(found)
        if self.expanded > MAX_PREFIX_TERMS:
            raise TooBroad(f"the prefixes expand to more than {MAX_PREFIX_TERMS} terms")
        return found

    def frequency(self, field: str, values: Iterable[str]) -> int:
        """How many documents hold any of these values of a raw field (an upper bound)."""
        return sum(self.searcher.doc_freq(field, value) for value in values)

    def below(self, field: str, folder: str) -> list[str]:
        """Paths in the fast field `field` that start with `folder/` (longer than it)."""
        prefix = folder + "/"
        found = self.searcher.terms_with_prefix(field, prefix)
        return [term for term, _ in found if term != prefix]


#: How many words and prefixes TermCounts remembers (then it starts again).
TERM_COUNTS_REMEMBERED = 4096


class TermCounts(Terms):
    """Terms whose statistics are remembered: one searcher's, shared by every request
    while it lives (the search budget asks them of every search)."""

    def __init__(self, searcher: tantivy.Searcher) -> None:
        super().__init__(searcher)
        self._freq: dict[str, int] = {}
        self._prefixes: dict[str, list[tuple[str, int]]] = {}

    def doc_freq(self, term: str) -> int:
        """As Terms.doc_freq, remembered."""
        found = self._freq.get(term)
        if found is None:
            if len(self._freq) >= TERM_COUNTS_REMEMBERED:
                self._freq = {}
            found = self._freq[term] = super().doc_freq(term)
        return found

    def prefix_terms(self, prefix: str) -> list[tuple[str, int]]:
        """As Terms.prefix_terms, remembered."""
        found = self._prefixes.get(prefix)
        if found is None:
            if len(self._prefixes) >= TERM_COUNTS_REMEMBERED:
                self._prefixes = {}
            found = self._prefixes[prefix] = super().prefix_terms(prefix)
        return found


def filter_queries(
    schema: tantivy.Schema,
    filters: Filters,
    known_moods: list[str],
    terms: Terms,
    *,
    skip: str | Iterable[str] | None = None,
) -> list[tantivy.Query]:
    """One query per filter set in `filters` (but the facets `skip`), as sqlite_sql.filter_where."""
    skipped = {skip} if isinstance(skip, str) else set(skip or ())
    parts = [
        _value_query(schema, spec, values, known_moods, terms)
        for spec, values in filters.items()
        if spec.name not in skipped and spec.name not in CHOICES
    ]
    parts += choice_clauses(schema, filters, terms, skipped)[0]
    if filters.since is not None or filters.until is not None:
        lower = max(filters.since or 0, 0)
        upper = filters.until
        if upper is not None and upper < lower:
            parts.append(Q.empty_query())
        else:
            parts.append(
                Q.range_query(
                    schema,
                    DATE_FILTER.fast_field,
                    tantivy.FieldType.Integer,
                    lower,
                    upper,
                    use_inverted_index=True,
                )
            )
    return parts


def excluded_queries(
    schema: tantivy.Schema,
    filters: Filters,
    known_moods: list[str],
    terms: Terms,
    *,
    skip: Iterable[str] = (),
) -> list[tantivy.Query]:
    """One query per filter with excluded values (but the facets `skip`): what must not match."""
    skipped = set(skip)
    return [
        _value_query(schema, spec, values, known_moods, terms)
        for spec, values in filters.excluded_items()
        if spec.name not in skipped and spec.name not in CHOICES  # see choice_clauses
    ] + choice_clauses(schema, filters, terms, skipped)[1]


def choice_clauses(
    schema: tantivy.Schema, filters: Filters, terms: Terms, skipped: Iterable[str] = ()
) -> tuple[list[tantivy.Query], list[tantivy.Query]]:
    """The conditions on the few-choice filters (format, copy; but `skipped`): per filter,
    the values it keeps (MUST) or the values it refuses (MUST_NOT), whichever fewer
    records hold (their document frequencies): skipping the few copies is nearly free,
    intersecting with every original is not."""
    skipped = set(skipped)
    must: list[tantivy.Query] = []
    must_not: list[tantivy.Query] = []
    for name, choices in CHOICE_FILTERS:
        if name in skipped or not (filters.get(name) or filters.get_excluded(name)):
            continue
        kept = [value for value in choices if filters.allows(name, value)]
        refused = [value for value in choices if value not in kept]
        field = FACET_FIELDS[name]
        holding, not_holding = terms.frequency(field, kept), terms.frequency(field, refused)
        if not kept or holding == 0:
            must.append(Q.empty_query())
        elif not_holding == 0:
            continue  # no record has a refused value (e.g. no copies at all)
        elif holding <= not_holding:
            must.append(_terms_query(schema, field, kept))
        else:
            must_not.append(_terms_query(schema, field, refused))
    return must, must_not


def _terms_query(schema: tantivy.Schema, field: str, values: list[str]) -> tantivy.Query:
    """Any of the values of a raw field (one term: a plain term query, the cheapest)."""
    if len(values) == 1:
        return Q.term_query(schema, field, values[0])
    return Q.term_set_query(schema, field, values)


def _value_query(
    schema: tantivy.Schema,
    spec: Filter,
    values: tuple[str, ...],
    known_moods: list[str],
    terms: Terms,
) -> tantivy.Query:
    """The term set of one filter with values on its fast field, by the filter's kind."""
    wanted: Iterable[str] = values
    if spec.kind == TARGETS:
        wanted = (variant for value in values for variant in target_variants(value))
    elif spec.kind == MOOD:
        wanted = mood_hexes(values, known_moods)
    elif spec.kind == PATH:
        paths: set[str] = set()
        for path in values:
            if not path.endswith("/"):
                paths.add(path)
            paths.update(terms.below(spec.fast_field, path.rstrip("/")))
        wanted = paths
    ordered = sorted(set(wanted))
    if not ordered:
        return Q.empty_query()
    return Q.term_set_query(schema, spec.fast_field, ordered)
