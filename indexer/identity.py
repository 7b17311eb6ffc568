"""Stable entry keys and ids, computed from file content alone.

An entry's id is derived from its file path, its content key and how many
identical entries precede it in the same file. So an unchanged entry keeps its
id across reindexes (also when entries above it are added or removed), a full
rebuild on another machine gives the same ids, and the file fallback serves the
same ids as the database without reading it. A renamed file gives its entries
new ids. Ids stay below 2**53 so JavaScript reads them exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from indexer.model import Entry

ID_BITS = 53
_ID_MASK = (1 << ID_BITS) - 1


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
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def id_for(dialog_file: str, key: str, occurrence: int) -> int:
    """The id of the `occurrence`-th (0-based) entry with `key` in `dialog_file`."""
    seed = f"{dialog_file}\0{key}\0{occurrence}".encode("utf-8", "surrogatepass")
    value = int.from_bytes(hashlib.sha1(seed).digest()[:8], "big") & _ID_MASK
    return value or 1


def keyed_entries(entries: Iterable[Entry]) -> list[tuple[int, str, Entry]]:
    """(id, key, entry) for each entry of ONE file, in the given order."""
    seen: dict[str, int] = {}
    keyed = []
    for entry in entries:
        key = entry_key(entry)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        keyed.append((id_for(entry.dialog_file, key, occurrence), key, entry))
    return keyed
