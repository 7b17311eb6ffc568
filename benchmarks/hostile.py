"""Hostile searches on a generated corpus: how long the worst take, per engine, in one run.

    python -m benchmarks.hostile --entries 1000000 [--baseline /path/to/other/checkout]

Builds (once) or reuses a database and top-k index of the generated corpus
(`dialogsearch reindex`), makes the hostile mix (benchmarks.hostile_mix), then runs it
`--rounds` times against each engine forced alone in one process (benchmarks.hostile_run:
topk, fts5 with the index beside it, fts5 without any index, files) and over HTTP against
`dialogsearch serve` (the default stack, DIALOGSEARCH_TOPK=off, and files mode), for this
checkout and, with --baseline, for another one right before it (the same database). It
prints per engine p50/p99/p100 and how many answers were whole, partial (flagged by
`partial` or estimated counts), 400, 503 (a forced engine that declines, e.g. top-k
asked raw FTS5 syntax) or another status, and writes every figure to
benchmarks/out/hostile-<entries>.json. The files engine runs up to --files-max entries.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.corpus import PROJECT_ROOT, ensure_corpus
from benchmarks.hostile_mix import frequent_words, hostile_mix
from benchmarks.http_load import percentile
from benchmarks.machine import describe_machine, load_average
from benchmarks.processes import fetch
from benchmarks.reindex_runs import run_reindex
from benchmarks.search_runs import health_says, our_server

RUNNER = Path(__file__).with_name("hostile_run.py")
ENGINES = ("topk", "fts5", "fts5-alone", "files")
#: Server settings per engine over HTTP (files: no database, never probed again; the
#: others do not build the file index meanwhile, as they would below 96 MB of Markdown).
SERVED = {
    "topk": {"DIALOGSEARCH_FALLBACK_PRELOAD": "0"},
    "fts5-alone": {"DIALOGSEARCH_TOPK": "off", "DIALOGSEARCH_FALLBACK_PRELOAD": "0"},
    "files": {"DIALOGSEARCH_REBUILD": "false", "DIALOGSEARCH_PROBE_SECONDS": "3600"},
}


def in_process(
    checkout: Path, engine: str, root: Path, db: Path, mix_file: Path, rounds: int
) -> dict[str, Any]:
    """benchmarks/hostile_run.py in a child with PYTHONPATH at `checkout`."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(checkout)}
    command = [sys.executable, str(RUNNER), "--engine", engine, "--root", str(root)]
    command += ["--db", str(db), "--mix", str(mix_file), "--rounds", str(rounds)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=7200)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-3:]}
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def over_http(
    checkout: Path,
    engine: str,
    root: Path,
    db: Path,
    mix: list[tuple[str, dict[str, str]]],
    rounds: int,
    log_dir: Path,
) -> dict[str, Any]:
    """The mix over HTTP against `dialogsearch serve` of `checkout`, one search at a time."""
    from urllib.parse import urlencode

    env = {"PYTHONPATH": str(checkout), "DIALOGSEARCH_WATCH": "off", **SERVED[engine]}
    served_db = db if engine != "files" else log_dir / "absent" / "dialogs.db"
    name = f"hostile-{checkout.name}-{engine}"
    server = our_server(root, served_db, log_dir, name=name, no_reindex=True, extra_env=env)
    results: dict[str, dict[str, Any]] = {}
    with server:
        mode = "files" if engine == "files" else "database"
        started = server.start(3600, ready=health_says(mode, topk=engine == "topk"))
        if engine == "fts5-alone":  # FTS5's term counts, read in the background at start
            started += _wait_for_term_counts(server.port)
        fetch(server.port, "/api/dialog/search?q=warm", timeout=3600)  # files: the build
        for _ in range(rounds):
            for label, params in mix:
                path = "/api/dialog/search?" + urlencode(params)
                began = time.perf_counter()
                answer = fetch(server.port, path, timeout=120)
                took = (time.perf_counter() - began) * 1000
                status, body = answer if answer is not None else (0, b"{}")
                seen = results.setdefault(label, {"ms": [], "status": [], "answers": []})
                seen["ms"].append(round(took, 2))
                seen["status"].append(status)
                seen["answers"].append(_answer(body))
    return {"engine": engine, "ready_seconds": round(started, 1), "results": results}


