"""The four dialog formats and section records, on small inline files."""

from __future__ import annotations

from textwrap import dedent

import pytest

from dialogfile.identity import keyed_entries
from dialogfile.model import Entry
from dialogfile.parse import parse_file

PATH = "dialogs/sample.md"


def parse(text: str):
    return parse_file(dedent(text).lstrip("\n"), PATH)


def dialogs(text: str) -> list[Entry]:
    return [entry for entry in parse(text).entries if entry.format != "section"]


def sections(text: str) -> list[Entry]:
    return [entry for entry in parse(text).entries if entry.format == "section"]


HEADER = """
    ---
    wolfie.headers: explicit architecture
    file.last_modified_system_version: 4.0.50
    file.last_modified_utc: 20260120090400
    dialog:
      speaker: KIRO
      target: @everyone
      mood_RGB: "0066FF"
      message: "Added missing WOLFIE Header."
    tags:
      categories: ["documentation"]
    ---

    # Title
"""


def test_header_entry_from_invalid_yaml():
    (entry,) = dialogs(HEADER)
    assert entry.format == "header"
    assert (entry.speaker, entry.target, entry.mood_rgb) == ("KIRO", "@everyone", "0066FF")
    assert entry.mood_raw == "0066FF"
    assert entry.message == "Added missing WOLFIE Header."
    assert entry.timestamp_utc == 20260120090400
    assert entry.system_version == "4.0.50"
    assert (entry.line, entry.end_line) == (5, 9)
    assert entry.body.startswith("dialog:\n  speaker: KIRO") and entry.body.endswith('Header."')
    assert entry.dialog_file == PATH and entry.metadata == {}


def test_header_entry_from_valid_yaml_with_escapes():
    (entry,) = dialogs(
        r"""
        ---
        dialog:
          speaker: "CURSOR"
          target: "@everyone"
          mood: 00ff00
          message: "Tab\there \u00e9"
          date_ymdhis: 20260106120000
        ---
        """
    )
    assert (entry.speaker, entry.target, entry.mood_rgb) == ("CURSOR", "@everyone", "00FF00")
    assert entry.message == "Tab\there é"
    assert entry.timestamp_utc == 20260106120000


def test_header_list_of_dialog_mappings_gives_one_entry_each():
    entries = dialogs(
        """
        ---
        file.last_modified_utc: 20260120
        dialog:
          - speaker: KIRO
            target: @everyone
            message: first
          - speaker: CURSOR
            message: second
            date_ymdhis: 20260121093000

        tags: x
        ---
        """
    )
    assert [(e.speaker, e.message, e.line, e.end_line) for e in entries] == [
        ("KIRO", "first", 4, 6),
        ("CURSOR", "second", 7, 9),
    ]
    assert [e.timestamp_utc for e in entries] == [20260120000000, 20260121093000]


@pytest.mark.parametrize(
    ("value_lines", "expected"),
    [
        (["message: |", "    line one", "    line two"], "line one\nline two"),
        (["message: >", "    folded one", "    folded two"], "folded one folded two"),
        (
            ['message: "quoted that', '    continues here"', "target: @x"],
            "quoted that continues here",
        ),
        (["message: 'it''s single'"], "it's single"),
        (["message: plain text # a comment"], "plain text"),
        (["message: plain that", "    goes on"], "plain that goes on"),
        (["message: [AGENT_NAME]"], "[AGENT_NAME]"),
        (["message: {not: a mapping}"], "{not: a mapping}"),
        (["message: text#not-a-comment"], "text#not-a-comment"),
    ],
)
def test_header_value_forms(value_lines, expected):
    block = "\n".join(["---", "dialog:", "  speaker: @AGENT", *("  " + v for v in value_lines)])
    (entry,) = parse_file(block + "\n---\n", PATH).entries
    assert entry.message == expected
    assert entry.speaker == "@AGENT"


def test_header_mapping_without_speaker_or_message_is_a_problem_not_an_entry():
    parsed = parse("---\ndialog:\n  target: @everyone\n---\n")
    assert [p.line for p in parsed.problems] == [2]
    # No entry, but its words stay findable: the front matter's text is a section.
    (section,) = parsed.entries
    assert (section.format, section.line, section.end_line) == ("section", 2, 3)
    assert section.body == "dialog:\n  target: @everyone"


