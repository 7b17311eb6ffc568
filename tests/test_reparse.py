"""parse_edited: the same parse as parse_file after any edit, reading only a window when it can."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.fixtures_api import bold
from support.write_work import counted_work

from dialogfile.parse import decode_dialog_bytes, parse_file
from dialogfile.reparse import parse_edited

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted(REPO_ROOT.glob("dialogs/**/*.md"))


def meeting(entries: int) -> str:
    """A generated-corpus-like file: front matter, a heading and a bold entry per topic."""
    front = "---\nfile.last_modified_utc: 20260120090400\ntitle: Meeting\n---\n\n# Meeting\n\n"
    return front + "".join(
        bold(
            f"S{n % 5}",
            f"message {n}",
            day="2026-01-12",
            target="@all",
            mood="FF0000",
            title=f"topic {n % 9}",
        )
        for n in range(entries)
    )


TEXTS = [decode_dialog_bytes(path.read_bytes()) for path in SAMPLES]
TEXTS += [meeting(30), meeting(12).replace("\n", "\r\n"), "\ufeff" + meeting(5)]
#: Lines an edit may bring: every kind of line that gives the parser structure.
POOL = [
    "",
    "   ",
    "---",
    "```",
    "~~~",
    "````",
    "## A heading",
    "## topic 3",
    "# Meeting",
    "   ## indented heading",
    "# Dialog begin",
    "# Dialog end",
    "**Speaker:** KIRO",
    "**Message:** hello",
    "**Message:** |",
    "**Target:** @x",
    "**Mood:** `00FF00`",
    "**Dialog_Entry_ID:** 77",
    "DIALOG:",
    "dialog:",
    "  speaker: LILITH",
    '  message: "m"',
    "  dialog_entry_id: 12",
    "title: x",
    "file.last_modified_utc: 20260101000000",
    "plain text",
    "> quoted",
    "- item",
    "## 2026-01-02 — KIRO: t",
]


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, str]:
    """(text, the text with some lines replaced by others of the pool or the file)."""
    text = draw(st.sampled_from(TEXTS))
    lines = text.split("\n")
    first = draw(st.integers(0, len(lines)))
    last = draw(st.integers(first, min(len(lines), first + 6)))
    new = draw(st.lists(st.sampled_from(POOL) | st.sampled_from(lines), max_size=6))
    return text, "\n".join(lines[:first] + new + lines[last:])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits())
def test_an_edited_file_parses_as_a_whole_parse_would(edit: tuple[str, str]) -> None:
    before, after = edit
    path = "dialogs/edited.md"
    assert parse_edited(before, parse_file(before, path), after, path) == parse_file(after, path)


@pytest.mark.parametrize(
    "change",
    [
        lambda text: text.replace('"message 17"', '"message seventeen"'),  # one line
        lambda text: text.replace('"message 17"', '"a\\nb"\n**Dialog_Entry_ID:** 5'),  # a line more
        lambda text: text + '---\nDIALOG:\n  speaker: KIRO\n  message: "new"\n---\n',  # append
        lambda text: text.replace('**Message:** "message 17"\n', ""),  # a line less
    ],
)
def test_an_edit_reads_only_the_entries_around_it(change) -> None:
    text = meeting(300)
    before = parse_file(text, "m.md")
    calls, _ = counted_work(lambda: parse_edited(text, before, change(text), "m.md"))
    assert calls["entries parsed"] <= 2  # of 300 entries
    after = change(text)
    assert parse_edited(text, before, after, "m.md") == parse_file(after, "m.md")


def test_an_edit_that_renames_an_entry_title_used_elsewhere_reads_the_whole_file() -> None:
    text = meeting(40)
    after = text.replace("topic 3\n\n**Speaker:** S3", "topic 99\n\n**Speaker:** S3", 1)
    calls, _ = counted_work(lambda: parse_edited(text, parse_file(text, "m.md"), after, "m.md"))
    assert calls["entries parsed"] >= 40
