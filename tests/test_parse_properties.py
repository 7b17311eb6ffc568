"""Property tests: whatever the input, parse_file returns sane records and never raises."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.line_coverage import lines_not_owned_once

from dialogfile.model import FORMATS
from dialogfile.parse import decode_dialog_bytes, parse_file
from dialogfile.parse_layout import split_lines

PATH = "dialogs/fuzz.md"

SEED_TEXTS = [
    "---\nfile.last_modified_utc: 20260120\ndialog:\n  speaker: KIRO\n  target: @everyone\n"
    '  mood_RGB: "0066FF"\n  message: "Hi."\n---\n\n# Title\n',
    "## 2026-01-20 — CURSOR: Sync\n\n**Speaker:** CURSOR\n**Mood:** `FF6600` (x)\n"
    '**Message:** "Done."\n\n**DETAILS:**\n- a\n\n---\n',
    "# Dialog begin\n**Timestamp (UTC):** 20260114193000\n**Agent:** KIRO\n"
    "**Summary:** Done.\n# Dialog end\n",
    "Intro\n\n---\nDIALOG:\n  speaker: LILITH\n  message: |\n    a\n    b\n---\n",
    '```yaml\ndialog:\n  speaker: X\n```\n**STONED WOLFIE:** "Duuude…"\n',
    "---\ndialog:\n  - speaker: A\n    message: 'x'\n  - speaker: B\n---\n",
]

MARKERS = [
    "---",
    "**Speaker:** X",
    "**Message:**",
    "**Timestamp:** 2026-01-01",
    "```",
    "~~~",
    "# Dialog begin",
    "# Dialog end",
    "dialog:",
    "  - speaker: Y",
    '  message: "open',
    "  message: |",
    "## 2026-01-16 — H",
    "\r",
    "\x00",
    "\ufeff",
    "x" * 5000,
]


def assert_sane(text: str) -> None:
    parsed = parse_file(text, PATH)
    lines = split_lines(text[1:] if text.startswith("\ufeff") else text)
    count = len(lines)
    previous = 0
    for entry in parsed.entries:
        assert entry.format in FORMATS
        assert 1 <= entry.line <= entry.end_line <= count
        assert entry.line >= previous
        previous = entry.line
        assert entry.dialog_file == PATH
        assert entry.mood_rgb is None or len(entry.mood_rgb) == 6
        assert entry.timestamp_utc is None or isinstance(entry.timestamp_utc, int)
    for problem in parsed.problems:
        assert 1 <= problem.line <= max(count, 1)
        assert problem.path == PATH
    assert lines_not_owned_once(text, parsed) == []


@st.composite
def mutated_texts(draw) -> str:
    lines = draw(st.sampled_from(SEED_TEXTS)).split("\n")
    for _ in range(draw(st.integers(0, 6))):
        action = draw(st.sampled_from(["insert", "duplicate", "delete", "truncate", "flip"]))
        position = draw(st.integers(0, len(lines)))
        if action == "insert":
            lines.insert(position, draw(st.sampled_from(MARKERS)))
        elif action == "duplicate" and lines:
            lines.insert(position, lines[min(position, len(lines) - 1)])
        elif action == "delete" and lines:
            del lines[min(position, len(lines) - 1)]
        elif action == "truncate":
            text = "\n".join(lines)
            lines = text[: draw(st.integers(0, len(text)))].split("\n")
        elif action == "flip":
            data = bytearray("\n".join(lines).encode("utf-8"))
            if data:
                at = draw(st.integers(0, len(data) - 1))
                data[at] ^= 1 << draw(st.integers(0, 7))
            lines = decode_dialog_bytes(bytes(data)).split("\n")
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_texts())
def test_mutated_dialog_texts_parse_sanely(text):
    assert_sane(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_parse_sanely(data):
    assert_sane(decode_dialog_bytes(data))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*MARKERS, "", "text", "  indented: x", "key: v"]), max_size=40))
def test_random_marker_soup_parses_sanely(lines):
    assert_sane("\n".join(lines))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=500))
def test_random_unicode_parses_sanely(text):
    assert_sane(text)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=500))
def test_decoding_never_raises_and_drops_only_a_bom(data):
    text = decode_dialog_bytes(data)
    assert not text.startswith("\ufeff") or data.startswith(b"\xef\xbb\xbf\xef\xbb\xbf")
