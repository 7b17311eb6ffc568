"""What the FTS5 path gives up without prefix indexes (sql/0008): the same rows, both ways.

    python -m benchmarks.fts_prefix --db DB --queries queries.ndjson [--per-kind 50]

DB is a database of our schema (a benchmark run's `ours/dialogs.db`). A copy beside it,
`<db stem>-prefix.db`, gets its FTS5 table made again with `prefix = '2 3'` (once; it is
reused). Then `SqliteRepository.search` (the FTS5 path, with the speaker facet) answers
each query on both databases in turn, timed around the call; prints a Markdown table of
p50 / p95 / max ms per kind, and the size of both FTS5 indexes.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path

from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.query.fts_query import parse_user_query
from searchsvc.repository import SearchQuery

FTS = "lupo_dialog_entries_fts"
OUR_TOKENIZER = "tokenize = 'unicode61 remove_diacritics 2'"


def with_prefix_indexes(db: Path) -> Path:
    """A copy of `db` whose FTS5 table has prefix indexes 2 and 3 (made once)."""
    copy = db.with_name(f"{db.stem}-prefix.db")
    if copy.exists():
        return copy
    partial = copy.with_name(copy.name + ".partial")
    shutil.copyfile(db, partial)
    conn = sqlite3.connect(partial, isolation_level=None)
    try:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (FTS,)).fetchone()
        conn.execute("BEGIN")
        conn.execute(f"DROP TABLE {FTS}")  # its triggers live on the entry table and stay
        conn.execute(sql.replace(OUR_TOKENIZER, f"{OUR_TOKENIZER},\n    prefix = '2 3'"))
        conn.execute(f"INSERT INTO {FTS} ({FTS}, rank) VALUES ('hashsize', 16777216)")
        conn.execute(f"INSERT INTO {FTS} ({FTS}) VALUES ('rebuild')")
        conn.execute(f"INSERT INTO {FTS} ({FTS}, rank) VALUES ('hashsize', 1048576)")
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    partial.rename(copy)
    return copy


def query_kinds(mix: list[dict[str, str]], per_kind: int) -> dict[str, list[str]]:
    """The queries of each kind: the mix's prefixes, its words cut to 2 and 3 letters, whole."""
    rng = random.Random(7)
    words = [query["q"].strip() for query in mix if query["kind"] == "term"]

    def sample(cut: int | None) -> list[str]:
        chosen = rng.sample(words, min(per_kind, len(words)))
        return [word[:cut] for word in chosen if cut is None or len(word) >= cut]

    return {
        "`pre*`, 3 to 6 letters (the benchmark's `prefix` kind)": [
            query["q"] for query in mix if query["kind"] == "prefix"
        ][:per_kind],
        "as you type, 2 letters (`wo`)": sample(2),
        "as you type, 3 letters (`wor`)": sample(3),
        "as you type, a whole word (`word`)": sample(None),
        "a completed word (`word `)": [f"{word} " for word in sample(None)],
    }


def search_ms(repo: SqliteRepository, text: str) -> float:
    """One search with the speaker facet, in milliseconds."""
    match, filters = parse_user_query(text)
    query = SearchQuery(
        match=match, text=text, filters=filters, sort="relevance", facets=("speaker",)
    )
    started = time.perf_counter()
    repo.search(query)
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True, help="the generator's mix")
    parser.add_argument("--per-kind", type=int, default=50)
    args = parser.parse_args(argv)
    with open(args.queries, encoding="utf-8") as handle:
        mix = [json.loads(line) for line in handle if line.strip()]
    databases = {"no prefix index": args.db, "`prefix = '2 3'`": with_prefix_indexes(args.db)}
    repos = {
        name: SqliteRepository(path, time_limit_ms=60_000, cache_size=8)
        for name, path in databases.items()
    }
    kinds = query_kinds(mix, args.per_kind)
    for repo in repos.values():  # the page cache warm for both
        for text in kinds["a completed word (`word `)"][:20]:
            search_ms(repo, text)
    print(f"| kind | {' | '.join(f'{name}: p50 / p95 / max ms' for name in repos)} |")
    print(f"|---|{'---|' * len(repos)}")
    for kind, texts in kinds.items():
        times: dict[str, list[float]] = {name: [] for name in repos}
        for text in texts:
            for name, repo in repos.items():
                times[name].append(search_ms(repo, text))
        cells = []
        for name in repos:
            ordered = sorted(times[name])
            p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
            cells.append(f"{statistics.median(ordered):,.0f} / {p95:,.0f} / {ordered[-1]:,.0f}")
        print(f"| {kind} ({len(texts)}) | {' | '.join(cells)} |", flush=True)
    for name, path in databases.items():
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        (size,) = conn.execute(f"SELECT sum(length(block)) FROM {FTS}_data").fetchone()
        conn.close()
        print(f"{name}: FTS5 data {size / 1e6:,.0f} MB")
    for repo in repos.values():
        repo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
