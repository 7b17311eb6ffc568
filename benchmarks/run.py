"""Measure dialogsearch beside its peers in one run and print one table.

    python -m benchmarks.run --entries 100000
    python -m benchmarks.run --entries 3000 --quick --out /tmp/bench
    python -m benchmarks.run --entries 1000000 --only reindex
    python -m benchmarks.run --entries 1000000 --only write_load --baseline-src /tmp/main-src

Generates (or reuses) the corpus for the size and seed, then measures in the
same run: our full/incremental/no-change reindex next to a raw sqlite3 bulk
load, search over HTTP (ours and Datasette, concurrency 1 and 8, each query
kind), search under writes (benchmarks.write_load: 8 clients, 90 % searches, 10 %
writes), the files-mode fallback, parse throughput, server memory, the hostile mix
(benchmarks.hostile: each engine's slowest search) and live freshness
(benchmarks.watch_latency: an edited file to searchable). Writes
OUT/results-<entries>.json and .md. Every server listens on 127.0.0.1 only and
is stopped on exit; every loop is bounded in time and count.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.corpus import (
    PROJECT_ROOT,
    SHARED_CORPUS,
    Corpus,
    ensure_corpus,
    load_queries,
    read_tree,
)
from benchmarks.files_mode import measure_files_mode
from benchmarks.hostile_fresh import measure_freshness, measure_hostile
from benchmarks.machine import describe_machine, load_average
from benchmarks.processes import Server, fetch, log, raise_exit, run_measured, tree_rss_bytes
from benchmarks.reindex_runs import database_bytes, reindex_suite, run_reindex
from benchmarks.report import build_rows, format_table, targets, weighted_percentile
from benchmarks.search_runs import (
    LoadSettings,
    datasette_server,
    engine_paths,
    health_says,
    measure_search,
    our_server,
)
from benchmarks.write_load import measure

DEFAULT_SEED = 42


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--entries", type=int, default=100_000, help="generated entries")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--queries", type=int, default=5000, help="queries in the mix")
    parser.add_argument(
        "--out", type=Path, default=PROJECT_ROOT / "benchmarks" / "out", help="results folder"
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "dialogsearch-bench",
        help="cached corpora and the databases (large at 1M entries)",
    )
    parser.add_argument("--quick", action="store_true", help="short cells (smoke test)")
    parser.add_argument("--cell-seconds", type=float, help="seconds per search cell")
    parser.add_argument("--max-requests", type=int, default=20_000, help="requests per cell")
    parser.add_argument(
        "--files-max",
        type=int,
        default=200_000,
        help="measure files mode on the generated corpus only up to this many entries",
    )
    parser.add_argument("--skip-datasette", action="store_true", help="do not run the peer")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="full reindex and raw loads this many times, alternating; the table takes medians",
    )
    parser.add_argument(
        "--only",
        choices=["reindex", "write_load"],
        help="reindex: only the raw loads and our reindex runs (no parse, search, files mode);"
        " write_load: only search under writes (on our database, reindexed when missing)",
    )
    parser.add_argument(
        "--write-seconds", type=float, help="seconds per write-load round and variant"
    )
    parser.add_argument("--write-rounds", type=int, default=2, help="write-load rounds")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="code (e.g. `git archive main` unpacked) the write load also serves, for a ratio",
    )
    parser.add_argument(
        "--step-timeout", type=float, default=3600.0, help="limit for each child run, s"
    )
    args = parser.parse_args(argv)
    if args.cell_seconds is None:
        args.cell_seconds = 0.5 if args.quick else 4.0
    if args.write_seconds is None:
        args.write_seconds = 3.0 if args.quick else 30.0
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every measurement, print the table, write the JSON; 0 on success."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_exit)
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.run " + shlex.join(sys.argv[1:] if argv is None else argv)
    results: dict = {"meta": {"command": command, **describe_machine(PROJECT_ROOT)}}
    started = time.monotonic()

    log(f"corpus: {args.entries} entries, seed {args.seed}")
    corpus = ensure_corpus(args.work / "corpora", args.entries, args.seed, args.queries)
    results["corpus"] = corpus.to_dict()
    mix = load_queries(corpus.queries)
    read_tree(corpus.markdown)  # the first reader of the files pays no disk cost

    if args.only is None:
        log("parse throughput")
        results["parse"] = _measure_parse(
            corpus.markdown, quick=args.quick, timeout=args.step_timeout
        )

    results["meta"]["runner_rss_mb"] = round(tree_rss_bytes(os.getpid()) / 1e6, 1)
    work = args.work / f"run-{args.entries}-seed{args.seed}"
    work.mkdir(parents=True, exist_ok=True)
    ours_db = work / "ours" / "dialogs.db"
    if args.only == "write_load":
        if not ours_db.exists():
            ours_db.parent.mkdir(exist_ok=True)
            run_reindex(corpus.markdown, ours_db, full=True, timeout=args.step_timeout)
        results["write_load"] = _measure_write_load(corpus, mix, ours_db, args, work)
        return _finish(results, args, started)
    log("raw sqlite3 bulk loads")
    raw_runs = [_raw_loads(corpus, work, args)]
    log("our reindex: full, no change, one file changed, restored")
    ours_db.parent.mkdir(exist_ok=True)
    reindex = reindex_suite(corpus.markdown, ours_db, timeout=args.step_timeout)
    full_runs = [reindex["full"]]
    for number in range(2, args.rounds + 1):
        log(f"round {number} of {args.rounds}: raw loads, our full reindex")
        raw_runs.append(_raw_loads(corpus, work, args))
        full_runs.append(full_reindex(corpus.markdown, work / "rounds" / "dialogs.db", args))
    results["raw_load"] = {
        fts: _median_run([runs[fts] for runs in raw_runs]) for fts in ("same", "plain")
    }
    full = reindex["full"] = _median_run(full_runs)
    full["entries_per_s"] = round(corpus.entries / full["wall_seconds"])
    full["mb_per_s"] = round(corpus.markdown_bytes / 1e6 / full["wall_seconds"], 2)
    results["reindex"] = reindex
    if args.only is None:
        _measure_serving(results, corpus, mix, ours_db, args, work)
        results["write_load"] = _measure_write_load(corpus, mix, ours_db, args, work)
        log("hostile searches (every engine, one at a time)")
        results["hostile"] = measure_hostile(
            corpus.markdown, ours_db, args.entries, work, quick=args.quick, files_max=args.files_max
        )
        log("live freshness (a served copy of the corpus, edited)")
        results["freshness"] = measure_freshness(
            corpus.markdown, quick=args.quick, timeout=args.step_timeout
        )
    return _finish(results, args, started)


def _finish(results: dict, args: argparse.Namespace, started: float) -> int:
    """The table and the JSON of `results`; 0."""
    results["meta"]["load_average_end"] = load_average()
    results["meta"]["seconds"] = round(time.monotonic() - started, 1)
    rows = build_rows(results)
    results["targets"] = targets(rows)
    table = format_table(rows)
    results["table"] = table
    _write(args.out, args.entries, results, table)
    print(table)
    log(f"done in {results['meta']['seconds']} s; results in {args.out}")
    return 0


def _measure_serving(
    results: dict, corpus: Corpus, mix: list[dict[str, str]], ours_db: Path, args, work: Path
) -> None:
    """Search over HTTP (ours and Datasette) and the files mode."""
    settings = LoadSettings(
        cell_seconds=args.cell_seconds,
        max_requests=args.max_requests,
        request_timeout=30.0,
        warmup_requests=10 if args.quick else 50,
    )
    log("search over HTTP")
    results["search"], results["server_memory"] = _measure_search(
        corpus.markdown, ours_db, work / "raw-plain" / "raw.db", mix, settings, args, work
    )
    log("files mode")
    results["files_mode"] = measure_files_mode(
        corpus.markdown,
        corpus.entries,
        mix,
        settings,
        shared=SHARED_CORPUS,
        max_entries=args.files_max,
        timeout=args.step_timeout,
        log_dir=work,
        log=log,
    )


def _measure_write_load(
    corpus: Corpus, mix: list[dict[str, str]], ours_db: Path, args, work: Path
) -> dict:
    """benchmarks.write_load on copies of our database (and the baseline's, if given)."""
    log("search under writes (8 clients, 90 % search / 10 % write)")
    return measure(
        corpus.markdown,
        ours_db,
        mix,
        work,
        seconds=args.write_seconds,
        rounds=1 if args.quick else args.write_rounds,
        baseline_src=args.baseline_src,
        log=log,
    )


def _measure_parse(generated: Path, *, quick: bool, timeout: float) -> dict[str, object]:
    """parse_speed in a child process, so that this process stays small.

    Linux counts a child's RSS before exec() in its peak (ru_maxrss), so the
    peak RSS of every child measured here is at least this process's own RSS,
    which results["meta"]["runner_rss_mb"] records.
    """
    rounds = ["--rounds", "1" if quick else "3"]
    result: dict[str, object] = {}
    if SHARED_CORPUS.exists():
        result["shared"] = _child_json(
            ["benchmarks.parse_speed", str(SHARED_CORPUS), *rounds], timeout
        )
    else:
        result["shared"] = {"status": f"absent: {SHARED_CORPUS}"}
    result["generated"] = _child_json(
        ["benchmarks.parse_speed", str(generated), *rounds, "--max-bytes", "20000000"], timeout
    )
    return result


def _child_json(module_args: list[str], timeout: float) -> dict:
    """Run `python -m MODULE ARGS...` from the project and read the JSON it prints."""
    measured = run_measured(
        [sys.executable, "-m", *module_args], timeout=timeout, cwd=PROJECT_ROOT
    ).check(module_args[0])
    return json.loads(measured.stdout)


def _raw_loads(corpus: Corpus, work: Path, args: argparse.Namespace) -> dict[str, dict]:
    """Both raw loads (our FTS5 options, then the defaults), one after the other."""
    return {
        fts: _raw_load(corpus.ndjson, work / f"raw-{fts}" / "raw.db", fts, args)
        for fts in ("same", "plain")
    }


def full_reindex(root: Path, db_path: Path, args: argparse.Namespace) -> dict:
    """One more full reindex into a new database (a round beyond the suite's)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for path in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        path.unlink(missing_ok=True)
    run = run_reindex(root, db_path, full=True, timeout=args.step_timeout, topk=False)
    run["db_mb"] = round(database_bytes(db_path) / 1e6, 1)
    return run


def _median_run(runs: list[dict]) -> dict:
    """The run of median wall time (of an even number, the faster middle one), with every
    run's wall time beside it."""
    ordered = sorted(runs, key=lambda run: run["wall_seconds"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    if len(runs) > 1:
        median["rounds_wall_seconds"] = [run["wall_seconds"] for run in runs]
    return median


def _raw_load(ndjson: Path, db_path: Path, fts: str, args: argparse.Namespace) -> dict:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for path in db_path.parent.glob("raw.db*"):
        path.unlink()
    measured = run_measured(
        [sys.executable, "-m", "benchmarks.raw_load", str(ndjson), str(db_path), "--fts", fts],
        timeout=args.step_timeout,
        cwd=PROJECT_ROOT,
    ).check("benchmarks.raw_load")
    loaded = json.loads(measured.stdout)
    return {
        "fts": fts,
        "entries": loaded["entries"],
        "seconds": round(loaded["seconds"], 3),
        "wall_seconds": round(measured.seconds, 3),
        "cpu_seconds": round(measured.cpu_seconds, 3),
        "entries_per_s": round(loaded["entries"] / measured.seconds),
        "mb_per_s": round(ndjson.stat().st_size / 1e6 / measured.seconds, 2),
        "peak_rss_mb": round(measured.max_rss_bytes / 1e6, 1),
        "db_mb": round(database_bytes(db_path) / 1e6, 1),
    }


def _measure_search(
    root: Path,
    ours_db: Path,
    peer_db: Path,
    mix: list[dict[str, str]],
    settings: LoadSettings,
    args: argparse.Namespace,
    work: Path,
) -> tuple[dict, dict]:
    """Start both servers, run every cell, read their RSS, stop them."""
    search: dict = {}
    rss: dict = {}
    with ExitStack() as stack:
        servers: dict[str, Server | None] = {}
        ours = stack.enter_context(our_server(root, ours_db, work))
        try:
            search["ours_start_seconds"] = round(
                ours.start(args.step_timeout, ready=health_says("database", topk=True)), 2
            )
            servers["ours"] = ours
            search["ours_server"] = ours.name
        except RuntimeError as error:
            search["status"] = f"our server did not start: {error}"
            log(search["status"])
        peer = None if args.skip_datasette else datasette_server(peer_db, work)
        if peer is None:
            search["datasette_status"] = "skipped" if args.skip_datasette else "not installed"
        else:
            stack.enter_context(peer)
            search["datasette_start_seconds"] = round(peer.start(120.0), 2)
            servers["datasette"] = peer
        if not any(servers.values()):
            return search, rss
        search["sample_totals"] = _sample_totals(mix, servers)
        measured = measure_search(mix, servers, settings, log=log)
        search["cells"] = [cell for cell, _ in measured]
        search["pooled"] = _pooled(measured)
        for name, server in servers.items():
            if server is not None:
                rss[name] = server.memory()
        search["ours_topk"] = _topk_health(servers.get("ours"))
    return search, rss


def _topk_health(server: Server | None) -> dict | None:
    """Our server's top-k index state after the cells: how many searches each engine answered."""
    answer = fetch(server.port, "/api/dialog/health", timeout=30) if server is not None else None
    if answer is None or answer[0] != 200:
        return None
    return (json.loads(answer[1]).get("database") or {}).get("topk")


def _sample_totals(mix: list[dict[str, str]], servers: dict[str, Server | None]) -> dict:
    """How many hits each server reports for the first `term` query (a sanity check)."""
    query = next((query for query in mix if query["kind"] == "term"), None)
    if query is None:
        return {}
    totals: dict[str, object] = {"q": query["q"]}
    for engine, key in (("ours", "total"), ("datasette", "filtered_table_rows_count")):
        server = servers.get(engine)
        if server is None:
            continue
        answer = fetch(server.port, engine_paths([query], "term", engine)[0], timeout=60)
        if answer is not None and answer[0] == 200:
            totals[engine] = json.loads(answer[1]).get(key)
        else:
            totals[engine] = f"status {answer and answer[0]}"
    return totals


def _pooled(measured: list[tuple[dict, list[float]]]) -> dict:
    """Per engine and concurrency: percentiles over all kinds, each kind weighing the same."""
    groups: dict[str, dict[str, list[list[float]]]] = {}
    for cell, latencies in measured:
        groups.setdefault(cell["engine"], {}).setdefault(str(cell["concurrency"]), []).append(
            latencies
        )
    pooled: dict = {}
    for engine, by_concurrency in groups.items():
        for concurrency, lists in by_concurrency.items():
            pooled.setdefault(engine, {})[concurrency] = {
                f"p{pct}_ms": _ms(weighted_percentile(lists, pct)) for pct in (50, 95, 99)
            }
    return pooled


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _write(out: Path, entries: int, results: dict, table: str) -> None:
    (out / f"results-{entries}.json").write_text(json.dumps(results, indent=2) + "\n")
    meta = results["meta"]
    header = (
        f"{entries:,} entries · {meta['date_utc']} · {meta['nproc']} × {meta['cpu']}, "
        f"{meta['ram_gb']} GB RAM · commit {meta['commit']}\n\n`{meta['command']}`\n\n"
    )
    (out / f"results-{entries}.md").write_text(header + table + "\n")


if __name__ == "__main__":
    sys.exit(main())
