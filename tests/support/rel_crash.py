"""Crash scenario: kill -9 the server at random moments while clients write and search.

Each cycle starts `dialogsearch serve` (which reindexes what the last crash left
unloaded), checks the database against every acknowledged write, lets 8
clients write and search for a random fraction of a second or so, kills the
server with SIGKILL in the middle of it, and checks the files: every
acknowledged write is there with its fields, every unanswered write is whole
(as before or as after), nothing else changed. After the last kill the server
starts once more and `dialogsearch verify` must pass.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from pathlib import Path

from support.rel_checks import (
    check_database,
    check_files,
    final_problems,
    leftover_temp_files,
    read_tree,
)
from support.rel_ledger import Ledger, join_clients, run_clients
from support.rel_result import CheckResult
from support.rel_server import TOKEN, ServedProcess, copy_sample_tree

DIALOG_FILES = ("reliability/crash_a.md", "reliability/crash_b.md", "reliability/crash_c.md")
#: Writes acknowledged in a cycle before its kill, however slow the machine is (a random
#: moment alone gives fewer on a loaded machine; test_crash.py asks for 5 per kill).
ACKS_PER_KILL = 5
#: The longest a cycle waits for those: the clients' own run time (a hang guard).
ACK_WAIT_SECONDS = 60.0


def _acknowledged(ledger: Ledger) -> int:
    """Writes acknowledged so far, read while the clients go on recording."""
    with ledger.lock:
        return ledger.acknowledged_writes()


def _none(status: int | None) -> bool:
    return status is None


def crash_scenario(
    work: Path,
    *,
    kills: int,
    clients: int = 8,
    seed: int = 7,
    run_seconds: tuple[float, float] = (0.3, 1.5),
    budget_seconds: float | None = 150.0,
    command: str = "",
) -> CheckResult:
    """Kill the server `kills` times (within `budget_seconds`, None: no time budget, for a
    pass/fail check whose verdict must not depend on the machine's speed); see the module
    docstring. Each kill comes at a random moment of `run_seconds`, and not before
    ACKS_PER_KILL writes of that cycle were acknowledged."""
    rng = random.Random(seed)
    root = copy_sample_tree(work / "dialogs")
    db = work / "var" / "dialogs.db"
    db.parent.mkdir(parents=True)
    baseline = read_tree(root)
    server = ServedProcess(root, db, work / "logs")
    ledger = Ledger()
    result = CheckResult("Crash (kill -9 while 8 clients write and search)", command=command)
    started = time.monotonic()
    restart_seconds: list[float] = []
    done_kills = 0
    try:
        for cycle in range(kills):
            if budget_seconds is not None and time.monotonic() - started > budget_seconds:
                result.notes.append(f"time budget spent after {done_kills} kills")
                break
            restart_seconds.append(server.start())
            if server.mode() != "database":
                server.wait_for_mode("database", 30)
            result.problems += [f"cycle {cycle}: {p}" for p in check_database(db, ledger)]
            stop = threading.Event()
            threads = run_clients(
                server.url,
                ledger,
                clients=clients,
                seconds=60,
                write_share=0.5,
                dialog_files=DIALOG_FILES,
                seed=seed * 100 + cycle,
                stop=stop,
            )
            acknowledged = _acknowledged(ledger)
            moment = rng.uniform(*run_seconds)
            stop.wait(moment)
            give_up = time.monotonic() + ACK_WAIT_SECONDS
            while _acknowledged(ledger) - acknowledged < ACKS_PER_KILL:
                if time.monotonic() > give_up:
                    break
                stop.wait(0.01)
            server.kill9()
            done_kills += 1
            stop.set()
            join_clients(threads, 30)
            result.problems += [
                f"kill {done_kills}: {p}" for p in check_files(root, ledger, baseline)
            ]
            if len(result.problems) > 50:
                break
        restart_seconds.append(server.start())
        server.wait_for_mode("database", 30)
        result.problems += [f"final: {p}" for p in check_database(db, ledger)]
        result.problems += [f"final: {p}" for p in check_files(root, ledger, baseline)]
    finally:
        server.stop()
    verified, problems = final_problems(root, db, ledger)
    result.problems += problems
    present = sum(1 for fields in ledger.expected.values() if fields is not None)
    result.did = {
        "kills": done_kills,
        "clients": clients,
        "requests answered": ledger.answers_seen,
        "acknowledged writes": ledger.acknowledged_writes(),
        "in flight at a kill": ledger.count(("post", "put", "delete", "search"), _none),
    }
    lost = sum(1 for p in result.problems if "lost" in p or "!=" in p or "undone" in p)
    result.held = {
        "lost acknowledged writes": lost,
        "half-written": sum(1 for p in result.problems if "half-written" in p),
        "5xx": len(ledger.server_errors),
        "entries checked at the end": present,
        "verify": "passed" if verified else "FAILED",
        "restart to healthy (median/max s)": (
            f"{statistics.median(restart_seconds):.2f}/{max(restart_seconds):.2f}"
            if restart_seconds
            else "-"
        ),
        "temp files left": len(leftover_temp_files(root)),
    }
    if TOKEN in server.all_logs():
        result.problems.append("the API token appears in the server log")
    return result
