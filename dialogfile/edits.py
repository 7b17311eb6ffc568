"""Line-level edits of one dialog entry's own text, for each format that can be edited.

Everything here is pure and works on a list of line texts (no line endings,
0-based indexes). An edit changes only the lines that hold the named fields and
keeps every other line as it was (comments, extra keys, details, spelling of
labels). Whether the edited text reads back as asked is checked by the caller
(`dialogfile.writer`), which parses the result; this module only writes the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dialogfile.model import Entry
from dialogfile.parse_bold import field_line
from dialogfile.parse_layout import is_blank
from dialogfile.parse_values import is_empty_message_marker
from dialogfile.parse_yaml_dialog import split_key

#: The fields of an entry that the API may set, in the order of a canonical block.
EDITABLE_FIELDS = ("speaker", "target", "mood_rgb", "message", "timestamp_utc")
#: Pseudo-field under which an edit records the entry's own id.
ID_FIELD = "dialog_entry_id"

_YAML_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\0": "\\0",
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}

#: YAML keys that supply each field, in the parser's order of preference.
YAML_KEYS: dict[str, tuple[str, ...]] = {
    "speaker": ("speaker",),
    "target": ("target",),
    "mood_rgb": ("mood_rgb", "mood"),
    "message": ("message",),
    "timestamp_utc": ("date_ymdhis",),
    ID_FIELD: ("dialog_entry_id",),
}
#: Spelling of a YAML key that an edit adds.
YAML_NEW_KEY = {
    "speaker": "speaker",
    "target": "target",
    "mood_rgb": "mood_RGB",
    "message": "message",
    "timestamp_utc": "date_ymdhis",
    ID_FIELD: "dialog_entry_id",
}
_TIMESTAMP_LABELS = ("timestamp (utc)", "timestamp", "date")
#: `**Label:**` lines (lower case) that supply each field of a bold entry.
BOLD_LABELS: dict[str, tuple[str, ...]] = {
    "speaker": ("speaker",),
    "target": ("target",),
    "mood_rgb": ("mood_rgb", "mood rgb", "mood"),
    "message": ("message",),
    "timestamp_utc": _TIMESTAMP_LABELS,
    ID_FIELD: ("dialog_entry_id",),
}
#: The same for a `# Dialog begin` block (it has no mood).
BEGIN_END_LABELS: dict[str, tuple[str, ...]] = {
    "speaker": ("agent",),
    "target": ("target",),
    "message": ("summary",),
    "timestamp_utc": _TIMESTAMP_LABELS,
    ID_FIELD: ("dialog_entry_id",),
}
_FIELD_ORDER = ("speaker", "target", "mood_rgb", "timestamp_utc", ID_FIELD, "message")
_NEW_LABEL = {
    "speaker": "Speaker",
    "target": "Target",
    "mood_rgb": "Mood_RGB",
    "message": "Message",
    "timestamp_utc": "Timestamp (UTC)",
    ID_FIELD: "Dialog_Entry_ID",
}


class UnrepresentableEdit(ValueError):
    """The entry's text cannot hold the edit (the message says why)."""


