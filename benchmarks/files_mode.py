"""Files mode (the fallback): time to build the in-memory index, and search latency."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.search_runs import LoadSettings


def measure_files_mode(
    generated: Path,
    mix: Sequence[dict[str, str]],
    settings: LoadSettings,
    *,
    shared: Path,
    log_dir: Path,
    log: Callable[[str], None],
) -> dict[str, object]:
    """Build time on the generated corpus; search latency on it and on the shared corpus."""
    if importlib.util.find_spec("searchsvc.repo_files") is None:
        return {"status": "not available yet (searchsvc.repo_files is missing)"}
    return {"status": "not measured"}
