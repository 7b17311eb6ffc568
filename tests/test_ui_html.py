"""The web page's server side: HTML shells, the entry page, security headers."""

from __future__ import annotations

import pytest

from searchsvc.ui import format_timestamp, iso_timestamp, xref_terms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see beacon_notes.md and dialogs/GOV_dialog.md", ["beacon_notes.md", "GOV_dialog.md"]),
        ("tracked as HB_042, also PT-001 and hb_042", ["HB_042", "PT-001"]),
        ("rows in lupo_dialog_entries, version 4.3.3", ["lupo_dialog_entries"]),
        ("scripts/run.PS1 then app.py", ["run.PS1", "app.py"]),
        ("plain words only, v4.0.50", []),
        ("a.md b.md c.md d.md e.md f.md g.md", ["a.md", "b.md", "c.md", "d.md", "e.md", "f.md"]),
    ],
)
def test_xref_terms_finds_file_names_and_ids(text: str, expected: list[str]) -> None:
    assert xref_terms(text) == expected


@pytest.mark.parametrize(
    ("value", "human", "iso"),
    [
        (20260116071500, "2026-01-16 07:15 UTC", "2026-01-16T07:15:00Z"),
        (20260116000000, "2026-01-16", "2026-01-16T00:00:00Z"),
        (None, "", ""),
    ],
)
def test_timestamps_read_for_people_and_machines(value, human: str, iso: str) -> None:
    assert format_timestamp(value) == human
    assert iso_timestamp(value) == iso
