"""The file index (the fallback) is built on first need and dropped once the database is back.

A healthy server holds none of it (issue 15: RSS); the first fallback builds it; the
recovery drops it and gives its memory back; FALLBACK_PRELOAD=on keeps it resident. A
search that finds the index still being built gets a 503 with Retry-After, not a wait.
Every assertion counts builds, drops and answers; none times anything.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest
from support.fixtures_api import append_entry, wait_until

from searchsvc.query.fts_query import parse_user_query
from searchsvc.repository import SearchQuery
from searchsvc.settings import Settings
from searchsvc.stack import SearchStack, build_stack
from searchsvc.web.app import create_app


def search(stack: SearchStack, text: str) -> tuple[int, str]:
    match, filters = parse_user_query(text)
    page = stack.search(SearchQuery(match=match, text=text, filters=filters))
    return page.total, page.source


@pytest.fixture
def make_stack(dialogs_dir: Path, db_path: Path) -> Any:
    stacks: list[SearchStack] = []

    def make(**options: Any) -> SearchStack:
        settings = Settings(
            root=dialogs_dir, db=db_path, topk=False, watch="off", probe_seconds=0.05, **options
        )
        stack = build_stack(settings)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.close()


def files_index(stack: SearchStack) -> dict[str, Any]:
    return stack.health()["files_index"]  # type: ignore[no-any-return]


def test_a_healthy_database_never_builds_the_file_index(make_stack: Any, dialogs_dir: Path) -> None:
    stack = make_stack()
    assert search(stack, "migration ") == (3, "database")
    assert stack.get_entry(1) is None
    assert stack.stats()["source"] == "database"
    append_entry(dialogs_dir / "team_dialog.md", "Lazy", "zebracorn arrives")
    stack.reload_file("team_dialog.md")  # a write: the files follow only if built
    health = files_index(stack)
    assert (health["builds"], health["drops"], health["state"]) == (0, 0, "not built")


def test_the_first_fallback_builds_it_and_the_recovery_drops_it(
    make_stack: Any, db_path: Path, dialogs_dir: Path
) -> None:
    stack = make_stack()
    files = stack.files
    assert files is not None and files.builds == 0
    db_path.unlink()
    assert search(stack, "migration ") == (3, "files")
    assert files.builds == 1
    index = weakref.ref(files._index)  # noqa: SLF001 - what the drop must free
    wait_until(lambda: stack.mode == "database" and files.drops == 1, timeout=30)
    gc.collect()
    assert index() is None, "something still holds the dropped index"
    assert files_index(stack)["state"] == "not built"
    assert search(stack, "migration ") == (3, "database")
    # A second failure builds it anew, with what the files hold now.
    append_entry(dialogs_dir / "team_dialog.md", "Lazy", "zebracorn arrives")
    db_path.unlink()
    assert search(stack, "zebracorn ") == (1, "files")
    assert files.builds == 2
    wait_until(lambda: stack.mode == "database" and files.drops == 2, timeout=30)
    assert search(stack, "zebracorn ") == (1, "database")


def test_preload_on_builds_it_at_start_and_keeps_it(make_stack: Any, db_path: Path) -> None:
    stack = make_stack(fallback_preload=True)
    files = stack.files
    assert files is not None
    wait_until(lambda: files.state == "ready", timeout=30)
    db_path.unlink()
    assert search(stack, "migration ") == (3, "files")
    wait_until(lambda: stack.mode == "database" and stack.recovery.recoveries == 1, timeout=30)
    assert (files.builds, files.drops, files.state) == (1, 0, "ready")


def test_without_a_database_the_files_are_built_at_start_and_kept(dialogs_dir: Path) -> None:
    stack = build_stack(Settings(root=dialogs_dir, watch="off"))
    try:
        assert stack.files is not None and stack.files.resident
        assert search(stack, "migration ") == (3, "files")
        assert stack.files.drop() is False and stack.files.builds == 1
    finally:
        stack.close()


def test_a_search_while_the_index_is_built_gets_a_503_with_retry_after(
    dialogs_dir: Path, db_path: Path
) -> None:
    config = {
        "ROOT": str(dialogs_dir),
        "DB": str(db_path),
        "TOPK": False,
        "WATCH": "off",
        "REBUILD": False,
        "PROBE_SECONDS": 0.05,
        "FALLBACK_WAIT_SECONDS": 0,
        "TESTING": True,
    }
    app = create_app(config)
    stack: SearchStack = app.extensions["dialogsearch"]
    files = stack.files
    assert files is not None
    client = app.test_client()
    try:
        assert client.get("/api/dialog/search?q=migration+").json["source"] == "database"
        moved = db_path.rename(db_path.with_name("moved.db"))
        # While this thread holds the index's lock, the build cannot go live.
        with files._lock:  # noqa: SLF001 - the one way to see a build in progress, untimed
            response = client.get("/api/dialog/search?q=migration+")
            assert response.status_code == 503
            assert int(response.headers["Retry-After"]) > 0
            assert response.json["ok"] is False and "being built" in response.json["error"]
            assert files.state == "building"
        wait_until(lambda: files.state == "ready", timeout=30)
        answer = client.get("/api/dialog/search?q=migration+").json
        assert (answer["total"], answer["source"]) == (3, "files")
        moved.rename(db_path)
        wait_until(lambda: stack.mode == "database" and files.drops == 1, timeout=30)
        assert files.builds == 1
    finally:
        stack.close()
