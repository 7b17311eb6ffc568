"""Helpers for the write-API tests: a small dialogs root, an indexed database, the app, checks."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from flask import Flask

from indexer.reindex import reindex
from searchsvc.web.app import create_app

TOKEN = "test-token-\u00e9-not-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

SEED_FILE = """---
file.last_modified_utc: 20260120090400
dialog:
  speaker: KIRO
  target: @everyone
  mood_RGB: "0066FF"
  message: "Header message"
---

# Team dialog

Intro text outside every entry.

## 2026-01-20 — CURSOR: sync

**Speaker:** CURSOR
**Target:** @LILITH
**Mood_RGB:** "00CC66"
**Message:** "bold message one"

---

## 2026-01-21 — LILITH: reply

**Speaker:** LILITH
**Message:** bold message two

# Dialog begin
**Timestamp (UTC):** 20260114193000
**Agent:** KIRO
**Summary:** begin end summary
# Dialog end
"""

ENTRY_COLUMNS = (
    "dialog_entry_id, dialog_file, format, speaker, target, mood_rgb, mood_raw, timestamp_utc,"
    " message, title, body, system_version, line, end_line, metadata_json"
)


def make_root(tmp_path: Path) -> tuple[Path, Path]:
    """(root, db): a dialogs folder with one seed file and a subfolder, indexed into db."""
    root = tmp_path / "dialogs"
    (root / "sub").mkdir(parents=True)
    (root / "team_dialog.md").write_text(SEED_FILE, encoding="utf-8")
    db = tmp_path / "var" / "dialogs.db"
    db.parent.mkdir()
    reindex(root, db)
    return root, db


def make_app(root: Path, db: Path, **config: Any) -> Flask:
    """The real app over `root` and `db` with the test token."""
    settings = {
        "ROOT": str(root),
        "DB": str(db),
        "API_TOKEN": TOKEN,
        "FALLBACK_PRELOAD": True,
        "TESTING": True,
        **config,
    }
    return create_app(settings)


def db_rows(db: Path, where: str = "1", params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Entry rows (ENTRY_COLUMNS) matching `where`, in id order."""
    conn = sqlite3.connect(db)
    try:
        sql = f"SELECT {ENTRY_COLUMNS} FROM lupo_dialog_entries WHERE {where} ORDER BY 1"
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def db_ids(db: Path) -> set[int]:
    """Every dialog_entry_id in the database."""
    return {row[0] for row in db_rows(db)}


def assert_canonical_error(response: Any, status: int) -> dict[str, Any]:
    """The response is the one API error shape with `status`; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["ok"] is False
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["errors"], list) and all(isinstance(e, str) for e in body["errors"])
    return body


def tree_snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` (symlinks not followed) with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }
