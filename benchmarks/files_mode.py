"""Files mode (the fallback): time to build the in-memory index, and search latency.

The build is timed in a child process (benchmarks.files_build) on the
generated corpus. Latency is measured over HTTP against `dialogsearch serve`
whose database is missing (--no-reindex, rebuild off, probes rare), so every
answer comes from the files, on the shared corpus (the target's) and on the
generated one.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.corpus import PROJECT_ROOT
from benchmarks.http_load import run_cell
from benchmarks.processes import fetch, run_measured
from benchmarks.queries import KINDS, our_path, queries_of
from benchmarks.search_runs import LoadSettings, health_says, our_server


def measure_files_mode(
    generated: Path,
    entries: int,
    mix: Sequence[dict[str, str]],
    settings: LoadSettings,
    *,
    shared: Path,
    max_entries: int,
    timeout: float,
    log_dir: Path,
    log: Callable[[str], None],
) -> dict[str, object]:
    """Build time on the generated corpus; search latency on it and on the shared corpus."""
    if importlib.util.find_spec("searchsvc.engines.repo_files") is None:
        return {"status": "not available yet (searchsvc.engines.repo_files is missing)"}
    result: dict[str, object] = {}
    if entries > max_entries:
        result["build"] = {"status": f"skipped above {max_entries:,} entries (--files-max)"}
    else:
        result["build"] = _build(generated, entries, timeout)
    paths = _mix_paths(mix)
    if shared.exists():
        result["shared"] = _latency(shared, paths, settings, timeout, log_dir, "files-shared")
    else:
        result["shared"] = {"status": f"absent: {shared}"}
    if entries <= max_entries:
        result["generated"] = _latency(
            generated, paths, settings, timeout, log_dir, "files-generated"
        )
    log(f"  files mode: {json.dumps(result)[:300]}")
    return result


def _build(root: Path, entries: int, timeout: float) -> dict[str, object]:
    measured = run_measured(
        [sys.executable, "-m", "benchmarks.files_build", str(root)],
        timeout=timeout,
        cwd=PROJECT_ROOT,
    )
    if measured.returncode != 0:
        tail = " | ".join(measured.stderr.strip().splitlines()[-3:])
        return {"status": f"build failed: {tail}"}
    built = json.loads(measured.stdout)
    return {
        "generated_entries": entries,
        "entries": built["entries"],
        "seconds": built["seconds"],
        "seconds_per_100k": round(built["seconds"] * 100_000 / entries, 3),
        "peak_rss_mb": round(measured.max_rss_bytes / 1e6, 1),
        # The child's CPU with its pool workers': wall time on a busy machine is mostly load.
        "cpu_seconds": round(measured.cpu_seconds, 2),
    }


def _mix_paths(mix: Sequence[dict[str, str]]) -> list[str]:
    """Every kind's request paths, interleaved so that each stretch of requests is mixed."""
    per_kind = [[our_path(query, kind) for query in queries_of(mix, kind)] for kind in KINDS]
    longest = max((len(paths) for paths in per_kind), default=0)
    return [paths[i] for i in range(longest) for paths in per_kind if i < len(paths)]


def _latency(
    root: Path,
    paths: list[str],
    settings: LoadSettings,
    timeout: float,
    log_dir: Path,
    name: str,
) -> dict[str, object]:
    """The whole mix at concurrency 1 against a files-only server on `root`."""
    absent_db = log_dir / f"{name}-absent" / "dialogs.db"
    absent_db.unlink(missing_ok=True)
    files_only = {"DIALOGSEARCH_REBUILD": "false", "DIALOGSEARCH_PROBE_SECONDS": "3600"}
    server = our_server(root, absent_db, log_dir, name=name, no_reindex=True, extra_env=files_only)
    with server:
        try:
            started = server.start(timeout, ready=health_says("files"))
        except RuntimeError as error:
            return {"status": f"files-mode server did not start: {error}"}
        first = _first_answer(server.port, paths[0], timeout)  # the index is built meanwhile
        if first is None or first[0] != 200:
            return {"status": f"files-mode search answered {first and first[0]}"}
        cell = run_cell(
            server.port,
            paths,
            concurrency=1,
            seconds=settings.cell_seconds * 2,
            max_requests=settings.max_requests,
            request_timeout=settings.request_timeout,
        )
        summary = cell.summary()
        summary["via"] = server.name
        summary["start_seconds"] = round(started, 2)
        summary["memory"] = server.memory()
        return summary


def _first_answer(port: int, path: str, timeout: float) -> tuple[int, bytes] | None:
    """The first answer that is not a 503 (the file index being built: a search waits for
    it FALLBACK_WAIT_SECONDS, then gets a 503), asking again until `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        answer = fetch(port, path, timeout=timeout)
        if answer is None or answer[0] != 503 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)  # a 503 that came at once: not a busy loop
