"""Glyphs: emoji and CJK characters as words a full-text index can hold.

The indexes split text into words of letters and digits (FTS5's unicode61, tantivy's
simple tokenizer, the file index): an emoji is no word at all, and a run of CJK
characters is one word, so `🐺` and `東` alone find nothing. Each such character
also becomes a glyph word, `qg` and its code point in hex (`🐺` is `qg1f43a`), that the
writer indexes beside the entry's text (indexer.store_rows) and a query asks for
(searchsvc.query.fts_query). Pure functions.
"""

from __future__ import annotations

import re

#: Emoji and pictographs, CJK ideographs, kana and hangul syllables.
GLYPH = re.compile(
    "["
    "\u2600-\u27bf"  # miscellaneous symbols, dingbats
    "\u2b00-\u2bff"  # arrows, stars
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U0001f000-\U0001faff"  # emoji, pictographs
    "\U00020000-\U0002fa1f"  # CJK extensions B-F, compatibility supplement
    "]"
)
#: What starts a glyph word (no real word of the dialogs looks like `qg1f43a`).
PREFIX = "qg"


def glyph_word(character: str) -> str:
    """The glyph word of one character: `qg` + its code point in lower-case hex."""
    return f"{PREFIX}{ord(character):x}"


def glyph_words(text: str | None) -> list[str]:
    """The glyph words of `text`'s emoji and CJK characters, in order, without repeats."""
    if not text or text.isascii():
        return []
    return [glyph_word(c) for c in dict.fromkeys(GLYPH.findall(text))]
