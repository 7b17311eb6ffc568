"""A SearchQuery as Meilisearch searches, and Meilisearch's answers as a SearchPage.

The query becomes the body of one `POST /multi-search`: the page (q, filter, sort,
page, highlight) plus, for each facet whose own filter is set, a count-only search
without that filter (so siblings of a selected value keep their counts). Every filter
value is quoted and escaped (indexer.meili_documents.filter_value). A mood family stands
for the colours of that family the index holds, as in repo_sqlite.

What Meilisearch cannot express raises Unexpressible: `OR`, a prefix (`word*`) on any
word but the last, `raw=1` FTS5 syntax.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import MISSING, dataclass
from dataclasses import fields as dataclass_fields
from typing import Any

from dialogfile.fields import DATE_FILTER, FACETS, FILTER, MOOD, PATH, TARGETS, Filter
from dialogfile.glyphs import PREFIX as GLYPH_PREFIX
from dialogfile.model import ENTRY_FIELDS, STORED_ENTRY_COLUMNS, Entry
from indexer.meili_documents import MAX_TOTAL_HITS, filter_value, in_filter
from searchsvc.engines.snippets import strip_markdown
from searchsvc.query.filters import MOOD_FAMILIES, Filters, mood_family, target_variants
from searchsvc.query.fts_query import AllOf, AnyOf, MatchQuery, Node, Phrase
from searchsvc.repository import (
    ENGINE_FACET_LIMIT,
    FacetCount,
    SearchPage,
    SearchQuery,
    StoredEntry,
)

SOURCE = "meilisearch"

#: Our facet names and the document attributes Meilisearch counts for them.
FACET_ATTRIBUTES = {name: FILTER[name].meili_attribute for name in FACETS}
#: Attributes a snippet may come from, in order of preference (as repo_sqlite's).
SNIPPET_ATTRIBUTES = ("message", "title", "body")
SNIPPET_WORDS = 24
# Markers Meilisearch puts around matches; private-use characters that dialog text
# does not contain. The snippet is HTML-escaped, then the markers become <mark>.
_PRE = "\ue000\ue001"
_POST = "\ue001\ue000"
_MARKER_CHARS = re.compile("[\ue000\ue001]")
_HEX = re.compile(r"[0-9A-F]{6}")
_SPACE = re.compile(r"\s+")
_RETRIEVE = list(STORED_ENTRY_COLUMNS)
#: The entry fields a hit carries as they are (metadata comes as JSON text), and those
#: every document has.
_HIT_FIELDS = [name for name in ENTRY_FIELDS if name != "metadata"]
_REQUIRED = {
    f.name for f in dataclass_fields(Entry) if f.default is MISSING and f.name != "metadata"
}


class Unexpressible(Exception):
    """The query uses something Meilisearch cannot express; the store behind answers it."""


@dataclass(frozen=True)
class MeiliSearchPlan:
    """The searches one SearchQuery becomes: the page first, then one per facet recount."""

    searches: list[dict[str, Any]]
    recounted: list[str]  # facet names counted by searches[1:], in order


#: A glyph word of dialogfile.glyphs (Meilisearch's documents hold the text, not these).
GLYPH_WORD = re.compile(f"{GLYPH_PREFIX}[0-9a-f]{{4,6}}")


def meili_q(match: MatchQuery | None) -> str:
    """The `q` for a match: words, "phrases", -exclusions; a prefix only on the last word.

    Raises Unexpressible for OR, raw FTS5 syntax, or a prefix anywhere but at the end.
    """
    if match is None:
        return ""
    if match.raw is not None:
        raise Unexpressible("raw FTS5 syntax")
    included = _phrases_all(match.include) if match.include is not None else []
    excluded = _phrases_any(match.exclude) if match.exclude is not None else []
    if any(phrase.prefix for phrase in included[:-1]):
        raise Unexpressible("a prefix (word*) before the last word")
    if any(GLYPH_WORD.fullmatch(t) for p in (*included, *excluded) for t in p.tokens):
        raise Unexpressible("an emoji or CJK character (the index's glyph words)")
    parts = [_quoted(phrase) for phrase in included[:-1]]
    prefix = False
    if included:
        last = included[-1]
        prefix = last.prefix
        # A phrase cannot end in a prefix in Meilisearch: its words go in unquoted.
        parts.append(" ".join(last.tokens) if last.prefix else _quoted(last))
    # Exclusions go first so that the last word stays the prefix word.
    words = [f"-{_quoted(phrase)}" for phrase in excluded] + parts
    q = " ".join(words)
    # Meilisearch takes the last word as a prefix unless the query ends in a space.
    return q if prefix else q + " "


def _quoted(phrase: Phrase) -> str:
    """One word as is, several as a "phrase" (tokens hold letters and digits only)."""
    return phrase.tokens[0] if len(phrase.tokens) == 1 else '"' + " ".join(phrase.tokens) + '"'


def _phrases_all(node: Node) -> list[Phrase]:
    """The phrases of an AND of phrases; Unexpressible for anything else."""
    if isinstance(node, Phrase):
        return [node]
    if isinstance(node, AllOf):
        return [phrase for child in node.children for phrase in _phrases_all(child)]
    if isinstance(node, AnyOf) and len(node.children) == 1:
        return _phrases_all(node.children[0])
    raise Unexpressible("OR")


def _phrases_any(node: Node) -> list[Phrase]:
    """The phrases of an exclusion (none of them may match); Unexpressible for OR inside."""
    if isinstance(node, Phrase):
        return [node]
    if isinstance(node, AnyOf):
        phrases = []
        for child in node.children:
            if not isinstance(child, Phrase):
                raise Unexpressible("OR inside an exclusion")
            phrases.append(child)
        return phrases
    raise Unexpressible("a nested exclusion")


def meili_filter(filters: Filters, known_moods: list[str] | None = None) -> list[str]:
    """Filter expressions (all must hold) for `filters`, by kind; values quoted and escaped.

    A mood family stands for the `known_moods` (colours the index holds) of that
    family, as in repo_sqlite; Unexpressible when families come without them.
    """
    expressions = [_value_filter(spec, values, known_moods) for spec, values in filters.items()]
    expressions += [
        f"NOT ({_value_filter(spec, values, known_moods)})"
        for spec, values in filters.excluded_items()
    ]
    date = DATE_FILTER.meili_attribute
    if filters.since is not None:
        expressions.append(f"{date} >= {filter_value(filters.since)}")
    if filters.until is not None:
        expressions.append(f"{date} <= {filter_value(filters.until)}")
    return expressions


def _value_filter(spec: Filter, values: tuple[str, ...], known_moods: list[str] | None) -> str:
    """The expression of one filter with values."""
    attribute = spec.meili_attribute
    if spec.kind == TARGETS:
        return in_filter(attribute, [v for target in values for v in target_variants(target)])
    if spec.kind == MOOD:
        hexes = [mood for mood in values if _HEX.fullmatch(mood)]
        families = {mood for mood in values if mood not in hexes}
        if families:
            if known_moods is None:
                raise Unexpressible("a mood family without the list of known colours")
            hexes += [mood for mood in known_moods if mood_family(mood) in families]
        # No colour at all: a value no 6-hex colour equals, so nothing matches.
        return in_filter(attribute, sorted(set(hexes)) or ["no colour"])
    if spec.kind == PATH:
        alternatives = []
        for wanted in values:
            if not wanted.endswith("/"):
                alternatives.append(f"{attribute} = {filter_value(wanted)}")
            folder = filter_value(wanted.rstrip("/") + "/")
            alternatives.append(f"{spec.meili_folders} = {folder}")
        return "(" + " OR ".join(alternatives) + ")"
    return in_filter(attribute, values)


def needs_known_moods(filters: Filters) -> bool:
    """Whether the filters name a mood family (which stands for the colours known)."""
    return any(
        mood in MOOD_FAMILIES
        for spec, values in (*filters.items(), *filters.excluded_items())
        if spec.kind == MOOD
        for mood in values
    )


def plan_search(query: SearchQuery, known_moods: list[str] | None = None) -> MeiliSearchPlan:
    """The Meilisearch searches for `query`; Unexpressible when it cannot be asked."""
    q = meili_q(query.match)
    recounted = [f for f in query.facets if query.filters.without(f) != query.filters]
    counted_here = [f for f in query.facets if f not in recounted]
    page: dict[str, Any] = {
        "q": q,
        "matchingStrategy": "all",
        "filter": meili_filter(query.filters, known_moods),
        "page": query.page,
        "hitsPerPage": query.per_page,
        "attributesToRetrieve": _RETRIEVE,
        "attributesToCrop": list(SNIPPET_ATTRIBUTES),
        "cropLength": SNIPPET_WORDS,
        "cropMarker": "…",
        "attributesToHighlight": list(SNIPPET_ATTRIBUTES),
        "highlightPreTag": _PRE,
        "highlightPostTag": _POST,
    }
    if query.sort in ("newest", "oldest"):
        order = "desc" if query.sort == "newest" else "asc"
        page["sort"] = [f"{DATE_FILTER.meili_attribute}:{order}"]
    if counted_here:
        page["facets"] = [FACET_ATTRIBUTES[f] for f in counted_here]
    searches = [page]
    for facet in recounted:
        searches.append(
            {
                "q": q,
                "matchingStrategy": "all",
                "filter": meili_filter(query.filters.without(facet), known_moods),
                "limit": 0,
                "facets": [FACET_ATTRIBUTES[facet]],
            }
        )
    return MeiliSearchPlan(searches, recounted)


def safe_snippet(formatted: str) -> str:
    """Meilisearch's highlighted text as HTML: everything escaped, matches in <mark>."""
    # White space collapsed, as in searchsvc.engines.snippets (a body's line breaks included).
    escaped = html.escape(_SPACE.sub(" ", strip_markdown(formatted)).strip(), quote=True)
    marked = escaped.replace(_PRE, "<mark>").replace(_POST, "</mark>")
    marked = _MARKER_CHARS.sub("", marked)
    if marked.count("<mark>") != marked.count("</mark>"):
        return _MARKER_CHARS.sub("", escaped)  # never hand out unbalanced tags
    return marked


