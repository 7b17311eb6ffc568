"""The parse of an edited file, reading again only the lines around the edit.

`parse_edited(before_text, before, after_text, path)` equals `parse_file(after_text,
path)`; when it can, it parses only a *window*: from the last heading above the
changed lines to the first heading below them (or the end of the file), and keeps
the entries and problems of `before` (the parse of `before_text`) outside it, those
below moved by the lines the edit added or removed. The parser's rules
(../shared/corpus/README.md) make a heading a wall, under these conditions, checked on
both texts' layouts (parse_layout.read_layout: lines, fences, headings):

- the window's edges are unfenced headings at column 0, after the front matter, inside
  no entry of `before`: no entry crosses them (a bold entry stops at a heading; a `---`
  YAML block holds only YAML-shaped lines, which `#` at column 0 is not);
- a bold entry's title and a section's title are the last heading above them, so the
  window's top heading gives them inside it, and its bottom heading below it;
- no heading in the window mentions "dialog" (no `# Dialog begin`/`end` may pair with
  one outside);
- a section made only of headings that name entries is dropped, whatever entry of the
  file they name: the window changes no entry title the rest of the file lacks, and
  holds no heading naming an entry outside it that it does not name itself.

When a condition fails it parses the whole file. The window is parsed as a text of
blank lines up to its top (so line numbers are the file's) and its lines.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dialogfile.model import Entry, ParsedFile, Problem
from dialogfile.parse import parse_file
from dialogfile.parse_layout import Layout, read_layout

_BOM = "\ufeff"


@dataclass(frozen=True)
class Window:
    """Lines top..bottom-1 of the file after the edit (0-based), bottom_before before it."""

    top: int
    bottom: int
    bottom_before: int


def parse_edited(before_text: str, before: ParsedFile, after_text: str, path: str) -> ParsedFile:
    """parse_file(after_text, path), given `before` = parse_file(before_text, path)."""
    if before_text.startswith(_BOM) or after_text.startswith(_BOM):
        return parse_file(after_text, path)
    old, new = read_layout(before_text), read_layout(after_text)
    window = _window(old, new, before.entries)
    if window is None:
        return parse_file(after_text, path)
    window_text = "\n" * window.top + "\n".join(new.lines[window.top : window.bottom]) + "\n"
    inside = parse_file(window_text, path)
    if not _titles_agree(before.entries, inside.entries, window, new):
        return parse_file(after_text, path)
    return _assembled(before, inside, window, len(new.lines) - len(old.lines))


def _changed(old: list[str], new: list[str]) -> tuple[int, int]:
    """(first changed line, first line of the unchanged tail in `new`), 0-based."""
    first = 0
    shortest = min(len(old), len(new))
    while first < shortest and old[first] == new[first]:
        first += 1
    tail = 0
    while tail < shortest - first and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return first, len(new) - tail


def _wall(layout: Layout, index: int, covered: list[tuple[int, int]]) -> bool:
    """Whether line `index` can edge a window (see the module docstring)."""
    if index < layout.body_start or index not in layout.headings:
        return False
    if not layout.lines[index].startswith("#") or "\r" in layout.lines[index]:
        return False
    return not any(first <= index <= last for first, last in covered)


def _window(old: Layout, new: Layout, entries: tuple[Entry, ...]) -> Window | None:
    """The window around the edit, or None when the whole file must be parsed."""
    if old.front_matter != new.front_matter or old.body_start != new.body_start:
        return None
    first, tail_start = _changed(old.lines, new.lines)
    covered = [(e.line - 1, e.end_line - 1) for e in entries if e.format != "section"]
    shift = len(new.lines) - len(old.lines)
    top = next((i for i in range(first - 1, -1, -1) if _wall(old, i, covered)), None)
    if top is None:
        return None
    bottom = len(new.lines)
    for index in range(tail_start, len(new.lines)):
        if index in new.headings and _wall(new, index, []) and _wall(old, index - shift, covered):
            bottom = index
            break
    lines = new.lines[top:bottom] + old.lines[top : bottom - shift]
    if any("\r" in line for line in lines):
        return None  # the window's text must split into exactly these lines
    for layout, stop in ((new, bottom), (old, bottom - shift)):
        if any("dialog" in layout.headings[i].lower() for i in layout.headings if top <= i < stop):
            return None
    return Window(top, bottom, bottom - shift)


def _titles_agree(
    before: tuple[Entry, ...], inside: tuple[Entry, ...], window: Window, new: Layout
) -> bool:
    """Whether every section's fate (dropped when it only names entries) is as in a full
    parse: the file's entry titles are the same, and the window's own decide its sections."""

    def titles(entries: tuple[Entry, ...] | list[Entry]) -> set[str]:
        return {e.title for e in entries if e.title and e.format != "section"}

    old_inside = [e for e in before if window.top < e.line <= window.bottom_before]
    outside = titles([e for e in before if not window.top < e.line <= window.bottom_before])
    new_inside = titles([e for e in inside if e.line > window.top])
    if not (titles(old_inside) ^ new_inside) <= outside:
        return False
    headings = {new.headings[i] for i in new.headings if window.top <= i < window.bottom}
    return not (headings & (outside - new_inside))


def _assembled(before: ParsedFile, inside: ParsedFile, window: Window, shift: int) -> ParsedFile:
    """`before` outside the window (moved by `shift` below it) and `inside` within it."""
    top, bottom_before = window.top, window.bottom_before

    def moved(entry: Entry) -> Entry:
        return replace(entry, line=entry.line + shift, end_line=entry.end_line + shift)

    entries = [e for e in before.entries if e.line <= top]
    entries += [e for e in inside.entries if e.line > top]
    entries += [moved(e) if shift else e for e in before.entries if e.line > bottom_before]
    problems = [p for p in before.problems if p.line <= top]
    problems += [p for p in inside.problems if p.line > top]
    problems += [
        Problem(p.path, p.line + shift, p.message)
        for p in before.problems
        if p.line > bottom_before
    ]
    return ParsedFile(path=before.path, entries=tuple(entries), problems=tuple(problems))
