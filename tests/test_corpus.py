"""The parser against the real Lupopedia corpus and its EXPECTED files, read in place."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from support.line_coverage import lines_not_owned_once

from dialogfile.model import ParsedFile
from dialogfile.parse import parse_file
from dialogfile.parse_layout import find_front_matter, split_lines
from dialogfile.parse_values import indexed_mood
from indexer.discover import find_dialog_files, read_source

DIALOG_FORMATS = ("header", "inline", "bold", "begin_end")
SCORED_FIELDS = (
    "dialog_file",
    "format",
    "speaker",
    "target",
    "mood_rgb",
    "timestamp_utc",
    "message",
    "line",
    "end_line",
    "title",
    "system_version",
    "mood_raw",
    "metadata",
)

#: Lupopedia's mood notation `{RR}|GG|[[BB]]`: the parser reports null (the corpus
#: README's rule, which EXPECTED.entries.ndjson holds); the index decodes it (issue 13).
LUPOPEDIA_MOOD = re.compile(r"`?\{([0-9A-Fa-f]{2})\}\|([0-9A-Fa-f]{2})\|\[\[([0-9A-Fa-f]{2})\]\]")
#: How many corpus entries write their mood so (of the 70 null moods the README counts).
LUPOPEDIA_MOODS = 67


@pytest.fixture(scope="module")
def parsed_corpus(shared_corpus: Path) -> dict[str, tuple[str, ParsedFile]]:
    """path -> (text, ParsedFile) for every .md file of the corpus."""
    parsed = {}
    for rel in find_dialog_files(shared_corpus):
        source = read_source(shared_corpus, rel)
        parsed[rel] = (source.text, parse_file(source.text, rel))
    return parsed


@pytest.fixture(scope="module")
def expected_summary(shared_corpus: Path) -> dict:
    return json.loads((shared_corpus / "EXPECTED.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def expected_entries(shared_corpus: Path) -> list[dict]:
    text = (shared_corpus / "EXPECTED.entries.ndjson").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def dialog_entries(parsed: ParsedFile) -> list[dict]:
    return [entry.to_dict() for entry in parsed.entries if entry.format in DIALOG_FORMATS]


def test_every_expected_file_is_found(parsed_corpus, expected_summary):
    assert sorted(parsed_corpus) == sorted(item["path"] for item in expected_summary["files"])
    assert len(parsed_corpus) == expected_summary["totals"]["files"] == 88


def test_counts_per_file_format_and_speaker_match(parsed_corpus, expected_summary):
    for expected in expected_summary["files"]:
        entries = dialog_entries(parsed_corpus[expected["path"]][1])
        by_format = Counter(entry["format"] for entry in entries)
        speakers = Counter(entry["speaker"] for entry in entries if entry["speaker"] is not None)
        assert len(entries) == expected["entries"], expected["path"]
        assert {name: by_format[name] for name in DIALOG_FORMATS} == expected["by_format"]
        assert dict(speakers) == expected["speakers"], expected["path"]


def test_totals_match(parsed_corpus, expected_summary):
    entries = [e for _, parsed in parsed_corpus.values() for e in dialog_entries(parsed)]
    totals = expected_summary["totals"]
    assert len(entries) == totals["entries"] == 1091
    assert dict(Counter(entry["format"] for entry in entries)) == totals["by_format"]
    assert sum(entry["speaker"] is None for entry in entries) == totals["entries_without_speaker"]


def test_every_field_of_every_entry_matches(parsed_corpus, expected_entries):
    got = [e for _, parsed in parsed_corpus.values() for e in dialog_entries(parsed)]
    got_by_place = {(entry["dialog_file"], entry["line"]): entry for entry in got}
    assert len(got_by_place) == len(got) == len(expected_entries)
    mismatches = []
    for expected in expected_entries:
        actual = got_by_place.get((expected["dialog_file"], expected["line"]))
        assert actual is not None, f"{expected['dialog_file']}:{expected['line']} not found"
        for name in SCORED_FIELDS:
            if actual[name] != expected[name]:
                where = f"{expected['dialog_file']}:{expected['line']}"
                mismatches.append(f"{where} {name}: {actual[name]!r} != {expected[name]!r}")
    assert mismatches == []


def test_every_line_belongs_to_exactly_one_record(parsed_corpus):
    for rel, (text, parsed) in parsed_corpus.items():
        lines = split_lines(text)
        for entry in parsed.entries:
            assert 1 <= entry.line <= entry.end_line <= len(lines), (rel, entry.line)
            assert entry.body == "\n".join(lines[entry.line - 1 : entry.end_line])
        assert lines_not_owned_once(text, parsed) == [], rel


def test_entries_come_in_line_order(parsed_corpus):
    for _, parsed in parsed_corpus.values():
        starts = [entry.line for entry in parsed.entries]
        assert starts == sorted(starts)


def test_text_outside_entries_stays_findable_as_sections(parsed_corpus):
    text, parsed = parsed_corpus["dialogs/AGI_SUPPORT_MEETING_777.md"]
    sections = [entry for entry in parsed.entries if entry.format == "section"]
    assert sections
    assert all(entry.speaker is None and entry.body for entry in sections)
    words_in_records = " ".join(entry.body for entry in parsed.entries)
    front_matter = find_front_matter(split_lines(text))
    after_front_matter = split_lines(text)[front_matter[1] + 1 if front_matter else 0 :]
    for word in " ".join(after_front_matter).split():
        assert word in words_in_records


def test_section_counts_the_readme_states(parsed_corpus):
    sections = [e for _, parsed in parsed_corpus.values() for e in parsed.entries]
    sections = [e for e in sections if e.format == "section"]
    front = []
    for text, parsed in parsed_corpus.values():
        front_matter = find_front_matter(split_lines(text))
        front += [
            e
            for e in parsed.entries
            if front_matter and e.format == "section" and e.line <= front_matter[1]
        ]
    assert (len(sections), len(front)) == (2183, 125)
    # Every file with a front matter holds some text beside its `dialog:` block.
    assert len({e.dialog_file for e in front}) == 64


def test_problems_point_at_real_lines(parsed_corpus):
    for rel, (text, parsed) in parsed_corpus.items():
        count = len(split_lines(text))
        for problem in parsed.problems:
            assert problem.path == rel
            assert 1 <= problem.line <= max(count, 1)
            assert str(problem).startswith(f"{rel}:{problem.line}: ")
            assert "(" in problem.message, "a problem says what to do, in parentheses"


def test_moods_in_lupopedia_notation_or_emoji_are_no_problem(parsed_corpus):
    moods = [
        (problem.path, problem.line)
        for _, parsed in parsed_corpus.values()
        for problem in parsed.problems
        if problem.message.startswith("mood ")
    ]
    # Only the mojibake of an emoji (`ðŸ§\xad`, UTF-8 read as Windows-1252 before it was saved).
    assert moods == [("dialogs/changelog_dialog_backup.md", 5236)]
    notation = [
        entry
        for _, parsed in parsed_corpus.values()
        for entry in parsed.entries
        if entry.mood_raw and "[[" in entry.mood_raw
    ]
    assert len(notation) == LUPOPEDIA_MOODS
    # The parser reports no colour (the format's rule); the index files them under it.
    for entry in notation:
        assert entry.mood_rgb is None
        colour = "".join(LUPOPEDIA_MOOD.search(entry.mood_raw).groups()).upper()
        assert indexed_mood(entry.mood_rgb, entry.mood_raw) == colour


def test_the_unclosed_front_matter_file_is_reported(parsed_corpus):
    _, parsed = parsed_corpus["dialogs/changelog_dialog_current.md"]
    assert dialog_entries(parsed) == []
    assert any(p.line == 1 and "never closed" in p.message for p in parsed.problems)
