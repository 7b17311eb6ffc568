"""Parsed dialog files as database rows: pure functions, no database.

Kept apart from load_sqlite so the reindex workers can turn parsed files into
rows (ids included) in parallel, and send back plain tuples.
"""

from __future__ import annotations

import functools
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
    "body_extra",
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
#: Runs of characters that the FTS5 tokenizer (unicode61) always separates words
#: at: ASCII characters other than letters and digits, and white space.
_WORD_SEPARATORS = re.compile(r"[\x00-/:-@\[-`{-\x7f\s]+")
#: The labels of an entry's lines (`**Speaker:**`, `message:`): words not worth an index entry.
LABEL_WORDS = frozenset({"speaker", "target", "message", "title"})


def target_tokens(target: str | None) -> list[str]:
    """The tokens of `target` as written, split on white space and commas, without repeats.

    A token made only of punctuation (the `+` of `CURSOR + WINDSURF`) is no target.
    """
    return list(_target_tokens(target or ""))


@functools.lru_cache(maxsize=1 << 12)
def _target_tokens(target: str) -> tuple[str, ...]:
    """target_tokens, remembered: the same few targets come back on most entries."""
    tokens: list[str] = []
    for token in _TARGET_SEPARATORS.split(target):
        if any(character.isalnum() for character in token) and token not in tokens:
            tokens.append(token)
    return tuple(tokens)


@functools.lru_cache(maxsize=1 << 16)
def _words(text: str) -> frozenset[str]:
    """The words of `text`, split where unicode61 always splits; ASCII words lower-cased.

    A word with other characters is kept as written: unicode61 may split it
    further or fold it, but the same word gives the same tokens wherever it is.
    """
    if text.isascii():
        words = set(_WORD_SEPARATORS.split(text.lower()))
    else:
        words = {w.lower() if w.isascii() else w for w in _WORD_SEPARATORS.split(text)}
    words.discard("")
    return frozenset(words)


def _separator(character: str) -> bool:
    return _WORD_SEPARATORS.match(character) is not None


def _cut(line: str, text: str) -> str | None:
    """`line` with `text` replaced by a space where it stands as whole words; else None."""
    at = line.find(text)
    if at < 0:
        return None
    end = at + len(text)
    starts = at == 0 or _separator(line[at - 1]) or _separator(text[0])
    ends = end == len(line) or _separator(line[end]) or _separator(text[-1])
    return f"{line[:at]} {line[end:]}" if starts and ends else None


def _inside(line: str, text: str) -> bool:
    """Whether `line` stands in `text` as whole words (so its words are words of `text`)."""
    at = text.find(line)
    if at < 0:
        return False
    end = at + len(line)
    starts = at == 0 or _separator(text[at - 1]) or _separator(line[0])
    ends = end == len(text) or _separator(text[end]) or _separator(line[-1])
    return starts and ends


def _has_word(text: str, word: str) -> bool:
    """Whether `word` stands in `text` between separators (or at an end)."""
    at = text.find(word)
    while at >= 0:
        end = at + len(word)
        if (at == 0 or _separator(text[at - 1])) and (end == len(text) or _separator(text[end])):
            return True
        at = text.find(word, at + 1)
    return False


class _MessageWords:
    """Tells whether a word is a word of the message, splitting it only when it must."""

    def __init__(self, message: str) -> None:
        self.lowered = message.lower() if message.isascii() else None
        self.message = message
        self.words: frozenset[str] | None = None

    def __contains__(self, word: str) -> bool:
        if self.lowered is not None:
            return word.isascii() and _has_word(self.lowered, word)
        if self.words is None:
            self.words = _words(self.message)
        return word in self.words


def body_extra(
    body: str, title: str | None, message: str | None, speaker: str | None, target: str | None
) -> str:
    """The lines of `body` with a word that is in none of the other columns nor LABEL_WORDS.

    What the FTS5 column `body` indexes (see sql/0003): the rest of the body is
    already indexed through title, message, speaker and target, so leaving it
    out finds the same entries for every word but the labels. The message's
    lines are recognised as text of the message before any word is split.
    """
    if not body or body == message:
        return ""
    small = LABEL_WORDS.union(*(_words(text) for text in (title, speaker, target) if text))
    in_message = _MessageWords(message) if message else None
    kept = []
    for line in body.split("\n"):
        rest = line
        if message and line.strip():
            cut = _cut(line, message)
            if cut is not None:
                rest = cut
            elif _inside(line.strip(), message):
                continue
        missing = _words(rest) - small
        if missing and (in_message is None or any(w not in in_message for w in missing)):
            kept.append(line)
    return "\n".join(kept)


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
        body_extra(entry.body, entry.title, entry.message, entry.speaker, entry.target),
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