def snippet_of(hit: dict[str, Any]) -> str:
    """The first snippet attribute with a highlighted match, else the first non-empty one."""
    formatted = hit.get("_formatted") or {}
    texts = [formatted.get(name) for name in SNIPPET_ATTRIBUTES]
    texts = [text for text in texts if isinstance(text, str) and text.strip()]
    if not texts:
        return ""
    chosen = next((text for text in texts if _PRE in text), texts[0])
    return safe_snippet(chosen)


def stored_entry(hit: dict[str, Any]) -> StoredEntry:
    """A search hit as the API's StoredEntry (fields from the document, not `_formatted`)."""
    fields = {name: hit[name] if name in _REQUIRED else hit.get(name) for name in _HIT_FIELDS}
    fields["body"] = fields["body"] or ""
    entry = Entry(**fields, metadata=json.loads(hit.get("metadata_json") or "{}"))
    return StoredEntry(entry_id=int(hit["dialog_entry_id"]), entry=entry, snippet=snippet_of(hit))


def facet_counts(distribution: dict[str, int]) -> tuple[FacetCount, ...]:
    """The most frequent values first (then by value), at most ENGINE_FACET_LIMIT."""
    ordered = sorted(distribution.items(), key=lambda item: (-item[1], item[0]))
    return tuple(FacetCount(value, count) for value, count in ordered[:ENGINE_FACET_LIMIT])


def search_page(
    query: SearchQuery, plan: MeiliSearchPlan, answers: list[dict[str, Any]]
) -> SearchPage:
    """The SearchPage for the answers of a plan's searches."""
    page = answers[0]
    distributions: dict[str, dict[str, int]] = {}
    for facet in query.facets:
        if facet in plan.recounted:
            answer = answers[1 + plan.recounted.index(facet)]
        else:
            answer = page
        distribution = answer.get("facetDistribution") or {}
        distributions[facet] = distribution.get(FACET_ATTRIBUTES[facet], {})
    total = int(page.get("totalHits", 0))
    return SearchPage(
        hits=tuple(stored_entry(hit) for hit in page["hits"]),
        total=total,
        source=SOURCE,
        facets={facet: facet_counts(counts) for facet, counts in distributions.items()},
        total_exact=total < MAX_TOTAL_HITS,
    )
