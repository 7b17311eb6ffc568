"""A test tree shaped like the whole Lupopedia repository, built outside the project.

The real repository (not available to us) has 1,751 Markdown files: 3,072 dialog entries
and 40,002 text sections (93% of rows are sections); 682 files exist twice (`docs/...` and
`lupopedia/docs/...`, identical text); front matter heads most files; 140 moods are written
as `{RR}|GG|[[BB]]`; speakers and targets are spelled several ways. The tree is made of:

- `dialogs/...`: every file of ../shared/corpus/lupopedia (real dialog files, GPL: copied
  only into the tree, never into the project), some entries respelled
  (benchmarks.lupo_respell);
- `docs/dialogsearch/...`: this project's own docs and README, headed by front matter;
- `docs/<area>/...` and a few other folders: generated documentation (benchmarks.lupo_prose);
- `lupopedia/docs/...`: identical copies of a share of the `docs/` files.

Deterministic for a seed. `small` (the default) builds and indexes in seconds; `real` is
the real repository's shape.

    python -m benchmarks.lupo_tree OUT [--size tiny|small|real] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.corpus import PROJECT_ROOT, SHARED_CORPUS
from benchmarks.lupo_names import canonical, is_lupo_mood, people
from benchmarks.lupo_prose import prose_doc, with_front_matter
from benchmarks.lupo_respell import DIALOG_FORMATS, Rates, respell_file
from dialogfile.model import Entry
from dialogfile.parse import parse_file
from indexer.discover import find_dialog_files, read_source

AREAS = ("core", "doctrine", "agents", "channels", "migrations", "protocols", "appendix")
ELSEWHERE = ("modules", "database/notes", "lupo-includes/docs")
MANIFEST = "lupo_tree.json"


@dataclass(frozen=True)
class Shape:
    """How big a tree: generated docs, the share of docs copied, sections per generated doc."""

    name: str
    prose_docs: int
    copied: float  # share of the unique documentation files also under lupopedia/docs/
    sections: int  # mean sections per generated doc (uniform in [sections/3, 5*sections/3])


SHAPES = {
    "tiny": Shape("tiny", prose_docs=16, copied=0.4, sections=8),
    "small": Shape("small", prose_docs=215, copied=0.4, sections=26),
    # 88 dialog files + 8 project docs + 973 generated + 682 copies = 1,751 files.
    "real": Shape("real", prose_docs=973, copied=682 / 981, sections=23),
}


@dataclass(frozen=True)
class TreeSummary:
    """What the parser finds in a tree (the product's parser: the ground truth)."""

    files: int
    entries: int
    sections: int
    section_share: float
    copied_files: int
    files_with_front_matter: int
    lupo_moods: int
    speakers_with_spellings: dict[str, list[str]]
    targets_with_spellings: dict[str, list[str]]
    several_people_fields: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return asdict(self)


def build_tree(out: Path, *, seed: int = 13, size: str = "small") -> TreeSummary:
    """Write the tree into `out` (absent or empty, outside the project); its summary."""
    shape = SHAPES[size]
    out = out.resolve()
    if out == PROJECT_ROOT or PROJECT_ROOT in out.parents:
        raise ValueError(f"{out} is inside the project: the tree holds GPL text, build it outside")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty")
    if not SHARED_CORPUS.exists():
        raise RuntimeError(f"{SHARED_CORPUS} is absent: the real dialog files live in ../shared")
    rng = random.Random(seed)
    _copy_dialogs(out, rng)
    docs = _project_docs(rng) + _prose_docs(rng, shape)
    for rel, text in docs:
        _write(out / rel, text)
    under_docs = [rel for rel, _ in docs if rel.startswith("docs/")]
    copies = rng.sample(under_docs, min(len(under_docs), round(shape.copied * len(docs))))
    for rel in sorted(copies):
        _write(out / "lupopedia" / rel, (out / rel).read_text(encoding="utf-8"))
    summary = summarize(out, parse_tree(out))
    manifest = {"seed": seed, "size": size, "shape": asdict(shape), **summary.to_dict()}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return summary


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def _copy_dialogs(out: Path, rng: random.Random) -> Counter:
    """Every real dialog file, some of its entries respelled; what was changed."""
    changed: Counter = Counter()
    for rel in find_dialog_files(SHARED_CORPUS):
        source = read_source(SHARED_CORPUS, rel)
        text, counts = respell_file(source.text, rel, rng, Rates())
        changed.update(counts)
        _write(out / rel, text)
    return changed


def _project_docs(rng: random.Random) -> list[tuple[str, str]]:
    """This project's docs/*.md and README.md under docs/dialogsearch/, with front matter."""
    paths = [*sorted((PROJECT_ROOT / "docs").glob("*.md")), PROJECT_ROOT / "README.md"]
    return [
        (f"docs/dialogsearch/{p.name}", with_front_matter(rng, p.name, p.read_text("utf-8")))
        for p in paths
        if p.exists()
    ]


def _prose_docs(rng: random.Random, shape: Shape) -> list[tuple[str, str]]:
    """`shape.prose_docs` generated documentation files, most under docs/<area>/."""
    from benchmarks.lupo_prose import generator

    vocab = generator()[1].vocab
    docs = []
    for number in range(shape.prose_docs):
        stem = "_".join(w.upper() for w in rng.sample(vocab[50:2000], rng.randint(1, 3)))
        name = f"{stem}_{number:04d}.md"
        folder = rng.choice(ELSEWHERE) if rng.random() < 0.12 else f"docs/{rng.choice(AREAS)}"
        low, high = max(1, shape.sections // 3), shape.sections * 5 // 3
        docs.append((f"{folder}/{name}", prose_doc(rng, name, rng.randint(low, high))))
    return docs


def parse_tree(root: Path) -> list[Entry]:
    """Every record the product's parser finds below `root` (entries and sections)."""
    records: list[Entry] = []
    for rel in find_dialog_files(root):
        records.extend(parse_file(read_source(root, rel).text, rel).entries)
    return records


def summarize(root: Path, records: list[Entry]) -> TreeSummary:
    """The shape of the tree at `root`, whose parsed records are `records`."""
    files = find_dialog_files(root)
    entries = [r for r in records if r.format in DIALOG_FORMATS]
    sections = len(records) - len(entries)
    return TreeSummary(
        files=len(files),
        entries=len(entries),
        sections=sections,
        section_share=round(sections / max(len(records), 1), 3),
        copied_files=sum(1 for f in files if f.startswith("lupopedia/docs/")),
        files_with_front_matter=sum(1 for f in files if _has_front_matter(root / f)),
        lupo_moods=sum(1 for r in entries if is_lupo_mood(r.mood_raw)),
        speakers_with_spellings=spellings(r.speaker for r in entries),
        targets_with_spellings=spellings(
            word for r in entries for word in (r.target or "").split()
        ),
        several_people_fields=sum(1 for r in entries if len(people(r.speaker)) > 1),
    )


def spellings(names: object) -> dict[str, list[str]]:
    """Canonical name -> its spellings, for the names written more than one way."""
    seen: dict[str, set[str]] = {}
    for name in names:  # type: ignore[attr-defined]
        if name:
            seen.setdefault(canonical(name), set()).add(name)
    return {key: sorted(found) for key, found in sorted(seen.items()) if len(found) > 1}


def _has_front_matter(path: Path) -> bool:
    lines = path.read_text(encoding="utf-8", errors="replace").lstrip("\ufeff").split("\n")
    return (
        bool(lines)
        and lines[0].rstrip() == "---"
        and any(line.rstrip() == "---" for line in lines[1:])
    )


def main(argv: list[str] | None = None) -> int:
    """Build a tree and print its summary (JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write (absent or empty)")
    parser.add_argument("--size", choices=sorted(SHAPES), default="small")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--force", action="store_true", help="replace a tree built before")
    args = parser.parse_args(argv)
    if args.force and (args.out / MANIFEST).exists():
        shutil.rmtree(args.out)
    try:
        summary = build_tree(args.out, seed=args.seed, size=args.size)
    except (ValueError, RuntimeError) as error:
        print(f"lupo_tree: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary.to_dict(), indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
