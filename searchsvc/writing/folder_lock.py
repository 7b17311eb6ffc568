"""The dialogs folder's write lock: an exclusive flock on the folder itself.

Every process that writes dialog files through a WriteService takes it, so writes of
several server processes are serialised; no lock file is created.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from searchsvc.exceptions import WriteUnavailable

#: How often a lock wait polls (the wait is bounded by the caller's `wait`).
_POLL_SECONDS = 0.02


@contextmanager
def folder_lock(folder: Path, wait: float) -> Iterator[None]:
    """An exclusive flock on `folder` itself (shared by every process writing under it).

    :raise WriteUnavailable: the folder cannot be opened, or another process holds it
        past `wait`.
    """
    try:
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise WriteUnavailable(
            f"Cannot take the write lock on the dialogs folder: {error.strerror}"
        ) from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WriteUnavailable(
                        "Another process holds the dialogs' write lock; try again"
                    ) from None
                time.sleep(_POLL_SECONDS)  # bounded by the deadline above
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)
