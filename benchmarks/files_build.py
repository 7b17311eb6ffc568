"""Time to build the files-mode (fallback) in-memory index of a dialogs root, in a child.

    python -m benchmarks.files_build DIALOGS_ROOT

Builds searchsvc's FileRepository as the app does (start_build, then the
first search waits for the index) and prints {"entries", "seconds"} as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from searchsvc.engines import repo_files
from searchsvc.repository import SearchQuery


def build_seconds(root: Path, *, wait_seconds: float) -> dict[str, object]:
    """Build the index of `root`; how long until the first search answered, and its total."""
    started = time.perf_counter()
    repository = repo_files.FileRepository(root, wait_seconds=wait_seconds)
    try:
        repository.start_build()
        page = repository.search(SearchQuery(per_page=1))
        seconds = time.perf_counter() - started
    finally:
        repository.close()
    return {"entries": page.total, "seconds": round(seconds, 3)}


def main(argv: list[str] | None = None) -> int:
    """Command line: print build_seconds(ROOT) as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--wait", type=float, default=3600.0, help="longest build to wait for")
    args = parser.parse_args(argv)
    json.dump(build_seconds(args.root, wait_seconds=args.wait), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
