"""Find the dialog files below a root and read them: the parser's only I/O."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from indexer.parse import decode_dialog_bytes


@dataclass(frozen=True)
class SourceFile:
    """One dialog file as read from disk."""

    path: str
    text: str
    content_hash: str
    size_bytes: int
    mtime_ns: int


def _inside(real_root: str, candidate: str) -> bool:
    return candidate == real_root or candidate.startswith(real_root.rstrip(os.sep) + os.sep)


def find_dialog_files(root: Path) -> list[str]:
    """Sorted '/'-separated paths, relative to `root`, of every `*.md` file (any case) below it.

    Symbolic links are followed while they stay inside `root`; links that lead
    outside it, and directory loops, are skipped.
    """
    real_root = os.path.realpath(root)
    found: list[str] = []
    seen_dirs: set[str] = set()
    for directory, subdirectories, filenames in os.walk(root, followlinks=True):
        real_directory = os.path.realpath(directory)
        if not _inside(real_root, real_directory) or real_directory in seen_dirs:
            subdirectories[:] = []
            continue
        seen_dirs.add(real_directory)
        subdirectories.sort()
        for name in filenames:
            if not name.lower().endswith(".md"):
                continue
            full = os.path.join(directory, name)
            if not _inside(real_root, os.path.realpath(full)) or not os.path.isfile(full):
                continue
            found.append(Path(os.path.relpath(full, root)).as_posix())
    return sorted(found)


def read_source(root: Path, rel: str) -> SourceFile:
    """Read `rel` (as given by find_dialog_files) below `root`.

    :raise ValueError: if `rel` leads outside `root`.
    :raise OSError: if the file cannot be read.
    """
    full = Path(root, rel)
    if not _inside(os.path.realpath(root), os.path.realpath(full)):
        raise ValueError(f"{rel}: path leads outside the dialogs root {root}")
    with open(full, "rb") as handle:
        data = handle.read()
        mtime_ns = os.fstat(handle.fileno()).st_mtime_ns
    return SourceFile(
        path=rel,
        text=decode_dialog_bytes(data),
        content_hash=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        mtime_ns=mtime_ns,
    )
