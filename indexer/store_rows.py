"""Parsed dialog files as database rows: pure functions, no database.

Kept apart from load_sqlite so the reindex workers can turn parsed files into
rows (ids included) in parallel, and send back plain tuples.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from dialogfile.copies import copy_key
from dialogfile.glyphs import glyph_words
from dialogfile.identity import keyed_entries
from dialogfile.model import ENTRY_FIELDS, STORED_ENTRY_COLUMNS, Entry, ParsedFile, Problem
from dialogfile.mojibake import repaired_text
from dialogfile.parse_values import indexed_mood
from indexer.file_types import file_type

if TYPE_CHECKING:
    from indexer.discover import SourceFile

#: Columns of lupo_dialog_entries in the order of every entry row tuple: the id and the
#: content key, the entry's stored columns (dialogfile.fields), `body_extra`, then the
#: key its copies share (dialogfile.copies; `copy_state` is the writer's to keep).
ENTRY_COLUMNS = (
    "dialog_entry_id",
    "entry_key",
    *STORED_ENTRY_COLUMNS[1:],
    "body_extra",
    "copy_key",
)
#: Columns of lupo_dialog_files in the order of every file row tuple.
FILE_COLUMNS = (
    "file_path",
    "file_type",
    "entry_count",
    "section_count",
    "content_hash",
    "size_bytes",
    "mtime_ns",
    "last_sync_utc",
    "problems_json",
)
ID, TARGET, FORMAT, LINE, COPY_KEY = (
    ENTRY_COLUMNS.index(c) for c in ("dialog_entry_id", "target", "format", "line", "copy_key")
)

# The entry's field values in ENTRY_FIELDS order; metadata is stored as JSON text.
_ENTRY_VALUES = attrgetter(*ENTRY_FIELDS)
_METADATA = ENTRY_FIELDS.index("metadata")
#: The stored mood_rgb is the colour search files the entry under (parse_values.indexed_mood).
_MOOD = ENTRY_FIELDS.index("mood_rgb")

#: json.dumps(metadata, ensure_ascii=False), with one encoder for every entry.
_METADATA_JSON = json.JSONEncoder(ensure_ascii=False)

#: Characters at which the FTS5 tokenizer (unicode61) always ends a word: ASCII
#: characters other than letters and digits, and white space.
_WORD_SEPARATOR = re.compile(r"[\x00-/:-@\[-`{-\x7f\s]")
#: A run of characters at which unicode61 does not end a word (closely).
_WORD = re.compile(r"[^\x00-/:-@\[-`{-\x7f\s]+")
#: Words of the message kept at each end of `body_extra` (see body_extra).
EDGE_WORDS = 3
#: What may stand between a message and the text on its line: spaces and quotes.
_QUOTES = " \t\"'`"


def _separator(character: str) -> bool:
    return _WORD_SEPARATOR.match(character) is not None


def body_extra(body: str, message: str | None) -> str:
    """`body` without the text of `message` (its first occurrence standing as whole words).

    What the FTS5 column `body` indexes (see sql/0003): the message is indexed
    through its own column, and a body holds it again (the `**Message:**` line of
    a bold entry; a section's body is its heading and message). The cut text
    starts and ends at word boundaries, so every word of the body is still in
    one of the two columns; a body without the message as written (e.g. YAML
    escapes) is kept whole. Where the message shares a line with the body's text,
    its first (last) EDGE_WORDS words stay where they were, so a phrase that runs
    from the body into the message (`Message: Fleet, WINSUF`) or out of it is found
    like any other (a phrase never spans two columns).
    """
    if not body or body == message:
        return ""
    if message:
        at = body.find(message)
        if at >= 0:
            end = at + len(message)
            starts = at == 0 or _separator(body[at - 1]) or _separator(message[0])
            ends = end == len(body) or _separator(body[end]) or _separator(message[-1])
            if starts and ends:
                before, after = body[:at], body[end:]
                head = before.rstrip(_QUOTES)[-1:] not in ("", "\n")
                tail = after.lstrip(_QUOTES)[:1] not in ("", "\n")
                return f"{before}{_edges(message, head, tail)}{after}"
    return body


def _edges(message: str, head: bool, tail: bool) -> str:
    """The message's first (`head`) and last (`tail`) EDGE_WORDS words as written: those
    that share a line with the body's text around them."""
    if not (head or tail):
        return " "
    spans = [match.span() for match in _WORD.finditer(message)]
    if len(spans) <= 2 * EDGE_WORDS:
        return message
    first = message[: spans[EDGE_WORDS - 1][1]]
    last = message[spans[-EDGE_WORDS][0] :]
    return f"{first if head else ''} {last if tail else ''}"


def _stored_values(entry: Entry) -> list[Any]:
    """The entry's field values as its row stores them (ENTRY_FIELDS order)."""
    values = list(_ENTRY_VALUES(entry))
    values[_METADATA] = _METADATA_JSON.encode(entry.metadata) if entry.metadata else "{}"
    values[_MOOD] = indexed_mood(entry.mood_rgb, entry.mood_raw)
    return values


def entry_row(entry_id: int, key: str, entry: Entry) -> tuple[Any, ...]:
    """The lupo_dialog_entries row of an entry, in ENTRY_COLUMNS order."""
    values = _stored_values(entry)
    extra = body_extra(entry.body, entry.message)
    glyphs = glyph_words(f"{entry.title or ''}\n{entry.message or ''}\n{entry.body}")
    if glyphs:  # emoji and CJK characters as words (dialogfile.glyphs), searched in `body`
        extra = f"{extra} {' '.join(glyphs)}".lstrip()
    fixed = repaired_text(entry.title, entry.message, entry.body)
    if fixed:  # garbled text's words as they were meant (dialogfile.mojibake)
        extra = f"{extra}\n{fixed}".lstrip()
    return (entry_id, key, *values, extra, copy_key(entry))


def holds_entry(row: tuple[Any, ...], entry_id: int, key: str, entry: Entry) -> bool:
    """Whether `row` (a stored row) is the row of `entry` with this id and key.

    Every field of the entry is compared; the rest of the row (body_extra, copy_key) is
    made from those fields alone, so it is not made again to be compared.
    """
    return row[ID] == entry_id and row[1] == key and list(row[2:-2]) == _stored_values(entry)


def problems_json(problems: Iterable[Problem]) -> str:
    """The problems_json column: [{"line": n, "message": "..."}, ...]."""
    return json.dumps(
        [{"line": problem.line, "message": problem.message} for problem in problems],
        ensure_ascii=False,
    )


@dataclass(frozen=True)
class PreparedFile:
    """A parsed file as rows, ids from dialogfile.identity (not yet checked against other files)."""

    path: str
    content_hash: str
    size_bytes: int
    mtime_ns: int
    entry_rows: list[tuple[Any, ...]]
    problems: tuple[Problem, ...]

    def file_row(self, problems: Iterable[Problem], synced_utc: int) -> tuple[Any, ...]:
        """The lupo_dialog_files row (FILE_COLUMNS order) with the given problems."""
        sections = sum(1 for row in self.entry_rows if row[FORMAT] == "section")
        return (
            self.path,
            file_type(self.path),
            len(self.entry_rows) - sections,
            sections,
            self.content_hash,
            self.size_bytes,
            self.mtime_ns,
            synced_utc,
            problems_json(problems),
        )


def prepare_file(
    source: SourceFile,
    parsed: ParsedFile,
    known: Mapping[Entry, tuple[Any, ...]] | None = None,
    stored: Mapping[int, tuple[Any, ...]] | None = None,
) -> PreparedFile:
    """The rows of a parsed file, its entries keyed and given their stable ids.

    `known`: rows made for this file before, by entry; an equal entry with the same id
    and key takes its row as it is (a write changes one entry of a file: the rest of the
    file's rows are not made again). `stored`: the file's rows in the database by id; an
    entry they hold as it is (holds_entry) takes its stored row.
    """
    rows = []
    for entry_id, key, entry in keyed_entries(parsed.entries):
        row = known.get(entry) if known else None
        if row is None or row[0] != entry_id or row[1] != key:
            row = stored.get(entry_id) if stored else None
            if row is None or not holds_entry(row, entry_id, key, entry):
                row = entry_row(entry_id, key, entry)
        rows.append(row)
    return PreparedFile(
        path=source.path,
        content_hash=source.content_hash,
        size_bytes=source.size_bytes,
        mtime_ns=source.mtime_ns,
        entry_rows=rows,
        problems=tuple(parsed.problems),
    )
