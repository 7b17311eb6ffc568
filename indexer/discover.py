"""Find the dialog files below a root and read them: the parser's only I/O."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from dialogfile.parse import decode_dialog_bytes


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
    outside it, and directory loops, are skipped. Only links are resolved
    (realpath): an entry that is not a link is inside when its directory is.
    """
    real_root = os.path.realpath(root)
    found: list[str] = []
    seen_dirs: set[tuple[int, int]] = set()

    def walk(directory: str, prefix: str) -> None:
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
            info = os.stat(directory)
        except OSError:
            return
        if (info.st_dev, info.st_ino) in seen_dirs:
            return
        seen_dirs.add((info.st_dev, info.st_ino))
        subdirectories = []
        for entry in entries:
            try:
                if entry.is_symlink() and not _inside(real_root, os.path.realpath(entry.path)):
                    continue
                if entry.is_dir():
                    subdirectories.append(entry)
                elif entry.name.lower().endswith(".md") and entry.is_file():
                    found.append(prefix + entry.name)
            except OSError:
                continue
        for entry in subdirectories:
            walk(entry.path, f"{prefix}{entry.name}/")

    walk(os.fspath(root), "")
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
