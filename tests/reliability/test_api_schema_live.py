"""schemathesis against a live server's /api/openapi.json, writes included (with the token):
no 5xx, and every answer keeps to the document (test_openapi.py covers the reads in-process)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from support.rel_result import CheckResult
from support.rel_server import AUTH, TOKEN, ServedProcess, copy_sample_tree

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
EXAMPLES = int(os.environ.get("RELIABILITY_SCHEMA_EXAMPLES", "40"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProcess]:
    work = tmp_path_factory.mktemp("schema")
    root = copy_sample_tree(work / "dialogs")
    db = work / "var" / "dialogs.db"
    db.parent.mkdir()
    served = ServedProcess(root, db, work / "logs")
    served.start()
    yield served
    served.stop()
    assert TOKEN not in served.all_logs()


def test_every_operation_keeps_to_the_document(server: ServedProcess) -> None:
    schema = schemathesis.openapi.from_url(server.url + "/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    calls: dict[str, int] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def keeps_to_the_spec(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=AUTH, checks=CHECKS, timeout=30)
            label = f"{case.method} {case.path}"
            calls[label] = calls.get(label, 0) + 1

        keeps_to_the_spec()
    result = CheckResult(
        "API under schemathesis (live server, writes included)",
        did={"operations": len(operations), "generated requests": sum(calls.values())},
        held={"5xx": 0, "answers breaking the document": 0},
        command="pytest tests/reliability/test_api_schema_live.py",
    )
    print(result.as_row())
    folder = os.environ.get("RELIABILITY_RESULTS")
    if folder:
        result.save(Path(folder))
    assert server.process is not None and server.process.poll() is None
