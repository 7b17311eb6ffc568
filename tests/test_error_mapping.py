"""One mapping from domain errors to HTTP (errors.init_app), the same for every endpoint (#12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.fixtures_writes import assert_canonical_error, make_app, make_root

from searchsvc import exceptions
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.exceptions import DialogsearchError
from searchsvc.web.app import create_app

READ_ENDPOINTS = (
    "/api/dialog/search?q=x",
    "/api/dialog/entries",
    "/api/dialog/entry/1",
    "/api/dialog/stats",
)

# One instance of every domain error, with the status and headers it must be answered with.
MAPPED: list[tuple[DialogsearchError, int, dict[str, str]]] = [
    (exceptions.InvalidParameter("page", "page=0 is out of range"), 400, {}),
    (exceptions.QueryError('fts5: syntax error near "("', "(a"), 400, {}),
    (exceptions.QueryTooExpensive("The search took longer than 300 ms"), 400, {}),
    (exceptions.MalformedBody(), 400, {}),
    (exceptions.UnsupportedBody("text/plain"), 415, {}),
    (exceptions.InvalidEntry("The entry is not valid: x", errors=["x"]), 422, {}),
    (exceptions.UnstorableChange("mood_rgb has no place in a bold entry"), 422, {}),
    (
        exceptions.NotAuthenticated("Writes need an API token"),
        401,
        {"WWW-Authenticate": 'Bearer realm="dialogsearch"'},
    ),
    (exceptions.PermissionDenied("The API token is not valid for writes"), 403, {}),
    (exceptions.EntryNotFound(7), 404, {}),
    (exceptions.ReadOnlySection(7), 405, {"Allow": "GET"}),
    (exceptions.EditConflict.changed_outside(7, "x.md changed"), 409, {}),
    (exceptions.StoreUnavailable("the database is locked", "locked"), 503, {"Retry-After": "5"}),
    (exceptions.WriteUnavailable("Another write is still running"), 503, {"Retry-After": "1"}),
]


def _subclasses(cls: type) -> set[type]:
    return {sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))}


def _raising_app(error: Exception) -> Flask:
    app = create_app({"TESTING": True}, repository=SqliteRepository(Path("/nonexistent.db")))

    def fail() -> str:
        raise error

    app.add_url_rule("/api/fail", view_func=fail)
    app.add_url_rule("/fail", endpoint="page_fail", view_func=fail)
    return app


def test_every_domain_error_class_has_a_mapping_here() -> None:
    """A new class in searchsvc.exceptions must be added to MAPPED (and so mapped)."""
    # Only the tree's own classes: other modules may subclass them for their own use. The
    # store's errors are defined in indexer.store_errors and re-exported by exceptions.
    listed = {type(error) for error, _, _ in MAPPED}
    abstract = {exceptions.InvalidRequest, exceptions.Unavailable}
    tree = {
        cls
        for cls in _subclasses(DialogsearchError)
        if getattr(exceptions, cls.__name__, None) is cls
    }
    assert tree - abstract == listed


@pytest.mark.parametrize(
    ("error", "status", "headers"), MAPPED, ids=[type(error).__name__ for error, _, _ in MAPPED]
)
def test_each_domain_error_maps_to_its_status_headers_and_shape(
    error: DialogsearchError, status: int, headers: dict[str, str]
) -> None:
    response = _raising_app(error).test_client().get("/api/fail?q=(a")
    body = assert_canonical_error(response, status)
    assert (body["error"], body["errors"]) == (error.message, error.errors)
    assert {name: response.headers.get(name) for name in headers} == headers
    assert "Traceback" not in response.get_data(as_text=True)


def test_outside_the_api_a_domain_error_is_an_html_page_with_the_same_headers() -> None:
    error = exceptions.StoreUnavailable("the database is locked", "locked")
    response = _raising_app(error).test_client().get("/fail")
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert response.headers["Retry-After"] == "5"


def _down_store_client(tmp_path: Path) -> FlaskClient:
    """The API over a database file that is not a database, with no files to fall back on."""
    db = tmp_path / "dialogs.db"
    db.write_bytes(b"this is not a database" * 100)
    return create_app({"TESTING": True}, repository=SqliteRepository(db)).test_client()


def test_a_down_store_is_the_same_503_with_retry_after_on_every_read_endpoint(
    tmp_path: Path,
) -> None:
    client = _down_store_client(tmp_path)
    bodies: dict[str, Any] = {}
    for url in READ_ENDPOINTS:
        response = client.get(url)
        bodies[url] = assert_canonical_error(response, 503)
        assert response.headers.get("Retry-After") == "5", url
    assert len({repr(sorted(body.items())) for body in bodies.values()}) == 1, bodies
    assert bodies[READ_ENDPOINTS[0]]["reason"] == "corrupt"
    health = client.get("/api/dialog/health")
    assert health.status_code == 503 and health.headers.get("Retry-After") == "5"


def test_a_bad_raw_expression_is_the_same_400_on_search_and_stats(client: FlaskClient) -> None:
    wanted = {"q": "(a", "raw": "1"}
    search = assert_canonical_error(client.get("/api/dialog/search", query_string=wanted), 400)
    stats = assert_canonical_error(client.get("/api/dialog/stats", query_string=wanted), 400)
    assert search == stats
    assert (search["query"], search["reason"]) == ("(a", "syntax")


def test_the_write_path_s_503_has_retry_after_too(tmp_path: Path) -> None:
    root, db = make_root(tmp_path)
    client = make_app(root, db).test_client()
    db.write_bytes(b"this is not a database" * 100)
    response = client.get("/api/dialog/sync")
    assert "cannot be read" in assert_canonical_error(response, 503)["error"]
    assert response.headers.get("Retry-After") == "1"
