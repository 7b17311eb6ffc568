"""Kill -9 `dialogsearch reindex` at random moments of a 10,000-entry run: the database is
always all before or all after, and the next reindex makes verify pass (test_reindex.py
kills at four chosen moments; this one at random ones)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.rel_reindex_crash import reindex_crash_scenario
from support.rel_result import save_if_asked

# Seconds of real processes: scripts/test runs it, a plain `pytest` does not.
pytestmark = pytest.mark.slow


def test_random_kills_leave_the_database_before_or_after(
    work_dir: Path, generated_corpus: Path
) -> None:
    result = reindex_crash_scenario(
        work_dir,
        corpus=generated_corpus,
        entries=10_000,
        kills=6,
        budget_seconds=None,  # count kills, not seconds: a busy machine only takes longer
        command="pytest tests/reliability/test_reindex_crash.py",
    )
    print(result.as_row(), *result.notes)
    save_if_asked(result)
    assert result.ok, "\n".join(result.problems)
    assert result.did["kills mid-run"] >= 3
