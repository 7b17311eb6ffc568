"""One checkout's answers to the hostile mix, in one process, with one engine answering.

benchmarks/hostile.py runs this file as a script with PYTHONPATH at the checkout measured,
so it imports nothing from benchmarks/ (that checkout may not have it) and nothing of the
product but `searchsvc.web.app.create_app`. The engine is forced by giving the app's
search stack only that engine (an engine that declines is then a 503, as when no engine
can answer): `topk`, `fts5` (the top-k index present, as when FTS5 answers while the index
is behind), `fts5-alone` (DIALOGSEARCH_TOPK=off: no index at all) or `files` (no database).

    PYTHONPATH=CHECKOUT python benchmarks/hostile_run.py --engine topk --db DB --root ROOT \\
        --mix mix.json --rounds 3     # prints one JSON object
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def app_for(engine: str, root: Path, db: Path) -> Any:
    """The app with its stack reduced to `engine` (ready to answer)."""
    from searchsvc.web.app import create_app

    if engine == "files":
        app = create_app({"ROOT": str(root), "FALLBACK_PRELOAD": False, "WATCH": "off"})
        app.extensions["dialogsearch"].files.build_now()
        return app
    topk = "off" if engine == "fts5-alone" else "auto"
    app = create_app({"DB": str(db), "TOPK": topk, "FALLBACK_PRELOAD": False})
    stack = app.extensions["dialogsearch"]
    deadline = time.monotonic() + 3600
    if stack.topk is not None:
        while not stack.health()["database"]["topk"]["ready"] and time.monotonic() < deadline:
            time.sleep(0.5)  # the index catches up in its own thread
    vocabulary = getattr(stack, "_database_vocabulary", None)
    if engine == "fts5-alone" and vocabulary is not None and hasattr(vocabulary, "term_stats"):
        while vocabulary.term_stats() is None and time.monotonic() < deadline:
            time.sleep(0.5)  # FTS5's term counts, read in the background at start-up
    only = stack.topk if engine == "topk" else stack.database
    stack.engines_now = lambda: [only]
    return app


def run(engine: str, root: Path, db: Path, mix: list[list[Any]], rounds: int) -> dict[str, Any]:
    """Every search of `mix` `rounds` times: per search its status, engine, flags and ms."""
    started = time.monotonic()
    app = app_for(engine, root, db)
    ready_seconds = time.monotonic() - started
    client = app.test_client()
    results: dict[str, dict[str, Any]] = {}
    for _ in range(rounds):
        for label, params in mix:
            began = time.perf_counter()
            response = client.get("/api/dialog/search", query_string=params)
            took = (time.perf_counter() - began) * 1000
            body = response.get_json(silent=True) or {}
            seen = results.setdefault(label, {"ms": [], "status": [], "answers": []})
            seen["ms"].append(round(took, 2))
            seen["status"].append(response.status_code)
            seen["answers"].append(summary(body))
    stack = app.extensions["dialogsearch"]
    stack.close()
    return {"engine": engine, "ready_seconds": round(ready_seconds, 1), "results": results}


def summary(body: dict[str, Any]) -> dict[str, Any]:
    """What the benchmark counts of one answer."""
    if body.get("ok") is False:
        return {"reason": body.get("reason"), "error": str(body.get("error"))[:200]}
    return {
        "engine": body.get("engine"),
        "total": body.get("total"),
        "total_exact": body.get("total_exact"),
        "facets_exact": body.get("facets_exact"),
        "partial": bool(body.get("partial")),
        "cuts": [cut.get("kind") for cut in (body.get("partial") or {}).get("cuts", [])],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", required=True)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--mix", type=Path, required=True, help="JSON: [[label, params], ...]")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    mix = json.loads(options.mix.read_text())
    print(json.dumps(run(options.engine, options.root, options.db, mix, options.rounds)))


if __name__ == "__main__":
    main()
