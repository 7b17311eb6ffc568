"""The database file's first bytes, read without dropping SQLite's locks.

SQLite locks a database file with POSIX advisory locks, and POSIX drops every lock a
process holds on a file when the process closes *any* descriptor of that file. Reading
the header with open() and close() beside a writer in rollback-journal mode (a first
load, indexer.bulk_load) took the writer's RESERVED or EXCLUSIVE lock away: another
process could then begin writing, or take the writer's journal for a hot one and roll
it back, and the database read as malformed (seen in the fault suite after `rm
dialogs.db`: the rebuild's first load, the service's reads checking the header).

So the header is read through one descriptor per file (inode), kept open while that
file is the database and closed only when another file took its place (or the reader
is collected): closing it then drops locks on a file nobody should be using.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path


class HeaderReader:
    """Reads the first bytes of the file at `path` through a descriptor kept per inode."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._kept: tuple[int, int] | None = None  # (inode, descriptor)
        self._finalizer: weakref.finalize | None = None

    def read(self, size: int) -> bytes:
        """The file's first `size` bytes. :raise OSError: it cannot be opened or read."""
        inode = os.stat(self.path).st_ino
        with self._lock:
            kept = self._kept
            if kept is None or kept[0] != inode:
                fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                self._keep(os.fstat(fd).st_ino, fd)
                kept = self._kept
            assert kept is not None
            return os.pread(kept[1], size, 0)

    def _keep(self, inode: int, fd: int) -> None:
        if self._finalizer is not None:
            self._finalizer()  # the file this descriptor held is not the database any more
        self._kept = (inode, fd)
        self._finalizer = weakref.finalize(self, os.close, fd)
