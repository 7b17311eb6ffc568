"""Server memory (issue 15): anonymous and file-mapped RSS of `serve`, two checkouts in one run.

    python -m benchmarks.memory --entries 100000 --baseline /tmp/main-checkout
    python -m benchmarks.memory --entries 1000000 --baseline /tmp/main-checkout --no-fallback

Each checkout (--baseline's, then this one's; --rounds alternates them) serves the same
database and top-k index (built once, with this checkout's code, unless --db names one),
one server at a time, on loopback, with its default settings (REBUILD off and a 1 s
probe, so that the fallback below is not repaired behind our back). The memory of the
server and its children (/proc/PID/status) is read as RssAnon (the process's own
memory), RssFile (pages of mapped files: the tantivy index's and SQLite's, page cache
the kernel may drop, counted once per mapping) and VmRSS (their sum), at:

- ready: health says "database", the top-k index is fresh and no file index is being
  built (a preload counts once it is built);
- warm: after the search mix (each kind, c=1 then c=8, --requests each);
- with the fallback (by default up to 200k entries): the database file moved away, the
  first searches sent one after the other until one is answered from the files
  (statuses, Retry-After, the longest wait, seconds to that answer), memory in files mode
  after the mix, then the database put back and memory once it answers again.

Writes OUT/memory-<entries>.json and .md; prints the table. Loops are bounded in count
and time; every server is stopped on exit.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shlex
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.corpus import PROJECT_ROOT, ensure_corpus, load_queries
from benchmarks.http_load import run_cell
from benchmarks.machine import describe_machine, load_average
from benchmarks.processes import LOOPBACK, Server, fetch, log, raise_exit
from benchmarks.queries import KINDS, our_path, queries_of
from benchmarks.reindex_runs import run_reindex
from benchmarks.search_runs import HEALTH, health_says, our_server

#: Settings of every server measured: the defaults, but nothing rebuilds a moved database.
SERVER_ENV = {"DIALOGSEARCH_REBUILD": "off", "DIALOGSEARCH_PROBE_SECONDS": "1"}
#: The phases whose memory the table shows, in order.
PHASES = ("ready", "warm", "fallback", "recovered")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.memory", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--entries", type=int, default=100_000, help="generated entries")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--queries", type=int, default=5000, help="queries in the mix")
    parser.add_argument("--baseline", type=Path, help="a checkout to measure beside this one")
    parser.add_argument("--db", type=Path, help="an indexed database of the corpus (else built)")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "dialogsearch-bench",
        help="the database built and the servers' logs",
    )
    parser.add_argument(
        "--corpora", type=Path, help="cached corpora, corpus-N-seedS-qQ (default: --work)"
    )
    parser.add_argument(
        "--out", type=Path, default=PROJECT_ROOT / "benchmarks" / "out", help="results folder"
    )
    parser.add_argument("--requests", type=int, default=300, help="per kind and concurrency")
    parser.add_argument("--cell-seconds", type=float, default=20.0, help="at most, per cell")
    parser.add_argument("--rounds", type=int, default=1, help="each checkout this many times")
    parser.add_argument("--fallback", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--timeout", type=float, default=1800.0, help="each wait, s")
    args = parser.parse_args(argv)
    if args.fallback is None:
        args.fallback = args.entries <= 200_000
    return args


def main(argv: list[str] | None = None) -> int:
    """Measure every checkout, print the table, write the JSON; 0 on success."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_exit)
    command = "python -m benchmarks.memory " + shlex.join(sys.argv[1:] if argv is None else argv)
    results: dict = {"meta": {"command": command, **describe_machine(PROJECT_ROOT)}}
    corpus = ensure_corpus(args.corpora or args.work, args.entries, args.seed, args.queries)
    results["corpus"] = corpus.to_dict()
    mix = load_queries(corpus.queries)
    db = args.db or _database(corpus.markdown, args)
    checkouts = {"ours": PROJECT_ROOT}
    if args.baseline is not None:
        checkouts = {"baseline": args.baseline.resolve(), **checkouts}
    results["checkouts"] = {name: str(path) for name, path in checkouts.items()}
    runs: dict[str, list[dict]] = {name: [] for name in checkouts}
    log_dir = args.work / f"memory-{args.entries}"
    log_dir.mkdir(parents=True, exist_ok=True)
    for number in range(args.rounds):
        for name, checkout in checkouts.items():
            log(f"round {number + 1}: {name} ({checkout}), load {load_average()}")
            runs[name].append(
                measure_server(name, checkout, corpus.markdown, db, mix, args, log_dir)
            )
    results["runs"] = runs
    results["meta"]["load_average_end"] = load_average()
    table = format_table(runs)
    results["table"] = table
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"memory-{args.entries}.json").write_text(json.dumps(results, indent=2) + "\n")
    meta = results["meta"]
    header = (
        f"{args.entries:,} entries · {meta['date_utc']} · load {meta['load_average_start']} → "
        f"{meta['load_average_end']} · commit {meta['commit']}\n\n`{command}`\n\n"
    )
    (args.out / f"memory-{args.entries}.md").write_text(header + table + "\n")
    print(header + table)
    return 0


