"""Kill -9 the server at least 20 times while 8 clients write and search: nothing acknowledged
is lost, nothing is half-written, and `dialogsearch verify` passes afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.rel_crash import crash_scenario
from support.rel_result import save_if_asked

# Seconds of real processes: scripts/test runs it, a plain `pytest` does not.
pytestmark = pytest.mark.slow

KILLS = 20


def test_kill_9_under_writes_loses_no_acknowledged_write(work_dir: Path) -> None:
    result = crash_scenario(
        work_dir,
        kills=KILLS,
        run_seconds=(0.2, 1.0),
        budget_seconds=None,  # count kills, not seconds: a busy machine only takes longer
        command="pytest tests/reliability/test_crash.py",
    )
    print(result.as_row())
    save_if_asked(result)
    assert result.ok, "\n".join(result.problems[:30])
    assert result.did["kills"] >= KILLS, result.notes
    assert result.did["acknowledged writes"] >= 5 * KILLS
