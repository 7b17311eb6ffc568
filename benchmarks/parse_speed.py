"""Parse throughput: dialogfile.parse.parse_file over files already read and decoded.

python -m benchmarks.parse_speed ../shared/corpus/lupopedia --rounds 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from dialogfile.parse import parse_file
from indexer.discover import find_dialog_files, read_source


def parse_throughput(
    root: Path, *, rounds: int = 3, max_bytes: int | None = None
) -> dict[str, object]:
    """MB/s of parse_file over the .md files below `root` (best of `rounds`).

    With `max_bytes`, only the first files (in path order) up to that many bytes.
    Reading and decoding are outside the timed part; entries include sections.
    """
    texts: list[tuple[str, str]] = []
    total_bytes = 0
    for path in find_dialog_files(root):
        source = read_source(root, path)
        texts.append((source.path, source.text))
        total_bytes += source.size_bytes
        if max_bytes is not None and total_bytes >= max_bytes:
            break
    best = float("inf")
    entries = 0
    for _ in range(rounds):
        started = time.perf_counter()
        entries = sum(len(parse_file(text, path).entries) for path, text in texts)
        best = min(best, time.perf_counter() - started)
    return {
        "root": str(root),
        "files": len(texts),
        "mb": round(total_bytes / 1e6, 2),
        "entries": entries,
        "seconds": round(best, 3),
        "mb_per_s": round(total_bytes / 1e6 / best, 2) if best > 0 else None,
        "entries_per_s": round(entries / best) if best > 0 else None,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: print parse_throughput(ROOT) as JSON (run as a child process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-bytes", type=int)
    args = parser.parse_args(argv)
    result = parse_throughput(args.root, rounds=args.rounds, max_bytes=args.max_bytes)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
