"""Edits of whole dialog files that read back exactly as asked.

`plan_append`, `plan_update` and `plan_remove` are pure: they take a file's text
and return the new text plus the entry as the parser reads it back. Each one
parses its result and refuses (UnrepresentableEdit) unless the edited entry
reads back with exactly the asked fields and every other entry of the file keeps
its fields and its id. Ids stay stable because an edited or created entry
records its id in the file (see dialogfile/identity.py), and so does any identical
entry below it whose computed id the edit would otherwise shift. The result is parsed
with dialogfile.reparse.parse_edited: the same parse as parse_file, reading again only
the lines between the headings around the edit when that is enough.

The file I/O (`read_dialog_file`, the atomic `write_dialog_file`,
`remove_stale_temp_files`) is dialogfile/file_io.py's; those names are re-exported
here for the callers that import them with the planners.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml

from dialogfile.edits import (
    EDITABLE_FIELDS,
    ID_FIELD,
    UnrepresentableEdit,
    edit_labelled_fields,
    edit_yaml_mapping,
    yaml_mapping_last_line,
    yaml_quote,
)
from dialogfile.file_io import read_dialog_file, remove_stale_temp_files, write_dialog_file
from dialogfile.identity import appended_id, explicit_id, keyed_entries
from dialogfile.model import Entry, ParsedFile
from dialogfile.parse import parse_file
from dialogfile.parse_layout import read_layout
from dialogfile.reparse import parse_edited

__all__ = [
    "EDITABLE_FIELDS",
    "EntryNotInFile",
    "FileEdit",
    "ReadOnlyEntry",
    "UnrepresentableEdit",
    "plan_append",
    "plan_remove",
    "plan_update",
    "read_dialog_file",
    "remove_stale_temp_files",
    "write_dialog_file",
]

#: The key of the canonical inline block, as the Lupopedia examples spell it.
BLOCK_KEY = "DIALOG"
_TITLE_SUFFIX = "written through the dialogsearch API"


class EntryNotInFile(LookupError):
    """No entry of the file has the asked id (the file changed since it was read)."""


class ReadOnlyEntry(ValueError):
    """The entry is a `section` record: text outside every dialog entry, not editable."""


@dataclass(frozen=True)
class FileEdit:
    """A file's new text and the entry the edit created or changed (None after a delete)."""

    text: str
    entry_id: int | None = None
    entry: Entry | None = None
    #: The parse of `text` the edit was checked with (so a loader need not parse it again).
    parsed: ParsedFile | None = None


@dataclass
class _Lines:
    """A file's lines as the parser numbers them, keeping each line's CR for the rewrite."""

    raw: list[str]

    @classmethod
    def of(cls, text: str) -> _Lines:
        return cls(text.split("\n"))

    @property
    def content(self) -> list[str]:
        return [line[:-1] if line.endswith("\r") else line for line in self.raw]

    @property
    def newline(self) -> str:
        crlf = sum(1 for line in self.raw if line.endswith("\r"))
        return "\r\n" if crlf * 2 > len(self.raw) else "\n"

    def replace(self, first: int, last: int, new: list[str]) -> None:
        """Put `new` (line texts) in place of lines first..last (0-based, inclusive)."""
        cr = "\r" if self.raw[first].endswith("\r") else ""
        last_cr = "\r" if self.raw[last].endswith("\r") else ""
        text = [line + cr for line in new]
        if text:
            text[-1] = new[-1] + last_cr
        self.raw[first : last + 1] = text

    def text(self) -> str:
        return "\n".join(self.raw)


def utc_now_stamp() -> int:
    """The current UTC time as an int YYYYMMDDHHMMSS."""
    return int(datetime.now(UTC).strftime("%Y%m%d%H%M%S"))


def render_inline_block(fields: Mapping[str, Any], entry_id: int | None = None) -> list[str]:
    """The lines of a canonical inline `DIALOG:` block holding `fields` (and the id)."""
    lines = ["---", f"{BLOCK_KEY}:"]
    keys = {"mood_rgb": "mood_RGB", "timestamp_utc": "date_ymdhis"}
    for name in EDITABLE_FIELDS:
        value = fields.get(name)
        if value is None:
            continue
        text = str(int(value)) if name == "timestamp_utc" else yaml_quote(str(value))
        lines.append(f"  {keys.get(name, name)}: {text}")
    if entry_id is not None:
        lines.append(f"  {ID_FIELD}: {entry_id}")
    lines.append("---")
    return lines


