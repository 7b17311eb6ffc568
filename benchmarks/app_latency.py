"""Search latency inside one process: the query mix through the app (Flask's test client).

No HTTP, no server, no peers: for comparing two checkouts of the product on the same
database files, one right after the other (run it with PYTHONPATH at each checkout; it
imports nothing but `searchsvc.web.app.create_app`). Each query runs `--rounds` times;
the table gives p50/p90/p99 over every run, the mean of each query's best run, and the
slowest queries by their best run; `cpu_*` are the same percentiles of the process's CPU
time (the request's thread and the helper a count may run on: searchsvc/engines/beside.py),
which a loaded machine disturbs far less than the clock.

    python -m benchmarks.app_latency --root DIR --db FILE --queries Q.ndjson

The database must be indexed (and its top-k index built) by the checkout measured:
`dialogsearch reindex`, then one `serve` start or `python -c "from indexer.topk_index
import build; ..."`; the engine that answered each search is counted.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


def _queries(path: Path) -> list[tuple[str, dict[str, str]]]:
    """(kind, query string) of each line of a gen_corpus.py query mix."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            kind = item.pop("kind", "?")
            found.append((kind, {key: str(value) for key, value in item.items()}))
    return found


def measure(root: Path, db: Path, queries: Path, rounds: int) -> dict[str, Any]:
    """Every figure of one checkout on one database."""
    from searchsvc.web.app import create_app

    app = create_app({"ROOT": str(root), "DB": str(db), "FALLBACK_PRELOAD": False})
    client = app.test_client()
    mix = _queries(queries)
    for _, params in mix:  # warm: caches, the top-k index's pages
        client.get("/api/dialog/search", query_string=params)
    runs: list[float] = []
    cpu: list[float] = []
    best: dict[int, float] = {}
    kinds: dict[str, list[float]] = defaultdict(list)
    engines: Counter[str] = Counter()
    for _ in range(rounds):
        for at, (kind, params) in enumerate(mix):
            started, started_cpu = time.perf_counter(), time.process_time()
            answer = client.get("/api/dialog/search", query_string=params).get_json()
            took = (time.perf_counter() - started) * 1000
            cpu.append((time.process_time() - started_cpu) * 1000)
            runs.append(took)
            kinds[kind].append(took)
            best[at] = min(best.get(at, took), took)
            engines[str(answer.get("engine"))] += 1
    runs.sort()
    cpu.sort()
    slowest = sorted(best.items(), key=lambda item: -item[1])[:5]
    return {
        "searches": len(runs),
        "p50_ms": _at(runs, 0.5),
        "p90_ms": _at(runs, 0.9),
        "p99_ms": _at(runs, 0.99),
        "mean_of_best_ms": round(sum(best.values()) / max(len(best), 1), 2),
        # The process's CPU time (tantivy and SQLite run on the request's thread and its
        # helper): what a search costs, apart from waiting for a core on a busy machine.
        "cpu_p50_ms": _at(cpu, 0.5),
        "cpu_p90_ms": _at(cpu, 0.9),
        "cpu_p99_ms": _at(cpu, 0.99),
        "cpu_mean_ms": round(sum(cpu) / max(len(cpu), 1), 2),
        "by_kind_p50_ms": {kind: _at(sorted(v), 0.5) for kind, v in sorted(kinds.items())},
        "slowest": [(mix[at][1], round(took, 2)) for at, took in slowest],
        "engines": dict(engines),
    }


def _at(ordered: list[float], share: float) -> float:
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))], 2) if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True, help="gen_corpus.py --queries")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    print(json.dumps(measure(options.root, options.db, options.queries, options.rounds), indent=1))


if __name__ == "__main__":
    main()
