"""Copies: the same entry (or text section) in several places, known by one key.

A repository may hold a file twice (`docs/x.md` and `lupopedia/docs/x.md`) or repeat
a section word for word. Two records are copies when everything a search shows or
filters on but their place (file, lines) is the same, ignoring case and how white
space runs: `copy_key` is a digest of exactly that. Of the copies, the one in the
shallowest folder (then the first path, line, id) is the original (`copy_order`).
Pure functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from dialogfile.model import Entry

#: The fields that make two records copies (all but the place and free-form metadata).
COPY_FIELDS = (
    "format",
    "speaker",
    "target",
    "mood_rgb",
    "timestamp_utc",
    "system_version",
    "title",
    "message",
    "body",
)
#: The two values of the store's `copy` field.
ORIGINAL, COPY = "original", "copy"


def _normal(value: Any) -> str:
    return "" if value is None else " ".join(str(value).casefold().split())


def copy_key(entry: Entry) -> str:
    """16 hex digits naming the entry's text and attributes, its place left out."""
    return copy_key_of([getattr(entry, name) for name in COPY_FIELDS])


def copy_key_of(values: Iterable[Any]) -> str:
    """copy_key of the values of COPY_FIELDS, in that order."""
    text = "\x1f".join(_normal(value) for value in values)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def copy_order(dialog_file: str, line: int, entry_id: int) -> tuple[int, str, int, int]:
    """Sort key among copies: the first is the original (shallowest folder, path, line, id)."""
    return (dialog_file.count("/"), dialog_file, line, entry_id)