def _database(root: Path, args: argparse.Namespace) -> Path:
    """WORK/memory-N/db/dialogs.db, indexed (with its top-k index) when not there yet."""
    db = args.work / f"memory-{args.entries}" / "db" / "dialogs.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        log(f"indexing {root} into {db}")
        run_reindex(root, db, full=False, timeout=args.timeout, topk=True)
    return db


def measure_server(
    name: str,
    checkout: Path,
    root: Path,
    db: Path,
    mix: list[dict[str, str]],
    args: argparse.Namespace,
    log_dir: Path,
) -> dict:
    """One server of `checkout`: its memory at each phase, and what the fallback cost."""
    env = {**SERVER_ENV, "PYTHONPATH": str(checkout)}
    run: dict = {"load_average": load_average()}
    with our_server(
        root, db, log_dir, name=f"serve-{name}", no_reindex=True, extra_env=env
    ) as server:
        run["start_seconds"] = round(
            server.start(args.timeout, ready=health_says("database", topk=True)), 2
        )
        # A file index built at start-up (a preload) counts once it is built.
        run["settle_seconds"] = _wait(server.port, _settled, args.timeout)
        run["ready"] = server.memory()
        run["warm_requests"] = _warm(server, mix, args)
        run["warm"] = server.memory()
        run["warm_mapped_mb"] = mapped_files(server.process.pid)  # type: ignore[union-attr]
        log(f"  {name}: ready {run['ready']}, warm {run['warm']}")
        if args.fallback:
            run.update(_fallback(server, db, mix, args))
            log(f"  {name}: fallback {run['fallback']}, recovered {run['recovered']}")
    return run


def mapped_files(pid: int) -> dict[str, float]:
    """The server's resident pages of mapped files, MB, per kind: the tantivy index's
    per file extension, SQLite's files, shared libraries, other files (/proc/PID/smaps)."""
    sums: dict[str, float] = {}
    kind = None
    try:
        lines = Path(f"/proc/{pid}/smaps").read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        fields = line.split()
        if fields and "-" in fields[0] and not fields[0].endswith(":"):
            path = fields[5] if len(fields) > 5 else ""
            kind = _mapping_kind(path)
        elif fields and fields[0] == "Rss:" and kind is not None:
            sums[kind] = sums.get(kind, 0.0) + int(fields[1]) / 1024
    return {name: round(mb, 1) for name, mb in sorted(sums.items(), key=lambda item: -item[1])}


def _mapping_kind(path: str) -> str | None:
    """What a mapped file is, by its path (None: not a file)."""
    if not path.startswith("/"):
        return None
    if ".topk/" in path:
        return "tantivy ." + path.rsplit(".", 1)[-1]
    if re.search(r"\.db(-shm|-wal)?$", path):
        return "sqlite"
    if re.search(r"\.so(\.[\d.]+)?$", path):
        return "shared libraries"
    return "other files"


def _warm(server: Server, mix: list[dict[str, str]], args: argparse.Namespace) -> dict:
    """The search mix: every kind at c=1 then c=8; how many were answered, how many not."""
    answered, errors = 0, 0
    for kind in KINDS:
        paths = [our_path(query, kind) for query in queries_of(mix, kind)]
        for concurrency in (1, 8):
            result = run_cell(
                server.port,
                paths,
                concurrency=concurrency,
                seconds=args.cell_seconds,
                max_requests=args.requests,
                request_timeout=60.0,
            )
            summary = result.summary()
            answered += int(summary["requests"])
            errors += int(summary["errors"])
    return {"answered": answered, "errors": errors}


