"""The Meilisearch scenarios against a real server, when MEILI_URL names one.

    meilisearch --master-key test-master-key --db-path /tmp/meili-test &
    MEILI_URL=http://127.0.0.1:7700 MEILI_API_KEY=test-master-key \\
        .venv/bin/python -m pytest tests/test_meili_real.py

Each test pushes to an index of its own (dialogsearch_test_<random>) and deletes it.
The last one runs a real `dialogsearch serve` that pushes a hand edit by itself.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fixtures_api import LiveServer, bold, wait_until
from support.meili_scenarios import (
    PUSH_SCENARIOS,
    SEARCH_SCENARIOS,
    MeiliTarget,
    Pipeline,
    scenario_ids,
)

from indexer.push_meili import open_client

MEILI_URL = os.environ.get("MEILI_URL")
pytestmark = pytest.mark.skipif(
    not MEILI_URL,
    reason="MEILI_URL not set: run `meilisearch --master-key KEY` and set MEILI_URL/MEILI_API_KEY",
)


@pytest.fixture
def target() -> Iterator[MeiliTarget]:
    assert MEILI_URL is not None
    api_key = os.environ.get("MEILI_API_KEY") or None
    uid = f"dialogsearch_test_{uuid.uuid4().hex[:12]}"
    yield MeiliTarget(MEILI_URL, api_key, uid)
    client = open_client(MEILI_URL, api_key)
    task = client.delete_index(uid)
    # "failed" (index_not_found) is fine: a scenario may never have created it.
    assert client.wait_for_task(task.task_uid, timeout_in_ms=30_000).status in (
        "succeeded",
        "failed",
    )


@pytest.mark.parametrize("scenario", scenario_ids(PUSH_SCENARIOS + SEARCH_SCENARIOS))
def test_scenario(scenario, target: MeiliTarget, tmp_path: Path) -> None:
    pipeline = Pipeline(target, tmp_path)
    try:
        scenario(pipeline)
    finally:
        pipeline.close()


@pytest.mark.slow
def test_serve_pushes_a_hand_edit_by_itself(
    target: MeiliTarget, tmp_path: Path, dialogs_dir: Path
) -> None:
    env = {
        "MEILI_URL": target.url,
        "MEILI_API_KEY": target.api_key or "",
        "MEILI_INDEX": target.index_uid,
        "DIALOGSEARCH_SEARCH_BACKEND": "meilisearch",
    }
    db = tmp_path / "live" / "dialogs.db"
    db.parent.mkdir()
    server = LiveServer(dialogs_dir, db, env)
    try:
        path = dialogs_dir / "team_dialog.md"
        entry = bold(
            "KIRO",
            "Hand edit xylophonist",
            day="2026-03-01",
            target="@all",
            mood="00FF00",
            title="xylophonist",
        )
        path.write_text(path.read_text(encoding="utf-8") + entry, encoding="utf-8")

        def found_by_meilisearch() -> bool:
            answer = server.get("/api/dialog/search", q="xylophonist").json()
            return answer["engine"] == "meilisearch" and answer["total"] == 1

        wait_until(found_by_meilisearch, timeout=120)
        health = server.get("/api/dialog/health").json()["meilisearch_follow"]
        assert health["last_error"] is None and health["files_pushed"] >= 1
    finally:
        server.stop()
