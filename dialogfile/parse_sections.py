"""`section` records: the text of a file that lies outside every entry.

So that no word is lost to search, every non-blank line after the front matter
that no entry covers goes into a section (the front matter's own text:
dialogfile/parse_front_matter.py): one per heading, split where an entry
sits. Its title is the heading in effect, its message the text without the
heading line.

Lines that carry no words of their own are not worth a record: a section made
only of `---` rules and of headings that already name an entry (its `title`) is
dropped, since those words are findable through the entry.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from dialogfile.model import Entry
from dialogfile.parse_layout import Layout, is_blank, is_rule_line


def _only_structure(layout: Layout, start: int, stop: int, entry_titles: set[str]) -> bool:
    """True when lines start..stop-1 are only blanks, `---` rules and entry-title headings."""
    for index in range(start, stop):
        line = layout.lines[index]
        if is_blank(line) or is_rule_line(line):
            continue
        if index in layout.headings and layout.headings[index] in entry_titles:
            continue
        return False
    return True


def _section(
    layout: Layout, path: str, start: int, stop: int, title: str | None, entry_titles: set[str]
) -> Entry | None:
    """The section of lines start..stop-1 without blank lines at either end, or None."""
    lines = layout.lines
    while start < stop and is_blank(lines[start]):
        start += 1
    while stop > start and is_blank(lines[stop - 1]):
        stop -= 1
    if start == stop or _only_structure(layout, start, stop, entry_titles):
        return None
    text_start = start + 1 if start in layout.headings else start
    message = "\n".join(lines[text_start:stop]).strip("\n")
    return Entry(
        dialog_file=path,
        format="section",
        line=start + 1,
        end_line=stop,
        title=title,
        message=message if message.strip() else None,
        body="\n".join(lines[start:stop]),
    )


def uncovered_ranges(
    start: int, stop: int, covered: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The (start, stop) index ranges in start..stop-1 outside the inclusive `covered` spans."""
    gaps = []
    position = start
    for first, last in sorted(covered):
        if first >= stop:
            break
        if first > position:
            gaps.append((position, first))
        position = max(position, last + 1)
    if position < stop:
        gaps.append((position, stop))
    return gaps


def build_sections(
    layout: Layout, path: str, covered: list[tuple[int, int]], entry_titles: set[str]
) -> list[Entry]:
    """Sections of the lines after the front matter outside the inclusive (start, end) spans.

    `entry_titles` are the titles of the file's entries: headings that only name an
    entry do not make a section of their own.
    """
    headings = layout.headings
    gaps = uncovered_ranges(layout.body_start, len(layout.lines), covered)
    # Headings inside entries (BEGIN/END markers) do not name the text around them.
    gap_starts = [first for first, _ in gaps]
    free_headings = [
        index
        for index in sorted(headings)
        if (position := bisect_right(gap_starts, index)) and index < gaps[position - 1][1]
    ]
    sections: list[Entry] = []
    for first, last in gaps:
        position = bisect_left(free_headings, first)
        title = headings[free_headings[position - 1]] if position else None
        piece_start = first
        while position < len(free_headings) and free_headings[position] < last:
            heading = free_headings[position]
            section = _section(layout, path, piece_start, heading, title, entry_titles)
            if section is not None:
                sections.append(section)
            piece_start, title = heading, headings[heading]
            position += 1
        section = _section(layout, path, piece_start, last, title, entry_titles)
        if section is not None:
            sections.append(section)
    return sections
