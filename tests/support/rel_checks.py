"""Checks of the files and the database against a Ledger of acknowledged writes.

Files are read with the project's own discover + parse + identity functions,
the database with plain SQL; neither goes through the server under test.
"""

from __future__ import annotations

import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialogfile.identity import keyed_entries
from dialogfile.model import Entry
from dialogfile.parse import parse_file
from indexer.discover import find_dialog_files, read_source
from support.rel_ledger import COMPARED, DELETED, Ledger
from support.rel_server import DIALOGSEARCH, REPO_ROOT

WRITES_FOLDER = "reliability/"


@dataclass
class TreeState:
    """Every entry of a dialog tree by id, and the problems per file."""

    entries: dict[int, Entry] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)
    files: dict[str, list[int]] = field(default_factory=dict)


def read_tree(root: Path) -> TreeState:
    """Parse every dialog file under `root` as the indexer does."""
    state = TreeState()
    for rel in find_dialog_files(root):
        source = read_source(root, rel)
        parsed = parse_file(source.text, rel)
        state.problems[rel] = len(parsed.problems)
        ids = []
        for entry_id, _, entry in keyed_entries(parsed.entries):
            state.entries[entry_id] = entry
            ids.append(entry_id)
        state.files[rel] = ids
    return state


def entry_fields(entry: Entry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in COMPARED}


def leftover_temp_files(root: Path) -> list[str]:
    """Temporary files an interrupted atomic write left behind (never indexed: not .md)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*.tmp"))


def check_files(root: Path, ledger: Ledger, baseline: TreeState) -> list[str]:
    """Problems: an acknowledged write missing or different, a half-written entry, a changed
    baseline entry, an entry nobody wrote, a refused write that landed. Settles uncertain
    writes to what the files show."""
    state = read_tree(root)
    problems: list[str] = []
    for entry_id, before in baseline.entries.items():
        if before.dialog_file.startswith(WRITES_FOLDER):
            continue
        now = state.entries.get(entry_id)
        if now != before:
            problems.append(f"baseline entry {entry_id} ({before.dialog_file}) changed: {now}")
    for rel, count in state.problems.items():
        expected = baseline.problems.get(rel, 0) if not rel.startswith(WRITES_FOLDER) else 0
        if count != expected:
            problems.append(f"{rel}: {count} parse problems (expected {expected})")
    with ledger.lock:
        for entry_id, fields in ledger.expected.items():
            if entry_id in ledger.uncertain:
                continue
            got = state.entries.get(entry_id)
            if fields is DELETED:
                if got is not None:
                    problems.append(f"acknowledged delete of {entry_id} undone: {got}")
            elif got is None:
                problems.append(f"acknowledged entry {entry_id} lost: {fields}")
            elif entry_fields(got) != fields:
                problems.append(f"entry {entry_id}: {entry_fields(got)} != acknowledged {fields}")
        for entry_id, pending in list(ledger.uncertain.items()):
            got = state.entries.get(entry_id)
            now = entry_fields(got) if got is not None else None
            if now not in (pending.before, pending.after):
                problems.append(
                    f"entry {entry_id} half-written: {now}, neither {pending.before} "
                    f"nor {pending.after}"
                )
                continue
            ledger.expected[entry_id] = now
            del ledger.uncertain[entry_id]
        by_marker = {
            entry.message.split(" ", 1)[0]: (entry_id, entry)
            for entry_id, entry in state.entries.items()
            if entry.dialog_file.startswith(WRITES_FOLDER) and entry.message
        }
        for marker, fields in list(ledger.uncertain_posts.items()):
            found = by_marker.get(marker)
            if found is not None:
                entry_id, entry = found
                if entry_fields(entry) != fields:
                    problems.append(f"unanswered POST {marker} half-written: {entry_fields(entry)}")
                else:
                    ledger.expected[entry_id] = fields
            del ledger.uncertain_posts[marker]
        for marker in ledger.refused_markers:
            if marker in by_marker:
                problems.append(f"POST {marker} answered 503 but is in the files")
        known = set(ledger.expected)
        for entry_id, entry in state.entries.items():
            if entry.dialog_file.startswith(WRITES_FOLDER) and entry.format != "section":
                if entry_id not in known:
                    problems.append(f"entry {entry_id} in {entry.dialog_file} nobody wrote")
        # Owners may write again only to entries whose state is known.
        for owned in ledger.owned.values():
            owned[:] = [i for i in owned if ledger.expected.get(i) is not DELETED]
    return problems


SELECT_ROWS = (
    "SELECT dialog_entry_id, speaker, target, mood_rgb, message, timestamp_utc "
    "FROM lupo_dialog_entries WHERE dialog_entry_id IN (SELECT value FROM json_each(?))"
)


def check_database(db: Path, ledger: Ledger) -> list[str]:
    """Problems: an acknowledged entry missing from the database or with other fields."""
    import json

    with ledger.lock:
        expected = dict(ledger.expected)
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        rows = {
            row[0]: dict(zip(COMPARED, row[1:], strict=True))
            for row in conn.execute(SELECT_ROWS, (json.dumps(list(expected)),))
        }
    finally:
        conn.close()
    problems = []
    for entry_id, fields in expected.items():
        got = rows.get(entry_id)
        if fields is DELETED and got is not None:
            problems.append(f"database still has deleted entry {entry_id}")
        elif fields is not DELETED and got != fields:
            problems.append(f"database entry {entry_id}: {got} != acknowledged {fields}")
    return problems


def run_verify(root: Path, db: Path, timeout: float = 300.0) -> tuple[bool, str]:
    """`dialogsearch verify` as a command: (passed, its output)."""
    done = subprocess.run(
        [DIALOGSEARCH, "verify", "--root", str(root), "--db", str(db)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode == 0, (done.stdout + done.stderr)[-2000:]


def final_problems(root: Path, db: Path, ledger: Ledger) -> tuple[bool, list[str]]:
    """After the clients stopped: (verify passed, problems of verify and of the ledger)."""
    verified, output = run_verify(root, db)
    problems = [] if verified else [f"dialogsearch verify failed: {output}"]
    problems += [f"unexpected answer: {text}" for text in ledger.unexpected]
    problems += [f"{a.kind} {a.status}: {a.body[:200]}" for a in ledger.server_errors]
    return verified, problems
