"""The generated corpus the benchmark runs on, made once per (size, seed) and cached.

`../shared/tools/gen_corpus.py` writes the Markdown tree, the same entries as
NDJSON, and the query mix. A cache folder counts only once its `complete.json`
exists (written last, naming the generator's hash), so an interrupted or
outdated generation is made again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
GEN_CORPUS = PROJECT_ROOT.parent / "shared" / "tools" / "gen_corpus.py"
SHARED_CORPUS = PROJECT_ROOT.parent / "shared" / "corpus" / "lupopedia"


@dataclass(frozen=True)
class Corpus:
    """A generated corpus on disk and its sizes."""

    entries: int
    seed: int
    markdown: Path  # the dialogs root
    ndjson: Path
    queries: Path
    files: int
    markdown_bytes: int
    ndjson_bytes: int
    generated_seconds: float | None  # None when it came from the cache

    def to_dict(self) -> dict[str, object]:
        """JSON-ready description."""
        return {
            "entries": self.entries,
            "seed": self.seed,
            "path": str(self.markdown.parent),
            "files": self.files,
            "markdown_mb": round(self.markdown_bytes / 1e6, 2),
            "ndjson_mb": round(self.ndjson_bytes / 1e6, 2),
            "generated_seconds": (
                None if self.generated_seconds is None else round(self.generated_seconds, 1)
            ),
        }


def ensure_corpus(
    cache: Path, entries: int, seed: int, query_count: int, *, timeout: float = 3600
) -> Corpus:
    """The corpus for (entries, seed) under `cache`, generated when missing or outdated."""
    if not GEN_CORPUS.exists():
        raise RuntimeError(f"{GEN_CORPUS} is absent: the generator lives beside the project")
    folder = cache / f"corpus-{entries}-seed{seed}-q{query_count}"
    marker = folder / "complete.json"
    generator = hashlib.sha256(GEN_CORPUS.read_bytes()).hexdigest()
    generated_seconds: float | None = None
    if not _is_current(marker, generator):
        generated_seconds = _generate(folder, entries, seed, query_count, timeout)
        files, markdown_bytes = _tree_size(folder / "dialogs")
        marker.write_text(
            json.dumps(
                {
                    "entries": entries,
                    "seed": seed,
                    "queries": query_count,
                    "generator_sha256": generator,
                    "files": files,
                    "markdown_bytes": markdown_bytes,
                    "generated_seconds": generated_seconds,
                }
            )
        )
    info = json.loads(marker.read_text())
    return Corpus(
        entries=entries,
        seed=seed,
        markdown=folder / "dialogs",
        ndjson=folder / "entries.ndjson",
        queries=folder / "queries.ndjson",
        files=info["files"],
        markdown_bytes=info["markdown_bytes"],
        ndjson_bytes=(folder / "entries.ndjson").stat().st_size,
        generated_seconds=generated_seconds,
    )


def _is_current(marker: Path, generator: str) -> bool:
    try:
        return json.loads(marker.read_text()).get("generator_sha256") == generator
    except (OSError, ValueError):
        return False


def _generate(folder: Path, entries: int, seed: int, query_count: int, timeout: float) -> float:
    """Run the generator into a fresh `folder`; seconds taken."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    started = time.monotonic()
    gen = [sys.executable, str(GEN_CORPUS), "--seed", str(seed)]
    subprocess.run(
        [*gen, "-n", str(entries), "--out", "dialogs", "--ndjson", "entries.ndjson"],
        cwd=folder,
        check=True,
        timeout=timeout,
        capture_output=True,
    )
    subprocess.run(
        [*gen, "--queries", "queries.ndjson", "--count", str(query_count)],
        cwd=folder,
        check=True,
        timeout=timeout,
        capture_output=True,
    )
    return time.monotonic() - started


def _tree_size(root: Path) -> tuple[int, int]:
    """(number of .md files, their total bytes) below root."""
    sizes = [path.stat().st_size for path in root.rglob("*") if path.suffix.lower() == ".md"]
    return len(sizes), sum(sizes)


def read_tree(root: Path) -> int:
    """Read every file below `root` once (warms the page cache); bytes read."""
    total = 0
    for path in sorted(root.rglob("*")):
        if path.is_file():
            total += len(path.read_bytes())
    return total


def load_queries(path: Path) -> list[dict[str, str]]:
    """The query mix: {"kind", "q", "speaker"?} records in file order."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
