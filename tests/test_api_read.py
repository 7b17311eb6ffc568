"""The read API over both repositories: answers, parameter errors, hostile input, error shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.fixtures_api import bold
from support.fixtures_writes import AUTH, make_app, make_root

from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.web.app import create_app

HOSTILE = [
    "",
    " ",
    '"',
    '""',
    '"""',
    "'",
    "*",
    "**",
    "a*",
    "*a",
    "^",
    "^a",
    ":",
    "a:",
    ":a",
    "speaker:",
    "title:x",
    "-",
    "--",
    "-a",
    "- a",
    "NOT",
    "a NOT",
    "NOT a",
    "AND",
    "OR",
    "a OR",
    "OR a",
    "a AND OR b",
    "(",
    ")",
    "(a",
    "a)",
    "((((a",
    "NEAR(",
    "NEAR(a b",
    "NEAR(a b, -1)",
    "NEAR/2",
    "{",
    "}",
    "{title}:a",
    "a + ",
    "+",
    "\\",
    '\\"',
    "%",
    "\x00",
    "a\x00b",
    "'; DROP TABLE lupo_dialog_entries; --",
    "1 OR 1=1",
    '" OR ""="',
    "<script>alert(1)</script>",
    "😀",
    "🚀*",
    "x" * 10_000,
    "a " * 500,
    "\u202e",
    "\ufffd",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "mood:",
    "mood:zzz",
    "since:2026-13-45",
    "file:../../etc/passwd",
    "file:/etc/passwd",
    'speaker:"',
    "*:*",
    "rank:1",
    "rowid:1",
    "lupo_dialog_entries_fts:x",
    "a\nb",
    "\t",
    "a''b",
]
RAW_QUERY_STRINGS = ["q=%ZZ", "q=%", "q=%E0%A4%A", "q=%FF%FE", "q=a%00b", "%%%", "q=%C0%AF"]


def assert_error(response: Any, status: int) -> dict[str, Any]:
    """The canonical error shape, with no traceback or file system path."""
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert body["ok"] is False and body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["errors"], list) and body["errors"]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "/work/" not in text and "/tmp/" not in text
    return body


def test_search_answers_with_hits_facets_and_source(client: FlaskClient) -> None:
    body = client.get("/api/dialog/search?q=migration&facets=speaker,format").get_json()
    assert body["total"] == 3
    assert body["page"] == 1 and body["per_page"] == 20
    assert body["source"] in ("database", "files")
    assert body["engine"] in ("topk", "fts5", "files")
    assert set(body["facets"]) == {"speaker", "format"}
    assert {"value": "KIRO", "count": 1} in body["facets"]["speaker"]
    hit = body["hits"][0]
    assert {"dialog_entry_id", "snippet", "speaker", "message", "line", "metadata"} <= set(hit)
    assert isinstance(body["took_ms"], float | int)


def test_repeated_filters_are_alternatives(client: FlaskClient) -> None:
    body = client.get("/api/dialog/search?speaker=KIRO&speaker=ROSE&per_page=100").get_json()
    assert body["total"] == 4 and body["sort"] == "newest"


def test_entries_lists_newest_first_and_ignores_q(client: FlaskClient) -> None:
    body = client.get("/api/dialog/entries?q=zebrafish&per_page=100&format=bold").get_json()
    stamps = [hit["timestamp_utc"] for hit in body["hits"]]
    assert body["total"] == 6 and stamps == sorted(stamps, reverse=True)


def test_entry_has_its_neighbours(client: FlaskClient) -> None:
    hit = client.get("/api/dialog/search?q=question").get_json()["hits"][0]
    body = client.get(f"/api/dialog/entry/{hit['dialog_entry_id']}").get_json()
    assert body["speaker"] == "LILITH" and body["before"] and body["after"]
    after = client.get(f"/api/dialog/entry/{body['after']}").get_json()
    assert after["before"] == hit["dialog_entry_id"]


