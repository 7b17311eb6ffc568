"""Two steps of benchmarks.run: the hostile mix (every search bounded) and live freshness
(change to searchable), each on the run's corpus, for issue 15's table.

The hostile mix (benchmarks.hostile) runs against our database as the run built it: each
engine forced alone in a child process, and the default stack over HTTP; the files
engine only up to `files_max` entries. Live freshness (benchmarks.watch_latency) starts
`serve` over a copy of the corpus with a fresh database, edits files as an editor saves
them and polls search until each edit is found.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks import hostile
from benchmarks.corpus import PROJECT_ROOT
from benchmarks.processes import log, run_measured


def measure_hostile(
    root: Path, db: Path, entries: int, work: Path, *, quick: bool, files_max: int
) -> dict[str, Any]:
    """benchmarks.hostile.measure for this checkout alone; the summaries (not every time)."""
    engines = [e for e in hostile.ENGINES if e != "files" or entries <= files_max]
    found = hostile.measure(
        root, db, [("ours", PROJECT_ROOT)], engines, rounds=1 if quick else 3,
        out=work / "hostile", log=log,
    )  # fmt: skip
    found["rows"] = [{k: v for k, v in row.items() if k != "run"} for row in found["rows"]]
    return found


def measure_freshness(root: Path, *, quick: bool, timeout: float) -> dict[str, Any]:
    """benchmarks.watch_latency in a child (it serves its own copy of `root`)."""
    sizes = ["--edits", "5", "--burst", "10"] if quick else ["--edits", "50", "--burst", "200"]
    command = [sys.executable, "-m", "benchmarks.watch_latency", "--root", str(root), *sizes]
    command += ["--idle-seconds", "2" if quick else "10", "--json"]
    measured = run_measured(command, timeout=timeout, cwd=PROJECT_ROOT)
    try:  # exit 1 with the figures: an edit or the burst was not found in time
        return json.loads(measured.stdout)  # type: ignore[no-any-return]
    except ValueError:
        tail = " | ".join(measured.stderr.strip().splitlines()[-3:])
        return {"status": f"exited {measured.returncode}: {tail}"}
