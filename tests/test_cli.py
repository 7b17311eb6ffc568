import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.fixtures_store import bold, small_tree, write_dialog

from dialogfile.model import ENTRY_FIELDS
from indexer.reindex import reindex_lock
from searchsvc.cli import main

SUMMARY_KEYS = {
    "files_scanned",
    "files_changed",
    "files_skipped",
    "entries_added",
    "entries_updated",
    "entries_deleted",
    "problems",
    "seconds",
}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = small_tree(tmp_path / "dialogs")
    write_dialog(root, "odd_dialog.md", "**Speaker:** JOSÉ\n**Mood:** plum\n**Message:** café\n")
    return root


@pytest.mark.parametrize("command", [[], ["parse"], ["reindex"], ["verify"]])
def test_every_command_has_help_with_an_example(runner: CliRunner, command: list[str]):
    for flag in ("-h", "--help"):
        result = runner.invoke(main, [*command, flag])
        assert result.exit_code == 0, result.output
        assert "Example:" in result.stdout and "dialogsearch " in result.stdout


def test_parse_ndjson_prints_every_entry_with_the_entry_fields(runner: CliRunner, root: Path):
    result = runner.invoke(main, ["parse", str(root), "--ndjson"])
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(list(entry) == list(ENTRY_FIELDS) for entry in entries)
    assert {e["dialog_file"] for e in entries} == {
        "changelog_dialog.md",
        "odd_dialog.md",
        "sub/meeting_notes.md",
        "team_dialog.md",
    }
    assert "café" in result.stdout and "JOSÉ" in result.stdout  # not \u-escaped
    assert "odd_dialog.md:" in result.stderr and "plum" in result.stderr


def test_parse_one_file_names_it_relative_to_itself(runner: CliRunner, root: Path):
    result = runner.invoke(main, ["parse", str(root / "sub" / "meeting_notes.md"), "--ndjson"])
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert {e["dialog_file"] for e in entries} == {"meeting_notes.md"}
    assert [e["message"] for e in entries if e["format"] == "bold"] == ["foxtrot"]


def test_parse_summary(runner: CliRunner, root: Path):
    result = runner.invoke(main, ["parse", str(root)])
    assert result.exit_code == 0, result.output
    assert "team_dialog.md: 2 entries (bold 2)" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("4 files: 5 entries, ")


def test_reindex_json_then_verify(runner: CliRunner, root: Path, tmp_path: Path):
    db = tmp_path / "dialogs.db"
    result = runner.invoke(main, ["reindex", "--root", str(root), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert SUMMARY_KEYS <= set(summary)
    assert summary["files_scanned"] == 4 and summary["entries_added"] > 5
    assert any(p.startswith("odd_dialog.md:") and "plum" in p for p in summary["problems"])

    result = runner.invoke(main, ["verify", "--root", str(root), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: 4 files, ")

    conn = sqlite3.connect(db)
    conn.execute("UPDATE lupo_dialog_entries SET speaker = 'X' WHERE message = 'foxtrot'")
    conn.commit()
    conn.close()
    result = runner.invoke(main, ["verify", "--root", str(root), "--db", str(db)])
    assert result.exit_code == 1
    assert result.stdout.startswith("sub/meeting_notes.md:")
    assert "speaker is 'X' in the database, 'ROSE' in the file" in result.stdout


def test_reindex_reads_root_and_db_from_the_environment(
    runner: CliRunner, root: Path, tmp_path: Path
):
    env = {"DIALOGSEARCH_ROOT": str(root), "DIALOGSEARCH_DB": str(tmp_path / "env.db")}
    result = runner.invoke(main, ["reindex"], env=env)
    assert result.exit_code == 0, result.output
    assert "Indexed 4 files into" in result.stdout
    assert "Entries: " in result.stdout and "entries/s)" in result.stdout
    assert "odd_dialog.md:" in result.stdout  # problems listed with file:line
    again = runner.invoke(main, ["reindex", "--full"], env=env)
    assert again.exit_code == 0, again.output
    assert "Backup of the previous database: " in again.stdout
    assert "0 added, 0 updated, 0 deleted" in again.stdout


def test_reindex_dry_run_creates_nothing(runner: CliRunner, root: Path, tmp_path: Path):
    db = tmp_path / "out" / "dialogs.db"
    db.parent.mkdir()
    result = runner.invoke(main, ["reindex", "--root", str(root), "--db", str(db), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Would index 4 files" in result.stdout and "nothing was written" in result.stdout
    assert list(db.parent.iterdir()) == []


def test_reindex_errors_are_one_line(runner: CliRunner, root: Path, tmp_path: Path):
    missing = tmp_path / "no" / "such" / "dialogs.db"
    result = runner.invoke(main, ["reindex", "--root", str(root), "--db", str(missing)])
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"Error: {missing}: folder {missing.parent} does not exist (create it first)\n"
    )

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    result = runner.invoke(main, ["reindex", "--root", str(root), "--db", str(junk)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {junk}: file is not a database (")
    assert result.stderr.count("\n") == 1

    db = tmp_path / "busy.db"
    with reindex_lock(db, wait=0):
        result = runner.invoke(
            main, ["reindex", "--root", str(root), "--db", str(db), "--wait", "0"]
        )
    assert result.exit_code == 1
    assert "another reindex is running" in result.stderr and result.stderr.count("\n") == 1


def test_verify_without_a_database_fails(runner: CliRunner, root: Path, tmp_path: Path):
    result = runner.invoke(main, ["verify", "--root", str(root), "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "no database (run dialogsearch reindex)" in result.stdout


def test_new_entries_show_up_in_the_next_incremental_run(
    runner: CliRunner, root: Path, tmp_path: Path
):
    db = str(tmp_path / "dialogs.db")
    runner.invoke(main, ["reindex", "--root", str(root), "--db", db])
    write_dialog(root, "team_dialog.md", bold("KIRO", "alpha bravo"), bold("ROSE", "india"))
    result = runner.invoke(main, ["reindex", "--root", str(root), "--db", db, "--json"])
    summary = json.loads(result.stdout)
    assert (summary["files_changed"], summary["files_skipped"]) == (1, 3)
    assert summary["entries_added"] == summary["entries_deleted"] > 0  # heading and entry
    assert summary["entries_updated"] == 0


def test_reindex_imports_no_web_code(root: Path, tmp_path: Path) -> None:
    """`dialogsearch reindex` (and parse, verify) load neither Flask nor waitress."""
    import subprocess
    import sys

    program = (
        "import sys\n"
        "from searchsvc.cli import main\n"
        f"main(['reindex', '--root', {str(root)!r}, '--db', {str(tmp_path / 'x.db')!r}],"
        " standalone_mode=False)\n"
        "loaded = sorted(m for m in ('flask', 'waitress', 'werkzeug') if m in sys.modules)\n"
        "print('web modules:', loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=True
    )
    assert "web modules: []" in result.stdout, result.stdout + result.stderr
    help_text = CliRunner().invoke(main, ["--help"]).output
    assert "serve" in help_text and "reindex" in help_text
