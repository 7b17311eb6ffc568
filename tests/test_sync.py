"""GET/POST /api/dialog/sync: database rows missing from files go back; files go to the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from support.fixtures_writes import (
    AUTH,
    assert_canonical_error,
    db_rows,
    make_app,
    make_root,
    tree_snapshot,
)

FOREIGN_ID = 424242
FOREIGN_MESSAGE = "written by another program"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Any]:
    root, db = make_root(tmp_path)
    app = make_app(root, db)
    return {"root": root, "db": db, "client": app.test_client()}


def insert_foreign_row(db: Path, rel: str = "team_dialog.md") -> None:
    """A row another program wrote straight into the database (no file holds it)."""
    conn = sqlite3.connect(db)
    try:
        conn.execute(
            "INSERT INTO lupo_dialog_entries (dialog_entry_id, dialog_file, entry_key, format,"
            " speaker, target, mood_rgb, message, timestamp_utc, line, end_line)"
            " VALUES (?, ?, 'x', 'inline', 'PHP_APP', '@everyone', 'FF0000', ?,"
            " 20260101120000, 999, 999)",
            (FOREIGN_ID, rel, FOREIGN_MESSAGE),
        )
        conn.commit()
    finally:
        conn.close()


def messages(db: Path) -> list[str]:
    return [row[8] for row in db_rows(db, "format <> 'section'")]


def test_a_row_missing_from_its_unchanged_file_is_written_back(env: dict[str, Any]) -> None:
    client, root, db = env["client"], env["root"], env["db"]
    insert_foreign_row(db)
    before = tree_snapshot(root)
    report = client.get("/api/dialog/sync").get_json()
    assert report["ok"] is True and report["dry_run"] is True
    (listed,) = report["database_to_files"]["entries"]
    assert (listed["dialog_entry_id"], listed["message"]) == (FOREIGN_ID, FOREIGN_MESSAGE)
    assert report["database_to_files"]["written"] == 0
    assert tree_snapshot(root) == before  # a dry run writes nothing

    response = client.post("/api/dialog/sync", headers=AUTH)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["database_to_files"]["written"] == 1
    assert report["files_to_database"]["files_changed"] == 1
    text = (root / "team_dialog.md").read_text(encoding="utf-8")
    assert f'message: "{FOREIGN_MESSAGE}"' in text and 'speaker: "PHP_APP"' in text
    (row,) = db_rows(db, "message = ?", (FOREIGN_MESSAGE,))
    assert row[2:5] == ("inline", "PHP_APP", "@everyone") and row[7] == 20260101120000
    assert row[0] == FOREIGN_ID  # the block records the row's id

    again = client.post("/api/dialog/sync", headers=AUTH).get_json()
    assert again["database_to_files"]["entries"] == []
    assert again["files_to_database"]["files_changed"] == 0


def test_a_file_changed_on_disk_wins_over_its_rows(env: dict[str, Any]) -> None:
    client, root, db = env["client"], env["root"], env["db"]
    insert_foreign_row(db)
    path = root / "team_dialog.md"
    path.write_text(path.read_text().replace("bold message two", "changed on disk"))
    report = client.get("/api/dialog/sync").get_json()
    assert report["database_to_files"]["entries"] == []
    assert report["files_to_database"]["files_changed"] == 1
    assert "bold message two" in messages(db)  # dry run
    client.post("/api/dialog/sync", headers=AUTH)
    assert "changed on disk" in messages(db)
    assert "bold message two" not in messages(db) and FOREIGN_MESSAGE not in messages(db)
    assert FOREIGN_MESSAGE not in path.read_text()


def test_a_new_file_is_reported_then_loaded(env: dict[str, Any]) -> None:
    client, root, db = env["client"], env["root"], env["db"]
    (root / "sub" / "new_dialog.md").write_text("**Speaker:** ROSE\n**Message:** fresh file\n")
    report = client.get("/api/dialog/sync").get_json()
    assert report["files_to_database"]["files_changed"] == 1
    assert report["files_to_database"]["entries_added"] >= 1
    assert "fresh file" not in messages(db)
    client.post("/api/dialog/sync", headers=AUTH)
    assert "fresh file" in messages(db)


def test_sync_of_an_unreadable_database_is_a_503(env: dict[str, Any]) -> None:
    env["db"].write_bytes(b"this is not a database" * 100)
    assert_canonical_error(env["client"].get("/api/dialog/sync"), 503)
