"""Fixtures and helpers for the read API tests: a small dialog tree, apps, a live server.

tests/conftest.py registers this module as a plugin: test modules use its fixtures by name.
The tree is our own text (never the GPL corpus): every format, several speakers,
targets, moods, days and folders, a stored <script>, accents and an emoji.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from indexer.reindex import reindex
from searchsvc.engines.repo_files import FileRepository
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.repository import Repository
from searchsvc.web.app import create_app

REPO_ROOT = Path(__file__).resolve().parents[2]
XSS = "<script>alert('xss')</script>"


def bold(speaker: str, message: str, *, day: str, target: str, mood: str, title: str) -> str:
    """A BOLD entry under a dated heading."""
    return (
        f"## {day} — {speaker}: {title}\n\n"
        f"**Speaker:** {speaker}\n"
        f"**Target:** {target}\n"
        f'**Mood_RGB:** "{mood}"\n'
        f'**Message:** "{message}"\n\n'
        "---\n\n"
    )


def header(speaker: str, message: str, *, target: str, mood: str, stamp: str) -> str:
    """A WOLFIE header (not valid YAML: an unquoted @target) with one dialog entry."""
    return (
        "---\n"
        f"file.last_modified_utc: {stamp}\n"
        "dialog:\n"
        f"  speaker: {speaker}\n"
        f"  target: {target}\n"
        f'  mood_RGB: "{mood}"\n'
        f'  message: "{message}"\n'
        "---\n\n"
    )


def inline(speaker: str, message: str, *, target: str, mood: str, stamp: str) -> str:
    """An inline DIALOG block."""
    return (
        "---\n"
        "DIALOG:\n"
        f'  speaker: "{speaker}"\n'
        f'  target: "{target}"\n'
        f'  mood_RGB: "{mood}"\n'
        f'  message: "{message}"\n'
        f"  date_ymdhis: {stamp}\n"
        "---\n\n"
    )


def begin_end(agent: str, action: str, summary: str, *, stamp: str) -> str:
    """A `# Dialog begin` ... `# Dialog end` block."""
    return (
        "# Dialog begin\n"
        f"**Timestamp (UTC):** {stamp}\n"
        f"**Agent:** {agent}\n"
        f"**Action:** {action}\n"
        f"**Summary:** {summary}\n"
        "# Dialog end\n\n"
    )


FILES: dict[str, str] = {
    "team_dialog.md": header(
        "KIRO",
        "Added the search service skeleton for the fleet",
        target="@everyone",
        mood="0066FF",
        stamp="20260110090000",
    )
    + "# Team dialog\n\n"
    + bold(
        "KIRO",
        "Migration plan for the dialog tables is ready",
        day="2026-01-12",
        target="@LILITH @everyone",
        mood="FF0000",
        title="migration plan",
    )
    + bold(
        "LILITH",
        "Question: should the migration keep old ids? Café naïve résumé",
        day="2026-01-13",
        target="@KIRO",
        mood="00CC66",
        title="ids question",
    )
    + bold(
        "CURSOR",
        f"Stored payload {XSS} must stay escaped",
        day="2026-01-14",
        target="@everyone",
        mood="FF6600",
        title="security note",
    ),
    "ops/deploy_log.md": "# Deploy log\n\n"
    + inline(
        "CASCADE",
        "Deployed the search index to staging with zero downtime",
        target="@fleet",
        mood="3366CC",
        stamp="20260115101500",
    )
    + begin_end(
        "KIRO",
        "Session completion",
        "Rebuilt the search index and verified every entry",
        stamp="20260116120000",
    )
    + bold(
        "CAPTAIN WOLFIE",
        "Rocket launch 🚀 approved for the migration crew",
        day="2026-01-17",
        target="@migration_crew",
        mood="990000",
        title="launch",
    ),
    "ops/archive/old_notes.md": "# Old notes\n\n"
    + bold(
        "ROSE",
        "Archived the legacy notes about search ranking",
        day="2025-12-30",
        target="@KIRO @ROSE",
        mood="CCCCCC",
        title="archive",
    )
    + "Free text outside any entry mentions the word zebrafish.\n",
    "opsnotes.md": "# Not in ops/\n\n"
    + bold(
        "WOLFIE",
        "A file whose name starts like the ops folder",
        day="2026-01-18",
        target="@everyone",
        mood="FFFF00",
        title="prefix check",
    ),
}


def versioned(speaker: str, message: str, *, version: str, stamp: str) -> str:
    """A WOLFIE header naming the system version its file was last written under."""
    return (
        "---\n"
        f"file.last_modified_system_version: {version}\n"
        f"file.last_modified_utc: {stamp}\n"
        "dialog:\n"
        f"  speaker: {speaker}\n"
        '  target: "@everyone"\n'
        f'  message: "{message}"\n'
        "---\n\n"
    )


#: Two releases written under two system versions (added to FILES only by the tests
#: of the system_version filter: the other tests count FILES' entries).
VERSIONED_FILES: dict[str, str] = {
    "releases/schema_sync.md": versioned(
        "KIRO", "Schema sync shipped", version="4.0.46", stamp="20260120090000"
    )
    + "# Release notes\n\nThe schema sync shipped without downtime.\n",
    "releases/routing.md": versioned(
        "LILITH", "Routing release shipped", version="4.3.0", stamp="20260201090000"
    ),
}


def write_tree(root: Path, files: dict[str, str] = FILES) -> Path:
    """Write FILES (or `files`) below `root`."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def dialogs_dir(tmp_path: Path) -> Path:
    """A fresh copy of the small fixture tree."""
    return write_tree(tmp_path / "dialogs")


