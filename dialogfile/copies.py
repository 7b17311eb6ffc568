"""Copies: the same entry (or text section) in several places, known by one key.

A repository may hold a file twice (`docs/x.md` and `lupopedia/docs/x.md`), repeat a
section word for word, or keep a changelog's entries again in a backup whose dashes
were garbled on the way (`â€”`) and whose names are spelled another way (`@Fleet`,
`FLEET`). Two records are copies when search sees the same record in both places: the
same words (case, accents, punctuation and mojibake aside, dialogfile.mojibake), the
same people (speaker and targets by their name keys, dialogfile.names), the same colour,
time, version and format. `copy_key` is a digest of exactly that, so every filter and
every word that finds one copy finds the others. Of the copies, the one in the
shallowest folder (then the first path, line, id) is the original (`copy_order`), and
how many places hold a record weighs in its relevance (`copy_weight`).
Pure functions.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from dialogfile.glyphs import GLYPH
from dialogfile.model import Entry
from dialogfile.mojibake import repaired
from dialogfile.names import name_key, split_names, target_tokens
from dialogfile.parse_values import indexed_mood

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
#: What each doubling of the places that hold a record adds to its relevance (a factor
#: on bm25, in every engine), up to COPY_WEIGHT_MOST_PLACES places: see copy_weight.
COPY_WEIGHT_PER_DOUBLING = 0.1
COPY_WEIGHT_MOST_PLACES = 8


#: A word as the indexes see one: letters and digits, or one glyph (dialogfile.glyphs).
_WORD = re.compile(rf"[^\W_]+|{GLYPH.pattern}")
#: ... in ASCII text, once lower-cased (the same words, found faster).
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_MOOD_AT = COPY_FIELDS.index("mood_rgb")


def _normal(value: Any) -> str:
    return "" if value is None else " ".join(str(value).casefold().split())


def _words(text: str | None) -> str:
    """The words of a text: mojibake repaired, case and accents folded, punctuation gone."""
    if not text:
        return ""
    if text.isascii():
        return " ".join(_ASCII_WORD.findall(text.lower()))
    text = repaired(text) or text
    text = _without_marks(unicodedata.normalize("NFKD", text))
    return " ".join(_WORD.findall(text.casefold()))


def _without_marks(text: str) -> str:
    """`text` without its combining characters (the accents NFKD took apart).

    Only the few distinct non-ASCII characters of a text are looked at, not each
    character in Python: a reindex does this for every record.
    """
    marks = [c for c in set(_NON_ASCII.findall(text)) if unicodedata.combining(c)]
    return text.translate(dict.fromkeys(map(ord, marks))) if marks else text


def _people(names: Iterable[str]) -> str:
    return "\x1e".join(sorted({key for key in map(name_key, names) if key}))


def copy_key(entry: Entry) -> str:
    """16 hex digits naming what search sees of the entry, its place left out."""
    values = [getattr(entry, name) for name in COPY_FIELDS]
    values[_MOOD_AT] = indexed_mood(entry.mood_rgb, entry.mood_raw)
    return copy_key_of(values)


def copy_key_of(values: Iterable[Any]) -> str:
    """copy_key of the values of COPY_FIELDS, in that order (the mood as the stores index it)."""
    kind, speaker, target, mood, when, version, title, message, body = values
    parts = (
        _normal(kind),
        _people(split_names(speaker)),
        _people(target_tokens(target)),
        _normal(mood),
        _normal(when),
        _normal(version),
        _words(title),
        _words(message),
        _words(body),
    )
    text = "\x1f".join(parts)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def copy_order(dialog_file: str, line: int, entry_id: int) -> tuple[int, str, int, int]:
    """Sort key among copies: the first is the original (shallowest folder, path, line, id)."""
    return (dialog_file.count("/"), dialog_file, line, entry_id)


def copy_weight(places: int) -> float:
    """The factor on a record's bm25 when `places` records hold it (itself and its copies):
    1.0 alone, 1.1 in two places, 1.2 in four, at most 1.3.

    Near-copies (the same entry in a changelog, its backup and an edited version, some
    with another speaker field or version) score alike; the one kept in more places is
    the likelier one wanted (a search that picks entries at random picks it that much
    more often: docs/benchmarks.md, issue 13), and its copies are folded under it. Small,
    so that it decides between near-equal matches, never against a clearly better one.
    """
    held = min(max(places, 1), COPY_WEIGHT_MOST_PLACES)
    return 1.0 + COPY_WEIGHT_PER_DOUBLING * math.log2(held)
