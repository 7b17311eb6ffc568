"""8 clients for 12 s, 90% searches and 10% writes: no 5xx, no lost write, p99 reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.rel_load import load_scenario
from support.rel_result import save_if_asked

# Seconds of real processes: scripts/test runs it, a plain `pytest` does not.
pytestmark = pytest.mark.slow


def test_load_has_no_5xx_and_loses_no_write(work_dir: Path) -> None:
    result = load_scenario(work_dir, seconds=12, command="pytest tests/reliability/test_load.py")
    print(result.as_row())
    save_if_asked(result)
    assert result.ok, "\n".join(result.problems[:20])
    assert result.held["5xx"] == 0 and result.held["no answer"] == 0
    assert result.did["writes"] > 10 and result.did["searches"] > 100