def test_flow_mapping_dialog_is_read_with_yaml():
    (entry,) = dialogs('---\ndialog: {speaker: KIRO, message: "hi"}\n---\n')
    assert (entry.speaker, entry.message, entry.line) == ("KIRO", "hi", 2)


INLINE = """
    Intro text.

    ---
    DIALOG:
      speaker: LILITH
      target: @everyone
      message: "Question: should we document the migration path here?"
      date_ymdhis: 20260106120000
    ---
    file.last_modified_utc: 20260107
    dialog:
      speaker: KIRO
      message: pasted header
    ---

    After.
"""


def test_inline_blocks_and_a_closing_rule_that_opens_the_next():
    first, second = dialogs(INLINE)
    assert (first.format, first.speaker, first.line, first.end_line) == ("inline", "LILITH", 4, 9)
    assert first.timestamp_utc == 20260106120000
    assert (second.speaker, second.line, second.end_line) == ("KIRO", 11, 14)
    assert second.timestamp_utc == 20260107000000
    # The opening `---` and the lines above `dialog:` stay findable as sections.
    assert [(s.line, s.end_line, s.message) for s in sections(INLINE)] == [
        (1, 3, "Intro text.\n\n---"),
        (10, 10, "file.last_modified_utc: 20260107"),
        (16, 16, "After."),
    ]


@pytest.mark.parametrize(
    "breaker", ["## A heading", "**Bold:** text", "Plain prose here", "```", "# Dialog begin"]
)
def test_a_block_with_non_yaml_lines_is_no_inline_entry(breaker):
    text = f"---\n---\ndialog:\n  speaker: KIRO\n  message: hi\n{breaker}\n---\n"
    parsed = parse_file(text, PATH)
    assert [e.format for e in parsed.entries] == ["section"] * len(parsed.entries)


BOLD = """
    ## 2026-01-20 — CURSOR: Version 4.3.3 sync

    **Speaker:** CURSOR
    **Target:** @LILITH @everyone
    **Mood_RGB:** "00CC66"
    **Message:** "PT_001 Pattern Tracking
    Checksum added."

    **DETAILS:**
    - item
    **LILITH:** a chat line
    **Details:** second occurrence loses

    ---

    ### Version 4.0.46 Sync (2026-01-16)
    **Speaker:** "KIRO"
    **Timestamp:** 20260116130000
    **Mood:** `FF6600` (Technical/Operational)

    > quoted first paragraph
    > continues
"""


def test_bold_entries():
    first, second = dialogs(BOLD)
    assert (first.format, first.line, first.end_line) == ("bold", 3, 12)
    assert (first.speaker, first.target, first.mood_rgb) == (
        "CURSOR",
        "@LILITH @everyone",
        "00CC66",
    )
    assert first.mood_raw == '"00CC66"'
    assert first.message == "PT_001 Pattern Tracking\nChecksum added."
    assert first.timestamp_utc == 20260120000000
    assert first.title == "2026-01-20 — CURSOR: Version 4.3.3 sync"
    assert first.metadata == {"details": "", "lilith": "a chat line"}
    assert (second.speaker, second.timestamp_utc, second.mood_rgb) == (
        "KIRO",
        20260116130000,
        "FF6600",
    )
    assert second.message == "quoted first paragraph\ncontinues"
    assert second.metadata == {"timestamp": "20260116130000"}
    assert (second.line, second.end_line) == (17, 22)


@pytest.mark.parametrize(
    ("message_lines", "expected"),
    [
        (["**Message:**", "> line one", "> line two"], "line one\nline two"),
        (["**Message:**", "", '"next paragraph"', "", "not this"], "next paragraph"),
        (["**Message:** |", "  block one", "  block two", "", "not this"], "block one\nblock two"),
        (["**Message:** text", "**Other:** x"], "text"),
        (["**Message:**", "**Other:** x"], None),
        (["**Other:** x", "", "first free paragraph", "", "second"], "first free paragraph"),
        (["**Other:** x"], None),
    ],
)
def test_bold_message_rules(message_lines, expected):
    text = "\n".join(["**Speaker:** X", *message_lines]) + "\n"
    (entry,) = [e for e in parse_file(text, PATH).entries if e.format == "bold"]
    assert entry.message == expected


