"""`section` records for the front matter: its text outside the header entries.

The `dialog:` block of a WOLFIE header gives HEADER entries; the rest of the header
(`title`, `description`, `tags`, `file.*` keys and their values) is text people search
for too. Each run of front-matter lines that no entry covers becomes a section, as
written (keys, values, comments, invalid YAML alike), so a phrase from any of its
lines is found. Usually that is two sections: the keys above `dialog:` and those
below it. The `---` lines around the front matter belong to no record.

Titled by the header's `title:` (a column-0 key, else `file:`'s `title:`), else
"Front matter". Nothing here needs the header to be valid YAML.
"""

from __future__ import annotations

from dialogfile.model import Entry
from dialogfile.parse_layout import Layout, is_blank
from dialogfile.parse_sections import uncovered_ranges
from dialogfile.parse_yaml_dialog import read_scalar, split_key

#: The title of a front-matter section when the header names no title.
FRONT_MATTER_TITLE = "Front matter"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _value(lines: list[str], index: int, stop: int, rest: str) -> str | None:
    """The text of the key on line `index` whose value starts with `rest`."""
    depth = _indent(lines[index])
    following = index + 1
    while following < stop and (is_blank(lines[following]) or _indent(lines[following]) > depth):
        following += 1
    continuation = lines[index + 1 : following]
    while continuation and is_blank(continuation[-1]):
        continuation.pop()
    text = " ".join(read_scalar(rest, continuation).split())
    return text or None


def front_matter_title(lines: list[str], start: int, stop: int) -> str | None:
    """The header's title: a column-0 `title:`, else the first `title:` under `file:`.

    One pass over lines start..stop-1; a value is read (with its continuation lines)
    only for the first key of each kind.
    """
    parent: str | None = None
    nested: tuple[int, str] | None = None
    for index in range(start, stop):
        line = lines[index]
        if not line or line[0] == "#":
            continue
        if line[0] not in " \t":
            parsed = split_key(line)
            parent = parsed[0].lower() if parsed else None
            if parsed and parent == "title":
                title = _value(lines, index, stop, parsed[1])
                if title:
                    return title
            continue
        if parent == "file" and nested is None:
            parsed = split_key(line.lstrip(" \t"))
            if parsed and parsed[0].lower() == "title":
                nested = index, parsed[1]
    return _value(lines, nested[0], stop, nested[1]) if nested else None


def build_front_matter_sections(
    layout: Layout, path: str, covered: list[tuple[int, int]]
) -> list[Entry]:
    """Sections of the front-matter lines outside the inclusive (start, end) spans."""
    if layout.front_matter is None:
        return []
    lines = layout.lines
    opening, closing = layout.front_matter
    title: str | None = None
    sections: list[Entry] = []
    for first, stop in uncovered_ranges(opening + 1, closing, covered):
        while first < stop and is_blank(lines[first]):
            first += 1
        while stop > first and is_blank(lines[stop - 1]):
            stop -= 1
        if first == stop:
            continue
        if title is None:
            title = front_matter_title(lines, opening + 1, closing) or FRONT_MATTER_TITLE
        body = "\n".join(lines[first:stop])
        sections.append(
            Entry(
                dialog_file=path,
                format="section",
                line=first + 1,
                end_line=stop,
                title=title,
                message=body,
                body=body,
            )
        )
    return sections
