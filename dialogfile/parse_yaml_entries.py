"""HEADER entries (front matter `dialog:`) and INLINE entries (`---` YAML blocks).

Rules: ../shared/corpus/README.md ("HEADER", "INLINE"). Returns RawEntry values
with 0-based indexes, plus (index, message) notes for the problems list.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from dialogfile.identity import EXPLICIT_ID_KEY
from dialogfile.parse_entry import RawEntry
from dialogfile.parse_layout import Layout, is_blank
from dialogfile.parse_yaml_dialog import DialogMapping, read_dialog_block, read_scalar, split_key

Notes = list[tuple[int, str]]

# A YAML-shaped line: indented, a `- ` item, or a column-0 `key:` (group 1: the key).
_YAML_SHAPED = re.compile(r"[ \t]|- |([A-Za-z0-9_.][A-Za-z0-9_.\-]*):(?:[ \t]|\Z)")
_FILE_UTC = "file.last_modified_utc"
_FILE_VERSION = "file.last_modified_system_version"
_ENTRY_ID = EXPLICIT_ID_KEY


def _column0_key(line: str) -> tuple[str, str] | None:
    if not line or line[0] in " \t-#":
        return None
    return split_key(line)


def _raw_entry(
    mapping: DialogMapping, file_utc: str | None, system_version: str | None
) -> RawEntry | None:
    values = mapping.values
    if "speaker" not in values and "message" not in values:
        return None
    mood = values.get("mood_rgb", values.get("mood"))
    message = values.get("message")
    return RawEntry(
        line=mapping.line,
        end=mapping.end,
        speaker=values.get("speaker"),
        target=values.get("target"),
        mood=mood if mood else None,
        timestamps=[values["date_ymdhis"]] if values.get("date_ymdhis") else [],
        fallback_timestamp=file_utc,
        message=message.strip() or None if message is not None else None,
        system_version=system_version,
        # The id the API records when it writes an entry (dialogfile/identity.py); other
        # keys of the mapping are not metadata (the corpus README scores header and
        # inline metadata as empty).
        metadata={_ENTRY_ID: values[_ENTRY_ID]} if values.get(_ENTRY_ID) else {},
    )


def _read_yaml_region(layout: Layout, start: int, stop: int) -> tuple[list[RawEntry], Notes]:
    """Entries of the column-0 `dialog:` keys in lines start..stop-1 (a YAML region)."""
    lines = layout.lines
    dialog_lines: list[int] = []
    file_utc = system_version = None
    for index in range(start, stop):
        parsed = _column0_key(lines[index])
        if parsed is None:
            continue
        key = parsed[0].lower()
        if key == "dialog":
            dialog_lines.append(index)
        elif key == _FILE_UTC and file_utc is None:
            file_utc = read_scalar(parsed[1], []) or None
        elif key == _FILE_VERSION and system_version is None:
            system_version = read_scalar(parsed[1], []) or None
    entries: list[RawEntry] = []
    notes: Notes = []
    for index in dialog_lines:
        block = read_dialog_block(lines, index, stop)
        if not block.mappings:
            notes.append((index, "`dialog:` holds no mapping (indent speaker: and message: below)"))
        for mapping in block.mappings:
            notes.extend(
                (
                    unread,
                    "line of a `dialog:` block is not `key: value` at the mapping's indentation,"
                    " so it was skipped (align it with speaker: or indent it under a key)",
                )
                for unread in mapping.unread
            )
            entry = _raw_entry(mapping, file_utc, system_version)
            if entry is None:
                notes.append(
                    (
                        mapping.line,
                        "`dialog:` mapping has neither speaker nor message, so it is no entry"
                        " (add speaker: and message: keys)",
                    )
                )
            else:
                entries.append(entry)
    return entries, notes


def read_header_entries(layout: Layout) -> tuple[list[RawEntry], Notes]:
    """Entries of the front matter's `dialog:` keys."""
    if layout.front_matter is None:
        return [], []
    opening, closing = layout.front_matter
    return _read_yaml_region(layout, opening + 1, closing)


def _yaml_block_close(layout: Layout, opening: int, closing: int) -> bool | None:
    """For the lines between two `---` lines: None unless all are YAML-shaped, else has `dialog:`.

    YAML-shaped: blank, indented, a `- ` item or a column-0 `key:` line; the
    first non-blank one must be a `key:` line.
    """
    if True in layout.fenced[opening + 1 : closing]:
        return None
    has_key = has_dialog = False
    for line in layout.lines[opening + 1 : closing]:
        if not line:
            continue
        shaped = _YAML_SHAPED.match(line)
        if shaped is None:
            if line.isspace():
                continue
            return None
        if shaped.group(1) is None:
            if not has_key and not line.isspace():
                return None
            continue
        has_key = True
        has_dialog = has_dialog or shaped.group(1).lower() == "dialog"
    return has_dialog if has_key else None


def find_yaml_blocks(layout: Layout, skip: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(open, close) indexes of the `---` YAML blocks holding `dialog:`, outside `skip`.

    A block's closing `---` is the next `---` line, so blocks never overlap and
    the closing line of one may open the next. Blocks without `dialog:` give no
    entry and are left out.
    """
    skip_starts = [begin for begin, _ in skip]
    blocks = []
    rules = layout.rules
    for position, index in enumerate(rules[:-1]):
        inside = bisect_right(skip_starts, index)
        if inside and index <= skip[inside - 1][1]:
            continue
        closing = rules[position + 1]
        if _yaml_block_close(layout, index, closing):
            blocks.append((index, closing))
    return blocks


def read_inline_entries(
    layout: Layout, blocks: list[tuple[int, int]]
) -> tuple[list[RawEntry], Notes]:
    """Entries of the `dialog:` keys of each YAML block; the last one runs to the closing `---`."""
    entries: list[RawEntry] = []
    notes: Notes = []
    for opening, closing in blocks:
        found, found_notes = _read_yaml_region(layout, opening + 1, closing)
        notes.extend(found_notes)
        for position, entry in enumerate(found):
            if position + 1 < len(found):
                entry.end = _last_filled(layout.lines, entry.line, found[position + 1].line)
            else:
                entry.end = closing
        entries.extend(found)
    return entries, notes


def _last_filled(lines: list[str], start: int, stop: int) -> int:
    for index in range(stop - 1, start, -1):
        if not is_blank(lines[index]):
            return index
    return start
