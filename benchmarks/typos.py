"""What typo correction costs: vocabulary size and read time, and time per corrected query.

    python -m benchmarks.typos DB [--root DIALOGS] [--queries 500] [--synthetic 1000000]

On the database DB (its top-k index beside it, when there is one): reads the FTS5
vocabulary as the service does (DatabaseVocabulary), then makes `--queries` misspelled
words from its terms (one random edit; two for words of 9 letters or more) and times
`typos.correct` on each, and the whole search (the empty search, the correction, the
corrected search) against the search for the right word. With --root, the same for the
file index of DIALOGS, and whether it made the same corrections. With --synthetic N,
the candidate lookup among N made-up words spelled like the corpus's (the bound: how
the lookup grows with the vocabulary). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import string
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from indexer.topk_index import default_index_dir
from searchsvc.engines.repo_files import FileRepository
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.engines.repo_topk import TopkEngine
from searchsvc.engines.sqlite_vocabulary import DatabaseVocabulary
from searchsvc.query.fts_query import parse_user_query
from searchsvc.query.typos import MIN_LETTERS_ONE, MIN_LETTERS_TWO, TermBuckets, Vocabulary, correct
from searchsvc.repository import SearchQuery
from searchsvc.stack import SearchStack


def misspell(term: str, rng: random.Random) -> str:
    """`term` with one random edit (insert, delete, replace, swap), two from 9 letters."""
    word = term
    for _ in range(2 if len(term) >= MIN_LETTERS_TWO else 1):
        at = rng.randrange(len(word))
        letter = rng.choice(string.ascii_lowercase)
        edits = [
            word[:at] + letter + word[at:],
            word[:at] + word[at + 1 :],
            word[:at] + letter + word[at + 1 :],
        ]
        if at > 0:
            edits.append(word[: at - 1] + word[at] + word[at - 1] + word[at + 1 :])
        word = rng.choice(edits)
    return word


def quantiles(seconds: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(seconds)
    at = min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[at] * 1000, 3),
    }


def _terms(buckets: TermBuckets) -> list[str]:
    return sorted({t for terms, _ in buckets.heads.values() for t in terms if t.isascii()})


def typo_pairs(buckets: TermBuckets, count: int, rng: random.Random) -> list[tuple[str, str]]:
    """(misspelled, meant) pairs from the buckets' terms; the misspelling is no term itself."""
    terms = _terms(buckets)
    known = set(terms)
    words = [t for t in terms if len(t) >= MIN_LETTERS_ONE + 1]
    pairs: list[tuple[str, str]] = []
    while len(pairs) < count and words:
        meant = rng.choice(words)
        typed = misspell(meant, rng)
        if typed not in known and len(typed) >= MIN_LETTERS_ONE:
            pairs.append((typed, meant))
    return pairs


def time_corrections(
    vocabulary: Vocabulary, pairs: list[tuple[str, str]], repeat: int = 3
) -> dict[str, Any]:
    """Time typos.correct on each misspelled word (its best of `repeat`: the machine may be
    shared); how often it found the word it came from."""
    seconds, same, corrected, made = [], 0, 0, []
    for typed, meant in pairs:
        match, _ = parse_user_query(typed + " ")
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            correction = correct(match, vocabulary)
            best = min(best, time.perf_counter() - started)
        seconds.append(best)
        made.append(correction.corrected)
        corrected += bool(correction.corrected)
        same += correction.corrected.get(typed) == meant
    return {
        "queries": len(pairs),
        "corrected": corrected,
        "to_the_word_meant": same,
        **quantiles(seconds),
        "corrections": made,
    }


def time_searches(stack: SearchStack, words: list[str]) -> dict[str, Any]:
    """The whole search, as the API asks it (relevance, 20 hits, every facet)."""
    seconds, engines = [], set()
    for word in words:
        match, _ = parse_user_query(word + " ")
        query = SearchQuery(match=match, text=word, sort="relevance", facets=("speaker", "file"))
        started = time.perf_counter()
        page = stack.search(query)
        seconds.append(time.perf_counter() - started)
        engines.add(page.engine)
    return {"engines": sorted(engines), **quantiles(seconds)}


