"""`serve` follows the dialogs folder (#14): hand edits reach search by themselves.

Every test runs a real `dialogsearch serve` subprocess and changes its files as a person,
an editor or git would; it waits for the change to be searchable (or gone), with generous
time-outs, and never asserts a time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from support.fixtures_api import LiveServer, bold, wait_until

from indexer.reindex import reindex, reindex_lock
from indexer.verify import verify
from searchsvc.cli import main
from searchsvc.settings import Settings, load_config
from searchsvc.watcher import ignored

#: Generous: a change normally arrives within about a second.
TIMEOUT = 30.0
FAST_PROBE = {"DIALOGSEARCH_PROBE_SECONDS": "0.2", "DIALOGSEARCH_FALLBACK_PRELOAD": "1"}


def _server(tmp_path: Path, root: Path, env: dict[str, str], *args: str) -> LiveServer:
    db = tmp_path / "live" / "dialogs.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    return LiveServer(root, db, {**FAST_PROBE, **env}, args=args)


@pytest.fixture
def watched(tmp_path: Path, dialogs_dir: Path) -> Iterator[LiveServer]:
    """A server following a copy of the fixture tree (inotify)."""
    server = _server(tmp_path, dialogs_dir, {})
    yield server
    server.stop()


def hits(server: LiveServer, q: str) -> list[dict[str, Any]]:
    # Both scopes, every copy: these tests follow files, whatever their records are.
    response = server.get("/api/dialog/search", q=q, per_page=100, scope="all", collapse="off")
    assert response.status_code == 200, response.text
    return response.json()["hits"]


def files_of(server: LiveServer, q: str) -> set[str]:
    return {hit["dialog_file"] for hit in hits(server, q)}


def watcher_health(server: LiveServer) -> dict[str, Any]:
    return server.get("/api/dialog/health").json()["watcher"]


def editor_save(path: Path, text: str) -> None:
    """Save as editors do: a temp (swap) file beside it, then a rename over the original."""
    temp = path.with_name(f".{path.name}.swp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def new_entry(word: str) -> str:
    return bold(
        "KIRO", f"Hand edit {word}", day="2026-03-01", target="@everyone", mood="00FF00", title=word
    )


# ---- settings and names (no server) ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        ("on", "on"),
        ("1", "on"),
        ("poll", "poll"),
        ("polling", "poll"),
        ("off", "off"),
        ("0", "off"),
    ],
)
def test_watch_setting(value: str, mode: str) -> None:
    settings = Settings.from_config(load_config(environ={"DIALOGSEARCH_WATCH": value}))
    assert settings.watch == mode


def test_watch_is_on_by_default_and_a_bad_value_is_named() -> None:
    assert Settings.from_config(load_config(environ={})).watch == "on"
    with pytest.raises(ValueError, match="DIALOGSEARCH_WATCH='sometimes'"):
        Settings.from_config(load_config(environ={"DIALOGSEARCH_WATCH": "sometimes"}))


@pytest.mark.parametrize(
    ("name", "skipped"),
    [
        ("notes.md", False),
        (".hidden.md", False),
        (".notes.md.swp", True),
        ("notes.md~", True),
        (".#notes.md", True),
        ("4913", True),
        (".notes.md.k2j3h4g5.tmp", True),
    ],
)
def test_editor_and_temp_files_are_ignored(name: str, skipped: bool) -> None:
    assert ignored(name) is skipped


# ---- a real server ----------------------------------------------------------------------


@pytest.mark.slow
def test_an_editor_save_that_appends_an_entry_is_found(watched: LiveServer) -> None:
    path = watched.root / "team_dialog.md"
    assert hits(watched, "axolotl") == []
    editor_save(path, path.read_text(encoding="utf-8") + new_entry("axolotl"))
    wait_until(lambda: files_of(watched, "axolotl") == {"team_dialog.md"}, timeout=TIMEOUT)
    # the entries already there are still found, and no swap file reached the index
    assert files_of(watched, "migration plan") >= {"team_dialog.md"}
    assert watcher_health(watched)["last_error"] is None


def test_an_api_write_starts_no_reindex_but_a_hand_edit_after_it_does(
    tmp_path: Path, dialogs_dir: Path
) -> None:
    """The write service loaded its own write: the watcher skips the file as written."""
    token = "watcher-token-0123456789abcdef"
    server = _server(tmp_path, dialogs_dir, {"DIALOGSEARCH_API_TOKEN": token})
    try:
        before = watcher_health(server)["reindexes"]
        answer = requests.post(
            server.url + "/api/dialog/entry",
            json={"speaker": "KIRO", "message": "okapi by the api", "dialog_file": "api.md"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        wait_until(lambda: watcher_health(server)["own_writes_skipped"] >= 1, timeout=TIMEOUT)
        health = watcher_health(server)
        assert health["reindexes"] == before and health["pending_files"] == []
        assert files_of(server, "okapi") == {"api.md"}
        path = dialogs_dir / "api.md"
        editor_save(path, path.read_text(encoding="utf-8") + new_entry("quokka"))
        wait_until(lambda: files_of(server, "quokka") == {"api.md"}, timeout=TIMEOUT)
        # The reindex commits (and search finds the entry) a moment before it is counted.
        wait_until(lambda: watcher_health(server)["reindexes"] > before, timeout=TIMEOUT)
        assert watcher_health(server)["reindexes"] == before + 1
    finally:
        server.stop()


@pytest.mark.slow
def test_a_new_file_in_a_new_subfolder_is_found(watched: LiveServer) -> None:
    folder = watched.root / "meetings" / "2026"
    folder.mkdir(parents=True)
    (folder / "standup.md").write_text(new_entry("narwhal"), encoding="utf-8")
    wait_until(lambda: files_of(watched, "narwhal") == {"meetings/2026/standup.md"}, TIMEOUT)
    # The reindex commits (and search finds the file) a moment before the watcher records it.
    health = wait_until(lambda: (h := watcher_health(watched))["last_reindex"] and h, TIMEOUT)
    assert health["mode"] == "inotify"
    assert health["last_event"] is not None
    assert health["last_reindex"]["files_changed"] >= 1


@pytest.mark.slow
def test_a_renamed_file_is_found_under_its_new_name_only(watched: LiveServer) -> None:
    assert files_of(watched, "zero downtime") == {"ops/deploy_log.md"}
    os.rename(watched.root / "ops" / "deploy_log.md", watched.root / "ops" / "staging_log.md")
    wait_until(lambda: files_of(watched, "zero downtime") == {"ops/staging_log.md"}, TIMEOUT)
    entries = watched.get("/api/dialog/entries", file="ops/deploy_log.md").json()
    assert entries["total"] == 0


@pytest.mark.slow
def test_a_deleted_file_is_gone(watched: LiveServer) -> None:
    assert files_of(watched, "prefix check") == {"opsnotes.md"}
    (watched.root / "opsnotes.md").unlink()
    wait_until(lambda: hits(watched, "prefix check") == [], TIMEOUT)


@pytest.mark.slow
def test_a_moved_away_folder_is_gone(watched: LiveServer) -> None:
    assert files_of(watched, "zebrafish") == {"ops/archive/old_notes.md"}
    shutil.move(watched.root / "ops" / "archive", watched.root.parent / "archive_elsewhere")
    wait_until(lambda: hits(watched, "zebrafish") == [], TIMEOUT)


@pytest.mark.slow
def test_a_copied_in_corpus_folder_is_found_in_few_reindexes(
    tmp_path: Path, watched: LiveServer, shared_corpus: Path
) -> None:
    source = shared_corpus / "dialogs"
    files = sorted(source.glob("*.md"))
    # What the database holds for the corpus alone: the count to wait for.
    expected = reindex(source, tmp_path / "expected.db").entries_added
    before = watcher_health(watched)["reindexes"]
    shutil.copytree(source, watched.root / "lupopedia")

    def loaded() -> bool:
        page = watched.get("/api/dialog/entries", file="lupopedia/", per_page=1, scope="all").json()
        return page["total"] == expected

    wait_until(loaded, timeout=60)
    # The burst's last events may still be in a batch being applied, and a reindex is
    # counted a moment after its commit is searchable: wait for both.
    after = wait_until(
        lambda: (
            (h := watcher_health(watched))["pending_files"] == [] and h["reindexes"] > before and h
        ),
        60,
    )
    # A burst of len(files) files is batched: a few reindexes, not one per file.
    assert 1 <= after["reindexes"] - before <= 5, (len(files), after)
    assert after["last_error"] is None


@pytest.mark.slow
def test_the_polling_mode_follows_too(tmp_path: Path, dialogs_dir: Path) -> None:
    server = _server(tmp_path, dialogs_dir, {"DIALOGSEARCH_WATCH": "poll"})
    try:
        assert watcher_health(server)["mode"] == "polling"
        assert '"mode": "polling"' in server.log()
        path = server.root / "ops" / "deploy_log.md"
        editor_save(path, path.read_text(encoding="utf-8") + new_entry("pangolin"))
        wait_until(lambda: files_of(server, "pangolin") == {"ops/deploy_log.md"}, TIMEOUT)
        # A second save, likely within the same second: the poller's mtimes are seconds.
        editor_save(path, path.read_text(encoding="utf-8") + new_entry("tapir"))
        wait_until(lambda: files_of(server, "tapir") == {"ops/deploy_log.md"}, TIMEOUT)
    finally:
        server.stop()


@pytest.mark.slow
def test_while_the_database_is_down_changes_reach_the_file_index(
    tmp_path: Path, dialogs_dir: Path
) -> None:
    # No rebuild, and the recovery's own file refresh only once (when the fallback
    # starts): a file that appears later can only come from the watcher.
    env = {"DIALOGSEARCH_REBUILD": "0", "DIALOGSEARCH_PROBE_SECONDS": "600"}
    server = _server(tmp_path, dialogs_dir, env)
    try:
        server.db.unlink()
        # Whether or not the stack noticed yet: the watcher must not create a new database.
        (server.root / "ops" / "late.md").write_text(new_entry("okapi"), encoding="utf-8")
        wait_until(lambda: server.get("/api/dialog/health").json()["mode"] == "files", TIMEOUT)
        (server.root / "ops" / "later.md").write_text(new_entry("okapi"), encoding="utf-8")

        def found_in_files() -> bool:
            # The same entry in two files: every copy shown.
            page = server.get("/api/dialog/search", q="okapi", collapse="off").json()
            found = sorted(hit["dialog_file"] for hit in page["hits"])
            return page["source"] == "files" and found == ["ops/late.md", "ops/later.md"]

        wait_until(found_in_files, TIMEOUT)
        assert not server.db.exists()  # the watcher left the database to the recovery
    finally:
        server.stop()


@pytest.mark.slow
def test_no_watch_follows_nothing(tmp_path: Path, dialogs_dir: Path) -> None:
    server = _server(tmp_path, dialogs_dir, {}, "--no-watch")
    try:
        assert watcher_health(server) == {"mode": "off"}
        (server.root / "unwatched.md").write_text(new_entry("wombat"), encoding="utf-8")
        # Nothing to wait for when nothing follows: give a watcher well past its
        # longest delay (2 s) the chance to be wrong, then check it did nothing.
        time.sleep(3)
        assert hits(server, "wombat") == []
        plan = server.get("/api/dialog/sync").json()["files_to_database"]
        assert (plan["files_changed"], plan["entries_added"]) == (1, 1)  # still to be synced
    finally:
        server.stop()


@pytest.mark.slow
def test_after_a_hand_edit_the_409_advice_works_without_a_sync(
    tmp_path: Path, dialogs_dir: Path
) -> None:
    token = "watcher-test-token"
    server = _server(tmp_path, dialogs_dir, {"DIALOGSEARCH_API_TOKEN": token})
    auth = {"Authorization": f"Bearer {token}"}
    try:
        [hit] = hits(server, '"Migration plan for the dialog tables"')
        path = server.root / "team_dialog.md"
        edited = path.read_text(encoding="utf-8").replace("tables is ready", "tables is final")
        editor_save(path, edited)
        put = requests.put(
            f"{server.url}/api/dialog/entry/{hit['dialog_entry_id']}",
            json={"message": "changed through the API"},
            headers=auth,
            timeout=30,
        )
        # 409 when the watcher has not indexed the edit yet, 404 when it has (new id)
        assert put.status_code in (404, 409), put.text
        if put.status_code == 409:  # the advice: no sync needed, the entry is found again
            assert "--no-watch" in put.json()["error"]
        found = wait_until(lambda: hits(server, '"tables is final"'), TIMEOUT)
        again = requests.put(
            f"{server.url}/api/dialog/entry/{found[0]['dialog_entry_id']}",
            json={"message": "changed through the API"},
            headers=auth,
            timeout=30,
        )
        assert again.status_code == 200, again.text
        wait_until(lambda: hits(server, '"changed through the API"'), TIMEOUT)
        assert hits(server, '"tables is final"') == []
    finally:
        server.stop()


def test_serve_refuses_a_bad_watch_setting_in_one_line(
    tmp_path: Path, dialogs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIALOGSEARCH_WATCH", "sometimes")
    db = tmp_path / "bad-watch" / "dialogs.db"
    result = CliRunner().invoke(main, ["serve", "--root", str(dialogs_dir), "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        "dialogsearch: DIALOGSEARCH_WATCH='sometimes' is not one of on, poll, off"
    )
    assert not db.parent.exists()


@pytest.mark.slow
def test_a_change_waits_for_a_reindex_running_beside_the_server(watched: LiveServer) -> None:
    with reindex_lock(watched.db, 0):  # as `dialogsearch reindex` run from cron holds it
        (watched.root / "cron.md").write_text(new_entry("quokka"), encoding="utf-8")
        health = wait_until(
            lambda: "another reindex is running" in str(watcher_health(watched)["last_error"]),
            TIMEOUT,
        )
        assert health and watcher_health(watched)["pending_files"] == ["cron.md"]
        assert hits(watched, "quokka") == []
    wait_until(lambda: files_of(watched, "quokka") == {"cron.md"}, TIMEOUT)
    # The retry's commit is searchable a moment before the watcher clears its error.
    wait_until(lambda: watcher_health(watched)["last_error"] is None, TIMEOUT)


@pytest.mark.slow
def test_the_periodic_rescan_catches_a_change_no_event_reported(
    tmp_path: Path, dialogs_dir: Path
) -> None:
    # A poller that never polls within the test: only the rescan can see the change.
    env = {
        "DIALOGSEARCH_WATCH": "poll",
        "DIALOGSEARCH_WATCH_POLL_MS": "600000",
        "DIALOGSEARCH_WATCH_RESCAN_SECONDS": "1",
    }
    server = _server(tmp_path, dialogs_dir, env)
    try:
        (server.root / "ops" / "missed.md").write_text(new_entry("capybara"), encoding="utf-8")
        wait_until(lambda: files_of(server, "capybara") == {"ops/missed.md"}, TIMEOUT)
        # The rescan's commit is searchable a moment before the watcher counts it.
        health = wait_until(lambda: (h := watcher_health(server))["rescans"] >= 1 and h, TIMEOUT)
        assert health["events"] == 0, health
    finally:
        server.stop()


# ---- dialogsearch reindex --watch ------------------------------------------------------


def _worktree_env(**extra: str) -> dict[str, str]:
    """This checkout's code for a subprocess (the console scripts may run another's)."""
    here = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": here + (os.pathsep + path if path else ""), **extra}


@pytest.mark.slow
def test_reindex_watch_follows_the_root_and_stops_cleanly(
    tmp_path: Path, dialogs_dir: Path
) -> None:
    db = tmp_path / "watch" / "dialogs.db"
    db.parent.mkdir()
    out, err = tmp_path / "watch.out", tmp_path / "watch.err"
    command = [sys.executable, "-m", "searchsvc.cli", "reindex", "--root", str(dialogs_dir)]
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(
            [*command, "--db", str(db), "--watch"],
            env=_worktree_env(),
            stdout=stdout,
            stderr=stderr,
        )
    try:
        wait_until(lambda: "Watching" in out.read_text(), TIMEOUT)
        before = verify(dialogs_dir, db)
        assert before.ok, before.differences
        path = dialogs_dir / "team_dialog.md"
        editor_save(path, path.read_text(encoding="utf-8") + new_entry("axolotl"))

        def caught_up() -> bool:
            report = verify(dialogs_dir, db)
            return report.ok and report.entries_checked > before.entries_checked

        wait_until(caught_up, TIMEOUT)
        # One line for the applied change (the reindex commits a moment before it prints).
        wait_until(lambda: "change: 1 files" in out.read_text(), TIMEOUT)
    finally:
        process.terminate()
        code = process.wait(timeout=60)
    assert code == 0, out.read_text() + err.read_text()
    assert out.read_text().rstrip().endswith("Stopped.")
    result = subprocess.run(
        [sys.executable, "-m", "searchsvc.cli", "verify", "--root", str(dialogs_dir)]
        + ["--db", str(db)],
        env=_worktree_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.startswith("OK:"), result.stdout


def test_reindex_watch_refuses_a_dry_run(tmp_path: Path, dialogs_dir: Path) -> None:
    db = tmp_path / "dry.db"
    args = ["reindex", "--root", str(dialogs_dir), "--db", str(db), "--watch", "--dry-run"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "--dry-run" in result.output
    assert not db.exists()


# ---- files still being written, and files that cannot be read ---------------------------


@pytest.mark.slow
def test_a_file_written_in_two_parts_is_indexed_whole(tmp_path: Path, dialogs_dir: Path) -> None:
    # A file is read once it has been still for 3 s; the writer pauses 1 s between its
    # two parts (well past the 0.2 s that ends a burst of events).
    server = _server(tmp_path, dialogs_dir, {"DIALOGSEARCH_WATCH_FILE_SETTLE_MS": "3000"})
    try:
        text = new_entry("first") + new_entry("second half")
        cut = text.index("Hand edit second") + len("Hand edit sec")
        path = server.root / "slow_writer.md"
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text[:cut])
            handle.flush()
            time.sleep(1.0)  # the writer's pause, not a wait for the watcher
            handle.write(text[cut:])
        alone = tmp_path / "alone"
        alone.mkdir()
        shutil.copy(path, alone / path.name)
        expected = reindex(alone, tmp_path / "alone.db").entries_added  # the whole file's
        wait_until(lambda: files_of(server, '"second half"') == {"slow_writer.md"}, TIMEOUT)
        health = wait_until(
            lambda: (h := watcher_health(server))["pending_files"] == [] and h, TIMEOUT
        )
        # The half-written file never reached the database: its entries were only added.
        assert health["entries_reindexed"] == {"added": expected, "updated": 0, "deleted": 0}
    finally:
        server.stop()


def _without_read_override() -> tuple[str, ...]:
    """A prefix that runs a command unable to read a chmod 000 file (root reads anything)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a chmod 000 file stays readable")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search", "--")


