"""Database faults while serving (deleted, truncated, random bytes, WAL removed, write-locked,
read-only, disk full): searches keep answering, no acknowledged write is lost, and the
service returns to mode database by itself."""

from __future__ import annotations

import pytest
from rel_faults import db_faults_scenario
from rel_result import save_if_asked


@pytest.fixture(scope="module")
def fault_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    results = db_faults_scenario(
        tmp_path_factory.mktemp("faults"),
        hold_seconds=2.0,
        command="pytest tests/reliability/test_db_faults.py",
    )
    for result in results:
        print(result.as_row(), *result.notes)
        save_if_asked(result)
    return {result.name.removeprefix("DB fault: "): result for result in results}


FAULTS = [
    "deleted",
    "truncated",
    "random bytes",
    "WAL removed",
    "write-locked",
    "read-only",
    "disk full (database)",
    "disk full (dialog files)",
]


@pytest.mark.parametrize("fault", FAULTS)
def test_service_survives_database_fault(fault_results: dict, fault: str) -> None:
    result = fault_results[fault]
    if result.notes and not result.did:
        pytest.skip(result.notes[0])
    assert result.ok, "\n".join(result.problems[:20])
    assert result.did["searches"] > 0 and result.did["writes"] > 0
