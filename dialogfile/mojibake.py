"""Mojibake: UTF-8 text that was once decoded as Windows-1252 (`—` written as `â€”`).

Real dialog folders hold such copies (a changelog backup saved through the wrong
encoding). The files keep what they say; search repairs it beside the text: the
repaired words are indexed with the record (indexer.store_rows, the file index), so
`café` finds `cafÃ©` too, and two copies of one entry, one of them garbled, are known
as copies (dialogfile.copies). The repair is ftfy's (`fix_encoding`), asked only when a
cheap look finds the telltale pairs. Pure functions.
"""

from __future__ import annotations

import re

import ftfy

#: A UTF-8 lead byte read as Latin-1/Windows-1252 (Â..ô) followed by a continuation byte
#: read the same way (U+0080..U+00BF, or the Windows-1252 letters and signs in 0x80..0x9F).
_HINT = re.compile(
    "[\u00c2-\u00f4]"
    "[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)


def repaired(text: str | None) -> str | None:
    """The text with its mojibake repaired; None when there is none (the usual case).

    >>> repaired("2026-01-18 â€” THOTH")
    '2026-01-18 — THOTH'
    >>> repaired("2026-01-18 — THOTH") is None
    True
    """
    if not text or text.isascii() or _HINT.search(text) is None:
        return None
    fixed = ftfy.fix_encoding(text)
    return fixed if fixed != text else None


def repaired_text(*texts: str | None) -> str:
    """The lines of the texts that had mojibake, repaired, one per line ("" for none): what
    an index adds so the words are found as they were meant (phrases within a line too)."""
    found: dict[str, None] = {}
    for text in texts:
        if text and not text.isascii() and _HINT.search(text) is not None:
            for line in text.splitlines():
                fixed = repaired(line)
                if fixed is not None:
                    found[fixed] = None
    return "\n".join(found)
