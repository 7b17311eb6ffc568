"""What the top-k engine's delta costs a search (docs/benchmarks.md, session 9).

In one process, over a copy of a reindexed database and its top-k index (the copy is
changed): the search mix through the app (Flask's test client) with the index caught
up, then with `--changes` entries changed behind it (no copies among them, as API
writes make them, so the delta answers), then caught up again; and the main index's
search of a few words alone, as it is and with a delta's mask as a MustNot clause.

    python -m benchmarks.delta_cost --root DIR --db FILE --queries Q.ndjson --work DIR

The engine's answer caches are keyed by the index state: "caught up" repeats the
warm-up's state (some answers cached), while "changes behind" and "caught up again" each
start cold; compare those two. Figures are wall ms in this process; compare the ratios.
It imports nothing from the engine but the app, so it runs on an older checkout too
(PYTHONPATH), for a before and after.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import tantivy

from benchmarks.queries import our_path
from indexer.topk_index import catch_up, open_index, read_state
from indexer.topk_schema import SIDE_FIELDS
from searchsvc.web.app import create_app

WORDS = ("system", "the", "believe", "resistance")
CHANGED = (
    "SELECT dialog_entry_id FROM lupo_dialog_entries WHERE format <> 'section' "
    "AND coalesce(copy_count, 1) <= 1 ORDER BY random() LIMIT ?"
)


def _copy(db: Path, work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    copy = work / "dialogs.db"
    shutil.copy2(db, copy)
    shutil.rmtree(f"{copy}.topk", ignore_errors=True)
    shutil.copytree(f"{db}.topk", f"{copy}.topk")
    return copy


def _mix(client: Any, paths: list[str]) -> dict[str, Any]:
    engines: dict[str, int] = {}
    started = time.perf_counter()
    for path in paths:
        engine = client.get(path).get_json().get("engine")
        engines[engine] = engines.get(engine, 0) + 1
    return {"ms": round((time.perf_counter() - started) * 1000, 1), "engines": engines}


def _masked_searches(db: Path, changes: int) -> dict[str, Any]:
    """The main index's search of each word: as it is, with the mask as MustNot."""
    folder = Path(f"{db}.topk")
    index = open_index(folder, read_state(folder))  # type: ignore[arg-type]
    searcher, fields = index.searcher(), list(next(iter(SIDE_FIELDS.values())))
    with closing(sqlite3.connect(db)) as conn:
        ids = [row[0] for row in conn.execute(CHANGED, (changes,))]
    masks = {
        "term_set": tantivy.Query.term_set_query(index.schema, "id", ids),
        "terms": tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(index.schema, "id", i)) for i in ids]
        ),
    }

    def best_ms(query: Any) -> float:
        times = []
        for _ in range(20):
            started = time.perf_counter()
            searcher.search(query, limit=20, count=True)
            times.append(time.perf_counter() - started)
        return round(min(times) * 1000, 2)

    found = {}
    for word in WORDS:
        query = index.parse_query(word, fields)
        row = {
            "matches": searcher.search(query, limit=1, count=True).count,
            "plain": best_ms(query),
        }
        for name, mask in masks.items():
            masked = [(tantivy.Occur.Must, query), (tantivy.Occur.MustNot, mask)]
            row[f"mustnot_{name}"] = best_ms(tantivy.Query.boolean_query(masked))
        found[word] = row
    return found


def measure(root: Path, db: Path, queries: Path, work: Path, changes: int) -> dict[str, Any]:
    db = _copy(db, work)
    catch_up(db, Path(f"{db}.topk"), prune=False)
    mix = [json.loads(line) for line in queries.read_text("utf-8").splitlines() if line.strip()]
    random.Random(3).shuffle(mix)
    paths = [our_path(item, item["kind"]) for item in mix[:300]]
    settings = {"ROOT": str(root), "DB": str(db), "WATCH": "off", "FALLBACK_PRELOAD": False}
    app = create_app({**settings, "TOPK_SYNC_SECONDS": 3600, "TOPK_CATCH_UP_SECONDS": 3600})
    client, stack = app.test_client(), app.extensions["dialogsearch"]
    try:
        while not stack.health()["database"]["topk"]["ready"]:
            time.sleep(0.2)
        result: dict[str, Any] = {"searches": len(paths), "warm-up": _mix(client, paths)}
        result["caught up"] = _mix(client, paths)
        with closing(sqlite3.connect(db)) as conn, conn:
            ids = [row[0] for row in conn.execute(CHANGED, (changes,))]
            update = (
                "UPDATE lupo_dialog_entries SET message = message || ' x' WHERE dialog_entry_id = ?"
            )
            conn.executemany(update, [(i,) for i in ids])
        result[f"{changes} changes behind"] = _mix(client, paths)
        stack.topk.sync_now()
        result["caught up again"] = _mix(client, paths)
    finally:
        stack.close()
    result["main index alone, best of 20, ms"] = _masked_searches(db, changes)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="for the changed copy")
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args(argv)
    result = measure(args.root, args.db, args.queries, args.work, args.changes)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
