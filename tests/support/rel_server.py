"""A `dialogsearch serve` process for the reliability checks: start, wait, kill -9, restart.

Loopback only, a free port per start, the write token passed through the
environment, everything the server prints kept in one log file per instance
(the token scan reads them all). Every wait polls a condition with a deadline.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIALOGS = REPO_ROOT / "dialogs"
DIALOGSEARCH = str(Path(sys.executable).with_name("dialogsearch"))
#: The token the checks write with; the log scan looks for it.
TOKEN = "reliability-token-0123456789abcdefABCDEF"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: Server settings that make recovery observable within a test's time.
FAST_RECOVERY_ENV = {
    "DIALOGSEARCH_PROBE_SECONDS": "0.2",
    "DIALOGSEARCH_BUSY_TIMEOUT_MS": "300",
    # No FALLBACK_PRELOAD: the file index is built at each fault and dropped after each
    # recovery, as a server with the default settings does (issue 15).
    # A crash (SIGSEGV, SIGBUS) prints every thread's Python stack into the server's log.
    "PYTHONFAULTHANDLER": "1",
}


def wait_until(
    condition: Callable[[], Any], timeout: float, interval: float = 0.02, what: str = "condition"
) -> Any:
    """Poll `condition()` until it is truthy; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout} s (last: {last!r})")
        time.sleep(interval)


def own_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder outside pytest's basetemp, removed afterwards.

    The long checks run servers (and mounts) for minutes; a pytest session started
    meanwhile on the same machine prunes old basetemp folders, and would delete
    theirs under them.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"dialogsearch-{prefix}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def copy_sample_tree(target: Path) -> Path:
    """A private copy of the project's sample dialogs (our own text), plus a writes folder."""
    shutil.copytree(SAMPLE_DIALOGS, target)
    (target / "reliability").mkdir()
    return target


class ServedProcess:
    """One `dialogsearch serve` subprocess over `root` and `db` on a free loopback port."""

    def __init__(
        self,
        root: Path,
        db: Path,
        log_dir: Path,
        *,
        env: dict[str, str] | None = None,
        threads: int = 8,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.root, self.db, self.log_dir = root, db, log_dir
        self.env = {**FAST_RECOVERY_ENV, **(env or {})}
        self.threads = threads
        self.extra_args = extra_args
        self.starts = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.url = ""
        self.log_paths: list[Path] = []

    def start(self, timeout: float = 60.0) -> float:
        """Start the server and wait until /health answers; the seconds that took."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"serve-{self.starts:03d}-{self.port}.log"
        self.log_paths.append(log_path)
        command = [
            DIALOGSEARCH,
            "serve",
            "--root",
            str(self.root),
            "--db",
            str(self.db),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--threads",
            str(self.threads),
            *self.extra_args,
        ]
        environment = {**os.environ, "DIALOGSEARCH_API_TOKEN": TOKEN, **self.env}
        started = time.monotonic()
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._answers, timeout, interval=0.05, what="server start")
        return time.monotonic() - started

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"server exited ({self.process.returncode}):\n{self.log()}")
        try:
            return requests.get(self.url + "/api/dialog/health", timeout=2).status_code in (
                200,
                503,
            )
        except requests.RequestException:
            return False

    def health(self) -> dict[str, Any]:
        """The /health body (any status)."""
        return requests.get(self.url + "/api/dialog/health", timeout=5).json()

    def mode(self) -> str | None:
        """The current mode, or None when the server does not answer."""
        try:
            return self.health().get("mode")
        except (requests.RequestException, ValueError):
            return None

    def wait_for_mode(self, mode: str, timeout: float) -> float:
        """Seconds until /health reports `mode` (AssertionError past `timeout`)."""
        started = time.monotonic()
        wait_until(lambda: self.mode() == mode, timeout, interval=0.02, what=f"mode {mode}")
        return time.monotonic() - started

    def kill9(self) -> None:
        """SIGKILL the server process and reap it."""
        assert self.process is not None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM (then SIGKILL after 15 s) and reap."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill9()

    def log(self) -> str:
        """What the current instance printed so far."""
        if not self.log_paths:
            return ""
        return self.log_paths[-1].read_text(encoding="utf-8", errors="replace")

    def all_logs(self) -> str:
        """What every instance printed."""
        return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in self.log_paths)
