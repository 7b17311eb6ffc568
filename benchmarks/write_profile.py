"""One write at a time, nothing else running: where a write's time goes (issue 15).

    python -m benchmarks.write_profile --entries 1000000 --db DB --writes 10
    python -m benchmarks.write_profile --root DIR --writes 5 --profile 30 --json

The app (create_app, as `dialogsearch serve` builds it, without the watcher) serves a
copy of the tree (hard links) and of the database (and its top-k index); `--root`
without `--db` reindexes the copy first. Each round POSTs an entry into one of the
write files, PUTs a new message into it and DELETEs it, through the Flask test client
in this thread, one request at a time; before each request the top-k index has caught
up with the last write, so nothing else runs. A first, untimed round per write file
reads each file once, as a server under steady writes to those files has. Per kind of
write: wall time and the CPU time of the request's thread (thread_time), p50 and max,
for the whole request and for the part under the write lock (the WriteService's lock is
wrapped in a HeldTime that clocks each hold);
with `--profile N`, each request runs under cProfile too (a second pass: the profiler
slows it) and the report lists the N functions with the most cumulative time, and the
work per write: how often the parser ran, how many entries were parsed, keyed and made
into rows.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.corpus import PROJECT_ROOT, ensure_corpus
from benchmarks.machine import load_average
from benchmarks.reindex_runs import run_reindex
from benchmarks.write_load import prepare_variant, write_files

OPS = ("post", "put", "delete")
#: Functions whose calls count a write's work: (module file's tail, function name) -> label.
WORK = {
    ("dialogfile/parse.py", "parse_file"): "parse_file calls",
    ("dialogfile/parse_entry.py", "build_entry"): "entries parsed",
    ("dialogfile/identity.py", "entry_key"): "entries keyed",
    ("indexer/store_rows.py", "entry_row"): "entry rows made",
    ("~", "<built-in method posix.fsync>"): "fsyncs",
}
#: C calls that give up the GIL (and must win it back from busy request threads): SQLite
#: statements and rows, file-system calls, file reads and writes, tantivy's methods.
GIL_RELEASING = ("sqlite3.", "posix.", "_io.Buffered", "_io.FileIO", "tantivy.")
#: ... except these, which never wait.
GIL_KEEPING = ("fspath", "_path_normpath", "getpid", "fileno", "__exit__", "register_tokenizer")
CATCH_UP_SECONDS = 120.0


def _caught_up(app: Any) -> bool:
    """Whether the top-k index holds every change (True when there is no index)."""
    health = app.extensions["dialogsearch"].health()
    index = (health.get("database") or {}).get("topk")
    return index is None or bool(index.get("ready"))


def _wait_until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the top-k index did not catch up in {seconds:.0f} s")
        time.sleep(0.05)  # polling the index's state, bounded by the deadline


class HeldTime:
    """A lock that adds up how long (wall, thread CPU) it was held: the WriteService's
    `_thread_lock` (taken first, released last by every write) wrapped for the benchmark."""

    def __init__(self, lock: Any) -> None:
        self.lock = lock
        self.wall = self.cpu = 0.0
        self._since = (0.0, 0.0)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got = self.lock.acquire(blocking, timeout)
        if got:
            self._since = (time.perf_counter(), time.thread_time())
        return got

    def release(self) -> None:
        self.wall += time.perf_counter() - self._since[0]
        self.cpu += time.thread_time() - self._since[1]
        self.lock.release()

    def locked(self) -> bool:
        return self.lock.locked()

    __enter__ = acquire

    def __exit__(self, *_: object) -> None:
        self.release()


class Writer:
    """The app, its test client, and one request at a time, timed (and profiled)."""

    def __init__(self, root: Path, db: Path) -> None:
        from searchsvc.web.api_write import EXTENSION_KEY
        from searchsvc.web.app import create_app

        self.token = secrets.token_hex(16)
        config = {"ROOT": str(root), "DB": str(db), "API_TOKEN": self.token, "WATCH": "off"}
        self.app = create_app(config)
        self.client = self.app.test_client()
        self.auth = {"Authorization": f"Bearer {self.token}"}
        service = self.app.extensions[EXTENSION_KEY]
        self.held = service._thread_lock = HeldTime(service._thread_lock)
        self.times: dict[str, list[tuple[float, float, float, float]]] = {op: [] for op in OPS}
        self.profile: cProfile.Profile | None = None

    def close(self) -> None:
        self.app.extensions["dialogsearch"].close()

    def request(self, op: str, method: str, path: str, body: dict | None = None) -> Any:
        """One request after the index caught up; its JSON answer."""
        _wait_until(lambda: _caught_up(self.app), CATCH_UP_SECONDS)
        held = (self.held.wall, self.held.cpu)
        wall, cpu = time.perf_counter(), time.thread_time()
        if self.profile is not None:
            self.profile.enable()
        response = self.client.open(path, method=method, json=body, headers=self.auth)
        if self.profile is not None:
            self.profile.disable()
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        self.times[op].append((wall, cpu, self.held.wall - held[0], self.held.cpu - held[1]))
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.get_data()!r}")
        return response.get_json()

    def round(self, number: int, rel: str) -> None:
        """POST into `rel`, PUT the new entry, DELETE it."""
        body = {"speaker": "KIRO", "message": f"wprof{number}q profiled write", "dialog_file": rel}
        entry_id = self.request("post", "POST", "/api/dialog/entry", body)["dialog_entry_id"]
        path = f"/api/dialog/entry/{entry_id}"
        self.request("put", "PUT", path, {"message": f"wprof{number}q changed"})
        self.request("delete", "DELETE", path)


def _figures(times: list[tuple[float, float, float, float]]) -> dict[str, float]:
    found: dict[str, float] = {"n": len(times)}
    for column, name in enumerate(("wall", "cpu", "locked_wall", "locked_cpu")):
        values = [t[column] * 1000 for t in times]
        found[f"{name}_p50_ms"] = round(statistics.median(values), 1)
        found[f"{name}_max_ms"] = round(max(values), 1)
    return found


def work_per_write(stats: pstats.Stats, writes: int) -> dict[str, float]:
    """The WORK counts of a profile, per write."""
    counts = dict.fromkeys([*WORK.values(), "calls giving up the GIL"], 0)
    for (filename, _, name), (_, calls, *_rest) in stats.stats.items():  # type: ignore[attr-defined]
        for (tail, wanted), label in WORK.items():
            if name == wanted and filename.endswith(tail):
                counts[label] += calls
        if filename == "~" and any(part in name for part in GIL_RELEASING):
            if not any(part in name for part in GIL_KEEPING):
                counts["calls giving up the GIL"] += calls
    return {label: round(count / writes, 1) for label, count in counts.items()}


def top_functions(stats: pstats.Stats, count: int) -> list[str]:
    """The `count` functions with the most cumulative time: `cum ms  own ms  calls  name`."""
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][3])  # type: ignore[attr-defined]
    lines = []
    for (filename, line, name), (_, calls, own, cumulative, _) in rows[:count]:
        where = filename.replace(str(PROJECT_ROOT) + "/", "")
        times = f"{cumulative * 1000:9.1f} {own * 1000:8.1f} {calls:7d}"
        lines.append(f"{times}  {where}:{line} {name}")
    return lines


def profile_writes(
    root: Path, db: Path, *, rounds: int, files: list[str], profile: int = 0
) -> dict[str, Any]:
    """Time `rounds` rounds of POST, PUT, DELETE (then profile as many, with `profile`)."""
    writer = Writer(root, db)
    try:
        _wait_until(lambda: _caught_up(writer.app), CATCH_UP_SECONDS * 10)
        for number, rel in enumerate(files):  # each file read once, as under steady writes
            writer.round(-1 - number, rel)
        writer.times = {op: [] for op in OPS}
        for number in range(rounds):
            writer.round(number, files[number % len(files)])
        found: dict[str, Any] = {op: _figures(writer.times[op]) for op in OPS}
        if profile:
            writer.profile = cProfile.Profile()
            for number in range(rounds):
                writer.round(rounds + number, files[number % len(files)])
            stats = pstats.Stats(writer.profile)
            found["work_per_write"] = work_per_write(stats, rounds * len(OPS))
            found["top_cumulative"] = top_functions(stats, profile)
        return found
    finally:
        writer.close()


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.write_profile", description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000, help="the generated corpus's size")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--root", type=Path, help="a dialogs root instead of the corpus")
    parser.add_argument("--db", type=Path, help="a reindexed database of the tree")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/dialogsearch-bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/dialogsearch-bench-write-profile"))
    parser.add_argument("--writes", type=int, default=10, help="rounds of POST, PUT, DELETE")
    parser.add_argument("--profile", type=int, default=0, help="also profile; list N functions")
    parser.add_argument("--json", action="store_true", help="print only the JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    root = args.root or ensure_corpus(args.cache, args.entries, args.seed, 5000).markdown
    started_load = load_average()
    if args.db is None:
        args.db = args.work / "base" / "dialogs.db"
        args.db.parent.mkdir(parents=True, exist_ok=True)
        run_reindex(root, args.db, full=True, timeout=3600)
    tree, db = prepare_variant(root, args.db, args.work / "copy")
    found = profile_writes(
        tree, db, rounds=args.writes, files=write_files(tree, args.seed), profile=args.profile
    )
    arguments = sys.argv[1:] if argv is None else argv
    command = "python -m benchmarks.write_profile " + " ".join(arguments)
    document = {
        "command": command,
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "load_average_start": started_load,
        "load_average_end": load_average(),
        **found,
    }
    if not args.json:
        for line in document.pop("top_cumulative", []):
            print(line, file=sys.stderr)
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    os.chdir(PROJECT_ROOT)
    sys.exit(main())