def new_file_text(path: str, now: int) -> str:
    """The text of a new dialog file: a WOLFIE header (valid YAML front matter), no entries."""
    name = path.rsplit("/", 1)[-1]
    header = {
        "wolfie.headers.version": "4.0.0",
        "file.last_modified_utc": now,
        "file.utc_day": now // 1_000_000,
        "file.name": name,
        "file.title": f"{name}: dialog entries {_TITLE_SUFFIX}",
        "tags": {"categories": ["dialog"], "collections": ["dialog"]},
    }
    front_matter = yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{front_matter}---\n"


def _fields(entry: Entry) -> tuple[Any, ...]:
    names = (*EDITABLE_FIELDS, "format", "title", "system_version")
    return tuple(getattr(entry, name) for name in names)


def _others_unchanged(
    before: list[tuple[int, str, Entry]],
    after: list[tuple[int, str, Entry]],
    *,
    sections: bool,
    pinned: frozenset[int] = frozenset(),
) -> bool:
    """True when both lists hold the same entries with the same ids, positions aside.

    A pinned entry gained its id line, so only its id and fields are compared.
    """

    def comparable(keyed: list[tuple[int, str, Entry]]) -> list[tuple[int, Any]]:
        # The content key covers every field but the position, so (id, key) compares
        # the entries "positions aside" without copying them.
        return [
            (entry_id, _fields(entry) if entry_id in pinned else key)
            for entry_id, key, entry in keyed
            if sections or entry.format != "section"
        ]

    return comparable(before) == comparable(after)


def _mismatches(entry: Entry, expected: Mapping[str, Any]) -> list[str]:
    """`field: wanted X, reads back as Y` for each field that did not read back as asked."""
    return [
        f"{name}: wanted {expected[name]!r}, the file would read back {getattr(entry, name)!r}"
        for name in expected
        if getattr(entry, name) != expected[name]
    ]


def _parsed(text: str, path: str, parsed: ParsedFile | None) -> ParsedFile:
    """The parse of `text`: `parsed` when the caller has it."""
    return parsed if parsed is not None else parse_file(text, path)


def _find(keyed: list[tuple[int, str, Entry]], entry_id: int) -> int:
    for index, (candidate, _, _) in enumerate(keyed):
        if candidate == entry_id:
            return index
    raise EntryNotInFile(f"no entry with id {entry_id} in the file")


def plan_append(
    text: str | None,
    path: str,
    fields: Mapping[str, Any],
    *,
    entry_id: int | None = None,
    now: int | None = None,
    parsed: ParsedFile | None = None,
) -> FileEdit:
    """Append a canonical inline block with `fields` to `text` (None: a new file).

    `fields` holds EDITABLE_FIELDS values (None or absent: not written). The
    block records `entry_id`, or else the content id the entry would get, so
    that later edits keep it. `now` dates the header of a new file. Raises
    UnrepresentableEdit when the block would not read back as exactly those
    fields (e.g. the file ends inside an unclosed code fence). `parsed` is
    the parse of `text` when the caller has it.
    """
    expected = {name: fields.get(name) for name in EDITABLE_FIELDS}
    base = new_file_text(path, now or utc_now_stamp()) if text is None else text
    base_parsed = _parsed(base, path, parsed if text is not None else None)
    before = keyed_entries(base_parsed.entries)
    newline = _Lines.of(base).newline
    if not base:
        separators = [""]
    else:
        ending = base if base.endswith("\n") else base + newline
        last_line = ending.rstrip("\r\n").rsplit("\n", 1)[-1]
        separators = [ending] if not last_line.strip() else [ending + newline, ending]
    problems: list[str] = []
    fallback: FileEdit | None = None
    block = render_inline_block(expected)
    for prefix in separators:
        wanted_id = entry_id or _content_id(before, path, newline.join(block) + newline)
        final = prefix + newline.join(render_inline_block(expected, wanted_id)) + newline
        parsed = parse_edited(base, base_parsed, final, path)
        found = _appended(before, keyed_entries(parsed.entries))
        if found is None:
            problems = ["the block would not read back as a new entry at the end of the file"]
            continue
        found_id, entry, sections_kept = found
        problems = _mismatches(entry, expected)
        if found_id != wanted_id:
            problems.append(f"id: wanted {wanted_id}, the file would read back {found_id}")
        if problems:
            continue
        edit = FileEdit(final, found_id, entry, parsed)
        if sections_kept:
            return edit
        fallback = fallback or edit
    if fallback is not None:
        return fallback
    raise UnrepresentableEdit(
        f"cannot append to {path} so that the entry reads back as given: "
        + "; ".join(problems)
        + " (does the file end inside an unclosed code fence, or open a front matter"
        + " that never closes?)"
    )


