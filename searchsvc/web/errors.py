"""The one place where errors become HTTP: status, headers and the one error shape.

    {"ok": false, "error": "...", "errors": ["..."], "status": 400}

Below the web layer code raises the domain's errors (searchsvc.exceptions);
`init_app` maps each class to its status here, adds the headers that status
promises (`Retry-After` on every 503, `Allow` on 405, `WWW-Authenticate` on 401)
and writes the same body for every endpoint. Extra context keys (e.g.
"parameter", "query") come from the error's domain data; these four never go.
A 500 says "Internal error" and the traceback goes to the log, never to the body.
Paths outside /api keep Flask's HTML error pages, with the same status and headers.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

from searchsvc.exceptions import (
    DialogsearchError,
    EditConflict,
    EntryNotFound,
    InvalidEntry,
    InvalidParameter,
    MalformedBody,
    NotAuthenticated,
    PermissionDenied,
    QueryError,
    ReadOnlySection,
    Unavailable,
    UnsupportedBody,
)

log = logging.getLogger("searchsvc.web.errors")

API_PREFIX = "/api"
#: The challenge a 401 carries: writes take `Authorization: Bearer <token>`.
BEARER_CHALLENGE = 'Bearer realm="dialogsearch"'
#: The methods a read-only record still answers (the 405's `Allow`).
READ_ONLY_METHODS = "GET"

#: Each domain error's status; a subclass takes its nearest listed ancestor's.
STATUS_BY_ERROR: dict[type[DialogsearchError], int] = {
    InvalidParameter: 400,
    QueryError: 400,
    MalformedBody: 400,
    NotAuthenticated: 401,
    PermissionDenied: 403,
    EntryNotFound: 404,
    ReadOnlySection: 405,
    EditConflict: 409,
    UnsupportedBody: 415,
    InvalidEntry: 422,
    Unavailable: 503,
}


def error_body(status: int, message: str, errors: list[str] | None = None, **context: Any) -> dict:
    """The canonical error object."""
    return {
        "ok": False,
        "error": message,
        "errors": errors if errors is not None else [message],
        "status": status,
        **context,
    }


def error_response(
    status: int,
    message: str,
    errors: list[str] | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """A JSON response holding the canonical error object."""
    response = jsonify(error_body(status, message, errors, **context))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _is_api_request() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def status_for(error: DialogsearchError) -> int:
    """The HTTP status of a domain error (500 for a class nobody mapped)."""
    for cls in type(error).__mro__:
        status = STATUS_BY_ERROR.get(cls)
        if status is not None:
            return status
    return 500


def headers_for(error: DialogsearchError) -> dict[str, str]:
    """The headers the error's status promises."""
    if isinstance(error, Unavailable):
        return {"Retry-After": str(error.retry_after)}
    if isinstance(error, ReadOnlySection):
        return {"Allow": READ_ONLY_METHODS}
    if isinstance(error, NotAuthenticated):
        return {"WWW-Authenticate": BEARER_CHALLENGE}
    return {}


def context_for(error: DialogsearchError) -> dict[str, Any]:
    """The context keys of the error's body: its domain data."""
    context = error.context
    if isinstance(error, QueryError):
        # Repeat the query as the client sent it: the store saw it parsed (or not at all).
        context["query"] = request.args.get("q", "")
    return context


def handle_domain_error(error: DialogsearchError) -> Response | HTTPException:
    """Any domain error: its status, headers and the canonical body (HTML outside /api)."""
    status = status_for(error)
    if status >= 500 and not isinstance(error, Unavailable):
        return _internal_error(error)
    headers = headers_for(error)
    if not _is_api_request():
        page = default_exceptions[status](description=error.message).get_response()
        page.headers.update(headers)
        return page
    return error_response(status, error.message, error.errors, headers, **context_for(error))


def handle_http_exception(error: HTTPException) -> Response | HTTPException:
    """Under /api: the canonical shape with werkzeug's description; elsewhere: HTML."""
    if not _is_api_request():
        return error
    status = error.code or 500
    if status >= 500:
        return _internal_error(error)
    message = error.description or error.name
    response = error_response(status, message)
    for name, value in error.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    return response


def handle_unexpected(error: Exception) -> Response | HTTPException:
    """Anything uncaught: log the traceback, answer "Internal error"."""
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    return _internal_error(error)


def _internal_error(error: Exception) -> Response | HTTPException:
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=error)
    if not _is_api_request():
        return InternalServerError()
    return error_response(500, "Internal error")


def init_app(app: Flask) -> None:
    """Register the handlers on `app`."""
    app.register_error_handler(DialogsearchError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
