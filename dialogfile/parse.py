"""Parse one dialog Markdown file into entries and problems: `parse_file`.

Pure: no I/O, no logging, no globals. Runs in time linear in the file size and
never raises. The formats and rules are those of ../shared/corpus/README.md:
HEADER and INLINE (YAML `dialog:`), BOLD (`**Speaker:**`), BEGIN/END
(`# Dialog begin`), plus `section` records for all remaining text (the front
matter's included).
"""

from __future__ import annotations

from dialogfile.model import Entry, ParsedFile, Problem
from dialogfile.parse_bold import (
    find_begin_end_blocks,
    find_fields,
    read_begin_end_entries,
    read_bold_entries,
)
from dialogfile.parse_entry import RawEntry, build_entry
from dialogfile.parse_front_matter import build_front_matter_sections
from dialogfile.parse_layout import read_layout
from dialogfile.parse_sections import build_sections
from dialogfile.parse_yaml_entries import find_yaml_blocks, read_header_entries, read_inline_entries

_BOM = "\ufeff"
_UTF8_BOM = b"\xef\xbb\xbf"


def _cp1252_table() -> dict[int, str]:
    """Byte -> character for Windows-1252; its 5 undefined bytes map to the same code point."""
    table = {}
    for byte in range(256):
        try:
            table[byte] = bytes([byte]).decode("cp1252")
        except UnicodeDecodeError:
            table[byte] = chr(byte)
    return table


_CP1252 = str.maketrans(_cp1252_table())


def decode_dialog_bytes(data: bytes) -> str:
    """The text of a file: UTF-8, else Windows-1252, without a leading BOM. Never raises."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # A UTF-8 BOM in front of Windows-1252 text is still a BOM, not "ï»¿".
        if data.startswith(_UTF8_BOM):
            data = data[len(_UTF8_BOM) :]
        # latin-1 maps every byte to the same code point; the table then fixes 0x80-0x9F.
        return data.decode("latin-1").translate(_CP1252)
    return text[1:] if text.startswith(_BOM) else text


def parse_file(text: str, path: str) -> ParsedFile:
    """Entries (in line order, sections included) and problems of one file's text."""
    if text.startswith(_BOM):
        text = text[1:]
    layout = read_layout(text)
    notes = list(layout.notes)
    header, header_notes = read_header_entries(layout)
    fields = find_fields(layout)
    blocks, lone_begins = find_begin_end_blocks(layout)
    inline, inline_notes = read_inline_entries(layout, find_yaml_blocks(layout, blocks))
    bold = read_bold_entries(layout, fields, blocks)
    begin_end = read_begin_end_entries(layout, fields, blocks)
    notes += header_notes + inline_notes
    notes += [
        (
            index,
            "`# Dialog begin` has no `# Dialog end` before the next begin or the end of the file,"
            " so it is read as a heading (add `# Dialog end` after the entry)",
        )
        for index in lone_begins
    ]
    problems = [Problem(path, index + 1, message) for index, message in notes]
    entries: list[Entry] = []
    covered: list[tuple[int, int]] = []
    found: list[tuple[str, list[RawEntry]]] = [
        ("header", header),
        ("inline", inline),
        ("bold", bold),
        ("begin_end", begin_end),
    ]
    for entry_format, raw_entries in found:
        for raw in raw_entries:
            entry, entry_problems = build_entry(raw, entry_format, path, layout.lines)
            entries.append(entry)
            problems.extend(entry_problems)
            covered.append((raw.line, raw.end))
    titles = {entry.title for entry in entries if entry.title}
    entries.extend(build_front_matter_sections(layout, path, covered))
    entries.extend(build_sections(layout, path, covered, titles))
    entries.sort(key=lambda entry: (entry.line, entry.end_line))
    problems.sort(key=lambda problem: problem.line)
    return ParsedFile(path=path, entries=tuple(entries), problems=tuple(problems))
