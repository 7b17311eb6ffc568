"""Pathological parser inputs, and the parser's work counted rather than timed.

Counts are the same on any machine under any load: the linear-work tests
(test_parse_messy.py, reliability/test_fuzz_parser.py) assert on them, and
benchmarks/parse_linearity.py reports the wall-clock side over the same inputs.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Callable
from types import FrameType

from dialogfile.parse import parse_file


def many(part: str, size: int) -> str:
    return part * (size // len(part))


#: Each builder makes a pathological text of about `size` characters.
PATHOLOGICAL: dict[str, Callable[[int], str]] = {
    "one-giant-line": lambda size: "a" * size,
    "giant-message": lambda size: "**Speaker:** A\n**Message:** " + "x" * size,
    "quote": lambda size: '---\ndialog:\n  message: "' + "\\" * size + "\n---\n",
    "rules-and-keys": lambda size: many("---\na:\n", size),
    "unclosed-yaml-block": lambda size: "---\n" + many("a:\n", size),
    "speakers": lambda size: many("**Speaker:** A\n**Message:** hi\n\n", size),
    "begins": lambda size: many("# Dialog begin\n", size),
    "long-paragraph": lambda size: "**Speaker:** A\n**Message:**\n" + many("> text\n", size),
    "fences": lambda size: many("```\n````\n~~~\n", size),
    "dialog-list": lambda size: "---\ndialog:\n" + many("  - speaker: A\n", size),
    "colons": lambda size: many("**" + ":" * 50 + "\n", size),
    "digits": lambda size: many("## 2026-01-01 " + "1" * 30 + "\n", size),
    # Empty titles everywhere: the front-matter title reader keeps looking (issue 13).
    "front-matter-titles": lambda size: "---\n" + many("title:\nfile:\n  title:\n", size) + "---\n",
    # Header entries between keys: a front-matter section between every two entries.
    "front-matter-sections": lambda size: (
        "---\n" + many("k: v\ndialog:\n  speaker: A\n", size) + "---\n"
    ),
}


#: list methods whose work grows with the list they are called on (append, extend, pop()
#: and dict methods do not: extend reads its argument, not the list).
SCANNING_METHODS = frozenset("copy count index insert remove reverse sort".split())


def parse_work(text: str, path: str = "dialogs/work.md") -> tuple[int, int]:
    """What parse_file(text) does, counted: (steps, characters scanned).

    steps: Python lines and calls run, plus C functions called. characters scanned: the
    length of each string whose method is called (and of each list, for SCANNING_METHODS),
    an upper bound on what those C methods read: it catches `text.count("\\n", 0, at)` once
    per line (linear in steps, quadratic here); a call given a start position on the whole
    text counts it whole, so scan lines, not the text. A regex or a builtin (sorted, join)
    is one step whatever it reads: peak_bytes bounds their memory, and
    benchmarks/parse_linearity.py reports the wall-clock times.
    Counts, not durations: the same for the same input on any machine under any load.
    """
    steps = scanned = 0

    def trace(frame: FrameType, event: str, arg: object) -> Callable[..., object]:
        nonlocal steps
        steps += 1  # call, line, return, exception
        return trace

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal steps, scanned
        if event == "c_call":
            steps += 1
            owner = getattr(arg, "__self__", None)
            if isinstance(owner, str | bytes) or (
                isinstance(owner, list | tuple) and getattr(arg, "__name__", "") in SCANNING_METHODS
            ):
                scanned += len(owner)

    before = sys.gettrace(), sys.getprofile()
    sys.settrace(trace)
    sys.setprofile(profile)
    try:
        parse_file(text, path)
    finally:
        sys.settrace(before[0])
        sys.setprofile(before[1])
    return steps, scanned


def peak_bytes(read: Callable[[], object]) -> int:
    """The most memory (tracemalloc) allocated at once while `read()` runs."""
    gc.collect()
    tracemalloc.start()
    try:
        read()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