def _content_id(before: list[tuple[int, str, Entry]], path: str, block: str) -> int:
    """The id the block's entry gets from its content alone, appended after `before`.

    An entry's content key does not depend on where it sits, so the block parsed
    on its own gives the key the file would give it; appended_id then numbers
    it after the file's entries, as a parse of the whole file would.
    """
    # A blank first line: a `---` on line 1 would open a front matter instead.
    alone = [e for e in parse_file("\n" + block, path).entries if e.format == "inline"]
    if len(alone) != 1:
        raise UnrepresentableEdit("the canonical block does not read back as one entry")
    return appended_id(before, alone[0])


def _appended(
    before: list[tuple[int, str, Entry]], after: list[tuple[int, str, Entry]]
) -> tuple[int, Entry, bool] | None:
    """(id, entry, sections unchanged) of the one inline entry appended, if that is all."""
    positions = [i for i, (_, _, entry) in enumerate(after) if entry.format != "section"]
    if not positions or after[positions[-1]][2].format != "inline":
        return None
    index = positions[-1]
    entry_id, _, entry = after[index]
    others = after[:index] + after[index + 1 :]
    if _others_unchanged(before, others, sections=True):
        return entry_id, entry, True
    if _others_unchanged(before, others, sections=False):
        return entry_id, entry, False
    return None


def _edited_lines(lines: list[str], entry: Entry, changes: Mapping[str, Any]) -> list[str]:
    """The new text of the entry's lines entry.line..entry.end_line."""
    first, last = entry.line - 1, entry.end_line - 1
    if entry.format in ("header", "inline"):
        return edit_yaml_mapping(lines, first, last, changes)
    if entry.format in ("bold", "begin_end"):
        return edit_labelled_fields(lines, read_layout("\n".join(lines)).fenced, entry, changes)
    raise ReadOnlyEntry(f"{entry.format} records are read-only")


def _pins(keyed: list[tuple[int, str, Entry]], index: int) -> list[tuple[int, Entry]]:
    """(id, entry) of the entries below `index` whose computed id an edit at `index` shifts.

    Occurrence numbers count identical entries in order, so changing or removing
    one renumbers the identical entries below it unless they record their ids.
    """
    _, key, _ = keyed[index]
    return [
        (entry_id, entry)
        for entry_id, other_key, entry in keyed[index + 1 :]
        if other_key == key and explicit_id(entry) != entry_id and entry.format != "section"
    ]


def _apply_pins(lines: _Lines, pins: list[tuple[int, Entry]]) -> None:
    """Record their ids in the pinned entries, bottom up so line numbers above stay valid."""
    for entry_id, entry in sorted(pins, key=lambda item: item[1].line, reverse=True):
        new = _edited_lines(lines.content, entry, {ID_FIELD: entry_id})
        lines.replace(entry.line - 1, entry.end_line - 1, new)


