"""Normalise the values of dialog fields: names, moods, timestamps, message text.

The rules are those of ../shared/corpus/README.md ("Normalising values"). Every
function here is pure, linear in its input and never raises.
"""

from __future__ import annotations

import re
import unicodedata

_QUOTE_PAIRS = ('"', "'", "`")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
#: What may follow a 6-digit colour that starts a longer mood value.
_MOOD_FOLLOWERS = frozenset("(,;:—-")
#: Lupopedia's own mood notation `{RR}|GG|[[BB]]` (hex digits, any case). Fixed width
#: apart from the optional blanks around `|`: a match attempt is bounded by the value.
_LUPOPEDIA_MOOD = re.compile(
    r"\{([0-9A-Fa-f]{2})\}[ \t]*\|[ \t]*([0-9A-Fa-f]{2})[ \t]*\|[ \t]*\[\[([0-9A-Fa-f]{2})\]\]"
)

# YYYY-MM-DD, optionally " HH:MM[:SS]" or "THH:MM[:SS]". No nested quantifiers:
# every match attempt is bounded, so a search is linear in the value length.
_DATE = re.compile(
    r"(?<![0-9])([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[ T]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?)?"
)
_DIGITS_14 = re.compile(r"(?<![0-9])[0-9]{14}(?![0-9])")
_DIGITS_8 = re.compile(r"(?<![0-9])[0-9]{8}(?![0-9])")

#: Values of a `**Message:**` line that mean "the text follows in the next paragraph".
_EMPTY_MESSAGE_MARKERS = frozenset({"", "|", "|-", "|+", ">", ">-", ">+"})


def strip_enclosing_quotes(value: str) -> str:
    """`value` trimmed, with enclosing "…", '…' or `…` pairs removed repeatedly."""
    text = value.strip()
    while len(text) >= 2 and text[0] in _QUOTE_PAIRS and text[-1] == text[0]:
        text = text[1:-1].strip()
    return text


def normalise_name(value: str | None) -> str | None:
    """A speaker or target: trimmed, unquoted, None when empty."""
    if value is None:
        return None
    text = strip_enclosing_quotes(value)
    return text or None


def _is_hex6(text: str) -> bool:
    return len(text) == 6 and all(char in _HEX_DIGITS for char in text)


def _leading_colour(text: str) -> tuple[str, str, bool] | None:
    """(RRGGBB, the rest, from the notation) when `text` starts with a colour.

    A colour is 6 hex digits or Lupopedia's `{RR}|GG|[[BB]]`.
    """
    notation = _LUPOPEDIA_MOOD.match(text)
    if notation is not None:
        return "".join(notation.groups()).upper(), text[notation.end() :], True
    colour = text[:6]
    return (colour.upper(), text[6:], False) if _is_hex6(colour) else None


def _read_mood(value: str | None) -> tuple[str, bool] | None:
    """(RRGGBB, whether it is written in Lupopedia's notation), or None: see normalise_mood."""
    if value is None:
        return None
    text = strip_enclosing_quotes(value)
    if text.startswith("#"):
        text = text[1:]
    opening = ""
    if text[:1] in _QUOTE_PAIRS:
        opening, text = text[0], text[1:]
        if text.startswith("#"):
            text = text[1:]
    found = _leading_colour(text)
    if found is None:
        return None
    colour, rest, notation = found
    if opening and rest.startswith(opening):
        rest = rest[1:]
    if not rest or rest[0].isspace() or rest[0] in _MOOD_FOLLOWERS:
        return colour, notation
    return None


def normalise_mood(value: str | None) -> str | None:
    """`RRGGBB` upper-cased from a mood value, or None when it holds no such colour.

    The colour is 6 hex digits, alone or followed by a description: "`FF6600`
    (Technical)", "0066FF — calm" (../shared/corpus/README.md). Lupopedia's own
    `{RR}|GG|[[BB]]` is no RRGGBB value there, so it reads as None here too; the index
    decodes it (indexed_mood).
    """
    found = _read_mood(value)
    return found[0] if found and not found[1] else None


def notation_colour(value: str | None) -> str | None:
    """`RRGGBB` of a mood written in Lupopedia's notation: `{00}|FF|[[00]]` is 00FF00."""
    found = _read_mood(value)
    return found[0] if found and found[1] else None


def is_notation_mood(value: str | None) -> bool:
    """True when the mood is written in Lupopedia's `{RR}|GG|[[BB]]` (see notation_colour)."""
    return notation_colour(value) is not None


def indexed_mood(mood_rgb: str | None, mood_raw: str | None) -> str | None:
    """The colour search files an entry under: its RRGGBB, else its mood's notation decoded.

    The parser reports what the format defines (mood_rgb); the stores index this, so
    `mood:00FF00`, the mood facet and the page's swatch know `{00}|FF|[[00]]` too.
    """
    return mood_rgb if mood_rgb is not None else notation_colour(mood_raw)


def is_emoji_mood(value: str) -> bool:
    """True when the mood (quotes and backticks aside) starts with a pictograph: `🐺`, `😊 calm`.

    Such a mood is a picture, not a colour written wrongly: it stays in mood_raw and is
    no problem. Pictograph: Unicode category So (symbol, other), which holds the emoji.
    """
    text = strip_enclosing_quotes(value)
    if text[:1] in _QUOTE_PAIRS:
        text = text[1:].lstrip()
    return bool(text) and unicodedata.category(text[0]) == "So"


def parse_timestamp(value: str | None) -> int | None:
    """The first date found in `value` as an int YYYYMMDDHHMMSS, or None.

    Tried in this order: `YYYY-MM-DD[( |T)HH:MM[:SS]]`, a run of exactly 14
    digits, a run of exactly 8 digits (a date: time 000000).
    """
    if not value:
        return None
    match = _DATE.search(value)
    if match:
        year, month, day, hour, minute, second = match.groups()
        return int(f"{year}{month}{day}{hour or '00'}{minute or '00'}{second or '00'}")
    match = _DIGITS_14.search(value)
    if match:
        return int(match.group(0))
    match = _DIGITS_8.search(value)
    if match:
        return int(match.group(0) + "000000")
    return None


def is_empty_message_marker(value: str) -> bool:
    """True when a `**Message:**` value says the message is in the lines below."""
    return value.strip() in _EMPTY_MESSAGE_MARKERS


def clean_message_lines(lines: list[str]) -> str | None:
    """Message text from raw lines: `>` removed, lines trimmed and joined, outer "" removed."""
    cleaned = []
    for raw in lines:
        line = raw.strip()
        if line.startswith(">"):
            line = line[1:].strip()
        cleaned.append(line)
    text = "\n".join(cleaned).strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].strip()
    return text or None