def _fallback(
    server: Server, db: Path, mix: list[dict[str, str]], args: argparse.Namespace
) -> dict:
    """The database moved away and back: first answers, memory in files mode and after."""
    path = our_path(queries_of(mix, "term")[0], "term")
    aside = db.with_name(db.name + ".moved-by-benchmark")
    db.rename(aside)
    try:
        first = _first_answers(server.port, path, args.timeout)
        _warm(server, mix, args)
        in_files = server.memory()
        health = _health(server.port)
    finally:
        aside.rename(db)
    recovered_after = _wait(server.port, _recovered, args.timeout)
    return {
        "first_answers": first,
        "fallback": in_files,
        "files_index": (health or {}).get("files_index"),
        "recovery_seconds": recovered_after,
        "recovered": server.memory(),
        "files_index_after": (_health(server.port) or {}).get("files_index"),
    }


def _first_answers(port: int, path: str, timeout: float) -> dict:
    """Searches one after the other until the files answer one: statuses and waits."""
    started = time.monotonic()
    statuses: Counter[str] = Counter()
    longest, retry_after, sources = 0.0, set(), Counter()
    while time.monotonic() - started < timeout:
        sent = time.monotonic()
        status, headers, body = _get(port, path, timeout=120.0)
        longest = max(longest, time.monotonic() - sent)
        statuses[str(status)] += 1
        if status == 503:
            retry_after.add(headers.get("Retry-After"))
        if status == 200:
            source = json.loads(body).get("source")
            sources[source] += 1
            if source == "files":
                return {
                    "seconds_to_files_answer": round(time.monotonic() - started, 2),
                    "statuses": dict(statuses),
                    "sources": dict(sources),
                    "retry_after": sorted(str(value) for value in retry_after),
                    "longest_wait_seconds": round(longest, 2),
                }
    return {"status": f"no answer from the files within {timeout:g} s", "statuses": dict(statuses)}


def _get(port: int, path: str, *, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one GET; status 0 when nothing answered."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    except (OSError, http.client.HTTPException):
        return 0, {}, b""
    finally:
        connection.close()


def _health(port: int) -> dict | None:
    answer = fetch(port, HEALTH, timeout=30)
    if answer is None or answer[0] != 200:
        return None
    return json.loads(answer[1])  # type: ignore[no-any-return]


def _settled(health: dict) -> bool:
    """No file index is being built."""
    return (health.get("files_index") or {}).get("state") != "building"


def _recovered(health: dict) -> bool:
    """The database answers, and a file index that is dropped after recovery is gone."""
    index = health.get("files_index") or {}
    return health.get("mode") == "database" and (
        index.get("resident", True) or index.get("drops", 0) > 0
    )


def _wait(port: int, condition, timeout: float) -> float | None:
    """Seconds until health meets `condition` (polled every 0.2 s), None at the timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        health = _health(port)
        if health is not None and condition(health):
            return round(time.monotonic() - started, 2)
        time.sleep(0.2)  # polling a server we started; the condition is its answer
    return None


def format_table(runs: dict[str, list[dict]]) -> str:
    """Per phase and checkout: anonymous / file-mapped / total MB (the median round's)."""
    names = list(runs)
    header = ["Phase", *(f"{name}: anon / file / total MB" for name in names)]
    if len(names) == 2:
        header.append(f"{names[1]}/{names[0]} anon, total")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for phase in PHASES:
        figures = [_median(runs[name], phase) for name in names]
        if not any(figures):
            continue
        cells = [phase, *(_cell(figure) for figure in figures)]
        if len(names) == 2:
            cells.append(_ratios(*figures))
        lines.append("| " + " | ".join(cells) + " |")
    for name in names:
        mapped = [run["warm_mapped_mb"] for run in runs[name] if run.get("warm_mapped_mb")]
        if mapped:
            lines.append(f"\n{name}, mapped files after the mix (MB): {mapped[0]}")
        first = [run.get("first_answers") for run in runs[name] if run.get("first_answers")]
        if first:
            lines.append(f"\n{name}, the first searches after the database went away: {first}")
    return "\n".join(lines)


def _median(runs: list[dict], phase: str) -> dict | None:
    found = sorted((run[phase] for run in runs if run.get(phase)), key=lambda m: m["rss_mb"])
    return found[(len(found) - 1) // 2] if found else None


def _cell(memory: dict | None) -> str:
    if not memory:
        return "—"
    return f"{memory['anon_mb']:.0f} / {memory['file_mb']:.0f} / {memory['rss_mb']:.0f}"


def _ratios(before: dict | None, after: dict | None) -> str:
    if not before or not after or not before["anon_mb"] or not before["rss_mb"]:
        return "—"
    return f"{after['anon_mb'] / before['anon_mb']:.2f}×, {after['rss_mb'] / before['rss_mb']:.2f}×"


if __name__ == "__main__":
    sys.exit(main())
