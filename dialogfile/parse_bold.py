"""BOLD (`**Speaker:**`) and BEGIN/END (`# Dialog begin`) entries of one file.

Rules: ../shared/corpus/README.md ("BOLD", "BEGIN/END"). Works on a Layout and
returns plain tuples; parse.py turns them into Entry records.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import NamedTuple

from dialogfile.parse_entry import RawEntry
from dialogfile.parse_layout import Layout, is_blank
from dialogfile.parse_values import clean_message_lines, is_empty_message_marker

_TIMESTAMP_LABELS = ("timestamp (utc)", "timestamp", "date")
_MOOD_LABELS = ("mood_rgb", "mood rgb", "mood")


class FieldLine(NamedTuple):
    """A column-0 `**Label:** value` line: its index, label (lower case) and value."""

    index: int
    label: str
    value: str


def field_line(line: str) -> tuple[str, str] | None:
    """(label in lower case, value) for a line starting `**Label:**` at column 0."""
    if not line.startswith("**"):
        return None
    close = line.find(":**", 2)
    if close < 0:
        return None
    label = line[2:close].strip()
    if not label or "*" in label:
        return None
    return label.lower(), line[close + 3 :].strip()


def find_fields(layout: Layout) -> dict[int, FieldLine]:
    """Every unfenced column-0 field line after the front matter, by index."""
    fields: dict[int, FieldLine] = {}
    lines = layout.lines
    for index in layout.starred:
        parsed = field_line(lines[index])
        if parsed is not None:
            fields[index] = FieldLine(index, parsed[0], parsed[1])
    return fields


def _is_dialog_marker(line: str, word: str) -> bool:
    if not line or line[0] not in " #":
        return False
    return " ".join(line.lower().split()) == f"# dialog {word}"


def find_begin_end_blocks(layout: Layout) -> tuple[list[tuple[int, int]], list[int]]:
    """(begin, end) index pairs of real BEGIN/END blocks, and the lone `# Dialog begin` lines."""
    blocks: list[tuple[int, int]] = []
    lone: list[int] = []
    pending: int | None = None
    for index in sorted(layout.headings):
        line = layout.lines[index]
        if _is_dialog_marker(line, "begin"):
            if pending is not None:
                lone.append(pending)
            pending = index
        elif _is_dialog_marker(line, "end") and pending is not None:
            blocks.append((pending, index))
            pending = None
    if pending is not None:
        lone.append(pending)
    return blocks, lone


def _paragraph(layout: Layout, fields: dict[int, FieldLine], start: int, stop: int) -> list[str]:
    """Lines from `start` up to a blank, field or fenced line (or `stop`)."""
    collected = []
    lines, fenced = layout.lines, layout.fenced
    index = start
    while index < stop:
        line = lines[index]
        if is_blank(line) or index in fields or fenced[index]:
            break
        collected.append(line)
        index += 1
    return collected


def _skip_blank(layout: Layout, start: int, stop: int) -> int:
    index = start
    while index < stop and is_blank(layout.lines[index]):
        index += 1
    return index


def message_after(
    layout: Layout, fields: dict[int, FieldLine], label: FieldLine, stop: int
) -> str | None:
    """The message of a `**Message:**`-like field line whose entry ends before `stop`."""
    if is_empty_message_marker(label.value):
        start = _skip_blank(layout, label.index + 1, stop)
        return clean_message_lines(_paragraph(layout, fields, start, stop))
    rest = _paragraph(layout, fields, label.index + 1, stop)
    return clean_message_lines([label.value, *rest])


def _first_paragraph(
    layout: Layout, fields: dict[int, FieldLine], start: int, stop: int
) -> str | None:
    index = start
    lines, fenced = layout.lines, layout.fenced
    while index < stop:
        if is_blank(lines[index]) or index in fields or fenced[index]:
            index += 1
            continue
        return clean_message_lines(_paragraph(layout, fields, index, stop))
    return None


def _inside(index: int, starts: list[int], ends: list[int]) -> bool:
    """True when `index` lies in one of the sorted, disjoint spans starts[i]..ends[i]."""
    position = bisect_right(starts, index)
    return position > 0 and index <= ends[position - 1]


def _last_filled(lines: list[str], start: int, stop: int) -> int:
    for index in range(stop - 1, start, -1):
        if not is_blank(lines[index]):
            return index
    return start


def _entry_fields(fields: dict[int, FieldLine], start: int, stop: int) -> dict[str, FieldLine]:
    found: dict[str, FieldLine] = {}
    for index in range(start, stop):
        field_at = fields.get(index)
        if field_at is not None and field_at.label not in found:
            found[field_at.label] = field_at
    return found


def read_bold_entries(
    layout: Layout, fields: dict[int, FieldLine], blocks: list[tuple[int, int]]
) -> list[RawEntry]:
    """Every `**Speaker:**` entry outside BEGIN/END blocks."""
    lines, headings = layout.lines, layout.headings
    block_starts = [begin for begin, _ in blocks]
    block_ends = [end for _, end in blocks]
    starts = [
        index
        for index, field_at in fields.items()
        if field_at.label == "speaker" and not _inside(index, block_starts, block_ends)
    ]
    if not starts:
        return []
    starts.sort()
    ordered_stops = sorted({*starts, *block_starts, *layout.rules, *headings})
    heading_indexes = sorted(i for i in headings if not _inside(i, block_starts, block_ends))
    entries = []
    stop_position = heading_position = 0
    for start in starts:
        # Both lists are sorted, and so are the starts: walk them instead of searching.
        while stop_position < len(ordered_stops) and ordered_stops[stop_position] <= start:
            stop_position += 1
        stop = ordered_stops[stop_position] if stop_position < len(ordered_stops) else len(lines)
        while heading_position < len(heading_indexes) and heading_indexes[heading_position] < start:
            heading_position += 1
        title = headings[heading_indexes[heading_position - 1]] if heading_position else None
        found = _entry_fields(fields, start, stop)
        if "message" in found:
            message = message_after(layout, fields, found["message"], stop)
        else:
            message = _first_paragraph(layout, fields, start + 1, stop)
        mood_label = _first_label(found, _MOOD_LABELS)
        metadata = {}
        if len(found) > 1:
            excluded = {"speaker", "target", "message", mood_label}
            metadata = {label: at.value for label, at in found.items() if label not in excluded}
        entries.append(
            RawEntry(
                line=start,
                end=_last_filled(lines, start, stop),
                speaker=found["speaker"].value,
                target=found["target"].value if "target" in found else None,
                mood=found[mood_label].value if mood_label else None,
                timestamps=[found[label].value for label in _TIMESTAMP_LABELS if label in found],
                message=message,
                title=title,
                fallback_timestamp=title,
                metadata=metadata,
            )
        )
    return entries


def _first_label(found: dict[str, FieldLine], labels: tuple[str, ...]) -> str | None:
    for label in labels:
        if label in found:
            return label
    return None


def read_begin_end_entries(
    layout: Layout, fields: dict[int, FieldLine], blocks: list[tuple[int, int]]
) -> list[RawEntry]:
    """One entry per `# Dialog begin` … `# Dialog end` block."""
    entries = []
    for begin, end in blocks:
        found = _entry_fields(fields, begin + 1, end)
        message_label = "summary" if "summary" in found else "action"
        message = None
        if message_label in found:
            message = message_after(layout, fields, found[message_label], end)
        excluded = {"agent", "target", message_label}
        entries.append(
            RawEntry(
                line=begin,
                end=end,
                speaker=found["agent"].value if "agent" in found else None,
                target=found["target"].value if "target" in found else None,
                timestamps=[found[label].value for label in _TIMESTAMP_LABELS if label in found],
                message=message,
                metadata={
                    label: value.value for label, value in found.items() if label not in excluded
                },
            )
        )
    return entries
