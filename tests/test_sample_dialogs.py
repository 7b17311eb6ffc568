"""The project's own sample dialogs parse to the entries counted by hand from the README rules."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from dialogfile.model import Entry
from dialogfile.parse import decode_dialog_bytes, parse_file

DIALOGS = Path(__file__).resolve().parents[1] / "dialogs"

# Expected (header, inline, bold, begin_end) per file, counted by hand from the files as
# written and ../shared/corpus/README.md. The comment says where each number comes from.
EXPECTED_COUNTS: dict[str, tuple[int, int, int, int]] = {
    # 35 bold; inline: 2 DIALOG notes + 2 pasted WOLFIE headers.
    "changelog_dialog.md": (1, 4, 35, 0),
    # 7 **Speaker:** lines, 4 of them fenced (tilde, indented, in a body, unclosed);
    # 3 `# Dialog begin`, 2 fenced; 4 dialog keys, 2 fenced.
    "doctrine/how_to_write_a_dialog_entry.md": (1, 1, 3, 1),
    # Frontmatter never closes: no header, and nothing else looks like an entry.
    "drafts/unclosed_header_draft.md": (0, 0, 0, 0),
    # The first `# Dialog begin` has no end before the next begin: a heading only.
    "humor/friday_retro.md": (1, 0, 9, 1),
    "incidents/2026-02-11_checksum_race.md": (1, 0, 14, 0),
    "incidents/legacy_import_cp1252.md": (1, 0, 2, 0),
    # Chat lines **KIRO:** "..." are metadata or section text, never entries.
    "meetings/2026-01-19_monday_reconciliation.md": (1, 0, 16, 0),
    "meetings/2026-02-03_search_design_review.md": (1, 0, 13, 0),
    "meetings/2026-02-17_routing_incident_review.md": (1, 1, 7, 1),
    "meetings/2026-03_standups.md": (1, 0, 40, 0),
    # From/To memos are not entries.
    "memos/to_cascade.md": (1, 0, 3, 0),
    "notes/open_questions.md": (0, 0, 0, 0),
    # Inline: 5 DIALOG blocks, one with neither speaker nor message.
    "ops/deploy_log.md": (1, 4, 17, 0),
    "ops/search_tuning_log.md": (1, 3, 5, 15),
    # Some mood/timestamp fields sit above **Speaker:**; they change no count.
    "releases/4.0.46_schema_sync.md": (1, 0, 18, 0),
    # Header dialog is a list of 2; inline: a list of 2. A `---` YAML block without
    # dialog and a `---` block with a **Note:** line give nothing.
    "releases/4.3.0_release_notes.md": (2, 2, 12, 0),
    # 27 blocks, one with upper-case `# DIALOG BEGIN` / `# DIALOG END` markers.
    "routing_changelog.md": (1, 0, 0, 27),
    "ui/search_ui_dialog.md": (1, 0, 15, 0),
}

FORMATS = ("header", "inline", "bold", "begin_end")


def parse_sample(relpath: str) -> list[Entry]:
    """Entries of dialogs/<relpath>, read the way the indexer reads them."""
    path = f"dialogs/{relpath}"
    parsed = parse_file(decode_dialog_bytes((DIALOGS / relpath).read_bytes()), path)
    assert parsed.path == path
    return list(parsed.entries)


def dialog_entries(relpath: str, entry_format: str | None = None) -> list[Entry]:
    """The non-section entries of a sample file, optionally of one format."""
    return [
        entry
        for entry in parse_sample(relpath)
        if entry.format != "section" and entry_format in (None, entry.format)
    ]


def test_every_sample_file_has_expected_counts():
    on_disk = sorted(p.relative_to(DIALOGS).as_posix() for p in DIALOGS.rglob("*.md"))
    assert on_disk == sorted(EXPECTED_COUNTS)
    assert sum(sum(counts) for counts in EXPECTED_COUNTS.values()) == 286


@pytest.mark.parametrize(("relpath", "expected"), sorted(EXPECTED_COUNTS.items()))
def test_entry_counts_per_format(relpath, expected):
    entries = parse_sample(relpath)
    counts = Counter(entry.format for entry in entries)
    assert tuple(counts[name] for name in FORMATS) == expected
    assert all(entry.dialog_file == f"dialogs/{relpath}" for entry in entries)
    assert [entry.line for entry in entries] == sorted(entry.line for entry in entries)


def test_moods_of_schema_sync_in_order():
    moods = [e.mood_rgb for e in dialog_entries("releases/4.0.46_schema_sync.md", "bold")]
    assert moods == [
        "FF6600",  # `FF6600` (Technical/Operational)
        "0066FF",  # 0066FF — calm
        None,  # Caffeinated, surgical, precise
        "00CC66",  # 00CC66, relieved
        "FF9900",  # #ff9900
        "3366FF",  # "#3366ff"
        None,  # `{22}|88|[[CC]]`: Lupopedia's {RR}|GG|[[BB]] (the index decodes it)
        "FF99CC",  # **Mood RGB:** FF99CC
        None,  # FF6600FF
        None,  # mood line above **Speaker:** belongs to no entry
        None,  # ABCDEFG
        "6699CC",  # **Mood_RGB:** wins over **Mood:** FF0000
        "CC3366",  # 'CC3366'
        "FFAA00",  # FFAA00 (Warm)
        "6699CC",  # `6699CC`
        "00CC66",  # 00cc66
        "6699CC",  # "6699cc"
        "FF6600",
    ]
    first = dialog_entries("releases/4.0.46_schema_sync.md", "bold")[0]
    assert "Technical/Operational" in (first.mood_raw or "")


def test_timestamps_of_schema_sync_come_from_version_headings():
    stamps = [e.timestamp_utc for e in dialog_entries("releases/4.0.46_schema_sync.md", "bold")]
    assert stamps == (
        [20260116000000] * 4
        + [20260117000000] * 2
        + [20260118000000] * 3
        # **Timestamp:** above **Speaker:** is ignored: the heading date is used.
        + [20260119000000] * 2
        + [20260120000000] * 3
        # **Date:** January 21, 2026 does not parse; **Timestamp:** 2026-01-21T16:40 does.
        + [20260121000000, 20260121164000]
        + [20260122000000] * 2
    )


def test_heading_date_with_time_and_replies_under_one_heading():
    bold = dialog_entries("meetings/2026-01-19_monday_reconciliation.md", "bold")
    assert bold[0].timestamp_utc == 20260119071500
    assert bold[0].mood_rgb == "FFAA00"
    assert [e.speaker for e in bold[5:7]] == ["KIRO", "CURSOR"]
    assert [e.timestamp_utc for e in bold[5:7]] == [20260119074500, 20260119074500]
    assert bold[3].mood_rgb == "CC3366"  # CC3366 - sharp
    header = dialog_entries("meetings/2026-01-19_monday_reconciliation.md", "header")[0]
    assert header.timestamp_utc == 20260119000000  # 8-digit file.last_modified_utc


def test_crlf_file_line_numbers():
    raw = (DIALOGS / "meetings/2026-02-17_routing_incident_review.md").read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")
    entries = dialog_entries("meetings/2026-02-17_routing_incident_review.md")
    assert [(e.format, e.line) for e in entries] == [
        ("header", 5),
        ("bold", 19),
        ("bold", 26),
        ("bold", 33),
        ("inline", 39),
        ("bold", 49),
        ("bold", 54),
        ("begin_end", 59),
        ("bold", 68),
        ("bold", 73),
    ]
    assert all("\r" not in (e.message or "") for e in entries)
    assert entries[4].speaker == "WOLFIE"
    assert entries[4].timestamp_utc == 20260217082600
    assert entries[8].timestamp_utc == 20260218000000


def test_bom_file_first_entry_line_and_valid_yaml_header():
    assert (DIALOGS / "meetings/2026-02-03_search_design_review.md").read_bytes()[:3] == (
        b"\xef\xbb\xbf"
    )
    entries = dialog_entries("meetings/2026-02-03_search_design_review.md")
    header = entries[0]
    assert (header.format, header.line) == ("header", 5)
    assert (header.speaker, header.target, header.mood_rgb) == ("CURSOR", "@everyone", "00CC66")
    assert header.timestamp_utc == 20260203100000  # date_ymdhis wins over last_modified_utc
    lilith = entries[3]
    assert lilith.speaker == "LILITH"
    assert lilith.message == (
        "Ten times is a guess. Measure it: take twenty searches people\n"
        "actually ran last month and check that the first result is the\n"
        "one they clicked."
    )
    parked = [e for e in entries if e.speaker in ("WOLFIE", "HERMES")]
    assert [e.timestamp_utc for e in parked] == [None, None, 20260203110730]


def test_cp1252_file_decodes():
    raw = (DIALOGS / "incidents/legacy_import_cp1252.md").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = decode_dialog_bytes(raw)
    assert "\u201cchecksum\u201d" in text
    assert "caf\u00e9" in text
    assert "[\x9d]" in text  # undefined in Windows-1252: same code point
    cascade = dialog_entries("incidents/legacy_import_cp1252.md", "bold")[0]
    assert cascade.message == (
        "The old editor wrote \u201cchecksum\u201d in curly quotes and caf\u00e9 with an accent."
        " The reader falls back to Windows-1252 for this file."
    )
    assert cascade.timestamp_utc == 20260123000000  # heading with a cp1252 em dash


def test_header_list_of_two_with_quoted_continuations():
    header = dialog_entries("releases/4.3.0_release_notes.md", "header")
    assert [(e.speaker, e.line) for e in header] == [("JETBRAINS", 7), ("LILITH", 13)]
    assert header[0].message == (
        "Release 4.3.0 is out: dialog search with a fallback to the files,"
        " the timeline view, and route table v4 behind a flag."
    )
    assert header[0].timestamp_utc == 20260310120000
    assert header[1].message == (
        "Reviewed. One known issue: the timeline counts undated entries twice"
        " when a date filter is set. Fix planned for 4.3.1."
    )
    assert (header[1].mood_rgb, header[1].timestamp_utc) == ("CC3366", 20260310150000)
    inline = dialog_entries("releases/4.3.0_release_notes.md", "inline")
    assert [(e.speaker, e.line, e.timestamp_utc) for e in inline] == [
        ("ROSE", 121, 20260312162000),
        ("KIRO", 125, 20260312162000),
    ]


def test_block_scalars_and_comments_in_yaml():
    header = dialog_entries("releases/4.0.46_schema_sync.md", "header")[0]
    assert (header.message or "").rstrip("\n") == (
        "Schema sync notes for releases 4.0.46 to 4.0.52.\n"
        "One section per version: what each migration did and how to roll it back."
    )
    routing = dialog_entries("routing_changelog.md", "header")[0]
    assert (routing.speaker, routing.mood_rgb) == ("HERMES", "9966FF")
    assert routing.message == "Routing channel log. One block per change, oldest first."
    tuning = dialog_entries("ops/search_tuning_log.md", "inline")
    assert (tuning[0].message or "").rstrip("\n") == (
        "Generic titles are a writing problem, not a ranking problem.\n"
        "I will add a line about titles to the doctrine page."
    )
    assert tuning[1].message == (
        "Please add the latency numbers to the benchmark file, so every tuning"
        " change shows speed next to quality."
    )
    assert (tuning[2].speaker, tuning[2].mood_rgb) == ("ROSE", "FF99CC")


def test_inline_blocks_back_to_back_and_without_speaker():
    inline = dialog_entries("ops/deploy_log.md", "inline")
    assert [e.speaker for e in inline] == ["CASCADE", "WOLFIE", None, "ROSE"]
    assert inline[2].timestamp_utc == 20260127173500
    header = dialog_entries("ops/deploy_log.md", "header")[0]
    assert (header.message or "").rstrip("\n") == (
        "Deploy log for the search service. One heading per deploy,"
        " newest last. Quick acknowledgements go in DIALOG notes between deploys."
    )
    assert header.timestamp_utc == 20260312163000


def test_pasted_headers_in_consolidated_changelog():
    inline = dialog_entries("changelog_dialog.md", "inline")
    assert [(e.speaker, e.timestamp_utc) for e in inline] == [
        ("LILITH", 20260125113000),
        ("KIRO", 20260117221500),  # the pasted header's file.last_modified_utc
        ("CAPTAIN_WOLFIE", None),  # pasted header without a date
        ("WOLFIE", 20260112160000),
    ]
    assert inline[1].system_version == "4.0.61"
    assert inline[3].mood_rgb is None


def test_begin_end_fields():
    blocks = dialog_entries("routing_changelog.md", "begin_end")
    assert blocks[3].message == "Added retry with backoff"  # no Summary: the Action
    assert blocks[5].target == "@devs"
    assert blocks[10].timestamp_utc == 20260123143000  # **Timestamp:**
    assert blocks[11].message == (
        "Each route now has its own timeout. The search route gets 2 seconds, the archive"
        " route 30 seconds. When a route times out, the fallback route answers instead."
    )
    assert blocks[14].timestamp_utc == 20260202091500  # **Date:** 2026-02-02 09:15
    assert blocks[17].timestamp_utc is None  # [YYYYMMDDHHMMSS]
    assert blocks[18].speaker == "KIRO"  # upper-case markers
    assert (blocks[26].speaker, blocks[26].target) == ("WOLFIE", "@HERMES @KIRO")
    assert all(block.mood_rgb is None for block in blocks)


def test_empty_message_paragraphs_and_blockquotes():
    bold = dialog_entries("incidents/2026-02-11_checksum_race.md", "bold")
    assert bold[1].message == (
        "The stored checksum for the standup notes matches the file on disk, but the entries\n"
        "in the index are the old ones. So the checksum was stored without the entries being\n"
        "replaced."
    )
    assert bold[2].message == (
        "The reindex log shows a parse problem for that file at 06:13:\n"
        '"unterminated fence at line 88". The editor had written half the file.\n'
        "We recorded the problem, then stored the checksum of the full file we read a moment"
        " later."
    )
    assert bold[3].message == (
        "Confirmed. The reader opened the file twice: once for the text, once for the checksum.\n"
        "Between the two reads the editor finished saving."
    )
    assert [e.timestamp_utc for e in bold[:2]] == [20260211064000, 20260211065500]


def test_lone_dialog_begin_is_a_heading():
    entries = dialog_entries("humor/friday_retro.md")
    captain, hermes = entries[1], entries[2]
    assert (captain.speaker, captain.line, captain.timestamp_utc) == (
        "CAPTAIN_WOLFIE",
        16,
        20260227153000,
    )
    assert (hermes.speaker, hermes.line, hermes.timestamp_utc) == ("HERMES", 22, None)
    assert entries[-1].format == "begin_end"
    assert entries[-1].speaker == "CAPTAIN_WOLFIE"


def test_fenced_examples_are_not_entries():
    entries = dialog_entries("doctrine/how_to_write_a_dialog_entry.md")
    assert [(e.format, e.speaker, e.line) for e in entries] == [
        ("header", "LILITH", 5),
        ("bold", "LILITH", 74),
        ("bold", "KIRO", 93),
        ("bold", "CURSOR", 102),
        ("begin_end", "CASCADE", 107),
        ("inline", "WOLFIE", 115),
    ]
    lilith = entries[1]
    assert "NOT_AN_ENTRY_EITHER" in lilith.body  # the body continues across the fence
    assert "**DETAILS:**" in lilith.body
    assert lilith.timestamp_utc == 20260127000000
    assert entries[3].timestamp_utc is None  # its heading has no date


def test_stored_markup_and_unicode_are_kept_verbatim():
    bold = dialog_entries("ui/search_ui_dialog.md", "bold")
    lilith = bold[2]
    assert "<script>alert(1)</script>" in (lilith.message or "")
    assert "<img src=x onerror=alert(1)>" in (lilith.message or "")
    assert bold[3].title == "2026-02-18 — CURSOR: Escaping <b>bold</b> & other tags in titles"
    unicode_message = bold[4].message or ""
    for text in ("🐺", "café", "Zürich", "東京", "検索エンジン", "한국어"):
        assert text in unicode_message


@pytest.mark.parametrize(
    ("relpath", "word"),
    [
        ("notes/open_questions.md", "tombstone"),
        ("drafts/unclosed_header_draft.md", "roadmap"),
        ("memos/to_cascade.md", "backup window"),
        ("meetings/2026-01-19_monday_reconciliation.md", "A rollback is not a migration"),
    ],
)
def test_text_outside_entries_stays_in_sections(relpath, word):
    sections = [e for e in parse_sample(relpath) if e.format == "section"]
    assert any(word in section.body for section in sections)
