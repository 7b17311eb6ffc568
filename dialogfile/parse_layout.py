"""The Markdown layout of a dialog file: lines, front matter, fences, headings.

Everything here works on 0-based line indexes; the parser adds 1 when it builds
entries. Rules: ../shared/corpus/README.md ("Reading a file").
"""

from __future__ import annotations

from dataclasses import dataclass, field

_HEADING_STARTS = frozenset(" #")
_FENCE_STARTS = frozenset(" \t`~")


@dataclass
class Layout:
    """Where the structure of one file is; built once by `read_layout`."""

    lines: list[str]
    #: (open, close) indexes of the front matter's `---` lines, or None.
    front_matter: tuple[int, int] | None
    #: First index after the front matter (0 without one).
    body_start: int
    #: True for every line inside a fence, fence lines included.
    fenced: list[bool]
    #: index -> heading text, for unfenced headings outside the front matter.
    headings: dict[int, str]
    #: Indexes of the unfenced `---` lines after the front matter, in order.
    rules: list[int]
    #: Indexes of the unfenced lines after the front matter that start with `**`, in order.
    starred: list[int]
    #: (index, message) of things a human should look at.
    notes: list[tuple[int, str]] = field(default_factory=list)


def split_lines(text: str) -> list[str]:
    """Lines split on LF only, a CR before each LF dropped; a final LF ends the last line."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if "\r" not in text:
        return lines
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def is_rule_line(line: str) -> bool:
    """True for a `---` line: exactly `---` once trailing white space is removed."""
    return line.startswith("---") and line.rstrip() == "---"


def is_blank(line: str) -> bool:
    """True for an empty or white-space-only line."""
    return not line or line.isspace()


def heading_text(line: str) -> str | None:
    """The text of an ATX heading line (closing #s removed), or None for any other line."""
    if not line or line[0] not in _HEADING_STARTS:
        return None
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3 or not stripped.startswith("#"):
        return None
    hashes = len(stripped) - len(stripped.lstrip("#"))
    rest = stripped[hashes:]
    if hashes > 6 or (rest and rest[0] not in " \t"):
        return None
    text = rest.strip(" \t")
    without_closing = text.rstrip("#")
    if not without_closing:
        return ""
    if without_closing != text and without_closing[-1] in " \t":
        text = without_closing.rstrip(" \t")
    return text


def _fence_opening(line: str) -> tuple[str, int] | None:
    """(character, length) when `line` opens a fenced code block."""
    stripped = line.lstrip(" \t")
    char = stripped[:1]
    if char not in ("`", "~") or not stripped.startswith(char * 3):
        return None
    run = len(stripped) - len(stripped.lstrip(char))
    if char == "`" and "`" in stripped[run:]:
        return None
    return char, run


def _closes_fence(line: str, char: str, run: int) -> bool:
    text = line.strip()
    return len(text) >= run and text[0] == char and not text.strip(char)


def find_front_matter(lines: list[str]) -> tuple[int, int] | None:
    """(open, close) indexes when line 1 is `---` and a later `---` line exists."""
    if not lines or not is_rule_line(lines[0]):
        return None
    for index in range(1, len(lines)):
        if is_rule_line(lines[index]):
            return 0, index
    return None


def read_layout(text: str) -> Layout:
    """Split `text` into lines and find its front matter, fences and headings."""
    lines = split_lines(text)
    front_matter = find_front_matter(lines)
    body_start = front_matter[1] + 1 if front_matter else 0
    notes: list[tuple[int, str]] = []
    if front_matter is None and lines and is_rule_line(lines[0]):
        notes.append(
            (
                0,
                "front matter opened by `---` is never closed, so the file has no front matter"
                " (add a closing `---` line after the header)",
            )
        )
    fenced = [False] * len(lines)
    headings: dict[int, str] = {}
    rules: list[int] = []
    starred: list[int] = []
    fence: tuple[str, int] | None = None
    fence_line = 0
    for index in range(body_start, len(lines)):
        line = lines[index]
        if fence is not None:
            fenced[index] = True
            if _closes_fence(line, fence[0], fence[1]):
                fence = None
            continue
        if not line:
            continue
        first = line[0]
        if first == "*":
            if line.startswith("**"):
                starred.append(index)
            continue
        if first == "-":
            if line.startswith("---") and line.rstrip() == "---":
                rules.append(index)
            continue
        if first in _FENCE_STARTS:
            opening = _fence_opening(line)
            if opening is not None:
                fence, fence_line = opening, index
                fenced[index] = True
                continue
        if first in _HEADING_STARTS:
            title = heading_text(line)
            if title is not None:
                headings[index] = title
    if fence is not None:
        notes.append(
            (
                fence_line,
                "code fence is never closed, so the rest of the file is read as code"
                f" (close it with a line of {fence[0] * fence[1]})",
            )
        )
    return Layout(lines, front_matter, body_start, fenced, headings, rules, starred, notes)
