"""Our reindex as a user runs it (`dialogsearch reindex ... --json`): full, one change, none.

The full reindex runs with --no-topk, so its row is SQLite + FTS5 alone; the
next run builds the top-k index (docs/search-index.md), measured on its own;
the incremental runs catch it up as a user's run does (topk_seconds apart).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.processes import Measured, run_measured

#: Appended to one file to change it: a canonical inline entry.
CHANGE_BLOCK = """
---
DIALOG:
  speaker: "BENCHMARK"
  target: "@everyone"
  message: "Incremental reindex probe written by the benchmark; it is removed again."
  date_ymdhis: "20260101000000"
  mood_RGB: "00FF00"
---
"""


def dialogsearch_command() -> list[str]:
    """How to run `dialogsearch`: the console script beside this Python, else via -c."""
    script = Path(sys.executable).with_name("dialogsearch")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from searchsvc.cli import main; main()"]


def run_reindex(
    root: Path, db_path: Path, *, full: bool, timeout: float, topk: bool = True
) -> dict[str, object]:
    """One `dialogsearch reindex --json` child: its summary plus wall time and peak RSS."""
    command = [*dialogsearch_command(), "reindex", "--root", str(root), "--db", str(db_path)]
    command += ["--json", "--full"] if full else ["--json"]
    command += [] if topk else ["--no-topk"]
    measured = run_measured(command, timeout=timeout).check("dialogsearch reindex")
    summary = _summary(measured)
    return {
        "wall_seconds": round(measured.seconds, 3),
        "cpu_seconds": round(measured.cpu_seconds, 3),
        "seconds": summary.get("seconds"),
        "peak_rss_mb": round(measured.max_rss_bytes / 1e6, 1),
        "files_changed": summary.get("files_changed"),
        "files_skipped": summary.get("files_skipped"),
        "entries_parsed": summary.get("entries_parsed"),
        "entries_added": summary.get("entries_added"),
        "entries_updated": summary.get("entries_updated"),
        "entries_deleted": summary.get("entries_deleted"),
        "problems": len(summary.get("problems") or []),
        "topk_seconds": summary.get("topk_seconds"),
        "topk": summary.get("topk"),
    }


def _summary(measured: Measured) -> dict:
    """The JSON summary `--json` printed (its last JSON line)."""
    for line in reversed(measured.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"dialogsearch reindex printed no JSON summary: {measured.stdout[-300:]!r}")


def topk_bytes(db_path: Path) -> int:
    """Size of the top-k index folder beside the database (<db>.topk/)."""
    folder = db_path.with_name(db_path.name + ".topk")
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def database_bytes(db_path: Path) -> int:
    """Size of the database with its -wal and -shm files."""
    return sum(
        path.stat().st_size
        for path in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm"))
        if path.exists()
    )


@contextmanager
def one_file_changed(root: Path) -> Iterator[Path]:
    """Append CHANGE_BLOCK to one dialog file; its original bytes come back on exit."""
    files = sorted(root.rglob("*.md"))
    if not files:
        raise RuntimeError(f"{root}: no dialog files to change")
    target = files[len(files) // 2]
    original = target.read_bytes()
    try:
        target.write_bytes(original + CHANGE_BLOCK.encode("utf-8"))
        yield target
    finally:
        target.write_bytes(original)


def reindex_suite(root: Path, db_path: Path, *, timeout: float) -> dict[str, object]:
    """Full reindex into a new database, then no-change, one-file and restore runs."""
    for path in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        path.unlink(missing_ok=True)
    shutil.rmtree(db_path.with_name(db_path.name + ".topk"), ignore_errors=True)
    full = run_reindex(root, db_path, full=True, timeout=timeout, topk=False)
    full["db_mb"] = round(database_bytes(db_path) / 1e6, 1)
    # No file changed: this run only builds the top-k index (then prunes the change log).
    topk_build = run_reindex(root, db_path, full=False, timeout=timeout)
    topk_build["index_mb"] = round(topk_bytes(db_path) / 1e6, 1)
    unchanged = run_reindex(root, db_path, full=False, timeout=timeout)
    with one_file_changed(root) as changed:
        one_file = run_reindex(root, db_path, full=False, timeout=timeout)
        one_file["file"] = str(changed.relative_to(root))
    restored = run_reindex(root, db_path, full=False, timeout=timeout)
    return {
        "full": full,
        "topk_build": topk_build,
        "unchanged": unchanged,
        "one_file": one_file,
        "restored": restored,
    }
