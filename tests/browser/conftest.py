"""Fixtures for the browser tests: a real `dialogsearch serve` process and Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
DIALOG_TREE = Path(__file__).resolve().parent / "dialog_tree"
#: The project's sample dialogs (README), busier than the small tree: a fuller stats page.
SAMPLE_DIALOGS = REPO_ROOT / "dialogs"
#: A file of the small tree that the copies tree holds twice, as Lupopedia holds its docs
#: (`docs/…` and `lupopedia/docs/…`, the same text): its entries fold into one hit each.
COPIED_FILE = "lupopedia/docs/channels/schema/migrations/analysis/SCHEMA_SYNC_4_0_46_SUMMARY.md"
COPY_OF_FILE = COPIED_FILE.removeprefix("lupopedia/")
#: One person written three ways, as in Lupopedia (CAPTAIN_WOLFIE, Captain Wolfie, …).
SPELLINGS_DIALOG = """---
file.last_modified_utc: 20260124080000
---

# Crew dialog
""" + "".join(
    f"""
---
DIALOG:
  speaker: {speaker}
  target: "{target}"
  message: "Lantern drill {number}: {text}"
  date_ymdhis: 202601240{number}1500
  mood_RGB: "336699"
---
"""
    for number, (speaker, target, text) in enumerate(
        [
            ("CAPTAIN WOLFIE", "@FLEET", "every lantern on the pier checked."),
            ("Captain_Wolfie", "@fleet", "the lantern oil is low."),
            ("CAPTAIN WOLFIE", "@FLEET", "spare lanterns are in the shed."),
            ("Captain Wolfie", "@Fleet", "the drill ends at the lighthouse."),
            ("KIRO", "@CAPTAIN_WOLFIE", "lantern wicks trimmed."),
        ],
        start=1,
    )
)
#: How long a server may take to index the small tree and answer /health.
START_TIMEOUT_S = 30.0


@dataclass
class Server:
    """A running `dialogsearch serve` process over a private copy of the dialog tree."""

    base_url: str
    root: Path
    db_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        """What the server wrote so far (for failure messages)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_command(root: Path, db_path: Path, port: int) -> list[str]:
    return [
        str(VENV_BIN / "dialogsearch"),
        "serve",
        "--root",
        str(root),
        "--db",
        str(db_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def _wait_until_healthy(server: Server) -> None:
    """Poll /api/dialog/health until it answers 200; fail with the log when it never does."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            code = server.process.returncode
            pytest.fail(f"dialogsearch serve exited with {code}:\n{server.log()}")
        try:
            if requests.get(server.base_url + "/api/dialog/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        try:
            server.process.wait(timeout=0.1)  # wakes early if the server dies
        except subprocess.TimeoutExpired:
            pass
    pytest.fail(f"dialogsearch serve did not answer within {START_TIMEOUT_S} s:\n{server.log()}")


def start_server(
    workdir: Path,
    extra_env: dict[str, str] | None = None,
    dialogs: Path = DIALOG_TREE / "dialogs",
) -> Server:
    """Copy the small dialog tree (or `dialogs`) into `workdir` and serve it on a free port."""
    root = workdir / "dialogs"
    shutil.copytree(dialogs, root)
    db_path = workdir / "x.db"
    log_path = workdir / "server.log"
    port = _free_port()
    env = {**os.environ, "DIALOGSEARCH_API_TOKEN": "browser-test-token", **(extra_env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            _serve_command(root, db_path, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
        )
    server = Server(f"http://127.0.0.1:{port}", root, db_path, log_path, process)
    _wait_until_healthy(server)
    return server


def stop_server(server: Server) -> None:
    """Stop the server process (terminate, then kill if it hangs)."""
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the read-only browser tests."""
    running = start_server(tmp_path_factory.mktemp("served"))
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def sample_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One read-only server over the project's sample dialogs."""
    running = start_server(tmp_path_factory.mktemp("sample"), dialogs=SAMPLE_DIALOGS)
    yield running
    stop_server(running)


def build_copies_tree(workdir: Path) -> Path:
    """The small tree, plus a copy of COPIED_FILE at COPY_OF_FILE and SPELLINGS_DIALOG."""
    root = workdir / "dialogs"
    shutil.copytree(DIALOG_TREE / "dialogs", root)
    copy = root / COPY_OF_FILE
    copy.parent.mkdir(parents=True)
    shutil.copyfile(root / COPIED_FILE, copy)
    (root / "team" / "crew_dialog.md").write_text(SPELLINGS_DIALOG, encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def copies_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A read-only server over the copies tree: copies folded, one speaker spelt three ways."""
    tree = build_copies_tree(tmp_path_factory.mktemp("copies-tree"))
    running = start_server(tmp_path_factory.mktemp("copies"), dialogs=tree)
    yield running
    stop_server(running)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server for one test that changes its files or database."""
    running = start_server(tmp_path)
    yield running
    stop_server(running)


#: How often a page of `following_server` asks whether the index changed (the default: 5 s).
PAGE_REFRESH_SECONDS = "0.3"


@pytest.fixture
def following_server(tmp_path: Path) -> Iterator[Server]:
    """A server for one test that changes its files, its pages asking for changes often."""
    running = start_server(tmp_path, {"DIALOGSEARCH_PAGE_REFRESH_SECONDS": PAGE_REFRESH_SECONDS})
    yield running
    stop_server(running)


@pytest.fixture
def files_mode_server(tmp_path: Path) -> Iterator[Server]:
    """A server whose database is gone for good: every page is in files mode."""
    # With REBUILD on, the recovery rebuilds the missing database moments after the switch.
    running = start_server(tmp_path, {"DIALOGSEARCH_REBUILD": "0"})
    for suffix in ("", "-wal", "-shm"):
        Path(str(running.db_path) + suffix).unlink(missing_ok=True)
    yield running
    stop_server(running)


@pytest.fixture
def page(browser, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh page; page errors fail the test and a last screenshot goes to tmp_path."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield opened
    opened.screenshot(path=str(tmp_path / f"{request.node.name}-final.png"), full_page=True)
    context.close()
    assert not errors, f"the page reported errors: {errors}"
