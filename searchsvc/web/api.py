"""Blueprint /api: read the query string, ask the repository, answer JSON.

GET /api/dialog/search, /entries, /entry/<id>, /stats, /health and /api/openapi.json.
Views raise the domain's errors (searchsvc.exceptions) and catch none: errors.py
maps each to its status, headers and the one error shape, alike for every endpoint.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from searchsvc.exceptions import READ_RETRY_AFTER_SECONDS, EntryNotFound, InvalidParameter
from searchsvc.query.filters import FilterError, Filters, filters_from_parameters
from searchsvc.query.fts_query import MatchQuery, QueryError, parse_user_query
from searchsvc.repository import FACETS, SORTS, Repository, SearchPage, SearchQuery

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
#: Deepest hit a client may page to (page * per_page), as search engines do.
MAX_RESULT_WINDOW = 10_000
#: At most this many values per filter parameter.
MAX_FILTER_VALUES = 50
_TRUE = ("1", "true", "yes", "on")


def repository() -> Repository:
    """The app's repository (see create_app)."""
    return current_app.extensions["dialogsearch"]


def _bad(parameter: str, message: str, *, query: str | None = None) -> InvalidParameter:
    return InvalidParameter(parameter, message, query=query)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise _bad(name, f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise _bad(name, f"{name}={value} is out of range ({low} to {high})")
    return value


def _values(name: str) -> list[str]:
    """Every non-empty value of a repeatable parameter (also comma-free lists)."""
    values = [value.strip() for value in request.args.getlist(name) if value.strip()]
    if len(values) > MAX_FILTER_VALUES:
        raise _bad(name, f"{name} is given {len(values)} times (at most {MAX_FILTER_VALUES})")
    return values


def filters_from_args() -> Filters:
    """The filter parameters of dialogfile.fields.FILTERS (speaker, ..., from/since, to/until)."""
    try:
        return filters_from_parameters(_values)
    except FilterError as error:
        raise _bad(error.parameter, str(error)) from error


def _facets_arg() -> tuple[str, ...]:
    names: list[str] = []
    for raw in request.args.getlist("facets"):
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


def query_from_args(*, allow_text: bool = True) -> SearchQuery:
    """A SearchQuery from the request's query string; InvalidParameter names a bad parameter."""
    text = request.args.get("q", "") if allow_text else ""
    limit = int(current_app.config.get("MAX_QUERY_CHARS", 1000))
    if len(text) > limit:
        raise _bad("q", f"q is {len(text)} characters long (at most {limit})")
    raw = request.args.get("raw", "").strip().lower() in _TRUE
    prefix = request.args.get("prefix", "1").strip().lower() in _TRUE
    filters = filters_from_args()
    match: MatchQuery | None = None
    if raw and text.strip():
        match = MatchQuery(raw=text.replace("\x00", " "))
    elif text.strip():
        try:
            match, q_filters = parse_user_query(text, prefix_last=prefix)
        except QueryError as error:
            raise _bad("q", str(error), query=text) from error
        filters = filters.merged(q_filters)
    # Relevance needs words to rank by: user text with words, or any raw expression.
    rankable = match is not None and (match.include is not None or match.raw is not None)
    sort = request.args.get("sort", "").strip().lower()
    if not sort:
        sort = "relevance" if rankable else "newest"
    elif sort not in SORTS:
        raise _bad("sort", f"sort={sort!r} is not one of {', '.join(SORTS)}")
    elif sort == "relevance" and not rankable:
        sort = "newest"
    per_page = _int_arg("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    page = _int_arg("page", 1, 1, MAX_RESULT_WINDOW)
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
        facets=_facets_arg(),
    )


def _run_search(query: SearchQuery) -> tuple[SearchPage, float]:
    started = time.perf_counter()
    page = repository().search(query)
    return page, (time.perf_counter() - started) * 1000


def page_json(query: SearchQuery, page: SearchPage, took_ms: float) -> dict[str, Any]:
    """The search answer: hits, total, paging, facets, timing and where it came from."""
    return {
        "hits": [hit.to_dict() for hit in page.hits],
        "total": page.total,
        "total_exact": page.total_exact,
        "page": query.page,
        "per_page": query.per_page,
        "sort": query.sort,
        "facets": {
            name: [{"value": c.value, "count": c.count} for c in counts]
            for name, counts in page.facets.items()
        },
        "facets_exact": page.facets_exact,
        "ranked": page.ranked,
        "took_ms": round(took_ms, 2),
        "source": page.source,
        "engine": page_engine(page),
    }


def page_engine(page: SearchPage) -> str:
    """Which index answered: topk or fts5 (database), files, meilisearch."""
    if page.engine is not None:
        return page.engine
    return "fts5" if page.source == "database" else page.source


@bp.get("/dialog/search")
def search() -> Response:
    """Full-text search with filters, facets, sort and paging.

    :raise InvalidParameter: a bad parameter (named in `parameter`).
    :raise QueryError: a raw FTS5 expression the store rejects, or one that takes too long.
    :raise StoreUnavailable: no store can answer (the database is down and the files
        are not ready).
    """
    query = query_from_args()
    page, took_ms = _run_search(query)
    return jsonify(page_json(query, page, took_ms))


@bp.get("/dialog/entries")
def entries() -> Response:
    """Entries matching the filters, newest first (or sort=oldest), paginated."""
    query = query_from_args(allow_text=False)
    page, took_ms = _run_search(query)
    return jsonify(page_json(query, page, took_ms))


@bp.get("/dialog/entry/<int:entry_id>")
def entry(entry_id: int) -> Response:
    """One entry with `before`/`after`: the ids of its neighbours in the same file.

    :raise EntryNotFound: if no entry has `entry_id`. :raise StoreUnavailable: no store
        can answer.
    """
    stored = repository().get_entry(entry_id)
    if stored is None:
        raise EntryNotFound(entry_id)
    body = stored.to_dict()
    body["before"] = stored.before
    body["after"] = stored.after
    return jsonify(body)


@bp.get("/dialog/stats")
def stats() -> Response:
    """Counts per speaker, target, mood, file, format and day; pairs; totals; mode.

    Accepts q and the search filters to describe only the matching entries.
    """
    query = query_from_args()
    narrowed = query.match is not None or query.filters != Filters()
    started = time.perf_counter()
    result = repository().stats(query if narrowed else None)
    result["took_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return jsonify(result)


@bp.get("/dialog/health")
def health() -> tuple[Response, int, dict[str, str]]:
    """The mode (database or files) and what a person needs to diagnose it.

    Answers 503 (same body, with `Retry-After`) when no store can answer searches.
    """
    result = repository().health()
    if result.get("ok"):
        return jsonify(result), 200, {}
    return jsonify(result), 503, {"Retry-After": str(READ_RETRY_AFTER_SECONDS)}


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of every endpoint."""
    from searchsvc.web.openapi import build_document

    return jsonify(build_document())
