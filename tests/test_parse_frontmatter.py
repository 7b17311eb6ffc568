"""The front matter's own text (keys and values beside `dialog:`) is a `section` record."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.line_coverage import lines_not_owned_once

from dialogfile.identity import keyed_entries
from dialogfile.model import Entry
from dialogfile.parse import decode_dialog_bytes, parse_file
from dialogfile.parse_front_matter import FRONT_MATTER_TITLE, front_matter_title
from dialogfile.parse_layout import find_front_matter, split_lines
from indexer.discover import find_dialog_files, read_source

PATH = "dialogs/header.md"

#: A WOLFIE header as real files write one: not valid YAML (`target: @everyone`, a tab,
#: an unquoted colon), keys above and below `dialog:`, a nested `file: title:`.
WOLFIE = (
    "---\n"
    "wolfie.headers: explicit architecture with structured clarity for every file.\n"
    "file.last_modified_system_version: 4.1.10\n"
    "file.last_modified_utc: 20260120120000\n"
    "header_atoms:\n"
    "  - GLOBAL_CURRENT_AUTHORS\n"
    "dialog:\n"
    "  speaker: GOVERNANCE\n"
    "  target: @Entire_Fleet\n"
    '  mood_RGB: "2288FF"\n'
    '  message: "Governance channel initialized."\n'
    "tags:\n"
    '  categories: ["documentation", "dialog"]\n'
    "\tchannels: dev: internal\n"
    "file:\n"
    '  name: "GOV_dialog.md"\n'
    '  title: "GOV Dialog — Governance Voice"\n'
    "  description: Governance channel for doctrine compliance and table count.\n"
    "---\n"
    "\n"
    "# GOV dialog\n"
    "\n"
    "Body text.\n"
)


def front_sections(text: str) -> list[Entry]:
    parsed = parse_file(text, PATH)
    closing = find_front_matter(split_lines(text.lstrip("\ufeff")))
    assert closing is not None
    return [e for e in parsed.entries if e.format == "section" and e.line <= closing[1]]


def test_the_keys_above_and_below_dialog_are_two_sections_titled_by_the_header():
    parsed = parse_file(WOLFIE, PATH)
    formats = [(e.format, e.line, e.end_line) for e in parsed.entries]
    assert formats == [
        ("section", 2, 6),
        ("header", 7, 11),
        ("section", 12, 18),
        ("section", 21, 23),
    ]
    above, header, below = parsed.entries[:3]
    assert above.title == below.title == "GOV Dialog — Governance Voice"
    assert above.body == "\n".join(split_lines(WOLFIE)[1:6])
    assert above.message == above.body
    assert "\tchannels: dev: internal" in below.body and "table count" in below.body
    assert (above.speaker, above.timestamp_utc, above.system_version) == (None, None, None)
    assert header.speaker == "GOVERNANCE" and parsed.problems == ()
    assert lines_not_owned_once(WOLFIE, parsed) == []


def test_a_bom_and_crlf_change_nothing_and_the_yaml_need_not_be_valid():
    with_bom = decode_dialog_bytes(b"\xef\xbb\xbf" + WOLFIE.replace("\n", "\r\n").encode())
    assert parse_file(with_bom, PATH) == parse_file(WOLFIE, PATH)
    assert parse_file("\ufeff" + WOLFIE, PATH) == parse_file(WOLFIE, PATH)
    (first, *_) = front_sections("\ufeff" + WOLFIE)
    assert (first.line, first.body.splitlines()[0]) == (2, WOLFIE.splitlines()[1])


#: (front matter lines, expected (line, end_line, title) of its sections) — real-looking
#: headers, each between `---` lines. No hypothesis here: a table one can read.
CASES = [
    # Only a dialog block: its text is the entry, no section.
    (["dialog:", "  speaker: KIRO", "  message: hi"], []),
    # No dialog at all (a plain YAML front matter): one section, the title from `title:`.
    (["title: Release notes", "description: What shipped."], [(2, 3, "Release notes")]),
    # A column-0 title wins over file.title, wherever it is.
    (["file:", "  title: Nested", "title: 'Top level'"], [(2, 4, "Top level")]),
    # No title: "Front matter". Blank lines at either end are not part of it.
    (["", "operation: sync", "status: done", ""], [(3, 4, FRONT_MATTER_TITLE)]),
    # An empty title and an unclosed quote: read as far as possible, never a failure.
    (["title:", "file:", '  title: "Open quote', "notes: x"], [(2, 5, "Open quote")]),
    # A title continued on the next, more indented line.
    (["title: A long", "  title here", "dialog:", "  speaker: A"], [(2, 3, "A long title here")]),
    # A dialog list: the `dialog:` line before the first item is part of the section above.
    (
        ["tags: [a]", "dialog:", "  - speaker: A", "    message: one", "  - speaker: B"],
        [(2, 3, FRONT_MATTER_TITLE)],
    ),
    # A mapping that is no entry (neither speaker nor message) stays findable.
    (["dialog:", "  target: @everyone", "notes: kept"], [(2, 4, FRONT_MATTER_TITLE)]),
    # Invalid YAML everywhere: a tab, a stray colon, a flow value, a comment, `- ` items.
    (
        ["# a comment", "target: @everyone", "\tweird: : line", "- item", "list: [AGENT_NAME]"],
        [(2, 6, FRONT_MATTER_TITLE)],
    ),
    # Two dialog keys: the text between them is its own section.
    (
        ["dialog:", "  speaker: A", "middle: text", "DIALOG:", "  speaker: B", "end: x"],
        [(4, 4, FRONT_MATTER_TITLE), (7, 7, FRONT_MATTER_TITLE)],
    ),
    # An empty front matter: nothing.
    ([], []),
]


@pytest.mark.parametrize(("lines", "expected"), CASES)
def test_front_matter_sections(lines: list[str], expected: list[tuple[int, int, str]]):
    text = "---\n" + "".join(line + "\n" for line in lines) + "---\nBody.\n"
    parsed = parse_file(text, PATH)
    found = front_sections(text)
    assert [(s.line, s.end_line, s.title) for s in found] == expected
    for section in found:
        assert section.body == "\n".join(lines[section.line - 2 : section.end_line - 1])
    assert lines_not_owned_once(text, parsed) == []


def test_no_front_matter_no_front_matter_section():
    # An unclosed `---` opens no front matter: the lines are body text, as before.
    parsed = parse_file("---\ntitle: x\n\nText.\n", PATH)
    assert [(e.format, e.line, e.title) for e in parsed.entries] == [("section", 1, None)]


def test_front_matter_title_reads_only_the_header():
    lines = ["file:", "  name: x", "  title: From file", "dialog:", "  title: not this"]
    assert front_matter_title(lines, 0, len(lines)) == "From file"
    assert front_matter_title(["dialog:", "  title: nested in dialog"], 0, 2) is None
    assert front_matter_title(["title: ''", "file: x"], 0, 2) is None


def test_the_new_sections_leave_every_other_id_as_it_was():
    entries = parse_file(WOLFIE, PATH).entries
    with_front = {id_: e for id_, _, e in keyed_entries(entries)}
    others = [e for e in entries if not (e.format == "section" and e.line < 20)]
    without_front = {id_: e for id_, _, e in keyed_entries(others)}
    assert all(with_front[id_] == entry for id_, entry in without_front.items())


def test_every_front_matter_line_of_the_corpus_is_in_a_record_of_its_file(shared_corpus: Path):
    """A phrase of any front-matter line (the 3-word phrases of issue 13) is found in its file."""
    checked = 0
    for rel in find_dialog_files(shared_corpus):
        text = read_source(shared_corpus, rel).text
        lines = split_lines(text)
        front_matter = find_front_matter(lines)
        if front_matter is None:
            continue
        records = [" ".join(e.body.split()) for e in parse_file(text, rel).entries]
        for number in range(front_matter[0] + 1, front_matter[1]):
            words = lines[number].split()
            for start in range(max(len(words) - 2, 1)):
                phrase = " ".join(words[start : start + 3])
                assert any(phrase in record for record in records), (rel, number + 1, phrase)
                checked += 1
    assert checked > 5000
