"""Stable entry keys and ids, computed from file content alone.

An entry's id is derived from its file path, its content key and how many
identical entries precede it in the same file. So an unchanged entry keeps its
id across reindexes (also when entries above it are added or removed), a full
rebuild on another machine gives the same ids, and the file fallback serves the
same ids as the database without reading it. A renamed file gives its entries
new ids. Ids stay below 2**53 so JavaScript reads them exactly.

An entry that carries its own id (`dialog_entry_id: N` in a YAML dialog
mapping, `**Dialog_Entry_ID:** N` in a bold or begin/end entry, written by the
API when it edits or creates an entry) keeps that id whatever its content, so an
edited entry keeps its permalink.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from dialogfile.model import Entry

ID_BITS = 53
#: The canonical JSON of entry_key (one encoder for every entry: json.dumps with these
#: options would make a new one per call).
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
#: Metadata key under which an entry records its own id (see module docstring).
EXPLICIT_ID_KEY = "dialog_entry_id"
_ID_MASK = (1 << ID_BITS) - 1
#: Keys by entry content (_content) while a caller keeps them (remembered_keys); None:
#: every key is computed.
_REMEMBERED: contextvars.ContextVar[dict[Any, str] | None] = contextvars.ContextVar(
    "dialogfile_entry_keys", default=None
)
#: Whole files' keyed lists while a caller keeps them: id(entries tuple) -> (the tuple, its
#: list). The tuple is held, so its id stays its own while it is remembered.
_FILES_KEYED: contextvars.ContextVar[dict[int, tuple[tuple[Entry, ...], list]] | None] = (
    contextvars.ContextVar("dialogfile_files_keyed", default=None)
)
#: How many files' keyed lists remembered_keys keeps (then it starts again).
FILES_REMEMBERED = 32


@contextmanager
def remembered_keys(
    memo: dict[Any, str], files: dict[int, tuple[tuple[Entry, ...], list]] | None = None
) -> Iterator[None]:
    """Within the block, keyed_entries takes the key of an entry of the same content from
    `memo` (and adds the keys it computes): a write keys the same file's entries several
    times (the file before, the edit read back, the rows), and most of them are the same
    entries, some moved up or down by the edit.

    With `files`, keyed_entries of the same tuple of entries (one parse: `parsed.entries`)
    answers its list from there, computed once (FILES_REMEMBERED tuples at most).
    """
    token = _REMEMBERED.set(memo)
    files_token = _FILES_KEYED.set(files)
    try:
        yield
    finally:
        _FILES_KEYED.reset(files_token)
        _REMEMBERED.reset(token)


def _content(entry: Entry) -> tuple[Any, ...] | None:
    """What entry_key reads, as a dict key (None when a metadata value cannot be one)."""
    try:
        metadata = tuple(
            sorted((name, type(value), value) for name, value in entry.metadata.items())
        )
        content = (
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
            metadata,
        )
        hash(content)
    except TypeError:
        return None
    return content


def _key_of(entry: Entry, memo: dict[Any, str] | None) -> str:
    content = None if memo is None else _content(entry)
    if memo is None or content is None:
        return entry_key(entry)
    key = memo.get(content)
    if key is None:
        key = memo[content] = entry_key(entry)
    return key


def entry_key(entry: Entry) -> str:
    """A hex digest of everything that makes the entry what it is, except where it sits."""
    content = [
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
        entry.metadata,
    ]
    canonical = _CANONICAL.encode(content)
    return hashlib.sha1(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def id_for(dialog_file: str, key: str, occurrence: int) -> int:
    """The id of the `occurrence`-th (0-based) entry with `key` in `dialog_file`."""
    seed = f"{dialog_file}\0{key}\0{occurrence}".encode("utf-8", "surrogatepass")
    value = int.from_bytes(hashlib.sha1(seed).digest()[:8], "big") & _ID_MASK
    return value or 1


def explicit_id(entry: Entry) -> int | None:
    """The id the entry records for itself, if it records a valid one."""
    value = entry.metadata.get(EXPLICIT_ID_KEY)
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip().strip("\"'`")
    else:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 16:
        return None
    number = int(text)
    return number if 0 < number <= _ID_MASK else None


def keyed_entries(entries: Iterable[Entry]) -> list[tuple[int, str, Entry]]:
    """(id, key, entry) for each entry of ONE file, in the given order.

    An explicit id wins; a second entry claiming an id already used in the file
    falls back to its computed id, so ids stay unique within a file.
    """
    files = _FILES_KEYED.get()
    if files is None or not isinstance(entries, tuple):
        return _keyed(entries)
    remembered = files.get(id(entries))
    if remembered is None or remembered[0] is not entries:
        if len(files) >= FILES_REMEMBERED:
            files.clear()
        remembered = files[id(entries)] = (entries, _keyed(entries))
    return list(remembered[1])


def appended_id(keyed: list[tuple[int, str, Entry]], entry: Entry) -> int:
    """The id `entry` gets when it follows the file's entries `keyed` (keyed_entries' list):
    keyed_entries([*those entries, entry])[-1][0], without keying the others again."""
    key = _key_of(entry, _REMEMBERED.get())
    occurrence = sum(1 for _, other, _ in keyed if other == key)
    used = {entry_id for entry_id, _, _ in keyed}
    entry_id = explicit_id(entry)
    if entry_id is None or entry_id in used:
        entry_id = id_for(entry.dialog_file, key, occurrence)
        while entry_id in used:
            entry_id = entry_id % _ID_MASK + 1
    return entry_id


def _keyed(entries: Iterable[Entry]) -> list[tuple[int, str, Entry]]:
    seen: dict[str, int] = {}
    used: set[int] = set()
    keyed = []
    memo = _REMEMBERED.get()
    for entry in entries:
        key = _key_of(entry, memo)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        entry_id = explicit_id(entry)
        if entry_id is None or entry_id in used:
            entry_id = id_for(entry.dialog_file, key, occurrence)
            while entry_id in used:
                entry_id = entry_id % _ID_MASK + 1
        used.add(entry_id)
        keyed.append((entry_id, key, entry))
    return keyed
