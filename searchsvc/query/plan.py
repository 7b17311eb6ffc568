"""From the query a person asked to the query every engine answers, and back.

The search stack (searchsvc.stack) asks engines `engine_query(query, names)`: names
resolved to every spelling (searchsvc.query.names) and the scope turned into a format
filter (with the format facet counted, which gives both scopes' counts) and folding
into a copy filter (its facet counts the copies folded), so an engine never needs to
know any of them. `finished_page` then folds the facets' spellings and reads the
scopes' and the folded counts. Pure functions.
"""

from __future__ import annotations

from dataclasses import replace

from dialogfile.copies import COPY
from dialogfile.fields import FORMATS
from searchsvc.query.filters import Filters
from searchsvc.query.names import NAME_FILTERS, NameIndex, group_facet
from searchsvc.repository import FACET_LIMIT, SECTION_FORMAT, SearchPage, SearchQuery

#: The format filter's name (a scope is a condition on it, and its facet counts scopes).
FORMAT_FILTER = "format"
#: The copy filter's name (folding is a condition on it, and its facet counts the folded).
COPY_FILTER = "copy"
#: The file filter's name: a search in some files shows their copies (see folds).
FILE_FILTER = "file"
#: The formats of each scope but "all".
SCOPE_FORMATS = {
    "entries": tuple(name for name in FORMATS if name != SECTION_FORMAT),
    "text": (SECTION_FORMAT,),
}


def scoped(query: SearchQuery) -> bool:
    """Whether the scope narrows this search (it does unless "all" or a format is given)."""
    return query.scope != "all" and not query.filters.get(FORMAT_FILTER)


def folds(query: SearchQuery) -> bool:
    """Whether copies fold into their original in this search.

    Not with collapse=off, a copy filter of its own, or a file filter: copies differ
    only in their place, so a search limited to some files shows what those files hold.
    """
    filters = query.filters
    own = filters.get(COPY_FILTER) or filters.get_excluded(COPY_FILTER)
    return query.collapse and not (own or filters.get(FILE_FILTER))


def engine_query(query: SearchQuery, names: NameIndex | None) -> SearchQuery:
    """What the engines are asked: names as every spelling, the scope as a format filter,
    folding as a copy filter.

    Each counts its facet too (over the matches without its filter, as every facet
    with a filter of its own): the format's counts are the scopes', the copy's the folded.
    """
    filters = names.resolve(query.filters) if names is not None else query.filters
    facets = list(query.facets)
    counted = []
    # As exclusions where they can be: an index skips a few rows faster than it keeps
    # nearly all of them (entries are most rows, originals nearly all).
    if query.scope == "text" and scoped(query):
        filters = filters.merged(Filters({FORMAT_FILTER: (SECTION_FORMAT,)}))
    elif scoped(query):
        filters = filters.merged(Filters(excluded={FORMAT_FILTER: (SECTION_FORMAT,)}))
    if scoped(query):
        facets.append(FORMAT_FILTER)
        counted.append(FORMAT_FILTER)
    if folds(query):
        filters = filters.merged(Filters(excluded={COPY_FILTER: (COPY,)}))
        facets.append(COPY_FILTER)
        counted.append(COPY_FILTER)
    return replace(
        query,
        filters=filters,
        facets=tuple(dict.fromkeys(facets)),
        scope_facets=tuple(name for name in counted if name not in query.facets),
    )


def finished_page(query: SearchQuery, page: SearchPage) -> SearchPage:
    """The page as asked: name facets per person, facets cut to FACET_LIMIT, scopes' counts."""
    scopes = folded = None
    if scoped(query) and page.scopes is not None:
        scopes = page.scopes  # the engine counted them (SearchQuery.scope_facets)
    elif scoped(query):
        formats = {item.value: item.count for item in page.facets.get(FORMAT_FILTER, ())}
        scopes = {
            scope: sum(formats.get(name, 0) for name in names)
            for scope, names in SCOPE_FORMATS.items()
        }
    if folds(query) and page.folded is not None:
        folded = page.folded
    elif folds(query):
        copies = {item.value: item.count for item in page.facets.get(COPY_FILTER, ())}
        folded = copies.get(COPY, 0)
    facets = {
        name: group_facet(name, counts, FACET_LIMIT)
        if name in NAME_FILTERS
        else tuple(counts[:FACET_LIMIT])
        for name, counts in page.facets.items()
        if name in query.facets
    }
    return replace(page, facets=facets, scopes=scopes, folded=folded)
