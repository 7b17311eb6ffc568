"""`section` records: the text of a file that lies outside every entry.

So that no word is lost to search, every non-blank line after the front matter
that no entry covers goes into a section: one per heading, split where an entry
sits. Its title is the heading in effect, its message the text without the
heading line.
"""

from __future__ import annotations

from indexer.model import Entry
from indexer.parse_layout import Layout, is_blank


def _section(layout: Layout, path: str, rows: list[int], title: str | None) -> Entry | None:
    lines = layout.lines
    filled = [index for index in rows if not is_blank(lines[index])]
    if not filled:
        return None
    first, last = filled[0], filled[-1]
    text_start = first + 1 if first in layout.headings else first
    message = "\n".join(lines[text_start : last + 1]).strip("\n")
    return Entry(
        dialog_file=path,
        format="section",
        line=first + 1,
        end_line=last + 1,
        title=title,
        message=message if message.strip() else None,
        body="\n".join(lines[first : last + 1]),
    )


def build_sections(layout: Layout, path: str, covered: list[tuple[int, int]]) -> list[Entry]:
    """Sections of the lines after the front matter outside the (start, end) index spans."""
    lines, headings = layout.lines, layout.headings
    sections: list[Entry] = []
    spans = sorted(covered)
    span_position = 0
    title: str | None = None
    rows: list[int] = []
    index = layout.body_start
    while index < len(lines):
        while span_position < len(spans) and spans[span_position][1] < index:
            span_position += 1
        if span_position < len(spans) and spans[span_position][0] <= index:
            section = _section(layout, path, rows, title)
            if section is not None:
                sections.append(section)
            rows = []
            index = spans[span_position][1] + 1
            continue
        if index in headings:
            section = _section(layout, path, rows, title)
            if section is not None:
                sections.append(section)
            rows = []
            title = headings[index]
        rows.append(index)
        index += 1
    section = _section(layout, path, rows, title)
    if section is not None:
        sections.append(section)
    return sections
