"""The messy cases of real dialog files, each in a small inline file."""

from __future__ import annotations

import re
from textwrap import dedent

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.parse_work import PATHOLOGICAL, parse_work, peak_bytes

from dialogfile.parse import decode_dialog_bytes, parse_file
from dialogfile.parse_yaml_dialog import quoted_prefix, read_scalar

PATH = "dialogs/messy.md"

SAMPLE = """
    ---
    file.last_modified_utc: 20260120090400
    dialog:
      speaker: KIRO
      target: @everyone
      message: "Header message."
    ---

    ## 2026-01-20 — CURSOR: Sync

    **Speaker:** CURSOR
    **Mood:** `FF6600` (Technical)
    **Message:** "Bold message."

    ---

    # Dialog begin
    **Agent:** KIRO
    **Summary:** Done.
    # Dialog end
"""


def parse(text: str):
    return parse_file(dedent(text).lstrip("\n"), PATH)


def dialogs(text: str):
    return [entry for entry in parse(text).entries if entry.format != "section"]


def test_a_bom_adds_no_line():
    text = dedent(SAMPLE).lstrip("\n")
    assert parse_file("\ufeff" + text, PATH) == parse_file(text, PATH)
    decoded = parse_file(decode_dialog_bytes(b"\xef\xbb\xbf" + text.encode()), PATH)
    assert [(e.format, e.line) for e in decoded.entries[:2]] == [("section", 2), ("header", 3)]


def test_crlf_gives_the_same_entries_as_lf():
    text = dedent(SAMPLE).lstrip("\n")
    assert parse_file(text.replace("\n", "\r\n"), PATH) == parse_file(text, PATH)


@pytest.mark.parametrize("fence", ["```", "~~~", "````", "  ```markdown"])
def test_nothing_inside_a_fence_is_an_entry(fence):
    closing = fence.strip().split("markdown")[0]
    text = f"""
        {fence}
        **Speaker:** EXAMPLE
        ---
        dialog:
          speaker: EXAMPLE
        ---
        # Dialog begin
        **Agent:** EXAMPLE
        # Dialog end
        {closing}
        **Speaker:** REAL
    """
    found = dialogs(text)
    assert [(e.speaker, e.line) for e in found] == [("REAL", 11)]


def test_a_bold_body_continues_across_a_fence():
    (entry,) = dialogs(
        """
        **Speaker:** CURSOR
        **Message:** text
        ```
        **Speaker:** NOT_AN_ENTRY
        ## not a heading
        ```
        tail
        """
    )
    assert (entry.line, entry.end_line, entry.message) == (1, 7, "text")


def test_an_unclosed_fence_runs_to_the_end_and_is_reported():
    parsed = parse("**Speaker:** A\n\n```\n**Speaker:** B\n")
    assert [e.speaker for e in parsed.entries] == ["A"]
    assert [(p.line, "never closed" in p.message) for p in parsed.problems] == [(3, True)]


def test_a_backtick_fence_info_string_without_backticks_only():
    found = dialogs("``` a`b\n**Speaker:** A\n")
    assert [e.speaker for e in found] == ["A"]


@pytest.mark.parametrize(
    ("mood", "rgb"),
    [
        ("`FF6600` (Technical/Operational)", "FF6600"),
        ("`{22}|88|[[CC]]`", None),  # Lupopedia's notation: the index decodes it
        ("FF6600FF", None),
    ],
)
def test_mood_is_normalised_and_kept_raw(mood, rgb):
    parsed = parse(f"**Speaker:** A\n**Mood_RGB:** {mood}\n")
    (entry,) = parsed.entries
    assert (entry.mood_rgb, entry.mood_raw) == (rgb, mood)
    assert len(parsed.problems) == (rgb is None and "[[" not in mood)


@pytest.mark.parametrize("mood", ["🐺", "`🧭`", "😊 calm", '"🐺"'])
def test_an_emoji_mood_stays_raw_without_a_problem(mood):
    parsed = parse(f"**Speaker:** A\n**Mood_RGB:** {mood}\n")
    (entry,) = parsed.entries
    assert (entry.mood_rgb, entry.mood_raw, parsed.problems) == (None, mood, ())


def test_a_lone_dialog_begin_is_a_heading():
    parsed = parse("# Dialog begin\n\n**Speaker:** A\n**Message:** hi\n")
    entries = [e for e in parsed.entries if e.format == "bold"]
    assert [(e.speaker, e.title) for e in entries] == [("A", "Dialog begin")]
    assert [p.line for p in parsed.problems] == [1]


def test_field_lines_above_the_speaker_belong_to_no_entry():
    parsed = parse(
        """
        ## 2026-01-18 — Notes
        **Timestamp:** 20260101000000
        **Mood_RGB:** "00FF00"
        **Speaker:** WOLFIE
        **Message:** hi
        """
    )
    section, entry = parsed.entries
    assert (entry.line, entry.timestamp_utc, entry.mood_rgb) == (4, 20260118000000, None)
    assert (section.format, section.line, section.end_line) == ("section", 1, 3)


@pytest.mark.parametrize(
    ("heading", "timestamp"),
    [
        ("## 2026-01-16 — CURSOR: Title", 20260116000000),
        ("## 2026-01-18 07:15 — MONDAY WOLFIE: notes", 20260118071500),
        ("### Version 4.0.46 Sync (2026-01-16)", 20260116000000),
        ("# Version 4.0.46", None),
        ("## January 16, 2026", None),
    ],
)
def test_timestamp_from_the_nearest_heading(heading, timestamp):
    (entry,) = dialogs(f"# 2025-01-01 older\n{heading}\n\nintro\n\n**Speaker:** A\n")
    assert entry.timestamp_utc == timestamp
    assert entry.title == heading.lstrip("# ")


