"""Parsed dialog files as database rows: pure functions, no database.

Kept apart from load_sqlite so the reindex workers can turn parsed files into
rows (ids included) in parallel, and send back plain tuples.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from indexer.file_types import file_type
from indexer.identity import keyed_entries
from indexer.model import Entry, ParsedFile, Problem

if TYPE_CHECKING:
    from indexer.discover import SourceFile

#: Columns of lupo_dialog_entries in the order of every entry row tuple.
ENTRY_COLUMNS = (
    "dialog_entry_id",
    "dialog_file",
    "entry_key",
    "format",
    "speaker",
    "target",
    "mood_rgb",
    "mood_raw",
    "timestamp_utc",
    "message",
    "title",
    "body",
    "system_version",
    "line",
    "end_line",
    "metadata_json",
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
ID, TARGET, FORMAT, LINE = (
    ENTRY_COLUMNS.index(c) for c in ("dialog_entry_id", "target", "format", "line")
)

_TARGET_SEPARATORS = re.compile(r"[\s,]+")


def target_tokens(target: str | None) -> list[str]:
    """The tokens of `target` as written, split on white space and commas, without repeats.

    A token made only of punctuation (the `+` of `CURSOR + WINDSURF`) is no target.
    """
    tokens: list[str] = []
    for token in _TARGET_SEPARATORS.split(target or ""):
        if any(character.isalnum() for character in token) and token not in tokens:
            tokens.append(token)
    return tokens


def entry_row(entry_id: int, key: str, entry: Entry) -> tuple[Any, ...]:
    """The lupo_dialog_entries row of an entry, in ENTRY_COLUMNS order."""
    return (
        entry_id,
        entry.dialog_file,
        key,
        entry.format,
        entry.speaker,
        entry.target,
        entry.mood_rgb,
        entry.mood_raw,
        entry.timestamp_utc,
        entry.message,
        entry.title,
        entry.body,
        entry.system_version,
        entry.line,
        entry.end_line,
        json.dumps(entry.metadata, ensure_ascii=False),
    )


def problems_json(problems: Iterable[Problem]) -> str:
    """The problems_json column: [{"line": n, "message": "..."}, ...]."""
    return json.dumps(
        [{"line": problem.line, "message": problem.message} for problem in problems],
        ensure_ascii=False,
    )


@dataclass(frozen=True)
class PreparedFile:
    """A parsed file as rows, ids from indexer.identity (not yet checked against other files)."""

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


def prepare_file(source: SourceFile, parsed: ParsedFile) -> PreparedFile:
    """The rows of a parsed file, its entries keyed and given their stable ids."""
    rows = [
        entry_row(entry_id, key, entry) for entry_id, key, entry in keyed_entries(parsed.entries)
    ]
    return PreparedFile(
        path=source.path,
        content_hash=source.content_hash,
        size_bytes=source.size_bytes,
        mtime_ns=source.mtime_ns,
        entry_rows=rows,
        problems=tuple(parsed.problems),
    )
