"""A write's work counted rather than timed: calls of named functions, and how many of
them ran while the write lock was held.

Counts are the same on any machine under any load (as tests/support/parse_work.py does
for the parser): the write-path tests assert how much a one-entry write in a big file
parses, keys and turns into rows, and how much of it waits for no other writer.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable
from types import FrameType
from typing import Any

from dialogfile.identity import entry_key, id_for
from dialogfile.parse import parse_file
from dialogfile.parse_entry import build_entry
from indexer.migrate import migration_files
from indexer.store_rows import entry_row

#: What a write's work is counted in: name -> function.
COUNTED: dict[str, Callable[..., Any]] = {
    "parse_file": parse_file,
    "entries parsed": build_entry,
    "entries keyed": entry_key,
    "ids computed": id_for,
    "entry rows made": entry_row,
    "migrations read": migration_files,
}


def counted_work(
    run: Callable[[], object], held: threading.Lock | None = None
) -> tuple[Counter, Counter]:
    """(calls, calls while `held` was locked) of each COUNTED function while `run()` runs."""
    names = {function.__code__: name for name, function in COUNTED.items()}
    calls: Counter[str] = Counter()
    locked: Counter[str] = Counter()

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            name = names.get(frame.f_code)
            if name is not None:
                calls[name] += 1
                if held is not None and held.locked():
                    locked[name] += 1

    before = sys.getprofile()
    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(before)
    return calls, locked
