"""One name per person: the canonical key of a speaker or target as written, and the names
a field holds.

The files keep what they say (`CAPTAIN_WOLFIE`, `Captain Wolfie`, `@fleet`); search
compares keys. A key ignores case, the `_` / `-` / white space between words, and a
leading `@`, so every spelling above of one name gives the same key. A speaker field may
name several people (`CAPTAIN WOLFIE / WOLFIE / LILITH`, `A, B`, `A & B`, `A + B`): the
entry is by each of them. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_JOINERS = re.compile(r"[\s_\-]+")
#: What separates several names in one speaker field.
_NAME_SEPARATORS = re.compile(r"\s*(?:/|,|&|\+|;)\s*")


@lru_cache(maxsize=1 << 14)
def name_key(name: str) -> str:
    """The canonical key of a name: NFKC, case folded, `_`/`-`/spaces as one space, no `@`.

    >>> name_key("CAPTAIN_WOLFIE") == name_key("Captain Wolfie") == "captain wolfie"
    True
    >>> name_key("@Fleet")
    'fleet'
    """
    text = unicodedata.normalize("NFKC", name).casefold().strip()
    text = text.lstrip("@").strip()
    return _JOINERS.sub(" ", text).strip()


@lru_cache(maxsize=1 << 14)
def split_names(field: str | None) -> tuple[str, ...]:
    """The names one speaker field holds, as written (stripped), in order, without repeats.

    >>> split_names("CAPTAIN WOLFIE / WOLFIE / LILITH")
    ('CAPTAIN WOLFIE', 'WOLFIE', 'LILITH')
    >>> split_names("KIRO")
    ('KIRO',)
    """
    if not field:
        return ()
    names: dict[str, str] = {}
    for part in _NAME_SEPARATORS.split(field.strip()):
        part = part.strip()
        key = name_key(part)
        if key and key not in names:
            names[key] = part
    return tuple(names.values())


def name_keys(field: str | None) -> frozenset[str]:
    """The keys of every name a field holds (and of the whole field when it is one name)."""
    return frozenset(name_key(name) for name in split_names(field))


_TARGET_SEPARATORS = re.compile(r"[\s,]+")


def target_tokens(target: str | None) -> list[str]:
    """The tokens of a target field as written, split on white space and commas, without
    repeats: the targets an entry is filed under.

    A token made only of punctuation (the `+` of `CURSOR + WINDSURF`) is no target.
    """
    return list(_target_tokens(target or ""))


@lru_cache(maxsize=1 << 12)
def _target_tokens(target: str) -> tuple[str, ...]:
    """target_tokens, remembered: the same few targets come back on most entries."""
    tokens: list[str] = []
    for token in _TARGET_SEPARATORS.split(target):
        if any(character.isalnum() for character in token) and token not in tokens:
            tokens.append(token)
    return tuple(tokens)
