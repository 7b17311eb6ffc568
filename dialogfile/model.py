"""The plain data that flows from the parser to every store: no I/O here."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from dialogfile.fields import ENTRY_FIELDS, FORMATS, STORED_ENTRY_COLUMNS

__all__ = ["ENTRY_FIELDS", "FORMATS", "STORED_ENTRY_COLUMNS", "Entry", "ParsedFile", "Problem"]


@dataclass(frozen=True)
class Entry:
    """One dialog entry (or one `section` of free text) of one file.

    `line` and `end_line` are 1-based lines of the original file (front matter
    counted, a BOM does not add a line); `body` is the Markdown text of lines
    `line..end_line`. `timestamp_utc` is an int YYYYMMDDHHMMSS or None.
    Its attributes are dialogfile.fields.FIELDS (tests/test_fields.py keeps them equal).
    """

    dialog_file: str
    format: str
    line: int
    end_line: int
    speaker: str | None = None
    target: str | None = None
    mood_rgb: str | None = None
    mood_raw: str | None = None
    timestamp_utc: int | None = None
    message: str | None = None
    title: str | None = None
    body: str = ""
    system_version: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=True, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict with the ENTRY_FIELDS keys, in that order.

        Read field by field (dataclasses.asdict copies every value recursively: a quarter
        of a search's time); only the metadata, the one mutable value, is copied.
        """
        result = {name: getattr(self, name) for name in ENTRY_FIELDS}
        result["metadata"] = deepcopy(self.metadata) if self.metadata else {}
        return result


@dataclass(frozen=True)
class Problem:
    """Something the parser could not read: `path:line: message`."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class ParsedFile:
    """Everything one file yields: its entries in line order and its problems."""

    path: str
    entries: tuple[Entry, ...] = ()
    problems: tuple[Problem, ...] = ()
