"""Where a server's memory goes, step by step, in this process (issue 15).

    python -m benchmarks.memory_parts --entries 100000 --db DB [--tracemalloc]

Builds the app as `serve` does (watcher off) over DB and the generated corpus, then
prints RssAnon / RssFile (MB, /proc/self/status) after: the imports, the stack, the
search mix through the app (each kind, --requests), the file index built and the heap
trimmed, the index dropped (FileRepository.drop), and the live blocks and arenas of
Python's small-object allocator at the end. With --tracemalloc, the largest allocations
alive once the index is built (slow: several times the build's time).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from benchmarks.corpus import ensure_corpus, load_queries

STATUS_FIELDS = ("RssAnon", "RssFile")


def memory() -> dict[str, float]:
    """RssAnon and RssFile of this process, MB."""
    found: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in STATUS_FIELDS:
            found[name] = round(int(value.split()[0]) / 1024, 1)
    return found


def small_objects() -> dict[str, int]:
    """Arenas and bytes in live blocks of Python's small-object allocator (its own report,
    which it writes to file descriptor 2)."""
    with tempfile.TemporaryFile(mode="w+") as capture:
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read()
    found = {}
    for key, pattern in (
        ("arenas", r"# arenas allocated current\s*=\s*([\d,]+)"),
        ("bytes_in_live_blocks", r"# bytes in allocated blocks\s*=\s*([\d,]+)"),
    ):
        match = re.search(pattern, text)
        found[key] = int(match.group(1).replace(",", "")) if match else -1
    return found


def main(argv: list[str] | None = None) -> int:
    """Print one JSON line per step; 0."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory_parts")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--db", type=Path, required=True, help="the corpus indexed, top-k too")
    parser.add_argument(
        "--corpora", type=Path, default=Path(tempfile.gettempdir()) / "dialogsearch-bench"
    )
    parser.add_argument("--requests", type=int, default=100, help="per query kind")
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args(argv)
    step("python and this module")
    from benchmarks.queries import KINDS, our_path, queries_of
    from searchsvc.web.app import create_app

    corpus = ensure_corpus(args.corpora, args.entries, args.seed, args.queries)
    step("imports")
    config = {"ROOT": str(corpus.markdown), "DB": str(args.db), "WATCH": "off"}
    app = create_app(config)
    stack = app.extensions["dialogsearch"]
    while stack.topk is not None and not stack.topk.topk_health({})["ready"]:
        time.sleep(0.2)  # waiting for the top-k index this process opens
    step("app and stack (no file index)")
    client = app.test_client()
    mix = load_queries(corpus.queries)
    answered = sum(
        client.get(our_path(query, kind)).status_code == 200
        for kind in KINDS
        for query in queries_of(mix, kind)[: args.requests]
    )
    step("after the search mix", answered=answered, engines=dict(stack.answered))
    _file_index(stack, args.tracemalloc)
    return 0


def _file_index(stack, traced: bool) -> None:
    """Build the file index (traced or not), trim, drop it: memory at each step."""
    files = stack.files
    if traced:
        tracemalloc.start()
    started = time.monotonic()
    files.build_now()
    step("file index built", seconds=round(time.monotonic() - started, 1))
    if traced:
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        for stat in snapshot.statistics("lineno")[:8]:
            print(json.dumps({"allocated": str(stat)}), flush=True)
        del snapshot
    from searchsvc.engines.repo_files import release_memory

    release_memory()
    step("file index built, heap trimmed")
    files.drop()
    step("file index dropped (drop trims the heap)", **small_objects())


def step(name: str, **extra: object) -> None:
    """One JSON line: the step, this process's memory, anything else."""
    print(json.dumps({"step": name, **memory(), **extra}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
