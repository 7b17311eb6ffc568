"""Pathological dialog texts of a chosen size, for the parser's linear-work test and
benchmarks/parse_linearity.py (its wall-clock figures)."""

from __future__ import annotations

from collections.abc import Callable


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
}