def database_figures(
    db: Path, pairs_wanted: int, rng: random.Random
) -> tuple[dict[str, Any], list[tuple[str, str]], list[str]]:
    """The FTS5 vocabulary: its read, then corrections and searches over the database's
    engines; and the (misspelled, meant) pairs it used, and the vocabulary's words."""
    sqlite = SqliteRepository(db)
    index_dir = default_index_dir(sqlite.db_path)
    topk = TopkEngine(sqlite, index_dir, background=False) if index_dir.exists() else None
    stack = SearchStack(database=sqlite, topk=topk)
    vocabulary = stack.vocabularies["database"]
    assert isinstance(vocabulary, DatabaseVocabulary)
    try:
        buckets = vocabulary.buckets()
        tracemalloc.start()  # what the buckets hold once the rows read are gone
        with sqlite.database.reading() as (conn, _):
            rows = conn.execute("SELECT term, doc FROM temp.lupo_vocabulary_rows").fetchall()
        kept, fts5_terms = TermBuckets(rows), len(rows)
        del rows
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del kept
        pairs = typo_pairs(buckets, pairs_wanted, rng)
        return (
            {
                "fts5_terms": fts5_terms,
                "kept_terms": buckets.size,
                "read_seconds": round(vocabulary.read_seconds or 0, 3),
                "buckets_mb": round(held / 2**20, 1),
                "correct": time_corrections(vocabulary, pairs),
                "search_misspelled": time_searches(stack, [typed for typed, _ in pairs]),
                "search_right_word": time_searches(stack, [meant for _, meant in pairs]),
            },
            pairs,
            sorted({meant for _, meant in pairs} | set(_terms(buckets))),
        )
    finally:
        stack.close()


def files_figures(root: Path, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The file index's vocabulary: the buckets' build (on first need), then corrections."""
    files = FileRepository(root)
    files.build_now()
    stack = SearchStack(files=files)
    started = time.perf_counter()
    files.vocabulary.near("warmup", 1)
    build = time.perf_counter() - started
    return {
        "bucket_build_seconds": round(build, 3),
        "correct": time_corrections(files.vocabulary, pairs),
        "search_misspelled": time_searches(stack, [typed for typed, _ in pairs]),
        "search_right_word": time_searches(stack, [meant for _, meant in pairs]),
    }


def pseudo_words(seeds: list[str], size: int, rng: random.Random) -> set[str]:
    """`size` distinct made-up words spelled like `seeds` (letter trigrams): English-like
    beginnings and endings, so the buckets are as uneven as a real vocabulary's."""
    following: dict[str, list[str]] = {}
    for seed in seeds:
        padded = "^^" + seed + "$"
        for at in range(2, len(padded)):
            following.setdefault(padded[at - 2 : at], []).append(padded[at])
    words: set[str] = set()
    for _ in range(size * 100):  # a small vocabulary may not spell `size` words
        if len(words) >= size:
            break
        word, last = "", "^^"
        while len(word) < 24:
            letter = rng.choice(following[last])
            if letter == "$":
                break
            word, last = word + letter, last[1] + letter
        if MIN_LETTERS_ONE - 1 <= len(word) <= 20:
            words.add(word)
    return words


def synthetic_figures(seeds: list[str], size: int, rng: random.Random) -> dict[str, Any]:
    """The candidate lookup among `size` made-up words spelled like the corpus's."""
    terms = pseudo_words(seeds, size, rng)
    started = time.perf_counter()
    buckets = TermBuckets((term, 1) for term in terms)
    build = time.perf_counter() - started
    chosen = rng.sample(sorted(t for t in terms if len(t) > MIN_LETTERS_ONE), 500)
    words = [misspell(term, rng) for term in chosen]
    largest = max(
        len(bucket[0])
        for buckets_ in (buckets.heads, buckets.tails)
        for bucket in buckets_.values()
    )
    figures: dict[str, Any] = {
        "terms": buckets.size,
        "build_seconds": round(build, 3),
        "largest_bucket": largest,
    }
    for distance in (1, 2):
        figures[f"near_distance_{distance}"] = _timed(
            lambda w, d=distance: buckets.near(w, d),  # type: ignore[misc]
            words,
        )
    return figures


def _timed(call: Callable[[str], object], words: list[str], repeat: int = 3) -> dict[str, float]:
    seconds = []
    for word in words:
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            call(word)
            best = min(best, time.perf_counter() - started)
        seconds.append(best)
    return quantiles(seconds)


def main(argv: list[str] | None = None) -> int:
    """Command line: print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--root", type=Path, help="also the file index of this dialogs root")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--synthetic", type=int, default=0, help="made-up terms for the bound")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    database, pairs, seeds = database_figures(args.db, args.queries, rng)
    result: dict[str, Any] = {"database": database}
    made = database["correct"].pop("corrections")
    if args.root is not None:
        result["files"] = files_figures(args.root, pairs)
        theirs = result["files"]["correct"].pop("corrections")
        result["files"]["same_corrections_as_the_database"] = sum(
            mine == other for mine, other in zip(made, theirs, strict=True)
        )
    if args.synthetic:
        result["synthetic"] = synthetic_figures(seeds, args.synthetic, rng)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
