"""Dialog files on disk: read as the indexer reads them, written atomically, debris removed.

`read_dialog_file` / `write_dialog_file` do the I/O of the write-back (dialogfile/writer.py
plans the new text): UTF-8 (a BOM kept when the file had one), written to a temporary
file in the same folder, fsynced, renamed over the original, then the folder fsynced.
`remove_stale_temp_files` deletes the temporary files a killed write left behind.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path

from dialogfile.parse import decode_dialog_bytes

BOM = "\ufeff"
#: write_dialog_file's temporary files: mkstemp(prefix=".<name>.", suffix=".tmp") adds 8
#: characters of [a-z0-9_]. Nothing else is ever matched (and *.tmp is never indexed).
TEMP_NAME = re.compile(r"\.(?P<name>.+\.md)\.[a-z0-9_]{8}\.tmp", re.IGNORECASE)


def read_dialog_file(path: Path) -> tuple[str, bool]:
    """(text, had a BOM) of a dialog file, decoded as the indexer decodes it."""
    data = path.read_bytes()
    return decode_dialog_bytes(data), data.startswith(BOM.encode("utf-8"))


def write_dialog_file(path: Path, text: str, *, bom: bool = False) -> None:
    """Replace `path` with `text` atomically: temp file, fsync, rename, fsync the folder.

    Raises OSError (nothing changed at `path`) or UnicodeEncodeError.
    """
    data = ((BOM if bom else "") + text).encode("utf-8")
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as temp_file:
            temp_file.write(data)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def remove_stale_temp_files(root: Path, before: float) -> list[str]:
    """Delete write_dialog_file's temporary files below `root` last modified before `before`.

    They are what a write killed between its temp file and the rename leaves behind.
    Only regular files named exactly like ours (TEMP_NAME) go; symbolic links are never
    followed nor removed, and a file that cannot be removed is left alone. Returns the
    removed files' paths relative to `root`. The caller holds the write lock, so no
    write of ours is in flight.
    """
    removed: list[str] = []
    for folder, _, names in os.walk(root, followlinks=False):
        for name in names:
            if TEMP_NAME.fullmatch(name) is None:
                continue
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
                if not stat.S_ISREG(info.st_mode) or info.st_mtime >= before:
                    continue
                os.unlink(path)
            except OSError:
                continue
            removed.append(os.path.relpath(path, root).replace(os.sep, "/"))
    return sorted(removed)