def plan_update(
    text: str,
    path: str,
    entry_id: int,
    changes: Mapping[str, Any],
    *,
    parsed: ParsedFile | None = None,
) -> FileEdit:
    """Rewrite the fields `changes` names (None clears one) in the entry's own lines.

    Raises EntryNotInFile, ReadOnlyEntry (a section) or UnrepresentableEdit (the
    entry's format cannot hold the value, e.g. a blank line inside a bold message).
    """
    before_parsed = _parsed(text, path, parsed)
    before = keyed_entries(before_parsed.entries)
    index = _find(before, entry_id)
    entry = before[index][2]
    if entry.format == "section":
        raise ReadOnlyEntry(
            "section records are read-only: they hold a file's text outside entries"
        )
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise UnrepresentableEdit(f"not editable: {', '.join(sorted(unknown))}")
    expected = {name: getattr(entry, name) for name in EDITABLE_FIELDS}
    expected.update(changes)
    edits: dict[str, Any] = dict(changes)
    if explicit_id(entry) != entry_id:
        edits[ID_FIELD] = entry_id
    lines = _Lines.of(text)
    pins = _pins(before, index)
    _apply_pins(lines, pins)
    lines.replace(entry.line - 1, entry.end_line - 1, _edited_lines(lines.content, entry, edits))
    new_text = lines.text()
    parsed = parse_edited(text, before_parsed, new_text, path)
    after = keyed_entries(parsed.entries)
    problems: list[str] = []
    if len(after) != len(before):
        problems.append("the edit would change how many entries the file holds")
    else:
        new_id, _, new_entry = after[index]
        problems += _mismatches(new_entry, expected)
        for name in ("format", "title", "system_version"):
            if getattr(new_entry, name) != getattr(entry, name):
                problems.append(f"{name} would change")
        if new_id != entry_id:
            problems.append(f"the id would change from {entry_id} to {new_id}")
        others_before = before[:index] + before[index + 1 :]
        others_after = after[:index] + after[index + 1 :]
        pinned = frozenset(pin_id for pin_id, _ in pins)
        if not problems and not _others_unchanged(
            others_before, others_after, sections=True, pinned=pinned
        ):
            problems.append("the edit would change another entry of the file")
    if problems:
        raise UnrepresentableEdit(
            f"cannot store this change in the {entry.format} entry at {path}:{entry.line}: "
            + "; ".join(problems)
        )
    return FileEdit(new_text, entry_id, after[index][2], parsed)


def _removal_ranges(lines: list[str], entry: Entry) -> list[tuple[int, int]]:
    """Line ranges (0-based, inclusive) to try removing for the entry, best first."""
    first, last = entry.line - 1, entry.end_line - 1
    ranges: list[tuple[int, int]] = []
    if entry.format in ("header", "inline"):
        # An inline entry's lines run to its block's closing `---`: keep that and any
        # other keys of the block (a pasted header), remove only the mapping.
        last = yaml_mapping_last_line(lines, first, last)
    if entry.format == "inline":
        opener = first - 1
        while opener >= 0 and lines[opener].rstrip() != "---":
            opener -= 1
        closer = last + 1
        while closer < len(lines) and lines[closer].rstrip() != "---":
            closer += 1
        inside = range(opener + 1, closer)
        only_entry = all(not lines[i].strip() or first <= i <= last for i in inside)
        if opener >= 0 and closer < len(lines) and only_entry:
            if opener > 0 and not lines[opener - 1].strip():
                ranges.append((opener - 1, closer))
            ranges += [(opener, closer), (opener, last)]
    elif entry.format in ("bold", "begin_end"):
        if 0 < first and last + 1 < len(lines):
            if not lines[first - 1].strip() and not lines[last + 1].strip():
                ranges.append((first, last + 1))
    ranges.append((first, last))
    return ranges


def plan_remove(
    text: str, path: str, entry_id: int, *, parsed: ParsedFile | None = None
) -> FileEdit:
    """Remove the entry's lines (for an inline block that holds only it: the whole block).

    Raises EntryNotInFile, ReadOnlyEntry, or UnrepresentableEdit when no removal
    leaves every other dialog entry of the file as it was.
    """
    before_parsed = _parsed(text, path, parsed)
    before = keyed_entries(before_parsed.entries)
    index = _find(before, entry_id)
    entry = before[index][2]
    if entry.format == "section":
        raise ReadOnlyEntry(
            "section records are read-only: they hold a file's text outside entries"
        )
    pinned_lines = _Lines.of(text)
    pins = _pins(before, index)
    _apply_pins(pinned_lines, pins)
    pinned = frozenset(pin_id for pin_id, _ in pins)
    others = before[:index] + before[index + 1 :]
    candidates = []
    for first, last in _removal_ranges(pinned_lines.content, entry):
        lines = _Lines(list(pinned_lines.raw))
        lines.replace(first, last, [])
        candidates.append(lines.text())
    # Only the removed lines change, so sections can only regroup: compare dialog entries.
    for candidate in candidates:
        parsed = parse_edited(text, before_parsed, candidate, path)
        after = keyed_entries(parsed.entries)
        if _others_unchanged(others, after, sections=False, pinned=pinned):
            return FileEdit(candidate, parsed=parsed)
    raise UnrepresentableEdit(
        f"cannot remove the {entry.format} entry at {path}:{entry.line} "
        "without changing another entry of the file; edit the file by hand"
    )
