"""Database faults while serving (deleted, truncated, random bytes, WAL removed, write-locked,
read-only, disk full): searches keep answering, no acknowledged write is lost, and the
service returns to mode database by itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.rel_faults import db_faults_scenario
from support.rel_result import save_if_asked
from support.rel_server import own_folder

# Seconds of real processes: scripts/test runs it, a plain `pytest` does not.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fault_results() -> Iterator[dict]:
    for work in own_folder("faults"):
        yield from _run(work)


def _run(work: Path) -> Iterator[dict]:
    results = db_faults_scenario(
        work,
        hold_seconds=2.0,
        command="pytest tests/reliability/test_db_faults.py",
    )
    for result in results:
        print(result.as_row(), *result.notes)
        save_if_asked(result)
    yield {result.name.removeprefix("DB fault: "): result for result in results}


FAULTS = [
    "deleted",
    "truncated",
    # Was xfail(strict=False) for a SIGSEGV seen in about 1 run of 4 (SQLite 3.40.1). Not
    # seen again in 73 runs with faulthandler on (docs/reliability.md) since close() leaves
    # connections in use to their threads; a crash would fail this row again.
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