def yaml_quote(text: str) -> str:
    """`text` as a one-line YAML double-quoted scalar that loads back as exactly `text`."""
    out = ['"']
    for char in text:
        escaped = _YAML_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
            continue
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"\\x{code:02X}")
        elif 0xD800 <= code <= 0xDFFF or code in (0xFEFF, 0xFFFE, 0xFFFF):
            out.append(f"\\u{code:04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


@dataclass(frozen=True)
class _Span:
    """One key (or labelled field) of an entry: its name and its lines first..last."""

    name: str
    first: int
    last: int
    prefix: str


def _yaml_spans(lines: list[str], first: int, last: int) -> tuple[int, list[_Span]]:
    """(key indentation, key spans) of the YAML dialog mapping on lines first..last."""
    head = lines[first]
    depth_of_head = _indent(head)
    body = head[depth_of_head:]
    if body.startswith("- ") or body == "-":
        rows = [" " * (depth_of_head + 2) + head[depth_of_head + 2 :]]
        rows += lines[first + 1 : last + 1]
        start = first
    else:
        if head.split(":", 1)[1].strip():
            raise UnrepresentableEdit(
                "this dialog mapping is written on one line (flow style); edit it by hand"
            )
        rows = lines[first + 1 : last + 1]
        start = first + 1
    depth = next((_indent(row) for row in rows if not is_blank(row)), None)
    if depth is None:
        raise UnrepresentableEdit("this dialog mapping has no keys to edit")
    spans: list[_Span] = []
    position = 0
    while position < len(rows):
        row = rows[position]
        position += 1
        if is_blank(row):
            continue
        if _indent(row) < depth:
            break  # the mapping ends: a column-0 key of a pasted header, the next item, ---
        parsed = split_key(row[depth:]) if _indent(row) == depth else None
        key = parsed[0] if parsed else None
        if key is None:
            continue
        following = position
        while following < len(rows) and (
            is_blank(rows[following]) or _indent(rows[following]) > depth
        ):
            following += 1
        end = following - 1
        while end >= position and is_blank(rows[end]):
            end -= 1
        index = start + position - 1
        prefix = lines[index][:depth]
        spans.append(_Span(key, index, start + end, prefix))
        position = following
    return depth, spans


def yaml_mapping_last_line(lines: list[str], first: int, last: int) -> int:
    """The last line (0-based) of the YAML dialog mapping that starts on line `first`."""
    return max(span.last for span in _yaml_spans(lines, first, last)[1])


def _yaml_value(field: str, value: Any) -> str:
    if field in ("timestamp_utc", ID_FIELD):
        return str(int(value))
    return yaml_quote(str(value))


def _find(spans: list[_Span], names: tuple[str, ...]) -> _Span | None:
    """The first span named by the first of `names` that occurs (lower-case compare)."""
    for name in names:
        for span in spans:
            if span.name.lower() == name:
                return span
    return None


def _rewrite(
    lines: list[str],
    first: int,
    last: int,
    replacements: dict[int, tuple[int, list[str]]],
    insert_after: int,
    additions: list[str],
) -> list[str]:
    """Lines first..last with spans replaced (first -> (last, new lines)) and lines added."""
    result: list[str] = []
    index = first
    while index <= last:
        if index in replacements:
            consumed_last, text = replacements[index]
            result += text
        else:
            consumed_last = index
            result.append(lines[index])
        if additions and index <= insert_after <= consumed_last:
            result += additions
            additions = []
        index = consumed_last + 1
    return result + additions


def edit_yaml_mapping(
    lines: list[str], first: int, last: int, changes: Mapping[str, Any]
) -> list[str]:
    """The lines first..last of a YAML dialog mapping with `changes` applied (None deletes).

    A key to delete that sits on a list item's `- ` line is set to "" instead,
    which the parser reads as no value.
    """
    depth, spans = _yaml_spans(lines, first, last)
    replacements: dict[int, tuple[int, list[str]]] = {}
    additions: list[str] = []
    for field, value in changes.items():
        span = _find(spans, YAML_KEYS[field])
        if span is None:
            if value is not None:
                key = YAML_NEW_KEY[field]
                additions.append(" " * depth + f"{key}: {_yaml_value(field, value)}")
        elif value is None and "-" not in span.prefix:
            replacements[span.first] = (span.last, [])
        else:
            text = '""' if value is None else _yaml_value(field, value)
            replacements[span.first] = (span.last, [f"{span.prefix}{span.name}: {text}"])
    insert_after = max(span.last for span in spans)
    return _rewrite(lines, first, last, replacements, insert_after, additions)


def _label(line: str) -> tuple[str, int] | None:
    """(label, index after `:**`) of a `**Label:**` field line, as the parser reads it."""
    if field_line(line) is None:
        return None
    close = line.find(":**", 2)
    return line[2:close].strip(), close + 3


def _field_spans(lines: list[str], fenced: list[bool], first: int, last: int) -> list[_Span]:
    """The `**Label:**` fields of a bold or begin/end entry; a message spans its paragraph."""
    spans: list[_Span] = []
    index = first
    while index <= last:
        labelled = None if fenced[index] else _label(lines[index])
        if labelled is None:
            index += 1
            continue
        name, after = labelled
        end = index
        if name.lower() in ("message", "summary", "action"):
            end = _message_end(lines, fenced, index, last, lines[index][after:])
        spans.append(_Span(name, index, end, lines[index][:after]))
        index = end + 1
    return spans


def _message_end(lines: list[str], fenced: list[bool], index: int, last: int, value: str) -> int:
    """The last line of a `**Message:**` field, read as the parser reads it.

    Its paragraph (up to a blank, field or fenced line); when its value is empty
    or a marker such as `|`, the blank lines below and the next paragraph.
    """
    start = index + 1
    if is_empty_message_marker(value):
        while start <= last and is_blank(lines[start]):
            start += 1
    end = start
    while end <= last:
        line = lines[end]
        if is_blank(line) or fenced[end] or _label(line):
            break
        end += 1
    return max(index, end - 1) if end > start else index


def _field_text(field: str, value: Any) -> list[str]:
    """The value part of a `**Label:**` line (and the lines below it, for a message)."""
    if field in ("timestamp_utc", ID_FIELD):
        return [str(int(value))]
    if field == "mood_rgb":
        return [f'"{value}"']
    if field == "message":
        parts = str(value).split("\n")
        parts[0] = '"' + parts[0]
        parts[-1] = parts[-1] + '"'
        return parts
    return [str(value)]


def edit_labelled_fields(
    lines: list[str], fenced: list[bool], entry: Entry, changes: Mapping[str, Any]
) -> list[str]:
    """The lines of a bold or begin/end entry with `changes` applied (None deletes).

    `fenced[i]` is True for lines inside a code fence (dialogfile.parse_layout).
    """
    labels = BOLD_LABELS if entry.format == "bold" else BEGIN_END_LABELS
    first, last = entry.line - 1, entry.end_line - 1
    # The `# Dialog end` line closes a begin/end block and holds no field.
    fields_last = last - 1 if entry.format == "begin_end" else last
    spans = _field_spans(lines, fenced, first, fields_last)
    planned: list[tuple[list[_Span], str, Any]] = []
    # New lines in the canonical order; a message goes last, as the lines after it
    # would continue its paragraph.
    for field, value in sorted(changes.items(), key=lambda item: _FIELD_ORDER.index(item[0])):
        if field not in labels:
            if value is None:
                continue
            raise UnrepresentableEdit(f"a {entry.format} entry has no {field} field")
        names = labels[field]
        found = _find(spans, names)
        if value is None and field == "timestamp_utc":
            # Every timestamp label goes, or a later one would supply the value.
            matching = [span for span in spans if span.name.lower() in names]
            planned.append((matching, field, value))
        else:
            planned.append(([found] if found else [], field, value))
    replacements: dict[int, tuple[int, list[str]]] = {}
    additions: list[str] = []
    for found_spans, field, value in planned:
        if not found_spans:
            if value is not None:
                text = _field_text(field, value)
                additions += [f"**{_NEW_LABEL[field]}:** {text[0]}", *text[1:]]
            continue
        for span in found_spans:
            text = [] if value is None else _field_text(field, value)
            if text:
                text = [f"{span.prefix} {text[0]}", *text[1:]]
            replacements[span.first] = (span.last, text)
    following = lines[first + 1] if first + 1 <= last else ""
    if "message" in changes and additions and following.strip() and not _label(following):
        additions.append("")
    return _rewrite(lines, first, last, replacements, first, additions)
