"""dialogfile.writer / edits: every edit parses back to exactly what was asked."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dialogfile.edits import yaml_quote
from dialogfile.identity import keyed_entries
from dialogfile.parse import parse_file
from dialogfile.writer import (
    EntryNotInFile,
    ReadOnlyEntry,
    UnrepresentableEdit,
    plan_append,
    plan_remove,
    plan_update,
    read_dialog_file,
    remove_stale_temp_files,
    write_dialog_file,
)
from indexer.discover import find_dialog_files

PATH = "notes/api_dialog.md"
NOW = 20261126101500

BOLD_FILE = """# Sync notes

Intro text that is a section.

## 2026-01-20 — CURSOR: Version sync

**Speaker:** CURSOR
**Target:** @LILITH @everyone
**Mood_RGB:** "00CC66"
**Message:** "Pattern tracking
continues here."

**DETAILS:**
- first detail
---

## 2026-01-21 — KIRO: twins

**Speaker:** KIRO
**Message:** same words

**Speaker:** KIRO
**Message:** same words

# Dialog begin
**Timestamp (UTC):** 20260114193000
**Agent:** KIRO
**Action:** Session completion
**Summary:** Completed the session.
# Dialog end
"""

HEADER_FILE = """---
file.last_modified_system_version: 4.0.50
file.last_modified_utc: 20260120090400
dialog:
  speaker: KIRO
  target: @everyone
  mood_RGB: "0066FF"
  message: "Added missing WOLFIE Header"
tags: [a, b]
---