@pytest.mark.parametrize("path", ["/api/dialog/entry/1", "/api/dialog/entry/abc", "/api/nothing"])
def test_unknown_entries_and_paths_are_404(client: FlaskClient, path: str) -> None:
    assert_error(client.get(path), 404)


def test_a_wrong_method_is_405(client: FlaskClient) -> None:
    assert_error(client.post("/api/dialog/search"), 405)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("page=0", "page"),
        ("page=x", "page"),
        ("per_page=101", "per_page"),
        ("per_page=-1", "per_page"),
        ("page=200&per_page=100", "page"),
        ("sort=best", "sort"),
        ("facets=speaker,colour", "facets"),
        ("mood=banana", "mood"),
        ("from=yesterday", "from"),
        ("to=2026-02-30x", "to"),
        ("format=poem", "format"),
        ("file=/etc/passwd", "file"),
        ("q=mood:banana", "q"),
        ("q=" + "x" * 1001, "q"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    client: FlaskClient, query: str, parameter: str
) -> None:
    body = assert_error(client.get(f"/api/dialog/search?{query}"), 400)
    assert body["parameter"] == parameter


def test_a_bad_raw_expression_is_400_repeating_the_query(client: FlaskClient) -> None:
    body = assert_error(client.get("/api/dialog/search", query_string={"q": "(a", "raw": "1"}), 400)
    assert body["query"] == "(a"
    assert "syntax error" in body["error"]


def test_raw_expressions_search(client: FlaskClient) -> None:
    body = client.get("/api/dialog/search", query_string={"q": "search NOT index", "raw": "1"})
    assert {hit["speaker"] for hit in body.get_json()["hits"]} == {"KIRO", "ROSE"}


def test_raw_expressions_rank_by_relevance(client: FlaskClient) -> None:
    """raw=1 keeps sort=relevance (it used to answer newest) and ranks as user text does."""
    wanted = {"q": "search", "sort": "relevance", "per_page": "50"}
    raw = client.get("/api/dialog/search", query_string={**wanted, "raw": "1"}).get_json()
    plain = client.get("/api/dialog/search", query_string={**wanted, "prefix": "0"}).get_json()
    assert raw["sort"] == "relevance"
    assert raw["total"] == plain["total"] > 1
    assert [h["dialog_entry_id"] for h in raw["hits"]] == [
        h["dialog_entry_id"] for h in plain["hits"]
    ]
    default = client.get("/api/dialog/search", query_string={"q": "search", "raw": "1"})
    assert default.get_json()["sort"] == "relevance"


@pytest.mark.parametrize("raw", ["0", "1"])
def test_no_hostile_query_gives_a_server_error(client: FlaskClient, raw: str) -> None:
    statuses = {}
    for text in HOSTILE:
        response = client.get("/api/dialog/search", query_string={"q": text, "raw": raw})
        statuses[text[:40]] = response.status_code
        assert response.status_code < 500, (text[:80], response.get_data(as_text=True)[:300])
        if response.status_code != 200:
            assert_error(response, response.status_code)
    for query_string in RAW_QUERY_STRINGS:
        response = client.get(f"/api/dialog/search?{query_string}&raw={raw}")
        assert response.status_code < 500, query_string
    assert len(HOSTILE) + len(RAW_QUERY_STRINGS) >= 50


@pytest.mark.parametrize("parameter", ["speaker", "target", "mood", "file", "format", "from",
                                       "to", "sort", "page", "per_page", "facets"])  # fmt: skip
def test_no_hostile_filter_value_gives_a_server_error(client: FlaskClient, parameter: str) -> None:
    for text in HOSTILE[:60]:
        response = client.get("/api/dialog/search", query_string={parameter: text})
        assert response.status_code < 500, (parameter, text[:80])
        response = client.get("/api/dialog/stats", query_string={parameter: text, "q": text})
        assert response.status_code < 500, (parameter, text[:80])


