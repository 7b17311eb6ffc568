"""Live freshness (issue 14): how soon a changed dialog file is searchable through the server.

    python -m benchmarks.watch_latency --root DIR [--db FILE] [--edits 100] [--burst 1000]

Starts the real server as users run it (`serve --root --db --port`, watching on by
default) over a COPY of `--root` (the given root is never written) with a fresh
database, so the start includes a full first index (about 40 s at 100,000 entries).
Then it measures, over HTTP only:

1. rename to searchable: `--edits` times, an entry with a unique word is appended to a
   random file the way an editor saves (a temp file beside it, then os.replace onto
   the file); /api/dialog/search is polled every `--poll-ms` until a hit holds the
   word. The time runs from the rename to the first answer holding it. The next edit
   follows at once, as a person saving again would (the watcher may still be busy with
   the last one); `--settle-between` waits until it has nothing pending first.
2. burst: a folder of `--burst` new dialog files is copied into the root at once; the
   time runs from the copy's start until search finds every entry of it and
   /api/dialog/health's watcher has no pending files; with the watcher's reindex count.
3. idle CPU: nothing changes for `--idle-seconds`; the server process's CPU time over
   that wall time, as a percentage of one core.

Prints a Markdown table, or with --json the whole result as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import secrets
import shutil
import string
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import load_average
from benchmarks.processes import LOOPBACK, Server, fetch, free_port
from dialogfile.writer import plan_append

#: The checkout this module belongs to: the server runs ITS code (not an installed copy).
CHECKOUT = Path(__file__).resolve().parents[1]
HEALTH = "/api/dialog/health"
SEARCH = "/api/dialog/search"
#: Entries in each file of the burst.
ENTRIES_PER_BURST_FILE = 3


def unique_word(rng: random.Random) -> str:
    """A made-up word no corpus holds (letters only: one token for every engine)."""
    return "zqx" + "".join(rng.choice(string.ascii_lowercase) for _ in range(10))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def get_json(port: int, path: str, **params: object) -> dict[str, Any] | None:
    """The JSON body of GET path?params on the server, or None when it did not answer 200."""
    query = urllib.parse.urlencode(params)
    answer = fetch(port, f"{path}?{query}" if query else path, timeout=10.0)
    if answer is None or answer[0] != 200:
        return None
    return json.loads(answer[1])


def search(port: int, q: str, per_page: int = 10) -> dict[str, Any] | None:
    # Every scope and copy: this follows files, whatever their records are.
    return get_json(port, SEARCH, q=q, per_page=per_page, scope="all", collapse="off")


def holds(page: dict[str, Any] | None, word: str, rel: str) -> bool:
    """Whether a search answer has a hit of `rel` holding `word` (not a typo correction)."""
    if page is None:
        return False
    return any(hit.get("dialog_file") == rel and word in json.dumps(hit) for hit in page["hits"])


def watcher(port: int) -> dict[str, Any]:
    health = get_json(port, HEALTH) or {}
    return health.get("watcher") or {}


def wait_for(condition: Callable[[], bool], *, poll: float, timeout: float) -> float | None:
    """Poll `condition` every `poll` s; the monotonic time it first held, or None (timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.monotonic()
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll)


def settled(port: int) -> bool:
    """The watcher has nothing pending and the top-k index (when there is one) is ready."""
    health = get_json(port, HEALTH) or {}
    pending = (health.get("watcher") or {}).get("pending_files")
    topk = (health.get("database") or {}).get("topk")
    return pending == [] and (topk is None or bool(topk.get("ready")))


