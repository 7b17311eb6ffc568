"""The known-item queries of the quality benchmark that miss at 1, each with what ranked first.

    python -m benchmarks.quality_misses [--tree DIR | --size real] [--seed 13] [--known 300]
                                        [--shared] [--work DIR]

The same queries as `python -m benchmarks.quality` (benchmarks.quality_corpus.known_items,
seeded alike), asked of the app through the API; per miss: the words, where the entry
is and where its first hit is, the entry's rank in the top 10, how many places hold each
(the hit's `copies` + 1), and a class:

- `near-copy: other speaker field`: the first hit has the entry's message, said by other
  people (`KIRO` against `KIRO / CURSOR`);
- `near-copy: other title or body`: the entry's message and people, other words around it
  (a version number edited in the title, a line more in the body);
- `other entry`: another message holding the words;
- `text section`: a text section.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import quality_api as measure
from benchmarks.corpus import SHARED_CORPUS
from benchmarks.lupo_names import canonical
from benchmarks.lupo_tree import SHAPES, build_tree
from benchmarks.quality import index_tree, open_api
from benchmarks.quality_corpus import KnownItem, known_items, normalised, read_tree
from dialogfile.model import Entry


def classify(entry: Entry, hit: dict[str, Any]) -> str:
    """What the first hit is to the entry it should have been (see the module docstring)."""
    if hit.get("format") == "section":
        return "text section"
    if normalised(hit.get("message")) != normalised(entry.message):
        return "other entry"
    if canonical(hit.get("speaker") or "") != canonical(entry.speaker or ""):
        return "near-copy: other speaker field"
    return "near-copy: other title or body"


def misses(root: Path, db: Path, seed: int, count: int) -> tuple[list[dict[str, Any]], int]:
    """The misses at 1 of `count` known-item queries on `root` (indexed into `db`)."""
    index_tree(root, db)
    tree = read_tree(root)
    items = known_items(tree, random.Random(f"{seed}-known"), count)
    entries = {(e.dialog_file, e.line): e for e in tree.entries}
    api, stack = open_api(root, db)
    found: list[dict[str, Any]] = []
    try:
        api.detect("dialog")
        for item in items:
            hits = api.get(q=" ".join(item.words), per_page=10)["hits"]
            if hits and measure.score_known([item], [hits])["hit_at_1"]:
                continue
            found.append(_miss(item, entries[item.path, item.line], hits))
    finally:
        stack.close()
    return found, len(items)


def _miss(item: KnownItem, entry: Entry, hits: list[dict[str, Any]]) -> dict[str, Any]:
    ranks = [n for n, hit in enumerate(hits, 1) if measure.score_known([item], [[hit]])["hit_at_1"]]
    first = hits[0] if hits else {}
    return {
        "words": " ".join(item.words),
        "entry": f"{item.path}:{item.line}",
        "first": f"{first.get('dialog_file')}:{first.get('line')}",
        "rank": ranks[0] if ranks else None,
        "entry_places": hits[ranks[0] - 1].get("copies", 0) + 1 if ranks else None,
        "first_places": first.get("copies", 0) + 1,
        "class": classify(entry, first) if first else "no hit",
    }


def report(name: str, found: list[dict[str, Any]], queries: int) -> str:
    """A Markdown table of the misses and the count per class."""
    lines = [f"### {name}: {len(found)} misses at 1 of {queries} queries", ""]
    lines += ["| words | entry | first hit | entry's rank | places: entry / first | class |"]
    lines += ["|---|---|---|---|---|---|"]
    for miss in found:
        places = f"{miss['entry_places'] or '?'} / {miss['first_places']}"
        lines.append(
            f"| {miss['words']} | {miss['entry']} | {miss['first']} | {miss['rank'] or '> 10'} "
            f"| {places} | {miss['class']} |"
        )
    classes = Counter(miss["class"] for miss in found)
    more = sum(1 for m in found if m["entry_places"] and m["entry_places"] > m["first_places"])
    lines += ["", ", ".join(f"{name}: {n}" for name, n in classes.most_common())]
    lines.append(f"the entry held in more places than the first hit: {more}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Build (or take) the tree, list its misses (and the shared corpus's with --shared)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, help="measure this dialogs root (not built)")
    parser.add_argument("--size", choices=sorted(SHAPES), default="real")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--known", type=int, default=300)
    parser.add_argument("--shared", action="store_true", help="also ../shared/corpus/lupopedia")
    parser.add_argument("--work", type=Path, help="keep the tree and databases here")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dialogsearch-misses-") as scratch:
        work = options.work.resolve() if options.work else Path(scratch)
        root = options.tree.resolve() if options.tree else work / "tree"
        if not options.tree:
            build_tree(root, seed=options.seed, size=options.size)
        found, queries = misses(root, work / "tree.db", options.seed, options.known)
        print(report(f"tree (seed {options.seed})", found, queries))
        if options.shared:
            found, queries = misses(SHARED_CORPUS, work / "shared.db", options.seed, options.known)
            print(report("shared corpus", found, queries))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