@pytest.fixture
def db_path(tmp_path: Path, dialogs_dir: Path) -> Path:
    """The fixture tree indexed into a real SQLite file."""
    db = tmp_path / "var" / "dialogs.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    reindex(dialogs_dir, db)
    return db


def make_repository(kind: str, dialogs_dir: Path, db_path: Path, **options: Any) -> Repository:
    """A SqliteRepository or a built FileRepository over the same data."""
    if kind == "sqlite":
        return SqliteRepository(db_path, **options)
    files = FileRepository(dialogs_dir)
    files.build_now()
    return files


@pytest.fixture(params=["sqlite", "files"])
def repository(request: pytest.FixtureRequest, dialogs_dir: Path, db_path: Path) -> Iterator[Any]:
    """Each test runs against the database and against the file index."""
    repo = make_repository(request.param, dialogs_dir, db_path)
    yield repo
    repo.close()


@pytest.fixture
def app(repository: Repository) -> Flask:
    """The app over the parametrized repository."""
    return create_app({"TESTING": True}, repository=repository)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of `app`."""
    return app.test_client()


def append_entry(path: Path, title: str, message: str) -> None:
    """Append a bold entry to a dialog file as an editor saves: a temp file, then a rename."""
    entry = (
        f"\n---\n\n## 2026-03-01 — KIRO: {title}\n\n**Speaker:** KIRO\n**Target:** @LILITH\n"
        f'**Mood_RGB:** "00CC66"\n**Message:** "{message}"\n'
    )
    temp = path.with_name(f".{path.name}.swp")
    temp.write_text(path.read_text(encoding="utf-8") + entry, encoding="utf-8")
    os.replace(temp, path)


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Any, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll `condition()` until it returns a true value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


class LiveServer:
    """A `dialogsearch serve` subprocess on a free loopback port."""

    def __init__(
        self,
        root: Path,
        db: Path,
        env: dict[str, str] | None = None,
        *,
        settings_from_env: bool = False,
        args: tuple[str, ...] = (),
        prefix: tuple[str, ...] = (),
    ) -> None:
        self.root, self.db = root, db
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(env or {})
        # prefix: a command that runs the server (e.g. setpriv dropping capabilities)
        command = [*prefix, sys.executable, "-m", "searchsvc.cli", "serve", "--threads", "4", *args]
        if settings_from_env:
            env.update(
                DIALOGSEARCH_ROOT=str(root),
                DIALOGSEARCH_DB=str(db),
                DIALOGSEARCH_PORT=str(self.port),
            )
        else:
            command += ["--root", str(root), "--db", str(db), "--port", str(self.port)]
        self.log_path = db.parent / f"serve-{self.port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        # A Meilisearch the developer named for tests/test_meili_real.py is not this
        # server's: with MEILI_URL, serve pushes every change there (meili_follow).
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("MEILI_")}
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**inherited, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._healthy, timeout=60)

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"server exited:\n{self.log()}")
        try:
            return requests.get(self.url + "/api/dialog/health", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def get(self, path: str, **params: Any) -> requests.Response:
        """GET `path` (with query parameters) from the server."""
        return requests.get(self.url + path, params=params, timeout=30)

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        stop_process(self.process)
        self._log.close()


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate `process` (kill it after 15 s) and wait for it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture
def live_server(tmp_path: Path, dialogs_dir: Path) -> Iterator[LiveServer]:
    """A real server over a copy of the fixture tree, probing the database every 0.2 s."""
    db = tmp_path / "live" / "dialogs.db"
    db.parent.mkdir(parents=True)
    env = {
        "DIALOGSEARCH_PROBE_SECONDS": "0.2",
        "DIALOGSEARCH_BUSY_TIMEOUT_MS": "200",
        "DIALOGSEARCH_FALLBACK_PRELOAD": "1",
    }
    server = LiveServer(dialogs_dir, db, env)
    yield server
    server.stop()


def copy_tree(source: Path, target: Path) -> Path:
    """A copy of a dialogs folder."""
    shutil.copytree(source, target)
    return target
