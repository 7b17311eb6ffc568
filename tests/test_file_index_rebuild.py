"""Files written while the file index is being built are in the index once it is live."""

from __future__ import annotations

import time
from pathlib import Path

from searchsvc.engines.repo_files import FileRepository
from searchsvc.query.fts_query import parse_user_query
from searchsvc.repository import SearchQuery

ENTRY = """## 2026-01-0{day} 10:00:00 UTC

**Speaker:** KIRO
**Target:** @everyone
**Mood:** `00FF00`
**Message:** "{message}"
"""


def write(path: Path, message: str) -> None:
    path.write_text(ENTRY.format(day=1, message=message), encoding="utf-8")


def total(repo: FileRepository, text: str) -> int:
    match, filters = parse_user_query(text)
    return repo.search(SearchQuery(match=match, text=text, filters=filters)).total


def test_a_file_rewritten_during_the_build_is_read_again_before_the_index_goes_live(
    tmp_path: Path,
) -> None:
    root = tmp_path / "dialogs"
    root.mkdir()
    for number in range(400):
        write(root / f"f{number:03}.md", f"filler message number {number}")
    changed = root / "f000.md"  # sorted first: the build reads it first
    repo = FileRepository(root, wait_seconds=60)
    repo.start_build()
    rewrites = 0
    deadline = time.monotonic() + 60
    while True:
        write(changed, f"zebracorn{rewrites}")
        repo.reload_file("f000.md")  # what the write path does after each write
        rewrites += 1
        if repo.state == "ready" or time.monotonic() > deadline:
            break
    assert repo.state == "ready"
    last = rewrites - 1
    assert total(repo, f"zebracorn{last} ") == 1
    if last:
        assert total(repo, f"zebracorn{last - 1} ") == 0
    assert total(repo, "filler ") == 399
