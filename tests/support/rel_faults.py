"""Database faults while serving: the service keeps answering and comes back by itself.

One server runs over a dialogs folder and a database folder, each on its own
small tmpfs when this machine lets us mount one (as root it does), so that the
database folder can be made read-only (remount ro: chmod does not stop root)
and either folder can be filled up (a real ENOSPC / SQLITE_FULL). For each
fault, 8 clients search and write while it lasts; then:

- every search was answered (200, from the files while degraded);
- every write was 2xx or a 503 in the error shape, never a 2xx that is lost;
- /health returned to mode "database" without help (the time is measured from
  the end of the fault: its injection for the self-healing ones, its release
  for the held ones);
- the database then holds every acknowledged write, and verify passes.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import requests

from indexer.verify import verify
from support.rel_checks import check_database, check_files, read_tree
from support.rel_ledger import Ledger, join_clients, run_clients
from support.rel_result import CheckResult
from support.rel_server import TOKEN, ServedProcess, copy_sample_tree

DIALOG_FILES = ("reliability/fault_a.md", "reliability/fault_b.md")
FS_BYTES = 64 * 1024 * 1024

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
conn.close()
"""


def try_mount_tmpfs(folder: Path, size: int) -> bool:
    """Mount a tmpfs of `size` bytes on `folder`; False when this machine does not allow it."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.environ.get("RELIABILITY_NO_MOUNT"):
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def read_only_bind(folder: Path) -> None:
    """Put a read-only bind mount of `folder` over itself.

    A plain `remount,ro` is refused while the server holds files open for writing
    (EBUSY); the bind on top leaves those open files alone and makes every new open
    (the writers' connections, reindex, the lock file) see a read-only file system.
    """
    # Made read-only on a staging folder first, then moved on top: remounting it ro in
    # place raced the server's next open for writing (EBUSY under write load).
    staging = folder.with_name(folder.name + ".read-only")
    staging.mkdir(exist_ok=True)
    try:
        subprocess.run(["mount", "--bind", str(folder), str(staging)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(staging)], check=True)
        subprocess.run(["mount", "--move", str(staging), str(folder)], check=True)
    finally:
        if os.path.ismount(staging):
            unmount(staging)
        staging.rmdir()


def unmount_top(folder: Path) -> None:
    """Unmount only the topmost mount on `folder` (the read-only bind), lazily if busy."""
    done = subprocess.run(["umount", str(folder)], capture_output=True, check=False)
    if done.returncode != 0:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=True)


def unmount(folder: Path) -> None:
    """Unmount every mount stacked on `folder`; lazily if something still holds one.

    A server that has just stopped may still hold files for a moment (EBUSY), so a
    plain umount is retried for a few seconds before falling back to a lazy one.
    """
    deadline = time.monotonic() + 5.0
    lazy_unmounts = 0
    while os.path.ismount(folder):
        done = subprocess.run(["umount", str(folder)], capture_output=True, check=False)
        if done.returncode == 0:
            continue
        if time.monotonic() < deadline:
            time.sleep(0.1)  # bounded by the deadline: waiting for the holder to exit
            continue
        if lazy_unmounts == 4:
            raise RuntimeError(f"cannot unmount {folder}: {done.stderr!r}")
        # Detaches the top mount now; a stacked one below shows on the next turn.
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)
        lazy_unmounts += 1


def fill_up(folder: Path) -> Path:
    """Fill the file system of `folder` until a write fails with ENOSPC; the filler file."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for size in (1024 * 1024, 4096, 512):
            block = b"\0" * size
            for _ in range(1 << 16):
                try:
                    os.write(fd, block)
                except OSError:
                    break
    finally:
        os.close(fd)
    return filler


class HealthWatcher(threading.Thread):
    """Samples /health's mode every 50 ms: (monotonic time, mode or None)."""

    def __init__(self, server: ServedProcess) -> None:
        super().__init__(name="health-watcher", daemon=True)
        self.server = server
        self.samples: list[tuple[float, str | None]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        try:
            while not self.halt.is_set():
                try:
                    mode = session.get(self.server.url + "/api/dialog/health", timeout=5).json()
                    self.samples.append((time.monotonic(), mode.get("mode")))
                except (requests.RequestException, ValueError):
                    self.samples.append((time.monotonic(), None))
                self.halt.wait(0.05)
        finally:
            session.close()

    def modes_since(self, moment: float) -> set[str | None]:
        return {mode for at, mode in self.samples if at >= moment}

    def recovered_at(self, moment: float) -> float | None:
        """First time after `moment` from which every sample says "database"."""
        result = None
        for at, mode in self.samples:
            if at < moment:
                continue
            if mode == "database":
                result = at if result is None else result
            else:
                result = None
        return result


@dataclass
class Fault:
    """A fault: `inject` starts it; `release` (None: the service must heal it) ends it."""

    name: str
    inject: Callable[[], None]
    release: Callable[[], None] | None = None
    needs: str | None = None  # "tmpfs" when it needs the mounted folders
    detail: str = ""
    state: dict = field(default_factory=dict)


def _overwrite_random(db: Path, rng: random.Random) -> None:
    size = db.stat().st_size
    with open(db, "r+b") as handle:
        for _ in range(64):
            handle.seek(rng.randrange(100, max(101, size)))
            handle.write(rng.randbytes(512))
        handle.flush()
        os.fsync(handle.fileno())


def build_faults(db: Path, root: Path, rng: random.Random, hold_seconds: float) -> list[Fault]:
    """The faults in the order they run."""
    var = db.parent
    faults: list[Fault] = []

    def delete() -> None:
        db.unlink()

    def truncate() -> None:
        os.truncate(db, db.stat().st_size // 2)

    def garbage() -> None:
        _overwrite_random(db, rng)

    def remove_wal() -> None:
        Path(f"{db}-wal").unlink(missing_ok=True)

    faults += [
        Fault("deleted", delete, detail="rm dialogs.db while serving"),
        Fault("truncated", truncate, detail="truncated to half its size"),
        Fault("random bytes", garbage, detail="64 x 512 random bytes past the header"),
        Fault("WAL removed", remove_wal, detail="rm dialogs.db-wal after writes"),
    ]

    locker: dict[str, subprocess.Popen[str]] = {}

    def lock() -> None:
        proc = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        locker["proc"] = proc

    def unlock() -> None:
        proc = locker.pop("proc")
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()

    faults.append(
        Fault("write-locked", lock, unlock, detail="BEGIN EXCLUSIVE held by another process")
    )
    faults.append(
        Fault(
            "read-only",
            lambda: read_only_bind(var),
            lambda: unmount_top(var),
            needs="tmpfs",
            detail="database folder behind a read-only bind mount",
        )
    )
    fillers: dict[str, Path] = {}

    def fill_var() -> None:
        fillers["var"] = fill_up(var)

    def fill_root() -> None:
        fillers["root"] = fill_up(root)

    faults.append(
        Fault(
            "disk full (database)",
            fill_var,
            lambda: fillers.pop("var").unlink(),
            needs="tmpfs",
            detail="database folder's tmpfs filled (ENOSPC, SQLITE_FULL)",
        )
    )
    faults.append(
        Fault(
            "disk full (dialog files)",
            fill_root,
            lambda: fillers.pop("root").unlink(),
            needs="tmpfs",
            detail="dialogs folder's tmpfs filled: writes must be 503",
        )
    )
    return faults


def db_faults_scenario(
    work: Path,
    *,
    hold_seconds: float,
    clients: int = 8,
    seed: int = 11,
    command: str = "",
    only: tuple[str, ...] = (),
) -> list[CheckResult]:
    """Run every fault (or those named in `only`) against one server; one result per fault."""
    rng = random.Random(seed)
    results: list[CheckResult] = []
    with ExitStack() as stack:
        root_mount, var = work / "dialogs", work / "var"
        mounted = try_mount_tmpfs(root_mount, FS_BYTES) and try_mount_tmpfs(var, FS_BYTES)
        if mounted:
            stack.callback(unmount, root_mount)
            stack.callback(unmount, var)
        var.mkdir(parents=True, exist_ok=True)
        if mounted:
            staging = work / "staging"
            copy_sample_tree(staging)
            for child in staging.iterdir():
                move = shutil.copytree if child.is_dir() else shutil.copy2
                move(child, root_mount / child.name)
            root = root_mount
        else:
            root = copy_sample_tree(work / "dialogs_plain")
        db = var / "dialogs.db"
        baseline = read_tree(root)
        server = ServedProcess(root, db, work / "logs")
        server.start()
        stack.callback(server.stop)
        ledger = Ledger()
        for fault in build_faults(db, root, rng, hold_seconds):
            if only and fault.name not in only:
                continue
            result = CheckResult(f"DB fault: {fault.name}", command=command)
            results.append(result)
            if fault.needs == "tmpfs" and not mounted:
                result.notes.append("not run: this machine does not allow mounting a tmpfs")
                continue
            result.problems += run_fault(
                server, fault, ledger, root, db, baseline, hold_seconds, clients, seed, result
            )
        server.stop()
        if TOKEN in server.all_logs():
            results[-1].problems.append("the API token appears in the server log")
    return results


def _check_recovered(server: ServedProcess, db: Path, root: Path, ledger: Ledger) -> list[str]:
    """The database after recovery: every acknowledged entry, and verify. A database that
    cannot be read is this fault's problem, with what the server logged (not an error
    that hides which fault it was)."""
    try:
        problems = [f"database: {p}" for p in check_database(db, ledger)]
        report = verify(root, db)
    except sqlite3.DatabaseError as error:
        return [
            f"database unreadable after recovery ({error}); the server's log:\n"
            + server.log()[-6000:]
        ]
    if not report.ok:
        problems.append(f"verify: {[str(d) for d in report.differences[:5]]}")
    return problems


def run_fault(
    server: ServedProcess,
    fault: Fault,
    ledger: Ledger,
    root: Path,
    db: Path,
    baseline,
    hold_seconds: float,
    clients: int,
    seed: int,
    result: CheckResult,
) -> list[str]:
    """Inject, load, release, wait for recovery, check; fills result.did/held."""
    problems: list[str] = []
    fault_ledger = Ledger(tag=f"f{zlib.crc32(fault.name.encode()) % 10**6}")
    if server.process is not None and server.process.poll() is not None:
        server.start()  # the last fault crashed it (reported there); go on with the next
    try:
        server.wait_for_mode("database", 60)
    except AssertionError as error:
        return [f"not in mode database before the fault: {error}\n{server.log()[-3000:]}"]
    if fault.name == "WAL removed":
        _write_until_wal(server, db, fault_ledger)
    watcher = HealthWatcher(server)
    watcher.start()
    injected = time.monotonic()
    fault.inject()
    threads = run_clients(
        server.url,
        fault_ledger,
        clients=clients,
        seconds=hold_seconds,
        write_share=0.3,
        dialog_files=DIALOG_FILES,
        seed=seed + len(fault.name),
    )
    join_clients(threads, hold_seconds + 60)
    released = time.monotonic()
    if fault.release is not None:
        fault.release()
        released = time.monotonic()
    end = injected if fault.release is None else released
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and watcher.recovered_at(end) is None:
        time.sleep(0.05)
    # A few samples more, so a relapse right after recovery is seen.
    settle = time.monotonic() + 0.5
    while time.monotonic() < settle:
        time.sleep(0.05)
    watcher.halt.set()
    watcher.join(10)
    recovered = watcher.recovered_at(end)
    crashed = server.process is not None and server.process.poll() is not None
    if crashed:
        problems.append(
            f"the server crashed (exit status {server.process.returncode}):\n{server.log()[-1500:]}"
        )
    modes = watcher.modes_since(injected)
    if recovered is None:
        problems.append(f"did not return to mode database within 60 s (modes {modes})")
    searches_failed = fault_ledger.count(("search",), lambda s: s is None or s != 200)
    if searches_failed:
        problems.append(f"{searches_failed} searches not answered 200: {_statuses(fault_ledger)}")
    problems += [f"unexpected answer: {text}" for text in fault_ledger.unexpected]
    problems += [f"{a.kind} {a.status}: {a.body[:200]}" for a in fault_ledger.server_errors]
    merge(ledger, fault_ledger)
    problems += [f"files: {p}" for p in check_files(root, ledger, baseline)]
    if recovered is not None:
        problems += _check_recovered(server, db, root, ledger)
    refusals = [a.body for a in fault_ledger.error_bodies if a.status == 503]
    if refusals:
        result.notes.append(f"a 503 said: {refusals[0][:300]}")
    sources = fault_ledger.sources
    result.did = {
        "fault": fault.detail,
        "held for s": round(released - injected, 1),
        "searches": fault_ledger.count(("search",), lambda s: s is not None),
        "from files": sources.get("files", 0),
        "writes": fault_ledger.count(("post", "put", "delete"), lambda s: s is not None),
    }
    result.held = {
        "searches not answered": searches_failed,
        "writes 2xx": fault_ledger.count(
            ("post", "put", "delete"), lambda s: s is not None and s < 300
        ),
        "writes 503": fault_ledger.count(("post", "put", "delete"), lambda s: s == 503),
        "5xx other than 503": len(fault_ledger.server_errors),
        "lost acknowledged writes": sum(1 for p in problems if "lost" in p or "!=" in p),
        "mode seen": "/".join(sorted(str(m) for m in modes)),
        "recovered in s": round(recovered - end, 2) if recovered is not None else "never",
    }
    return problems


def _statuses(ledger: Ledger) -> dict[str, int]:
    return {f"{k}:{s}": n for (k, s), n in ledger.statuses.items() if k == "search"}


def _write_until_wal(server: ServedProcess, db: Path, ledger: Ledger) -> None:
    """Write through the API until the WAL holds frames (a reindex checkpoint empties it)."""
    threads = run_clients(
        server.url,
        ledger,
        clients=2,
        seconds=1.0,
        write_share=1.0,
        dialog_files=DIALOG_FILES,
        seed=99,
    )
    join_clients(threads, 60)
    wal = Path(f"{db}-wal")
    assert wal.exists() and wal.stat().st_size > 0, (
        f"the WAL is empty after writes (mode {server.mode()})"
    )


def merge(into: Ledger, part: Ledger) -> None:
    """Move what `part` learned into `into` (the long-lived ledger)."""
    with into.lock, part.lock:
        for entry_id, fields in part.expected.items():
            into.expected[entry_id] = fields
            into.uncertain.pop(entry_id, None)
        into.uncertain.update(part.uncertain)
        into.uncertain_posts.update(part.uncertain_posts)
        into.refused_markers |= part.refused_markers
        for worker, owned in part.owned.items():
            into.owned.setdefault(worker, [])
            into.owned[worker] = list(dict.fromkeys([*into.owned[worker], *owned]))
