"""One SearchQuery from a request's parameters: q, the filters, sort, paging, facets.

The web API and any other front end (the MCP server of issue 16) read parameters here,
so the same text means the same query everywhere. `parameters` is anything with
`get(name, default)` and `getlist(name)` (a werkzeug MultiDict, for one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from searchsvc.exceptions import InvalidParameter
from searchsvc.query.filters import FilterError, Filters, filters_from_parameters
from searchsvc.query.fts_query import MatchQuery, QueryError, parse_user_query
from searchsvc.repository import FACETS, SCOPES, SORTS, SearchQuery


class Parameters(Protocol):
    """Query parameters: a value by name, or every value of a repeated name."""

    def get(self, key: str, default: str | None = None) -> str | None: ...

    def getlist(self, key: str) -> list[str]: ...


#: What a search looks in unless `scope` says otherwise: dialog entries.
DEFAULT_SCOPE = "entries"
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
#: Deepest hit a client may page to (page * per_page), as search engines do.
MAX_RESULT_WINDOW = 10_000
#: At most this many values per filter parameter.
MAX_FILTER_VALUES = 50
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _bad(parameter: str, message: str, *, query: str | None = None) -> InvalidParameter:
    return InvalidParameter(parameter, message, query=query)


def _int_arg(parameters: Parameters, name: str, default: int, low: int, high: int) -> int:
    raw = parameters.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise _bad(name, f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise _bad(name, f"{name}={value} is out of range ({low} to {high})")
    return value


def _values_of(parameters: Parameters) -> Callable[[str], list[str]]:
    def values(name: str) -> list[str]:
        """Every non-empty value of a repeatable parameter."""
        found = [value.strip() for value in parameters.getlist(name) if value.strip()]
        if len(found) > MAX_FILTER_VALUES:
            raise _bad(name, f"{name} is given {len(found)} times (at most {MAX_FILTER_VALUES})")
        return found

    return values


def search_filters(parameters: Parameters) -> Filters:
    """The filter parameters of dialogfile.fields.FILTERS (speaker, ..., from/since, to/until)."""
    try:
        return filters_from_parameters(_values_of(parameters))
    except FilterError as error:
        raise _bad(error.parameter, str(error)) from error


def _facets(parameters: Parameters) -> tuple[str, ...]:
    names: list[str] = []
    for raw in parameters.getlist("facets"):
        for name in raw.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name in ("all", "1", "true"):
                names.extend(FACETS)
            elif name in FACETS:
                names.append(name)
            else:
                raise _bad("facets", f"facets: {name!r} is not one of {', '.join(FACETS)}")
    return tuple(dict.fromkeys(names))


def _choice(parameters: Parameters, name: str, choices: tuple[str, ...], default: str) -> str:
    value = (parameters.get(name, "") or "").strip().lower() or default
    if value not in choices:
        raise _bad(name, f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def search_query(
    parameters: Parameters, *, max_query_chars: int, allow_text: bool = True
) -> SearchQuery:
    """The SearchQuery the parameters ask for; InvalidParameter names a bad parameter."""
    text = (parameters.get("q", "") or "") if allow_text else ""
    if len(text) > max_query_chars:
        raise _bad("q", f"q is {len(text)} characters long (at most {max_query_chars})")
    raw = (parameters.get("raw", "") or "").strip().lower() in _TRUE
    prefix = (parameters.get("prefix", "1") or "").strip().lower() in _TRUE
    filters = search_filters(parameters)
    match: MatchQuery | None = None
    unsearchable = False
    if raw and text.strip():
        match = MatchQuery(raw=text.replace("\x00", " "))
    elif text.strip():
        try:
            match, q_filters = parse_user_query(text, prefix_last=prefix)
        except QueryError as error:
            raise _bad("q", str(error), query=text) from error
        filters = filters.merged(q_filters)
        unsearchable = match is None and q_filters == Filters()
    # Relevance needs words to rank by: user text with words, or any raw expression.
    rankable = match is not None and (match.include is not None or match.raw is not None)
    sort = (parameters.get("sort", "") or "").strip().lower()
    if not sort:
        sort = "relevance" if rankable else "newest"
    elif sort not in SORTS:
        raise _bad("sort", f"sort={sort!r} is not one of {', '.join(SORTS)}")
    elif sort == "relevance" and not rankable:
        sort = "newest"
    per_page = _int_arg(parameters, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    page = _int_arg(parameters, "page", 1, 1, MAX_RESULT_WINDOW)
    if page * per_page > MAX_RESULT_WINDOW:
        raise _bad(
            "page",
            f"page={page} with per_page={per_page} goes past hit {MAX_RESULT_WINDOW}; "
            "narrow the search instead",
        )
    return SearchQuery(
        match=match,
        text=text,
        filters=filters,
        sort=sort,
        page=page,
        per_page=per_page,
        facets=_facets(parameters),
        scope=_choice(parameters, "scope", SCOPES, DEFAULT_SCOPE),
        collapse=_choice(parameters, "collapse", ("on", "off"), "on") == "on",
        unsearchable=unsearchable,
        typos=(parameters.get("typos", "") or "").strip().lower() not in _FALSE,
    )