def test_bold_entry_ends_at_heading_speaker_rule_and_dialog_block():
    text = dedent(
        """
        **Speaker:** A
        one
        **Speaker:** B
        two
        # Heading
        **Speaker:** C

        ---
        **Speaker:** D
        # Dialog begin
        **Agent:** E
        # Dialog end
        """
    ).lstrip()
    spans = [(e.format, e.speaker, e.line, e.end_line) for e in parse_file(text, PATH).entries]
    assert spans == [
        ("bold", "A", 1, 2),
        ("bold", "B", 3, 4),
        # line 5 (`# Heading`) is C's title and line 8 a rule: no section of their own
        ("bold", "C", 6, 6),
        ("bold", "D", 9, 9),
        ("begin_end", "E", 10, 12),
    ]


BEGIN_END = """
    # Dialog begin
    **Timestamp (UTC):** 20260114193000
    **Agent:** KIRO
    **Target:** @CURSOR
    **Action:** Session completion
    **Summary:** Completed full session documentation.
    # Dialog end

    # dialog BEGIN
    **Date:** 2026-01-14
    **Agent:** CURSOR
    **Action:** Only an action
    # DIALOG END
"""


def test_begin_end_entries():
    first, second = dialogs(BEGIN_END)
    assert (first.format, first.line, first.end_line) == ("begin_end", 1, 7)
    assert (first.speaker, first.target, first.mood_rgb) == ("KIRO", "@CURSOR", None)
    assert first.message == "Completed full session documentation."
    assert first.timestamp_utc == 20260114193000
    assert first.metadata == {"timestamp (utc)": "20260114193000", "action": "Session completion"}
    assert first.title is None
    assert (second.speaker, second.message, second.timestamp_utc) == (
        "CURSOR",
        "Only an action",
        20260114000000,
    )
    assert second.metadata == {"date": "2026-01-14"}


def test_sections_keep_text_outside_entries():
    text = """
        ---
        title: x
        ---
        Intro paragraph.

        # Meeting

        **STONED WOLFIE:** "Duuude…"
        **LILITH:** Focus.

        ```yaml
        dialog:
          speaker: EXAMPLE
        ```
        ## Notes
        Closing note.
    """
    found = parse(text)
    assert [e.format for e in found.entries] == ["section"] * 4
    header, intro, meeting, notes = found.entries
    assert (header.line, header.end_line, header.title, header.body) == (2, 2, "x", "title: x")
    assert (intro.line, intro.end_line, intro.title, intro.message) == (
        4,
        4,
        None,
        "Intro paragraph.",
    )
    assert (meeting.line, meeting.end_line, meeting.title) == (6, 14, "Meeting")
    assert (
        meeting.message.startswith('**STONED WOLFIE:** "Duuude…"') and "EXAMPLE" in meeting.message
    )
    assert meeting.body.startswith("# Meeting\n")
    assert (notes.title, notes.message, notes.speaker) == ("Notes", "Closing note.", None)


def test_a_header_line_the_reader_cannot_place_is_reported():
    parsed = parse(
        "---\ndialog:\n  speaker: A\n # a comment\n message: misaligned\n  target: @x\n---\n"
    )
    (entry,) = parsed.entries
    assert (entry.speaker, entry.target, entry.message) == ("A", "@x", None)
    assert [(p.line, "skipped" in p.message) for p in parsed.problems] == [(5, True)]


@pytest.mark.parametrize("key", ["dialog_entry_id", "DIALOG_ENTRY_ID"])
def test_yaml_dialog_mapping_keeps_an_explicit_entry_id(key):
    text = f'---\nDIALOG:\n  speaker: "KIRO"\n  message: "hi"\n  {key}: 4242\n---\n'
    (entry,) = parse_file(text, PATH).entries
    assert entry.metadata == {"dialog_entry_id": "4242"}
    assert keyed_entries([entry])[0][0] == 4242


def test_rules_and_entry_titles_alone_make_no_section():
    text = "## 2026-01-02 — Sync\n\n**Speaker:** A\nhello\n\n---\n\n## Notes\nfree text\n"
    entries = parse_file(text, PATH).entries
    assert [(e.format, e.line, e.title) for e in entries] == [
        ("bold", 3, "2026-01-02 — Sync"),
        ("section", 8, "Notes"),
    ]
