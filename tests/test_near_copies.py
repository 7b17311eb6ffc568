"""Copies that differ only in what search does not see: mojibake, case, punctuation,
name spellings. Real Lupopedia folders hold them (a changelog and its garbled
backup): they fold like exact copies, in every engine, and every word and filter that
finds one copy finds the group.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.engine_stacks import ask, make_stacks
from support.fixtures_store import write_dialog

from dialogfile.copies import copy_key_of
from dialogfile.mojibake import repaired, repaired_text
from indexer.reindex import reindex


def garbled(text: str) -> str:
    """UTF-8 text decoded as Windows-1252, as a wrong save makes it."""
    return text.encode("utf-8").decode("cp1252")


def entry(speaker: str, target: str, mood: str, message: str, day: int = 12) -> str:
    return (
        f"## 2026-01-{day:02d} — {speaker}: Version 4.0.9 → 4.0.10\n\n"
        f"**Speaker:** {speaker}\n**Target:** {target}\n**Mood:** `{mood}`\n"
        f'**Message:** "{message}"\n\n---\n\n'
    )


CLEAN = entry("CURSOR", "@EVERYONE @Fleet", "00FF00", "Bumped the café loader, naïve résumé kept.")
#: The same entry as a garbled backup holds it, its names spelled another way.
BACKUP = garbled(
    entry("cursor", "everyone FLEET", "00ff00", "Bumped the café loader, naïve résumé kept.")
)
#: The same words said by other people: another entry, never folded with these.
OTHERS = entry(
    "STONED WOLFIE / COPILOT",
    "@EVERYONE @Fleet",
    "00FF00",
    "Bumped the café loader, naïve résumé kept.",
)


def tree(root: Path) -> Path:
    write_dialog(root, "changelog_dialog.md", CLEAN)
    write_dialog(root, "backup/changelog_dialog_backup.md", BACKUP, OTHERS)
    # A pair whose garbled copy is the original (shallower): it must still be found by the
    # words as they were meant.
    write_dialog(
        root, "a_notes.md", garbled(entry("KIRO", "@fleet", "336699", "Déjà vu über naïveté", 14))
    )
    write_dialog(
        root, "sub/notes.md", entry("Kiro", "@FLEET", "336699", "Déjà vu über naïveté", 14)
    )
    return root


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("near")
    made = make_stacks(tree(tmp / "dialogs"), tmp)
    yield made
    for stack in made.values():
        stack.close()


def test_mojibake_is_repaired_only_where_there_is_some() -> None:
    assert repaired("2026-01-12 â€” CURSOR cafÃ©") == "2026-01-12 — CURSOR café"
    for clean in ("plain ASCII", "Ça va très bien — à bientôt", "naïve café", "Â", ""):
        assert repaired(clean) is None
    assert repaired_text("ok", "â€” x", None) == "— x"


def test_the_key_ignores_what_search_does_not_see() -> None:
    def key(speaker: str, target: str, mood: str | None, text: str) -> str:
        return copy_key_of(["bold", speaker, target, mood, 20260112000000, None, text, text, text])

    same = key("CAPTAIN_WOLFIE", "@Fleet, @LILITH", "00FF00", "Version 4.0.9 — done, café!")
    assert (
        key("Captain Wolfie", "lilith FLEET", "00ff00", garbled("version 4.0.9 – DONE café"))
        == same
    )
    assert (
        key("CAPTAIN WOLFIE / LILITH", "@Fleet @LILITH", "00FF00", "Version 4.0.9 done café")
        != same
    )
    assert key("Captain Wolfie", "@Fleet", "00FF00", "Version 4.0.9 done café") != same
    assert key("Captain Wolfie", "@Fleet @LILITH", "0000FF", "Version 4.0.9 done café") != same
    assert key("Captain Wolfie", "@Fleet @LILITH", "00FF00", "Version 4.0.9 done cafe 🐺") != same


def test_near_copies_fold_into_one_hit_in_every_engine(stacks) -> None:
    page = ask(stacks, q="loader", per_page="50")
    assert page.total == 2 and page.folded == 1
    (group,) = [hit for hit in page.hits if hit.entry.speaker == "CURSOR"]
    assert group.entry.dialog_file == "changelog_dialog.md"
    assert group.copies == 1
    assert [place[0] for place in group.also_in] == ["backup/changelog_dialog_backup.md"]
    assert {hit.entry.speaker for hit in page.hits} == {"CURSOR", "STONED WOLFIE / COPILOT"}
    everything = ask(stacks, q="loader", collapse="off", per_page="50")
    assert everything.total == 3


@pytest.mark.parametrize(
    "filters",
    [
        {"speaker": "cursor"},
        {"speaker": "CURSOR"},
        {"target": "everyone"},
        {"target": "@fleet"},
        {"mood": "00FF00"},
    ],
)
def test_any_filter_that_finds_a_copy_finds_the_group(stacks, filters: dict[str, str]) -> None:
    page = ask(stacks, q="loader", per_page="50", **filters)
    assert [hit.entry.dialog_file for hit in page.hits if hit.copies] == ["changelog_dialog.md"]


@pytest.mark.parametrize("word", ["café", "cafe", "résumé", "naive"])
def test_words_as_they_were_meant_find_the_group(stacks, word: str) -> None:
    page = ask(stacks, q=word, per_page="50")
    assert "changelog_dialog.md" in {hit.entry.dialog_file for hit in page.hits}


def test_a_garbled_original_is_found_by_the_repaired_words(stacks) -> None:
    for words in ("déjà vu", "über naïveté", "deja"):
        page = ask(stacks, q=words)
        assert [hit.entry.dialog_file for hit in page.hits] == ["a_notes.md"], words
        assert page.folded == 1 and [p[0] for p in page.hits[0].also_in] == ["sub/notes.md"]


def test_a_database_keyed_the_old_way_is_rekeyed_by_the_next_reindex(tmp_path: Path) -> None:
    """sql/0007: the upgrade reads every file again, so the near copies fold from then on."""
    root = tree(tmp_path / "dialogs")
    db = tmp_path / "dialogs.db"
    reindex(root, db)
    with sqlite3.connect(db) as conn:  # as a database written before 0007 holds it
        conn.execute(
            "UPDATE lupo_dialog_entries SET copy_key = printf('%016x', dialog_entry_id),"
            " copy_state = 'original'"
        )
        conn.execute("DELETE FROM schema_migrations WHERE name = '0007_copy_key_words'")
    conn.close()
    summary = reindex(root, db)
    assert summary.files_changed == 4
    with sqlite3.connect(db) as conn:
        copies = conn.execute(
            "SELECT dialog_file FROM lupo_dialog_entries WHERE copy_state = 'copy' ORDER BY 1"
        ).fetchall()
    conn.close()
    assert copies == [("backup/changelog_dialog_backup.md",), ("sub/notes.md",)]
    assert reindex(root, db).files_changed == 0
