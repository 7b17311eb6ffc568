"""Normalisation of field values and decoding of file bytes."""

from __future__ import annotations

import pytest

from dialogfile.parse import decode_dialog_bytes
from dialogfile.parse_layout import heading_text, split_lines
from dialogfile.parse_values import (
    clean_message_lines,
    indexed_mood,
    is_emoji_mood,
    normalise_mood,
    normalise_name,
    notation_colour,
    parse_timestamp,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"00FF00"', "00FF00"),
        ("`ff6600`", "FF6600"),
        ("#0066ff", "0066FF"),
        ('"#0066FF"', "0066FF"),
        ("`FF6600` (Technical/Operational)", "FF6600"),
        ("0066FF — calm", "0066FF"),
        ("0066FF - calm", "0066FF"),
        ("0066FF, calm", "0066FF"),
        ("0066FF(calm)", "0066FF"),
        ("FF6600FF", None),
        ("Caffeinated, surgical, precise", None),
        ("0066F", None),
        ("", None),
        (None, None),
        ("`🧭`", None),
    ],
)
def test_normalise_mood(raw, expected):
    assert normalise_mood(raw) == expected


#: Lupopedia's mood notation {RR}|GG|[[BB]], as its files write it (no hypothesis: a table):
#: the colour the index files it under; the parser's mood_rgb stays null (corpus README).
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("`{00}|FF|[[00]]`", "00FF00"),
        ("{00}|FF|[[00]]", "00FF00"),
        ("`{22}|88|[[CC]]`", "2288CC"),
        ("`{80}|20|[[00]]` (Command/Tired/Final)", "802000"),
        ("`{FF}|A5|[[00]]` (Alert/Uncertain/Compliant)", "FFA500"),
        ("{ff}|a5|[[0c]]", "FFA50C"),
        ('"`{20}|60|[[FF]]`"', "2060FF"),
        ('"{20}|60|[[FF]]"', "2060FF"),
        ("'{20}|60|[[ff]]' — chill", "2060FF"),
        ("{00} | AA | [[BB]]", "00AABB"),
        ("{00}|AA|[[BB]], steady", "00AABB"),
        # Not the notation: the wrong brackets, digits or length, or text glued on.
        ("{0}|FF|[[00]]", None),
        ("{00}|FF|[00]", None),
        ("[[00]]|FF|{00}", None),
        ("{GG}|FF|[[00]]", None),
        ("{000}|FF|[[00]]", None),
        ("{00}|FF|[[00]]x", None),
        ("mood {00}|FF|[[00]]", None),
    ],
)
def test_lupopedia_mood_notation(raw, expected):
    assert notation_colour(raw) == expected
    assert indexed_mood(None, raw) == expected
    assert normalise_mood(raw) is None


@pytest.mark.parametrize(
    ("raw", "emoji"),
    [
        ("🐺", True),
        ("`🧭`", True),
        ("😊 calm", True),
        ('"❤️"', True),
        ("` 🌊 `", True),
        ("calm 😊", False),
        ("Caffeinated, surgical, precise", False),
        ("FF6600FF", False),
        ("`ðŸ§\xad`", False),  # mojibake of 🧭: a broken file, still worth a problem line
        ("", False),
        ("``", False),
    ],
)
def test_is_emoji_mood(raw, emoji):
    assert is_emoji_mood(raw) is emoji


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20260120090400", 20260120090400),
        ("20260120", 20260120000000),
        ("2026-01-16", 20260116000000),
        ("2026-01-18 07:15 — MONDAY WOLFIE: notes", 20260118071500),
        ("2026-01-16T13:17:05Z", 20260116131705),
        ("2026-01-16 13:17 CST", 20260116131700),
        ("Version 4.0.46 Sync (2026-01-16)", 20260116000000),
        ("[YYYYMMDDHHMMSS]", None),
        ("January 16, 2026", None),
        ("2026\u201101\u201120", None),
        ("202601201234567", None),
        ("1234567", None),
        ("WOLFIE_CURRENT_UTC_HEADER", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_timestamp(raw, expected):
    assert parse_timestamp(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  CURSOR  ", "CURSOR"),
        ('"CAPTAIN WOLFIE"', "CAPTAIN WOLFIE"),
        ("`'KIRO'`", "KIRO"),
        ('""', None),
        ("   ", None),
        ("@everyone @FLEET", "@everyone @FLEET"),
        (None, None),
    ],
)
def test_normalise_name(raw, expected):
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (['"Hello there."'], "Hello there."),
        (['"  padded  "'], "padded"),
        (["> first", "> second"], "first\nsecond"),
        (["  indented  ", "next"], "indented\nnext"),
        (['"only one pair"" kept"'], 'only one pair"" kept'),
        ([], None),
        (["  "], None),
    ],
)
def test_clean_message_lines(lines, expected):
    assert clean_message_lines(lines) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("plain — text".encode(), "plain — text"),
        (b"\xef\xbb\xbf---\nx", "---\nx"),
        ("caf\u00e9 \u2014".encode("cp1252"), "caf\u00e9 \u2014"),
        (
            b"undefined \x81 \x8d \x8f \x90 \x9d bytes \xff",
            "undefined \x81 \x8d \x8f \x90 \x9d bytes ÿ",
        ),
        ("mojibake â€” kept".encode(), "mojibake â€” kept"),
        (b"\xef\xbb\xbfcaf\xe9", "caf\u00e9"),
        (b"", ""),
    ],
)
def test_decode_dialog_bytes(data, expected):
    assert decode_dialog_bytes(data) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\nb\n", ["a", "b"]),
        ("a\r\nb\r\n", ["a", "b"]),
        ("a\rb\n", ["a\rb"]),
        ("a\n\nb", ["a", "", "b"]),
        ("a\u2028b\x0bc\n", ["a\u2028b\x0bc"]),
        ("", []),
    ],
)
def test_split_lines_on_lf_only(text, expected):
    assert split_lines(text) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("# Title", "Title"),
        ("###   Spaced   ###", "Spaced"),
        ("   ## three spaces", "three spaces"),
        ("    # four spaces", None),
        ("#NoSpace", None),
        ("####### seven", None),
        ("#", ""),
        ("## C#", "C#"),
        ("# tab\there", "tab\there"),
    ],
)
def test_heading_text(line, expected):
    assert heading_text(line) == expected
