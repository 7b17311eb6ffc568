"""From the query a person asked to the query every engine answers, and back.

The search stack (searchsvc.stack) asks engines `engine_query(query, names)`: names
resolved to every spelling (searchsvc.query.names) and the scope turned into a format
filter (with the format facet counted, which gives both scopes' counts), so an engine
never needs to know either. `finished_page` then folds the facets' spellings and reads
the scopes' counts. Pure functions.
"""

from __future__ import annotations

from dataclasses import replace

from dialogfile.fields import FORMATS
from searchsvc.query.filters import Filters
from searchsvc.query.names import NAME_FILTERS, NameIndex, group_facet
from searchsvc.repository import FACET_LIMIT, SECTION_FORMAT, SearchPage, SearchQuery

#: The format filter's name (a scope is a condition on it, and its facet counts scopes).
FORMAT_FILTER = "format"
#: The formats of each scope but "all".
SCOPE_FORMATS = {
    "entries": tuple(name for name in FORMATS if name != SECTION_FORMAT),
    "text": (SECTION_FORMAT,),
}


def scoped(query: SearchQuery) -> bool:
    """Whether the scope narrows this search (it does unless "all" or a format is given)."""
    return query.scope != "all" and not query.filters.get(FORMAT_FILTER)


def engine_query(query: SearchQuery, names: NameIndex | None) -> SearchQuery:
    """What the engines are asked: names as every spelling, the scope as a format filter.

    A scoped search counts the format facet too (over the matches without the format
    filter, as every facet with a filter of its own): its counts are the scopes'.
    """
    filters = names.resolve(query.filters) if names is not None else query.filters
    if not scoped(query):
        return replace(query, filters=filters)
    formats = Filters({FORMAT_FILTER: SCOPE_FORMATS[query.scope]})
    facets = tuple(dict.fromkeys((*query.facets, FORMAT_FILTER)))
    return replace(query, filters=filters.merged(formats), facets=facets)


def finished_page(query: SearchQuery, page: SearchPage) -> SearchPage:
    """The page as asked: name facets per person, facets cut to FACET_LIMIT, scopes' counts."""
    scopes = None
    if scoped(query):
        formats = {item.value: item.count for item in page.facets.get(FORMAT_FILTER, ())}
        scopes = {
            scope: sum(formats.get(name, 0) for name in names)
            for scope, names in SCOPE_FORMATS.items()
        }
    facets = {
        name: group_facet(name, counts, FACET_LIMIT)
        if name in NAME_FILTERS
        else tuple(counts[:FACET_LIMIT])
        for name, counts in page.facets.items()
        if name in query.facets
    }
    return replace(page, facets=facets, scopes=scopes)
