"""What the copy weight costs the top-k index: each search's page with and without it.

    python -m benchmarks.copy_weight_cost --db X.db --queries Q.ndjson [--rounds 5]

The index beside `--db` (`X.db.topk`, built by the checkout that has COPY_WEIGHT); each
search of a gen_corpus.py query mix is compiled as the API compiles it (default scope and
folding), then its page is found by `Searcher.search` with `weight_by_field` and without,
one right after the other, `--rounds` times; the figures are the calling thread's CPU
time (a loaded machine disturbs it far less than the clock), best of the rounds per
search, then percentiles over the searches. `count=False` is the API's default path (the
scope and copy counts give the total), `count=True` the path of a search with no folding.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from werkzeug.datastructures import MultiDict

from indexer.topk_index import open_index, read_state
from indexer.topk_schema import COPY_WEIGHT
from searchsvc.engines.topk_query import Terms, Untranslatable, compile_search
from searchsvc.query.parameters import search_query
from searchsvc.query.plan import engine_query


def _best(searcher: Any, query: Any, options: dict[str, Any], rounds: int) -> float:
    """The least CPU time (ms) of `rounds` searches of `query` with `options`."""
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time()
        searcher.search(query, **options)
        best = min(best, time.thread_time() - started)
    return best * 1000


def measure(db: Path, queries: Path, rounds: int) -> dict[str, Any]:
    """Per count mode: p50/p90/p99/mean CPU ms of the page with and without the weight."""
    index_dir = db.with_name(db.name + ".topk")
    state = read_state(index_dir)
    if state is None:
        raise SystemExit(f"{index_dir}: no top-k index (start `serve` once, or reindex)")
    index = open_index(index_dir, state)
    searcher, schema = index.searcher(), index.schema
    times: dict[str, list[float]] = {}
    for line in queries.read_text(encoding="utf-8").splitlines():
        params = {k: str(v) for k, v in json.loads(line).items() if k != "kind"}
        query = engine_query(search_query(MultiDict(params), max_query_chars=1000), None)
        if query.match is None or query.match.include is None:
            continue
        try:
            compiled = compile_search(
                schema, query.match, query.filters, (), known_moods=[], terms=Terms(searcher)
            )
        except Untranslatable:
            continue
        for count in (False, True):
            for weight in (None, COPY_WEIGHT):
                options = {"limit": query.per_page, "count": count, "weight_by_field": weight}
                took = _best(searcher, compiled.query, options, rounds)
                key = f"count={count} {'weighted' if weight else 'plain'}"
                times.setdefault(key, []).append(took)
    return {key: _summary(values) for key, values in sorted(times.items())}


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))], 3)

    mean = round(sum(ordered) / len(ordered), 3)
    return {"searches": len(ordered), "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "mean": mean}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True, help="gen_corpus.py --queries")
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    print(json.dumps(measure(options.db, options.queries, options.rounds), indent=1))


if __name__ == "__main__":
    main()