@pytest.mark.slow
def test_an_unreadable_file_is_logged_once_and_retried(tmp_path: Path, dialogs_dir: Path) -> None:
    locked = dialogs_dir / "locked.md"
    locked.write_text(new_entry("ocelot"), encoding="utf-8")
    locked.chmod(0)
    db = tmp_path / "live" / "dialogs.db"
    db.parent.mkdir()
    env = {"DIALOGSEARCH_WATCH_RESCAN_SECONDS": "0.2"}
    server = LiveServer(dialogs_dir, db, env, prefix=_without_read_override())
    try:
        # Every rescan tries the file again; it is logged once.
        health = wait_until(lambda: (h := watcher_health(server))["rescans"] >= 5 and h, TIMEOUT)
        assert health["unreadable_files"] == ["locked.md"], health
        assert health["last_error"] is None, health
        assert server.log().count('"event": "unreadable"') == 1, server.log()
        assert files_of(server, "migration plan") >= {"team_dialog.md"}  # the rest is served
        locked.chmod(0o644)  # no event: the next rescan reads it
        wait_until(lambda: files_of(server, "ocelot") == {"locked.md"}, TIMEOUT)
        wait_until(lambda: watcher_health(server)["unreadable_files"] == [], TIMEOUT)
        assert server.log().count('"event": "unreadable"') == 1
    finally:
        server.stop()


@pytest.mark.slow
def test_a_kill_during_a_burst_loses_nothing(
    tmp_path: Path, dialogs_dir: Path, shared_corpus: Path
) -> None:
    """kill -9 while a copied-in folder is being applied: the restart catches up, verify is OK."""
    source = shared_corpus / "dialogs"
    expected = reindex(source, tmp_path / "expected.db").entries_added
    server = _server(tmp_path, dialogs_dir, {})
    try:
        before = watcher_health(server)["reindexes"]
        shutil.copytree(source, server.root / "lupopedia")

        def burst_seen() -> bool:
            health = watcher_health(server)
            return bool(health["pending_files"]) or health["reindexes"] > before

        wait_until(burst_seen, TIMEOUT, interval=0.01)
    finally:
        server.process.kill()  # SIGKILL: no clean shutdown, whatever was being written
        server.process.wait(timeout=15)
        server._log.close()
    restarted = LiveServer(server.root, server.db, FAST_PROBE)
    try:

        def caught_up() -> bool:
            page = restarted.get(
                "/api/dialog/entries", file="lupopedia/", per_page=1, scope="all"
            ).json()
            return page["total"] == expected

        wait_until(caught_up, 60)
    finally:
        restarted.stop()
    assert verify(server.root, server.db).ok
