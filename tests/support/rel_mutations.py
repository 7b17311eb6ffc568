"""Mutations of real dialog files for the parser fuzzers (hypothesis and atheris)."""

from __future__ import annotations

import random
from pathlib import Path

from support.rel_server import REPO_ROOT

SHARED_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "lupopedia"
MARKERS = (
    b"---",
    b"**Speaker:** X",
    b"**Message:**",
    b"# Dialog begin",
    b"# Dialog end",
    b"```",
    b"~~~",
    b"DIALOG:",
    b"dialog:",
    b"  - speaker: Y",
    b'  message: "open',
    b"  message: |",
    b"## 2026-01-16 \xe2\x80\x94 H",
    b"\xef\xbb\xbf",
    b"\r",
    b"\x00",
)
KINDS = ("flip", "truncate", "duplicate_marker", "insert_marker", "giant_line", "splice")


def corpus_files() -> list[Path]:
    """The shared corpus's dialog files (empty when it is absent), sorted."""
    return sorted(SHARED_CORPUS.rglob("*.md")) if SHARED_CORPUS.exists() else []


def mutate(data: bytes, kind: str, rng: random.Random, other: bytes = b"") -> bytes:
    """One mutation of `data` (a dialog file's bytes)."""
    if not data:
        return rng.choice(MARKERS)
    if kind == "flip":
        buffer = bytearray(data)
        for _ in range(rng.randint(1, 16)):
            buffer[rng.randrange(len(buffer))] ^= 1 << rng.randrange(8)
        return bytes(buffer)
    if kind == "truncate":
        return data[: rng.randrange(len(data))]
    lines = data.split(b"\n")
    at = rng.randrange(len(lines) + 1)
    if kind == "duplicate_marker":
        marked = [line for line in lines if line.lstrip().startswith((b"---", b"**", b"#", b"`"))]
        chosen = rng.choice(marked) if marked else rng.choice(MARKERS)
        lines[at:at] = [chosen] * rng.randint(1, 50)
    elif kind == "insert_marker":
        lines.insert(at, rng.choice(MARKERS))
    elif kind == "giant_line":
        piece = rng.choice((b"x", b"**", b"- ", b":", b'"', b"\\", b"`", b"ab cd "))
        lines.insert(at, piece * (rng.randint(10_000, 200_000) // len(piece)))
    elif kind == "splice" and other:
        other_lines = other.split(b"\n")
        start = rng.randrange(len(other_lines))
        lines[at:at] = other_lines[start : start + rng.randint(1, 40)]
    return b"\n".join(lines)