def editor_save(path: Path, text: str) -> None:
    """Save as editors do: a swap file beside the file, then a rename over it."""
    temp = path.with_name(f".{path.name}.swp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def probe_fields(word: str) -> dict[str, str]:
    return {"speaker": "BENCH", "target": "@everyone", "message": f"Watch latency probe {word}"}


# ---- 1. rename to searchable ------------------------------------------------------------


def measure_edits(
    port: int,
    root: Path,
    count: int,
    rng: random.Random,
    *,
    poll: float,
    timeout: float,
    settle_between: bool = False,
) -> dict[str, Any]:
    """Edit after edit, each once the last one is searchable (the watcher may still be busy)."""
    files = sorted(path for path in root.rglob("*.md") if path.is_file())
    latencies: list[float] = []
    missed = 0
    for _ in range(count):
        path = rng.choice(files)
        rel = path.relative_to(root).as_posix()
        word = unique_word(rng)
        text = path.read_text(encoding="utf-8")
        new_text = plan_append(text, rel, probe_fields(word)).text  # checked by parsing
        editor_save(path, new_text)
        renamed = time.monotonic()
        found = wait_for(
            lambda word=word, rel=rel: holds(search(port, word), word, rel),
            poll=poll,
            timeout=timeout,
        )
        if found is None:
            missed += 1
        else:
            latencies.append(found - renamed)
        if settle_between:  # the watcher idle before the next edit (hides its stalls)
            wait_for(lambda: settled(port), poll=poll, timeout=timeout)
    result: dict[str, Any] = {"edits": count, "found": len(latencies), "missed": missed}
    result["settle_between"] = settle_between
    if latencies:
        result.update(
            p50_ms=round(percentile(latencies, 0.50) * 1000, 1),
            p99_ms=round(percentile(latencies, 0.99) * 1000, 1),
            max_ms=round(max(latencies) * 1000, 1),
            min_ms=round(min(latencies) * 1000, 1),
        )
    return result


# ---- 2. burst ---------------------------------------------------------------------------


def write_burst(staging: Path, files: int, token: str, rng: random.Random) -> tuple[int, str]:
    """`files` new dialog files in `staging`, each entry holding `token`; (entries, last word)."""
    staging.mkdir(parents=True)
    entries = 0
    last = ""
    for number in range(files):
        rel = f"burst_{number:05d}.md"
        text: str | None = None
        for _ in range(ENTRIES_PER_BURST_FILE):
            last = unique_word(rng)
            text = plan_append(text, rel, probe_fields(f"{token} {last}"), now=1767225600).text
            entries += 1
        (staging / rel).write_text(text or "", encoding="utf-8")
    return entries, last


def measure_burst(
    port: int, root: Path, work: Path, files: int, rng: random.Random, *, timeout: float
) -> dict[str, Any]:
    token = unique_word(rng)
    folder = f"burst-{token}"
    staging = work / folder
    entries, last = write_burst(staging, files, token, rng)
    last_rel = f"{folder}/burst_{files - 1:05d}.md"
    before = watcher(port)

    def all_found() -> bool:
        page = search(port, token, per_page=1)
        if page is None or page.get("total") != entries:
            return False
        return holds(search(port, last), last, last_rel)

    started = time.monotonic()
    shutil.copytree(staging, root / folder)
    copied = time.monotonic()
    found = wait_for(all_found, poll=0.05, timeout=timeout)
    done = wait_for(lambda: watcher(port).get("pending_files") == [], poll=0.05, timeout=timeout)
    after = watcher(port)
    return {
        "files": files,
        "entries": entries,
        "copy_seconds": round(copied - started, 3),
        # every entry searchable (the database answers while the top-k index catches up)
        "searchable_seconds": None if found is None else round(found - started, 3),
        # ... and the watcher done: every store followed, nothing pending
        "seconds": None if found is None or done is None else round(done - started, 3),
        "found": found is not None and done is not None,
        "reindexes": after.get("reindexes", 0) - before.get("reindexes", 0),
        "events": after.get("events", 0) - before.get("events", 0),
        "pending_files": after.get("pending_files"),
        "last_reindex": after.get("last_reindex"),
    }


# ---- 3. idle CPU ------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process `pid` (all its threads), in seconds."""
    try:
        import psutil  # noqa: PLC0415 - optional: /proc below when it is not installed
    except ImportError:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
        return ticks / os.sysconf("SC_CLK_TCK")
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def measure_idle(port: int, pid: int, seconds: float) -> dict[str, Any]:
    wait_for(lambda: settled(port), poll=0.2, timeout=120)
    time.sleep(1.0)  # the last answers' threads wind down
    events = watcher(port).get("events", 0)
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    cpu_after, wall_after = cpu_seconds(pid), time.monotonic()
    used = cpu_after - cpu_before
    return {
        "seconds": round(wall_after - wall_before, 2),
        "cpu_seconds": round(used, 3),
        "cpu_percent": round(100 * used / (wall_after - wall_before), 2),
        "events": watcher(port).get("events", 0) - events,
    }


# ---- the run ----------------------------------------------------------------------------


def start_server(root: Path, db: Path, log_path: Path, timeout: float) -> tuple[Server, float]:
    """`serve` of this checkout's code on a free port; (server, seconds until it is ready)."""
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
    env["DIALOGSEARCH_API_TOKEN"] = secrets.token_hex(16)
    command = [sys.executable, "-m", "searchsvc.cli", "serve", "--root", str(root)]
    command += ["--db", str(db), "--host", LOOPBACK, "--port", str(port)]
    server = Server("dialogsearch serve", command, port, HEALTH, log_path=log_path, env=env)
    server.cwd = CHECKOUT
    started = time.monotonic()
    server.start(timeout)
    wait_for(lambda: settled(port), poll=0.2, timeout=timeout)
    return server, time.monotonic() - started


def table(result: dict[str, Any]) -> str:
    edits, burst, idle = result["edits"], result["burst"], result["idle"]
    machine = result["machine"]
    rows = [
        ("Measure", "Result"),
        ("---", "---"),
        (
            f"rename to searchable, {edits['found']} of {edits['edits']} edits",
            f"p50 {edits.get('p50_ms')} ms, p99 {edits.get('p99_ms')} ms, "
            f"max {edits.get('max_ms')} ms",
        ),
        (
            f"burst: {burst['files']} new files ({burst['entries']} entries) copied in",
            f"all searchable after {burst['searchable_seconds']} s, nothing pending after "
            f"{burst['seconds']} s, {burst['reindexes']} reindexes",
        ),
        (f"idle CPU over {idle['seconds']} s", f"{idle['cpu_percent']} % of one core"),
        (
            f"start with a full first index ({result['corpus']['entries']} entries)",
            f"{result['start']['seconds']} s",
        ),
        (
            f"load average (1 min) at start, end ({machine['cpus']} cores)",
            f"{machine['load_start'][0]}, {machine['load_end'][0]}",
        ),
    ]
    return "\n".join(f"| {left} | {right} |" for left, right in rows)


def run(args: argparse.Namespace) -> dict[str, Any]:
    source = Path(args.root).resolve()
    if not source.is_dir():
        raise SystemExit(f"--root {source} is not a folder")
    work = Path(tempfile.mkdtemp(prefix="watch-latency-"))
    root = work / "root"
    db = Path(args.db).resolve() if args.db else work / "dialogs.db"
    if db.exists():
        raise SystemExit(f"--db {db} exists: the benchmark builds a fresh database")
    if db.is_relative_to(source):
        raise SystemExit("--db must not lie inside --root (the given root is never written)")
    rng = random.Random(args.seed)
    log = (lambda text: None) if args.json else (lambda text: print(text, file=sys.stderr))
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    load_start = load_average()
    shutil.copytree(source, root)
    log(f"copied {source} to {root}; starting the server (a full first index)")
    server, start_seconds = start_server(root, db, work / "serve.log", args.timeout)
    try:
        health = get_json(server.port, HEALTH) or {}
        totals = (get_json(server.port, "/api/dialog/stats") or {}).get("totals") or {}
        log(f"ready after {start_seconds:.1f} s; {args.edits} edits")
        edits = measure_edits(
            server.port,
            root,
            args.edits,
            rng,
            poll=args.poll_ms / 1000,
            timeout=args.timeout,
            settle_between=args.settle_between,
        )
        log(f"edits: {edits}; burst of {args.burst} files")
        burst = measure_burst(server.port, root, work, args.burst, rng, timeout=args.timeout * 5)
        log(f"burst: {burst}; idle for {args.idle_seconds} s")
        assert server.process is not None
        idle = measure_idle(server.port, server.process.pid, args.idle_seconds)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {
        "command": "python -m benchmarks.watch_latency " + " ".join(args.argv),
        "date": started_at,
        "machine": {
            "cpus": os.cpu_count(),
            "load_start": load_start,
            "load_end": load_average(),
        },
        "corpus": {
            "root": str(source),
            "files": sum(1 for _ in source.rglob("*.md")),
            "entries": totals.get("dialog_entries"),
            "records": totals.get("entries"),
        },
        "watcher_mode": (health.get("watcher") or {}).get("mode"),
        "start": {
            "seconds": round(start_seconds, 2),
            "note": "a full first index of a fresh database (about 40 s at 100,000 entries)",
        },
        "edits": edits,
        "burst": burst,
        "idle": idle,
    }
    result["table"] = table(result)
    return result


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--root", required=True, help="the dialogs folder (copied, never written)")
    parser.add_argument("--db", help="where the fresh database goes (default: a temp folder)")
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--burst", type=int, default=1000, help="new files copied in at once")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--poll-ms", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="per wait, in seconds")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--settle-between",
        action="store_true",
        help="before each edit, wait until the watcher has nothing pending",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (its log)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    args.argv = list(argv)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else result["table"])
    return 0 if result["edits"]["missed"] == 0 and result["burst"]["found"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
