"""The OpenAPI document: it lists every /api route, and schemathesis finds no broken response."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from support.fixtures_api import write_tree

from dialogfile.model import FORMATS
from indexer.reindex import reindex
from searchsvc.web.app import create_app
from searchsvc.web.openapi import build_document


def build_app(tmp_path: Path) -> Flask:
    root = write_tree(tmp_path / "dialogs")
    db = tmp_path / "dialogs.db"
    reindex(root, db)
    return create_app({"ROOT": str(root), "DB": str(db), "TESTING": True, "FALLBACK_PRELOAD": True})


def test_every_api_route_is_documented(tmp_path: Path) -> None:
    app = build_app(tmp_path)
    paths = build_document()["paths"]
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api"):
            continue
        path = rule.rule.replace("<int:entry_id>", "{entry_id}")
        assert path in paths, path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[path], (method, path)
    app.extensions["dialogsearch"].close()


def test_the_document_is_openapi_3_1_with_error_schema() -> None:
    document = build_document()
    assert document["openapi"] == "3.1.0"
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["ok", "error", "errors", "status"]
    search = document["paths"]["/api/dialog/search"]["get"]
    assert {p["name"] for p in search["parameters"]} >= {"q", "speaker", "page", "facets", "raw"}


#: What "keeps the spec true" means here: no 5xx, only documented status codes,
#: bodies and headers as documented. (Not positive_data_acceptance: a schema-valid
#: q may still be a 400 by design, e.g. a raw FTS5 syntax error.)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.mark.slow
def test_read_endpoints_keep_to_the_spec(tmp_path: Path) -> None:
    app = build_app(tmp_path)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.include(method="GET").get_all_operations()]
    assert len(operations) >= 6
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def keeps_to_the_spec(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS)

        keeps_to_the_spec()
    app.extensions["dialogsearch"].close()


def test_write_answers_use_the_one_entry_and_error_schema() -> None:
    """api_write had its own entry schema (its format enum lacked "section") and error."""
    document = build_document()
    schemas = document["components"]["schemas"]
    assert set(schemas["Entry"]["properties"]["format"]["enum"]) == set(FORMATS)
    assert "section" in FORMATS
    refs = set()
    for path in ("/api/dialog/entry", "/api/dialog/entry/{entry_id}"):
        for operation in document["paths"][path].values():
            for answer in operation["responses"].values():
                refs.add(answer["content"]["application/json"]["schema"].get("$ref"))
    assert "#/components/schemas/Entry" in refs and "#/components/schemas/Error" in refs
    own = {"Entry", "EntryWithContext", "Error"}  # GET /entry/{id} adds before/after
    assert refs <= {f"#/components/schemas/{name}" for name in own} | {None}
    assert not {"WrittenEntry", "WriteError"} & set(schemas)