Body text.
"""


def dialog_entries(text: str, path: str = PATH) -> list[tuple[int, object]]:
    """(id, entry) of every non-section entry."""
    return [
        (entry_id, entry)
        for entry_id, _, entry in keyed_entries(parse_file(text, path).entries)
        if entry.format != "section"
    ]


def ids_by_format(text: str, entry_format: str) -> list[int]:
    return [entry_id for entry_id, entry in dialog_entries(text) if entry.format == entry_format]


def fields_of(entry: object) -> dict[str, object]:
    names = ("speaker", "target", "mood_rgb", "message", "timestamp_utc")
    return {name: getattr(entry, name) for name in names}


def without(entries: list[tuple[int, object]], entry_id: int) -> list[tuple[int, object]]:
    return [(i, fields_of(e)) for i, e in entries if i != entry_id]


# --- yaml_quote -------------------------------------------------------------------------------

no_surrogates = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)


@given(no_surrogates)
@settings(max_examples=200, deadline=None)
def test_yaml_quote_loads_back_exactly_and_stays_on_one_line(text: str) -> None:
    quoted = yaml_quote(text)
    assert "\n" not in quoted and "\r" not in quoted
    assert yaml.safe_load(f"message: {quoted}") == {"message": text}


# --- append -----------------------------------------------------------------------------------


def test_append_to_a_new_file_writes_a_valid_header_and_one_entry() -> None:
    fields = {
        "speaker": "KIRO",
        "target": "@everyone",
        "mood_rgb": "0066FF",
        "message": "Hi",
        "timestamp_utc": NOW,
    }
    edit = plan_append(None, PATH, fields, now=NOW)
    front = edit.text.split("---\n")[1]
    header = yaml.safe_load(front)
    assert header["file.name"] == "api_dialog.md"
    assert "dialog" not in {key.lower() for key in header}
    parsed = parse_file(edit.text, PATH)
    assert parsed.problems == ()
    ((entry_id, entry),) = dialog_entries(edit.text)
    assert entry.format == "inline"
    assert fields_of(entry) == fields
    assert (entry_id, entry) == (edit.entry_id, edit.entry)
    assert '  target: "@everyone"' in edit.text.splitlines()


names = (
    st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40)
    .map(str.strip)
    .filter(lambda text: text and text[0] not in "\"'`" and text[-1] not in "\"'`")
)
messages = (
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=300)
    .map(str.strip)
    .filter(bool)
)


@given(speaker=names, message=messages, target=st.none() | names)
@settings(max_examples=60, deadline=None)
def test_appended_block_reads_back_as_exactly_the_fields_given(
    speaker: str, message: str, target: str | None
) -> None:
    fields = {"speaker": speaker, "message": message, "target": target, "timestamp_utc": NOW}
    edit = plan_append(BOLD_FILE, PATH, fields)
    assert fields_of(edit.entry) == {**fields, "mood_rgb": None}
    before = dialog_entries(BOLD_FILE)
    after = dialog_entries(edit.text)
    assert [(i, fields_of(e)) for i, e in after[:-1]] == [(i, fields_of(e)) for i, e in before]
    assert after[-1][0] == edit.entry_id


def test_append_keeps_an_entry_that_runs_to_the_end_of_the_file() -> None:
    text = "## 2026-01-02 — A\n\n**Speaker:** A\n**Message:** last words"  # no final newline
    before = dialog_entries(text)
    edit = plan_append(text, PATH, {"speaker": "B", "message": "next"})
    assert dialog_entries(edit.text)[:-1] == before


def test_append_then_remove_gives_back_the_original_text() -> None:
    edit = plan_append(BOLD_FILE, PATH, {"speaker": "B", "message": "tmp"}, now=NOW)
    assert plan_remove(edit.text, PATH, edit.entry_id).text == BOLD_FILE


def test_append_after_an_unclosed_fence_is_refused() -> None:
    text = "Some text\n\n```\ncode that never closes\n"
    with pytest.raises(UnrepresentableEdit, match="unclosed code fence"):
        plan_append(text, PATH, {"speaker": "B", "message": "lost"}, now=NOW)


def test_append_keeps_crlf_line_endings() -> None:
    text = BOLD_FILE.replace("\n", "\r\n")
    edit = plan_append(text, PATH, {"speaker": "B", "message": "crlf"}, now=NOW)
    assert edit.text.startswith(text)
    assert "\n" not in edit.text.replace("\r\n", "")


# --- update -----------------------------------------------------------------------------------


def test_update_bold_entry_changes_only_the_given_fields_in_place() -> None:
    first_bold = ids_by_format(BOLD_FILE, "bold")[0]
    changes = {
        "message": "New text\nover two lines",
        "target": None,
        "mood_rgb": "FF0000",
        "timestamp_utc": 20250101120000,
    }
    edit = plan_update(BOLD_FILE, PATH, first_bold, changes)
    assert edit.entry_id == first_bold
    assert fields_of(edit.entry) == {"speaker": "CURSOR", **changes}
    assert edit.entry.metadata["dialog_entry_id"] == str(first_bold)
    assert "**DETAILS:**" in edit.text and "**Target:**" not in edit.text.split("twins")[0]
    assert without(dialog_entries(edit.text), first_bold) == without(
        dialog_entries(BOLD_FILE), first_bold
    )
    again = plan_update(edit.text, PATH, first_bold, {"speaker": "CURSOR 2"})
    assert again.entry_id == first_bold and again.entry.message == "New text\nover two lines"


def test_update_begin_end_entry_writes_a_summary_and_refuses_a_mood() -> None:
    (block,) = ids_by_format(BOLD_FILE, "begin_end")
    edit = plan_update(BOLD_FILE, PATH, block, {"message": "Shorter", "speaker": "JETBRAINS"})
    assert (edit.entry.speaker, edit.entry.message) == ("JETBRAINS", "Shorter")
    assert "# Dialog end" in edit.text
    with pytest.raises(UnrepresentableEdit, match="mood_rgb"):
        plan_update(BOLD_FILE, PATH, block, {"mood_rgb": "00FF00"})


def test_update_refuses_what_a_bold_message_cannot_hold() -> None:
    first_bold = ids_by_format(BOLD_FILE, "bold")[0]
    with pytest.raises(UnrepresentableEdit, match="message"):
        plan_update(BOLD_FILE, PATH, first_bold, {"message": "one\n\ntwo paragraphs"})


def test_update_of_one_twin_keeps_the_other_twins_id() -> None:
    twin_a, twin_b = ids_by_format(BOLD_FILE, "bold")[1:]
    edit = plan_update(BOLD_FILE, PATH, twin_a, {"message": "changed"})
    assert ids_by_format(edit.text, "bold")[1:] == [twin_a, twin_b]
    assert [e.message for _, e in dialog_entries(edit.text)][1:3] == ["changed", "same words"]


def test_sections_are_read_only_and_unknown_ids_are_reported() -> None:
    section_id = next(
        i for i, _, e in keyed_entries(parse_file(BOLD_FILE, PATH).entries) if e.format == "section"
    )
    with pytest.raises(ReadOnlyEntry):
        plan_update(BOLD_FILE, PATH, section_id, {"message": "x"})
    with pytest.raises(ReadOnlyEntry):
        plan_remove(BOLD_FILE, PATH, section_id)
    with pytest.raises(EntryNotInFile):
        plan_update(BOLD_FILE, PATH, 12345, {"message": "x"})


# --- remove -----------------------------------------------------------------------------------


@pytest.mark.parametrize("position", [0, 1, 2, 3])
def test_remove_takes_out_one_entry_and_keeps_every_other_id(position: int) -> None:
    before = dialog_entries(BOLD_FILE)
    entry_id = before[position][0]
    edit = plan_remove(BOLD_FILE, PATH, entry_id)
    assert [(i, fields_of(e)) for i, e in dialog_entries(edit.text)] == without(before, entry_id)


def test_remove_of_an_inline_block_inside_a_pasted_header_keeps_the_other_keys() -> None:
    text = (
        "Intro\n\n---\nwolfie.headers: pasted\ndialog:\n  speaker: A\n  message: m\n"
        "tags:\n  categories: [x]\n---\n\nAfter\n"
    )
    (entry_id,) = ids_by_format(text, "inline")
    edit = plan_remove(text, PATH, entry_id)
    assert dialog_entries(edit.text) == []
    assert "wolfie.headers: pasted" in edit.text and "categories: [x]" in edit.text


# --- file I/O ---------------------------------------------------------------------------------


def test_write_is_atomic_keeps_bom_and_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "a.md"
    target.write_bytes(b"\xef\xbb\xbfold\n")
    os.chmod(target, 0o640)
    text, bom = read_dialog_file(target)
    assert (text, bom) == ("old\n", True)
    write_dialog_file(target, "new \u00e9\n", bom=bom)
    assert target.read_bytes() == "\ufeffnew \u00e9\n".encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]


def test_write_into_a_missing_folder_fails_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_dialog_file(tmp_path / "missing" / "a.md", "x")
    assert list(tmp_path.iterdir()) == []


def test_update_header_entry_in_invalid_yaml_front_matter() -> None:
    (entry_id,) = ids_by_format(HEADER_FILE, "header")
    edit = plan_update(HEADER_FILE, PATH, entry_id, {"message": "Edited: with colon # hash"})
    assert edit.entry.message == "Edited: with colon # hash"
    assert edit.entry.target == "@everyone" and edit.entry.timestamp_utc == 20260120090400
    assert "tags: [a, b]" in edit.text and "Body text." in edit.text


def test_entries_of_the_real_corpus_can_be_edited_and_removed(shared_corpus: Path) -> None:
    """Every format as people wrote it: a few entries of each file (all inline ones)."""
    from indexer.discover import find_dialog_files, read_source

    done = 0
    for rel in find_dialog_files(shared_corpus):
        text = read_source(shared_corpus, rel).text
        entries = [(i, e) for i, e in dialog_entries(text, rel)]
        picked = {0, len(entries) // 2, len(entries) - 1} if entries else set()
        picked |= {n for n, (_, e) in enumerate(entries) if e.format == "inline"}
        for n in sorted(picked):
            entry_id, entry = entries[n]
            edit = plan_update(text, rel, entry_id, {"message": "edited", "target": "@everyone"})
            assert (edit.entry_id, edit.entry.message, edit.entry.speaker) == (
                entry_id,
                "edited",
                entry.speaker,
            )
            remaining = dialog_entries(plan_remove(text, rel, entry_id).text, rel)
            assert [i for i, _ in remaining] == [i for i, _ in entries if i != entry_id]
            done += 1
    assert done > 100


# --- temp files of killed writes -------------------------------------------------------------


def test_remove_stale_temp_files_removes_only_our_old_temp_files(tmp_path: Path) -> None:
    root = tmp_path / "dialogs"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    ours = [root / ".a.md.k2j_x9q1.tmp", root / "sub" / ".Notes.MD.abcdefgh.tmp"]
    kept = [
        root / "a.md",
        root / ".a.md.tmp",  # no random part
        root / "a.md.abcdefgh.tmp",  # no leading dot
        root / ".a.txt.abcdefgh.tmp",  # not a dialog file's
        root / ".a.md.abcdefgh.tmp.bak",
        root / ".a.md.abc.tmp",  # not 8 characters
        outside / ".x.md.abcdefgh.tmp",  # only reachable through a symlinked folder
    ]
    for path in ours + kept:
        path.write_text("x", encoding="utf-8")
    (root / ".link.md.abcdefgh.tmp").symlink_to(outside / ".x.md.abcdefgh.tmp")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    young = root / ".young.md.abcdefgh.tmp"
    young.write_text("x", encoding="utf-8")
    old = time.time() - 3600
    for path in [*ours, *kept]:
        os.utime(path, (old, old))
    removed = remove_stale_temp_files(root, before=time.time() - 60)
    assert removed == [".a.md.k2j_x9q1.tmp", "sub/.Notes.MD.abcdefgh.tmp"]
    assert not any(path.exists() for path in ours)
    assert all(path.exists() for path in kept) and young.exists()
    assert (root / ".link.md.abcdefgh.tmp").is_symlink()


def test_temp_files_are_never_discovered_as_dialog_files(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("x", encoding="utf-8")
    (tmp_path / ".a.md.k2j_x9q1.tmp").write_text("x", encoding="utf-8")
    assert find_dialog_files(tmp_path) == ["a.md"]