def _wait_for_term_counts(port: int, timeout: float = 3600) -> float:
    """Seconds until health says FTS5's term counts are read (none: a checkout without them)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        answer = fetch(port, "/api/dialog/health", timeout=30)
        database = json.loads(answer[1]).get("database", {}) if answer else {}
        if database.get("term_counts", 0) is not None:
            break
        time.sleep(0.5)  # polling a child we started: the condition is the health answer
    return time.monotonic() - started


def _answer(body: bytes) -> dict[str, Any]:
    try:
        found = json.loads(body)
    except ValueError:
        return {}
    if found.get("ok") is False:
        return {"reason": found.get("reason")}
    partial = found.get("partial") or {}
    return {
        "engine": found.get("engine"),
        "total_exact": found.get("total_exact"),
        "facets_exact": found.get("facets_exact"),
        "partial": bool(partial),
        "cuts": [cut.get("kind") for cut in partial.get("cuts", [])],
    }


def summarize(run: dict[str, Any]) -> dict[str, Any]:
    """p50/p99/p100 over every search and round; how many answers of each kind."""
    if "error" in run:
        return {"error": run["error"]}
    times, counts, worst = [], {"whole": 0, "partial": 0, "400": 0, "503": 0, "5xx": 0}, []
    engines: dict[str, int] = {}
    for label, seen in run["results"].items():
        times += seen["ms"]
        worst.append((max(seen["ms"]), label))
        for status, answer in zip(seen["status"], seen["answers"], strict=True):
            if status == 200:
                flagged = answer.get("partial") or answer.get("total_exact") is False
                counts["partial" if flagged else "whole"] += 1
                engine = str(answer.get("engine"))
                engines[engine] = engines.get(engine, 0) + 1
            elif status in (400, 503):
                counts[str(status)] += 1
            else:
                counts["5xx"] += 1
    ordered = sorted(times)
    return {
        "searches": len(times),
        "p50_ms": percentile(ordered, 50),
        "p99_ms": percentile(ordered, 99),
        "p100_ms": ordered[-1] if ordered else None,
        **counts,
        "answered_by": engines,
        "slowest": [f"{label} ({ms:.0f} ms)" for ms, label in sorted(worst, reverse=True)[:3]],
        "ready_seconds": run.get("ready_seconds"),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of every (checkout, engine, via) row."""
    head = (
        "| checkout | engine | via | searches | p50 ms | p99 ms | p100 ms | whole | partial"
        " | 400 | 503 | other | slowest |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for row in rows:
        s = row["summary"]
        if "error" in s:
            lines.append(
                f"| {row['checkout']} | {row['engine']} | {row['via']} | error: {s['error']} |"
            )
            continue
        cells = [row["checkout"], row["engine"], row["via"], s["searches"], s["p50_ms"]]
        cells += [s["p99_ms"], s["p100_ms"], s["whole"], s["partial"], s["400"], s["503"]]
        cells.append(s["5xx"])
        cells.append("; ".join(s["slowest"]))
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(lines)


def measure(
    root: Path,
    db: Path,
    checkouts: list[tuple[str, Path]],
    engines: list[str],
    *,
    rounds: int,
    out: Path,
    http: bool = True,
    log: Any = print,
) -> dict[str, Any]:
    """The hostile mix against each (checkout, engine), in one process and over HTTP; every
    row with its summary and run. `out`: where the mix and the servers' logs go."""
    out.mkdir(parents=True, exist_ok=True)
    mix = hostile_mix(frequent_words(root))
    mix_file = out / f"hostile-mix-{db.parent.name}.json"
    mix_file.write_text(json.dumps(mix))
    meta = {"machine": describe_machine(PROJECT_ROOT), "load_average_start": load_average()}
    rows: list[dict[str, Any]] = []
    for engine in engines:
        for name, checkout in checkouts:
            for via in ("in-process", "http"):
                if via == "http" and (not http or engine not in SERVED):
                    continue
                log(f"hostile: {name} {engine} {via} ...")
                if via == "http":
                    log_dir = out / "hostile-logs"
                    log_dir.mkdir(exist_ok=True)
                    run = over_http(checkout, engine, root, db, mix, rounds, log_dir)
                else:
                    run = in_process(checkout, engine, root, db, mix_file, rounds)
                row = {"checkout": name, "engine": engine, "via": via, "summary": summarize(run)}
                rows.append({**row, "run": run})
                log(table([row]).splitlines()[-1])
    meta["load_average_end"] = load_average()
    return {"meta": meta, "searches": len(mix), "rounds": rounds, "db": str(db), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", type=Path, default=Path("/tmp/dialogsearch-bench"))
    parser.add_argument("--db", type=Path, help="reuse this database (and its top-k index)")
    parser.add_argument("--baseline", type=Path, help="another checkout, measured before")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--files-max", type=int, default=200_000)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "benchmarks" / "out")
    options = parser.parse_args()
    corpus = ensure_corpus(options.work, options.entries, options.seed, 5000)
    db = options.db or options.work / f"hostile-{options.entries}" / "dialogs.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        print(f"building {db} ...", flush=True)
        run_reindex(corpus.markdown, db, full=False, timeout=7200)
    checkouts = [("after", PROJECT_ROOT)]
    if options.baseline is not None:
        checkouts.insert(0, ("before", options.baseline.resolve()))
    engines = [e for e in options.engines.split(",") if e]
    if options.entries > options.files_max:
        engines = [e for e in engines if e != "files"]
    result = measure(
        corpus.markdown,
        db,
        checkouts,
        engines,
        rounds=options.rounds,
        out=options.out,
        http=not options.no_http,
        log=lambda text: print(text, flush=True),
    )
    result["entries"] = options.entries
    meta = result["meta"]
    out = options.out / f"hostile-{options.entries}.json"
    out.write_text(json.dumps(result, indent=1))
    searches = f"{result['searches']} hostile searches × {options.rounds} rounds"
    print(f"\n{options.entries:,} entries, {searches}")
    print(f"load average {meta['load_average_start']} -> {meta['load_average_end']}\n")
    print(table(result["rows"]))
    print(f"\n(every figure: {out})")


if __name__ == "__main__":
    main()