@pytest.mark.parametrize(
    ("fields", "timestamp"),
    [
        (["**Timestamp:** 20260116"], 20260116000000),
        (["**Date:** 2026-01-17", "**Timestamp (UTC):** 20260118101010"], 20260118101010),
        (["**Timestamp:** soon", "**Date:** 2026-01-17"], 20260117000000),
        (["**Timestamp:** soon"], 20250101000000),
    ],
)
def test_timestamp_fields_in_order_then_heading(fields, timestamp):
    parsed = parse("\n".join(["## 2025-01-01", "**Speaker:** A", *fields]) + "\n")
    (entry,) = [e for e in parsed.entries if e.format == "bold"]
    assert entry.timestamp_utc == timestamp
    assert bool(parsed.problems) == (fields == ["**Timestamp:** soon"])


def test_eight_digit_file_date_in_a_header():
    (entry,) = dialogs("---\nfile.last_modified_utc: 20260120\ndialog:\n  speaker: A\n---\n")
    assert entry.timestamp_utc == 20260120000000


def test_mojibake_is_kept_as_is():
    text = '**Speaker:** CURSOR\n**Message:** "Done â€” all good"\n'
    (entry,) = dialogs(decode_dialog_bytes(text.encode("utf-8")))
    assert entry.message == "Done â€” all good"


def test_no_closing_front_matter_means_no_front_matter():
    parsed = parse("---\ndialog:\n  speaker: A\n  message: hi\n\n# Body\ntext\n")
    assert [e.format for e in parsed.entries] == ["section", "section"]
    assert parsed.problems[0].line == 1
    assert parsed.entries[0].body.startswith("---\ndialog:")


def test_problems_read_path_line_what_and_what_to_do():
    parsed = parse("**Speaker:** A\n**Mood:** calm\n")
    (problem,) = parsed.problems
    assert str(problem).startswith(f"{PATH}:1: mood 'calm' is not an RRGGBB colour")
    assert problem.message.endswith(")")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n\n",
        "\x00\x00**Speaker:**\x00\n",
        "---",
        "---\n---",
        "---\n---\n---\n",
        "**Speaker:**",
        "# Dialog begin",
        "# Dialog end\n# Dialog begin\n",
        "dialog:\n",
        "---\ndialog:\n---\n",
        "---\ndialog: [1, 2]\n---\n",
        "---\ndialog:\n  - \n  -\n---\n",
        "---\ndialog:\n  message: |\n---\n",
        '---\ndialog:\n  message: "never closed\n---\n',
        "---\ndialog:\n  speaker: !!python/object:os.system x\n---\n",
        "---\ndialog:\n  speaker: a\n  date_ymdhis: 2026-02-30\n---\n",
        "---\ndialog:\n  speaker: &a [*a]\n---\n",
        "---\ndialog:\n  message: " + "[" * 5000 + "\n---\n",
        "**Speaker:** A\n**Message:**\n",
        "**:** x\n**Speaker:** A\n",
        "\r\n\r\r\n",
        "```",
        "~~~\n~~",
    ],
)
def test_odd_inputs_never_raise(text):
    parsed = parse_file(text, PATH)
    for entry in parsed.entries:
        assert 1 <= entry.line <= entry.end_line


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_input_takes_linear_work(name):
    build = PATHOLOGICAL[name]
    # Both sizes above the 64 KiB beyond which dialog blocks skip PyYAML.
    small, large = build(70_000), build(280_000)
    small_steps, small_scanned = parse_work(small, PATH)
    large_steps, large_scanned = parse_work(large, PATH)
    # 4x the input: linear work is at most 4x of each count, quadratic about 16x.
    assert large_steps <= 4.5 * small_steps, f"{name}: {small_steps} -> {large_steps} steps"
    assert large_scanned <= 4.5 * small_scanned, f"{name}: {small_scanned} -> {large_scanned}"
    small_peak = peak_bytes(lambda: parse_file(small, PATH))
    large_peak = peak_bytes(lambda: parse_file(large, PATH))
    assert large_peak <= 4.5 * small_peak + 65_536, f"{name}: {small_peak} -> {large_peak} bytes"


# The quoted-scalar patterns as they were: backtracking, ~130 bytes of stack per repetition.
BACKTRACKING = {
    '"': re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL),
    "'": re.compile(r"'(?:[^']|'')*'"),
}


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(['"', "'"]), st.text(alphabet="\"'\\a \n", max_size=40))
def test_a_quoted_value_ends_where_the_backtracking_pattern_ended(quote, rest):
    text = quote + rest
    match = BACKTRACKING[quote].match(text)
    assert quoted_prefix(text) == (match.group(0) if match else None)


@pytest.mark.parametrize("quote", ['"', "'"])
def test_an_unclosed_quote_is_read_without_memory_per_character(quote):
    # Issue 11: 1.6M backslashes held 94 MiB of regex stack, which glibc mapped afresh
    # (and page-faulted in) on every call above its 32 MiB mmap ceiling.
    value = quote + (quote * 2 if quote == "'" else "\\") * 800_000 + "x"
    peak = peak_bytes(lambda: read_scalar(value, []))
    assert peak < 8 * len(value), f"{peak / len(value):.1f} bytes per character"
