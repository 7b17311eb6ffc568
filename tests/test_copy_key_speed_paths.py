"""The reindex's faster ways to the same copy keys, glyph words and entry keys (issue 15).

Each is checked against the plain formulation it replaced, on any text hypothesis
makes (ASCII, accents, emoji, CJK, mojibake): the stored keys and ids must not move.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from dialogfile.copies import _WORD, _words
from dialogfile.glyphs import GLYPH, glyph_word, glyph_words
from dialogfile.identity import entry_key
from dialogfile.model import Entry
from dialogfile.mojibake import repaired

TEXTS = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(max_codepoint=127)),
    st.text(alphabet="aéÉ—✅⚠️🐺東京 ́\u0301\u00e2\u20ac\u201dxY_-.,\n\t"),
    st.sampled_from(["2026 â€” THOTH", "Café naïve", "e\u0301t\u00e9", "Ⅻ ﬁx", "ß STRASSE"]),
)


def words_as_written(text: str | None) -> str:
    """copies._words as first written: every character looked at in Python."""
    if not text:
        return ""
    text = repaired(text) or text
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_WORD.findall(text.casefold()))


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_words_are_those_of_the_plain_formulation(text: str) -> None:
    assert _words(text) == words_as_written(text)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_glyph_words_are_those_of_the_plain_formulation(text: str) -> None:
    plain = (
        [] if text.isascii() else list(dict.fromkeys(glyph_word(c) for c in GLYPH.findall(text)))
    )
    assert glyph_words(text) == plain


@settings(max_examples=200, deadline=None)
@given(TEXTS, st.dictionaries(st.text(max_size=5), st.one_of(st.text(), st.integers())))
def test_entry_keys_are_those_of_json_dumps(text: str, metadata: dict) -> None:
    entry = Entry("a.md", "bold", 1, 2, speaker=text, message=text, body=text, metadata=metadata)
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
    expected = hashlib.sha1(canonical.encode("utf-8", "surrogatepass")).hexdigest()
    assert entry_key(entry) == expected
