"""Search quality as people meet it (issue 13): five measurements through the real API.

    python -m benchmarks.quality [--tree DIR | --build [--size small|real|tiny]] [--seed N]
                                 [--json]

On a Lupopedia-shaped test tree (benchmarks.lupo_tree, built into a temporary folder
unless --tree names one) and on ../shared/corpus/lupopedia: each is indexed by the
product's own command (`dialogsearch reindex`), served by the app (searchsvc.web.app,
through Flask's test client) and measured through `GET /api/dialog/search`, beside a plain
FTS5 table of the same parsed dialog entries (benchmarks.quality_baseline). Prints the
Markdown table of the issue (or everything as JSON with --json).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import quality_api as measure
from benchmarks.corpus import PROJECT_ROOT, SHARED_CORPUS
from benchmarks.lupo_tree import SHAPES, build_tree, summarize
from benchmarks.quality_baseline import Baseline, baseline_known_item, baseline_pages
from benchmarks.quality_corpus import (
    TreeText,
    common_words,
    known_items,
    phrases,
    read_tree,
    spellings_truth,
)
from benchmarks.quality_report import markdown_table

#: The spellings of issue 13's speaker check: each must find every spelling's entries.
SPEAKER_CHECKS = ("cursor", "Captain Wolfie")


def index_tree(root: Path, db: Path) -> dict[str, Any]:
    """`dialogsearch reindex --root ROOT --db DB --json` in a child process; its summary."""
    db.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "searchsvc.cli", "reindex", "--root", str(root), "--db", str(db)]
        + ["--json"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"reindex of {root} failed: {done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    return {
        "seconds": round(time.monotonic() - started, 2),
        "entries_parsed": summary.get("entries_parsed"),
        "problems": len(summary.get("problems", [])),
        "topk": (summary.get("topk") or {}).get("action"),
    }


def open_api(root: Path, db: Path) -> tuple[measure.Api, Any]:
    """The app over root + db (its real search stack) and the stack, to close afterwards."""
    from searchsvc.web.app import create_app

    app = create_app({"ROOT": str(root), "DB": str(db), "TESTING": True, "FALLBACK_PRELOAD": False})
    return measure.Api(app.test_client()), app.extensions["dialogsearch"]


def measure_tree(root: Path, db: Path, options: argparse.Namespace) -> dict[str, Any]:
    """Index `root`, then every measurement through the API and of the baseline."""
    result: dict[str, Any] = {"root": str(root), "index": index_tree(root, db)}
    started = time.monotonic()
    tree = read_tree(root)
    result["tree"] = summarize(root, tree.records).to_dict()
    items = known_items(tree, random.Random(f"{options.seed}-known"), options.known)
    words = common_words(tree, random.Random(f"{options.seed}-common"), options.words)
    lines = phrases(tree, random.Random(f"{options.seed}-phrases"), options.phrases)
    api, stack = open_api(root, db)
    try:
        result["api_features"] = api.detect(words[0] if words else "dialog")
        result["now"] = _through_api(api, tree, items, words, lines)
        result["engines"] = dict(api.engines)
    finally:
        stack.close()
    base = Baseline(tree)
    try:
        result["baseline"] = {
            "known_item": baseline_known_item(base, items),
            "pages": baseline_pages(base, words, measure.PER_PAGE),
        }
    finally:
        base.close()
    result["common_words"] = words
    result["measure_seconds"] = round(time.monotonic() - started, 2)
    return result


def _through_api(
    api: measure.Api,
    tree: TreeText,
    items: list[Any],
    words: list[str],
    lines: list[Any],
) -> dict[str, Any]:
    speakers = {
        spelling: {
            "found": measure.speaker_filter(api, spelling),
            **spellings_truth(tree, spelling),
        }
        for spelling in SPEAKER_CHECKS
    }
    return {
        "known_item": measure.known_item(api, items),
        "pages": measure.page_shares(measure.first_pages(api, words)),
        "phrases": measure.phrases_found(api, lines),
        "speaker_facet": measure.speaker_facet(api),
        "speaker_filter": speakers,
    }


def run(options: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Build (or take) the tree, measure it and the shared corpus."""
    report: dict[str, Any] = {"seed": options.seed, "runs": {}}
    started = time.monotonic()
    if options.tree:
        tree_root, report["tree_source"] = options.tree.resolve(), "given"
    else:
        tree_root = work / "tree"
        build_started = time.monotonic()
        build_tree(tree_root, seed=options.seed, size=options.size)
        report["tree_source"] = f"built ({options.size}, seed {options.seed})"
        report["build_seconds"] = round(time.monotonic() - build_started, 2)
    _log(options, f"tree: {tree_root}")
    report["runs"]["tree"] = measure_tree(tree_root, work / "tree.db", options)
    if options.shared and options.shared.exists():
        _log(options, f"shared corpus: {options.shared}")
        report["runs"]["lupopedia"] = measure_tree(options.shared, work / "shared.db", options)
    elif options.shared:
        report["shared_absent"] = str(options.shared)
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def _log(options: argparse.Namespace, text: str) -> None:
    if not options.json:
        print(text, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--tree", type=Path, help="measure this dialogs root (not built)")
    source.add_argument("--build", action="store_true", help="build the tree (the default)")
    parser.add_argument("--size", choices=sorted(SHAPES), default="small")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--known", type=int, default=300, help="known-item queries")
    parser.add_argument("--words", type=int, default=50, help="common-word queries")
    parser.add_argument("--phrases", type=int, default=200, help="phrase queries")
    parser.add_argument("--shared", type=Path, default=SHARED_CORPUS, help="real corpus root")
    parser.add_argument("--no-shared", dest="shared", action="store_const", const=None)
    parser.add_argument("--work", type=Path, help="keep the tree and databases here")
    parser.add_argument("--json", action="store_true", help="print everything as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run and print the table (or the JSON)."""
    options = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dialogsearch-quality-") as scratch:
        work = options.work.resolve() if options.work else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        report = run(options, work)
    if options.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
    else:
        print(markdown_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
