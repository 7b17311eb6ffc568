"""Meilisearch follows the files by itself (#14): serve, and reindex --watch, push every change.

Against the Meilisearch stand-in (tests/support/meili_standin.py): a real `dialogsearch
serve` subprocess, or the follower and the push in this process. Tests wait for the index
to hold (or drop) what changed, with generous time-outs, and count work (pushes, requests
the stand-in received), never time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support.fixtures_api import LiveServer, bold, wait_until
from support.fixtures_writes import AUTH, TOKEN
from support.meili_standin import MeiliStandIn

from indexer.push_meili import push_database, push_lock
from indexer.reindex import ReindexBusy, reindex
from searchsvc.meili_follow import MeiliFollower

INDEX = "follow_test"
#: Generous: a change normally reaches the stand-in within about a second.
TIMEOUT = 60.0


@pytest.fixture
def meili() -> Iterator[MeiliStandIn]:
    with MeiliStandIn() as server:
        yield server


def meili_env(meili: MeiliStandIn, **extra: str) -> dict[str, str]:
    return {
        "MEILI_URL": meili.url,
        "MEILI_API_KEY": meili.api_key or "",
        "MEILI_INDEX": INDEX,
        "DIALOGSEARCH_API_TOKEN": TOKEN,
        "DIALOGSEARCH_PROBE_SECONDS": "0.2",
        "DIALOGSEARCH_FALLBACK_PRELOAD": "1",
        **extra,
    }


def start_server(tmp_path: Path, root: Path, env: dict[str, str], *args: str) -> LiveServer:
    db = tmp_path / "live" / "dialogs.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    server = LiveServer(root, db, env, args=args)
    # The first push (the whole tree: nothing was pushed before) has gone through.
    wait_until(lambda: follow_health(server)["pushes"]["ok"] >= 1, TIMEOUT)
    return server


@pytest.fixture
def served(tmp_path: Path, dialogs_dir: Path, meili: MeiliStandIn) -> Iterator[LiveServer]:
    server = start_server(tmp_path, dialogs_dir, meili_env(meili))
    yield server
    server.stop()


def follow_health(server: LiveServer) -> dict[str, Any]:
    return server.get("/api/dialog/health").json()["meilisearch_follow"]


def files_holding(meili: MeiliStandIn, word: str) -> set[str]:
    """The files of the documents whose message holds `word`."""
    return {
        doc["dialog_file"]
        for doc in meili.documents(INDEX).values()
        if word in (doc.get("message") or "")
    }


def indexed_files(meili: MeiliStandIn) -> set[str]:
    return {doc["dialog_file"] for doc in meili.documents(INDEX).values()}


def new_entry(word: str) -> str:
    return bold(
        "KIRO", f"Hand edit {word}", day="2026-03-01", target="@everyone", mood="00FF00", title=word
    )


def editor_save(path: Path, text: str) -> None:
    """Save as editors do: a swap file beside it, then a rename over the original."""
    temp = path.with_name(f".{path.name}.swp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def post_entry(server: LiveServer, message: str) -> requests.Response:
    body = {"speaker": "KIRO", "target": "@everyone", "mood_rgb": "0066ff", "message": message}
    return requests.post(server.url + "/api/dialog/entry", json=body, headers=AUTH, timeout=30)


# ---- a real server ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_hand_edit_reaches_meilisearch_without_a_push(
    tmp_path: Path, dialogs_dir: Path, meili: MeiliStandIn
) -> None:
    env = meili_env(meili, DIALOGSEARCH_SEARCH_BACKEND="meilisearch")
    server = start_server(tmp_path, dialogs_dir, env)
    try:
        assert indexed_files(meili) >= {"team_dialog.md", "ops/deploy_log.md"}
        path = dialogs_dir / "team_dialog.md"
        editor_save(path, path.read_text(encoding="utf-8") + new_entry("axolotl"))
        wait_until(lambda: files_holding(meili, "axolotl") == {"team_dialog.md"}, TIMEOUT)

        def answered_by_meilisearch() -> bool:
            answer = server.get("/api/dialog/search", q="axolotl").json()
            return answer["engine"] == "meilisearch" and answer["total"] == 1

        wait_until(answered_by_meilisearch, TIMEOUT)
        health = follow_health(server)
        assert health["last_error"] is None and health["files_pushed"] >= 1
    finally:
        server.stop()


@pytest.mark.slow
def test_an_api_post_reaches_meilisearch(served: LiveServer, meili: MeiliStandIn) -> None:
    response = post_entry(served, "Posted through the API: quokka")
    assert response.status_code == 201, response.text
    wait_until(lambda: files_holding(meili, "quokka") == {"api_dialog.md"}, TIMEOUT)
    entry_id = response.json()["dialog_entry_id"]
    assert f"e{entry_id}" in meili.documents(INDEX)
    metrics = served.get("/metrics").text  # open: the server listens on loopback
    assert 'dialogsearch_meili_pushes_total{outcome="ok"}' in metrics
    assert "dialogsearch_meili_pending_files" in metrics


@pytest.mark.slow
def test_a_deleted_file_leaves_meilisearch(served: LiveServer, meili: MeiliStandIn) -> None:
    assert "ops/deploy_log.md" in indexed_files(meili)
    (served.root / "ops" / "deploy_log.md").unlink()
    wait_until(lambda: "ops/deploy_log.md" not in indexed_files(meili), TIMEOUT)
    assert "team_dialog.md" in indexed_files(meili)  # only that file's documents went


@pytest.mark.slow
def test_writes_answer_while_meilisearch_is_down_and_arrive_once_it_is_back(
    served: LiveServer, meili: MeiliStandIn
) -> None:
    meili.down()
    for word in ("walrus", "wombat"):
        response = post_entry(served, f"Written while Meilisearch is down: {word}")
        assert response.status_code == 201, response.text
    health = wait_until(lambda: (h := follow_health(served))["last_error"] and h, TIMEOUT)
    assert "unreachable" in health["last_error"]
    assert health["pushes"]["failed"] >= 1
    assert health["pending"] >= 1 and "api_dialog.md" in health["pending_files"]
    # the database and the other engines have the writes all along
    assert served.get("/api/dialog/search", q="walrus").json()["total"] == 1

    meili.up()
    wait_until(lambda: files_holding(meili, "walrus") == {"api_dialog.md"}, TIMEOUT)
    assert files_holding(meili, "wombat") == {"api_dialog.md"}
    health = wait_until(lambda: (h := follow_health(served))["last_error"] is None and h, TIMEOUT)
    assert health["pending"] == 0
    # the error was logged once, not once per retry
    assert served.log().count('"event": "meili_push_failed"') == 1


@pytest.mark.slow
def test_a_burst_of_files_is_a_few_pushes(served: LiveServer, meili: MeiliStandIn) -> None:
    before = follow_health(served)
    settings_before = len(meili.requests("PATCH", "/settings"))
    folder = served.root / "burst"
    folder.mkdir()
    files = 300
    for number in range(files):
        (folder / f"note_{number:03d}.md").write_text(new_entry(f"burst{number}"), "utf-8")
    wait_until(lambda: sum(f.startswith("burst/") for f in indexed_files(meili)) == files, TIMEOUT)
    health = wait_until(lambda: (h := follow_health(served))["pending"] == 0 and h, TIMEOUT)
    pushes = sum(health["pushes"].values()) - sum(before["pushes"].values())
    assert health["files_pushed"] - before["files_pushed"] >= files
    # One push per settled burst, never one per file (each push sends the settings once).
    assert 1 <= pushes < 10, health["pushes"]
    assert len(meili.requests("PATCH", "/settings")) - settings_before < 10


@pytest.mark.slow
def test_a_sync_reaches_meilisearch(tmp_path: Path, dialogs_dir: Path, meili: MeiliStandIn) -> None:
    server = start_server(tmp_path, dialogs_dir, meili_env(meili), "--no-watch")
    try:
        path = dialogs_dir / "team_dialog.md"
        path.write_text(path.read_text(encoding="utf-8") + new_entry("pangolin"), "utf-8")
        response = requests.post(server.url + "/api/dialog/sync", headers=AUTH, timeout=60)
        assert response.status_code == 200, response.text
        wait_until(lambda: files_holding(meili, "pangolin") == {"team_dialog.md"}, TIMEOUT)
    finally:
        server.stop()


@pytest.mark.slow
def test_meili_follow_off_leaves_pushing_to_the_reindex(
    tmp_path: Path, dialogs_dir: Path, meili: MeiliStandIn
) -> None:
    db = tmp_path / "live" / "dialogs.db"
    db.parent.mkdir()
    server = LiveServer(dialogs_dir, db, meili_env(meili, DIALOGSEARCH_MEILI_FOLLOW="off"))
    try:
        assert "meilisearch_follow" not in server.get("/api/dialog/health").json()
        assert "MEILI_FOLLOW=off" in server.log()
    finally:
        server.stop()
    assert meili.requests() == []


# ---- dialogsearch reindex --watch --meili-url -------------------------------------------


@pytest.mark.slow
def test_reindex_watch_pushes_each_change(
    tmp_path: Path, dialogs_dir: Path, meili: MeiliStandIn
) -> None:
    db = tmp_path / "watch" / "dialogs.db"
    db.parent.mkdir()
    out, err = tmp_path / "watch.out", tmp_path / "watch.err"
    here = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": here, "MEILI_API_KEY": meili.api_key or ""}
    command = [sys.executable, "-m", "searchsvc.cli", "reindex", "--root", str(dialogs_dir)]
    command += ["--db", str(db), "--watch", "--meili-url", meili.url, "--meili-index", INDEX]
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
    try:
        wait_until(lambda: "Watching" in out.read_text(), TIMEOUT)
        assert "team_dialog.md" in indexed_files(meili)  # the reindex's own push
        path = dialogs_dir / "team_dialog.md"
        editor_save(path, path.read_text(encoding="utf-8") + new_entry("capybara"))
        wait_until(lambda: files_holding(meili, "capybara") == {"team_dialog.md"}, TIMEOUT)
        wait_until(lambda: ": 1 files pushed" in out.read_text(), TIMEOUT)
    finally:
        process.terminate()
        code = process.wait(timeout=60)
    assert code == 0, out.read_text() + err.read_text()
    assert out.read_text().rstrip().endswith("Stopped.")


# ---- the follower and the push's locks, in this process ---------------------------------


@pytest.fixture
def indexed(tmp_path: Path, dialogs_dir: Path) -> Path:
    db = tmp_path / "var" / "dialogs.db"
    db.parent.mkdir()
    reindex(dialogs_dir, db)
    return db


def follower_for_test(db: Path, meili: MeiliStandIn, **options: Any) -> MeiliFollower:
    follower = MeiliFollower(db, meili.url, meili.api_key, INDEX, settle_seconds=0.05, **options)
    follower.start()
    return follower


def test_files_the_index_already_holds_ask_meilisearch_nothing(
    indexed: Path, meili: MeiliStandIn
) -> None:
    follower = follower_for_test(indexed, meili)
    try:
        follower.request()
        wait_until(lambda: follower.pushes["ok"] == 1, TIMEOUT)
        received = len(meili.requests())
        follower.request(["team_dialog.md", "ops/deploy_log.md"])  # as the watcher's echo
        wait_until(lambda: follower.pushes["skipped"] == 1, TIMEOUT)
        assert len(meili.requests()) == received
        assert follower.health()["pending"] == 0
    finally:
        follower.stop()


def test_nothing_is_pushed_while_the_database_is_unavailable_then_it_catches_up(
    indexed: Path, dialogs_dir: Path, meili: MeiliStandIn
) -> None:
    database_up = threading.Event()
    follower = follower_for_test(indexed, meili, database_up=database_up.is_set)
    try:
        follower.request(["team_dialog.md"])
        wait_until(lambda: follower.health()["waiting_for_database"], TIMEOUT)
        assert meili.requests() == [] and follower.health()["pending"] == 1
        # Meanwhile the recovery's reindex brings in a change nobody asked a push for.
        path = dialogs_dir / "ops" / "deploy_log.md"
        path.write_text(path.read_text(encoding="utf-8") + new_entry("okapi"), "utf-8")
        reindex(dialogs_dir, indexed)
        database_up.set()
        wait_until(lambda: files_holding(meili, "okapi") == {"ops/deploy_log.md"}, TIMEOUT)
        assert "team_dialog.md" in indexed_files(meili)
    finally:
        follower.stop()


def test_a_push_never_holds_the_reindex_lock_while_meilisearch_works(
    indexed: Path, dialogs_dir: Path, meili: MeiliStandIn
) -> None:
    meili.set_processing_polls(20)  # each task is "processing" for its first 20 polls
    outcome: dict[str, Any] = {}
    pushing = threading.Thread(
        target=lambda: outcome.update(summary=push_database(indexed, meili.url, meili.api_key))
    )
    pushing.start()
    try:
        wait_until(lambda: meili.requests("POST", "/documents"), TIMEOUT)
        # The documents' task is being waited for: a reindex takes the lock at once.
        summary = reindex(dialogs_dir, indexed, wait=0.5)
        assert summary.files_scanned > 0
    finally:
        pushing.join(timeout=TIMEOUT)
    assert outcome["summary"].ok, outcome["summary"].lines()


def test_two_pushes_of_one_database_never_run_at_once(indexed: Path, meili: MeiliStandIn) -> None:
    with push_lock(indexed, 0), pytest.raises(ReindexBusy, match="another push"):
        push_database(indexed, meili.url, meili.api_key, INDEX, wait=0.1)
    assert meili.requests("POST", "/documents") == []
    assert push_database(indexed, meili.url, meili.api_key, INDEX, wait=0.1).ok
