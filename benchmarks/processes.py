"""Child processes for the benchmark: timed runs with peak RSS, and servers on loopback.

Every child is started in its own session so that stopping it also stops the
workers it forked (a gunicorn master's, a process pool's); nothing else is ever
signalled.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

LOOPBACK = "127.0.0.1"


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def raise_exit(signum: int, frame: FrameType | None) -> None:
    """A SIGTERM handler: exit through every finally block (servers stopped, databases put
    back)."""
    raise SystemExit(128 + signum)


@dataclass(frozen=True)
class Measured:
    """How a finished child went: exit code, wall and CPU time, peak RSS, what it printed."""

    returncode: int
    seconds: float
    cpu_seconds: float  # user + system, the child's and its waited-for descendants'
    max_rss_bytes: int
    stdout: str
    stderr: str

    def check(self, what: str) -> Measured:
        """Self, or RuntimeError naming `what` and the end of stderr when the child failed."""
        if self.returncode != 0:
            tail = self.stderr.strip().splitlines()[-5:]
            raise RuntimeError(f"{what} exited {self.returncode}: " + " | ".join(tail))
        return self


def run_measured(
    command: Sequence[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Measured:
    """Run `command` to completion (killed after `timeout` s) and measure it.

    Peak RSS comes from wait4(): the largest RSS of the child or of any of its
    descendants it waited for (a multiprocessing pool's workers included).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        child = subprocess.Popen(
            list(command), stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True
        )
        timer = threading.Timer(timeout, _kill_group, args=(child.pid,))
        timer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            timer.cancel()
        seconds = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            returncode=child.returncode,
            seconds=seconds,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            max_rss_bytes=usage.ru_maxrss * 1024,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of `pid` plus all its descendants (0 when it is gone)."""
    return tree_memory(pid)["VmRSS"]


def tree_memory(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon and RssFile (bytes) summed over `pid` and its descendants.

    RssFile counts a file page once per mapping: a process whose threads each
    mmap() the same database counts those pages several times.
    """
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    totals = dict.fromkeys(MEMORY_FIELDS, 0)
    pending = [pid]
    while pending:
        current = pending.pop()
        for name, value in _memory(current).items():
            totals[name] += value
        pending.extend(children.get(current, []))
    return totals


MEMORY_FIELDS = ("VmRSS", "RssAnon", "RssFile")


def _memory(pid: int) -> dict[str, int]:
    found: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in MEMORY_FIELDS:
                found[name] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return found


class Server:
    """A server child on loopback: started, waited for, and stopped with its whole group."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        port: int,
        ready_path: str,
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.port = port
        self.ready_path = ready_path
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float, ready: Callable[[int, bytes], bool] | None = None) -> float:
        """Start the child and wait (at most `timeout` s) until `ready_path` answers; seconds."""
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        accept = ready or (lambda status, body: status == 200)
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited {self.process.returncode} before answering; "
                    f"see {self.log_path}"
                )
            answer = fetch(self.port, self.ready_path, timeout=5.0)
            if answer is not None and accept(*answer):
                return time.monotonic() - started
            time.sleep(0.1)  # polling a child we started; the condition is the answer above
        raise RuntimeError(f"{self.name} did not answer {self.ready_path} within {timeout:g} s")

    def memory(self) -> dict[str, float]:
        """Resident memory of the server and its workers now, in MB: rss, anon, file."""
        if self.process is None:
            return {}
        found = tree_memory(self.process.pid)
        return {
            "rss_mb": round(found["VmRSS"] / 1e6, 1),
            "anon_mb": round(found["RssAnon"] / 1e6, 1),
            "file_mb": round(found["RssFile"] / 1e6, 1),
        }

    def stop(self) -> None:
        """SIGTERM the server's group, SIGKILL it after 10 s."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_group(self.process.pid)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def fetch(port: int, path: str, *, timeout: float) -> tuple[int, bytes] | None:
    """(status, body) of GET http://127.0.0.1:port/path, or None when nothing answers."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()
