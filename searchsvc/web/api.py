"""Blueprint /api: read the query string, ask the repository, answer JSON.

GET /api/dialog/search, /entries, /entry/<id>, /stats, /health and /api/openapi.json.
Views raise the domain's errors (searchsvc.exceptions) and catch none: errors.py
maps each to its status, headers and the one error shape, alike for every endpoint.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from searchsvc.exceptions import READ_RETRY_AFTER_SECONDS, EntryNotFound
from searchsvc.query.budget import partial_of
from searchsvc.query.filters import Filters
from searchsvc.query.parameters import search_query
from searchsvc.query.plan import folds
from searchsvc.repository import FacetCount, Repository, SearchPage, SearchQuery
from searchsvc.settings import SETTINGS_KEY, Settings

bp = Blueprint("api", __name__, url_prefix="/api")


def repository() -> Repository:
    """The app's repository (see create_app)."""
    return current_app.extensions["dialogsearch"]


def query_from_args(*, allow_text: bool = True) -> SearchQuery:
    """The SearchQuery of this request's query string (searchsvc.query.parameters)."""
    settings: Settings = current_app.extensions[SETTINGS_KEY]
    return search_query(
        request.args, max_query_chars=settings.max_query_chars, allow_text=allow_text
    )


def _run_search(query: SearchQuery) -> tuple[SearchPage, float]:
    started = time.perf_counter()
    page = repository().search(query)
    seconds = time.perf_counter() - started
    g.search_timing = (page_engine(page), seconds)  # the latency metric (web/metrics.py)
    return page, seconds * 1000


def page_json(query: SearchQuery, page: SearchPage, took_ms: float) -> dict[str, Any]:
    """The search answer: hits, total, paging, facets, timing and where it came from."""
    return {
        "hits": [hit.to_dict() for hit in page.hits],
        "total": page.total,
        "total_exact": page.total_exact,
        "page": query.page,
        "per_page": query.per_page,
        "sort": query.sort,
        "scope": query.scope,
        "scopes": page.scopes,
        # Off when the stack showed the copies because nothing else matched (stack.search).
        "collapse": query.collapse and not (folds(query) and page.folded is None),
        "folded": page.folded,
        "notice": UNSEARCHABLE_NOTICE if query.unsearchable else None,
        "facets": {name: [_facet_json(c) for c in counts] for name, counts in page.facets.items()},
        "facets_exact": page.facets_exact,
        "ranked": page.ranked,
        "took_ms": round(took_ms, 2),
        "source": page.source,
        "engine": page_engine(page),
        "corrected": page.corrected,
        "partial": partial_of(page.cuts),
    }


#: What an answer says when q held nothing to search for.
UNSEARCHABLE_NOTICE = (
    "q has no word to search for (letters, digits, emoji or CJK characters); "
    "showing every entry the filters allow"
)


def _facet_json(count: FacetCount) -> dict[str, Any]:
    """One facet value; a name's value lists its spellings (`variants`)."""
    result: dict[str, Any] = {"value": count.value, "count": count.count}
    if count.variants:
        result["variants"] = list(count.variants)
    return result


def index_state() -> dict[str, Any] | None:
    """The index's change point (SearchStack.index_state), None from a bare repository."""
    state = getattr(repository(), "index_state", None)
    return state() if state is not None else None


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
    index = index_state()  # before the search: a change during it reads as a change
    page, took_ms = _run_search(query)
    return jsonify({**page_json(query, page, took_ms), "index": index})


@bp.get("/dialog/entries")
def entries() -> Response:
    """Entries matching the filters, newest first (or sort=oldest), paginated."""
    query = query_from_args(allow_text=False)
    index = index_state()
    page, took_ms = _run_search(query)
    return jsonify({**page_json(query, page, took_ms), "index": index})


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