def test_snippets_escape_stored_html(client: FlaskClient) -> None:
    hit = client.get("/api/dialog/search?q=payload").get_json()["hits"][0]
    assert "&lt;script&gt;" in hit["snippet"] and "<script>" not in hit["snippet"]
    assert "<mark>payload</mark>" in hit["snippet"]


def test_stats_and_health(client: FlaskClient) -> None:
    stats = client.get("/api/dialog/stats").get_json()
    assert stats["totals"]["dialog_entries"] == 9
    assert {"speaker", "target", "count"} == set(stats["pairs"][0])
    narrowed = client.get("/api/dialog/stats?q=migration").get_json()
    assert narrowed["totals"]["entries"] == 3
    health = client.get("/api/dialog/health")
    assert health.status_code == 200
    assert health.get_json()["ok"] is True
    assert health.get_json()["mode"] in ("database", "files")


def test_openapi_document_is_served(client: FlaskClient) -> None:
    body = client.get("/api/openapi.json").get_json()
    assert body["openapi"] == "3.1.0" and "/api/dialog/search" in body["paths"]


def test_an_unavailable_store_is_a_503(tmp_path: Path) -> None:
    repository = SqliteRepository(tmp_path / "missing.db")
    client = create_app({"TESTING": True}, repository=repository).test_client()
    body = assert_error(client.get("/api/dialog/search?q=x"), 503)
    assert "missing" in body["error"]
    health = client.get("/api/dialog/health")
    assert health.status_code == 503 and health.get_json()["ok"] is False


def test_an_unexpected_error_is_a_500_without_details(app: Flask) -> None:
    def explode() -> str:
        raise RuntimeError("secret detail at /tmp/somewhere")

    app.add_url_rule("/api/explode", view_func=explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    body = assert_error(app.test_client().get("/api/explode"), 500)
    assert body["error"] == "Internal error"


def test_pages_outside_the_api_keep_html_errors(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404 and not response.is_json


# --- the index's change point ---------------------------------------------------------------


def _index_states(client: FlaskClient) -> list[dict[str, Any]]:
    """The `index` of a search, an entries page and the health report."""
    return [
        client.get("/api/dialog/search?q=hello").get_json()["index"],
        client.get("/api/dialog/entries").get_json()["index"],
        client.get("/api/dialog/health").get_json()["index"],
    ]


@pytest.mark.parametrize("mode", ["database", "files"])
def test_answers_carry_the_index_change_point_and_a_write_moves_it(
    tmp_path: Path, mode: str
) -> None:
    root, db = make_root(tmp_path)
    app = make_app(root, db) if mode == "database" else make_app(root, db, DB=None)
    client = app.test_client()
    first, *others = _index_states(client)
    assert set(first) == {"version", "changed_at"} and isinstance(first["version"], int)
    assert others == [first, first]  # asked again without a change: the same point
    if mode == "database":
        body = {"speaker": "KIRO", "message": "Quokka sighting", "dialog_file": "team_dialog.md"}
        assert client.post("/api/dialog/entry", json=body, headers=AUTH).status_code == 201
    else:  # no writes without a database: a file changed on disk, as the watcher follows it
        (root / "sub" / "new.md").write_text(
            bold(
                "KIRO", "Quokka sighting", day="2026-03-01", target="@all", mood="00FF00", title="q"
            ),
            encoding="utf-8",
        )
        app.extensions["dialogsearch"].reload_file("sub/new.md")
        assert client.get("/api/dialog/search?q=quokka").get_json()["total"] == 1
    after = _index_states(client)
    assert after[0]["version"] > first["version"] and after[0]["changed_at"] >= first["changed_at"]
    assert after == [after[0]] * 3
    assert client.get("/api/dialog/health").get_json()["mode"] == mode


def test_a_bare_repository_has_no_change_point(client: FlaskClient) -> None:
    assert client.get("/api/dialog/search?q=hello").get_json()["index"] is None
