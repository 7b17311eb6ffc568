"""ApiError and the one handler that writes every /api error in the same shape.

    {"ok": false, "error": "...", "errors": ["..."], "status": 400}

Extra context keys (e.g. "parameter", "query") may be added; these four never go.
A 500 says "Internal error" and the traceback goes to the log, never to the body.
Paths outside /api keep Flask's HTML error pages.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger("searchsvc.errors")

API_PREFIX = "/api"


class ApiError(Exception):
    """An error to answer with: a status, a message and optional context keys."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[str] | None = None,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors if errors is not None else [message]
        self.headers = headers or {}
        self.context = context


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


def handle_api_error(error: ApiError) -> Response:
    """Write an ApiError in the canonical shape (whatever the path)."""
    return error_response(error.status, error.message, error.errors, error.headers, **error.context)


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
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
