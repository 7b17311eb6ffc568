"""Load scenario: 8 concurrent clients, 90% searches and 10% writes, for a fixed time
(and, however slow the machine, until MIN_SEARCHES searches and MIN_WRITES writes).

Holds: zero 5xx, zero acknowledged writes missing from the files or (after the
run) from the database, `dialogsearch verify` passes; reports p50/p99 latency
and the request rate.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from support.rel_checks import check_database, check_files, final_problems, read_tree
from support.rel_ledger import Ledger, join_clients, percentile_ms, run_clients
from support.rel_result import CheckResult
from support.rel_server import TOKEN, ServedProcess, copy_sample_tree

DIALOG_FILES = ("reliability/load_a.md", "reliability/load_b.md", "reliability/load_c.md")
#: Answered requests the run lasts for at least, whatever its `seconds` gave on a loaded
#: machine: test_load.py asks for more than 100 searches and 10 writes.
MIN_SEARCHES = 101
MIN_WRITES = 11
#: How much longer than `seconds` the run may go on to reach them (a hang guard).
EXTRA_SECONDS = 120.0


def _answered(ledger: Ledger, kinds: tuple[str, ...]) -> int:
    with ledger.lock:
        return ledger.count(kinds, lambda s: s is not None)


def load_scenario(
    work: Path, *, seconds: float, clients: int = 8, seed: int = 3, command: str = ""
) -> CheckResult:
    """See the module docstring."""
    root = copy_sample_tree(work / "dialogs")
    db = work / "var" / "dialogs.db"
    db.parent.mkdir(parents=True)
    baseline = read_tree(root)
    server = ServedProcess(root, db, work / "logs")
    ledger = Ledger(tag="load")
    result = CheckResult(f"Load ({clients} clients, 90% search / 10% write)", command=command)
    server.start()
    try:
        started = time.monotonic()
        stop = threading.Event()
        threads = run_clients(
            server.url,
            ledger,
            clients=clients,
            seconds=seconds + EXTRA_SECONDS,
            write_share=0.1,
            dialog_files=DIALOG_FILES,
            seed=seed,
            stop=stop,
        )
        stop.wait(seconds)
        while not stop.is_set() and (
            _answered(ledger, ("search",)) < MIN_SEARCHES
            or _answered(ledger, ("post", "put", "delete")) < MIN_WRITES
        ):
            if time.monotonic() - started > seconds + EXTRA_SECONDS:
                break
            stop.wait(0.05)
        stop.set()
        join_clients(threads, 60)
        elapsed = time.monotonic() - started
        server.wait_for_mode("database", 60)
        result.problems += check_files(root, ledger, baseline)
        result.problems += check_database(db, ledger)
    finally:
        server.stop()
    verified, problems = final_problems(root, db, ledger)
    result.problems += problems
    logs = server.all_logs()
    if TOKEN in logs:
        result.problems.append("the API token appears in the server log")
    switches = logs.count('"event": "fallback"')
    if switches:
        result.problems.append(f"a healthy database was left for the files {switches} times")
    searches = ledger.latency_by_kind.get("search", [])
    writes = [t for k in ("post", "put", "delete") for t in ledger.latency_by_kind.get(k, [])]
    result.did = {
        "seconds": round(elapsed, 1),
        "requests": ledger.answers_seen,
        "searches": ledger.count(("search",), lambda s: s is not None),
        "writes": ledger.count(("post", "put", "delete"), lambda s: s is not None),
        "req/s": round(ledger.answers_seen / elapsed, 1),
    }
    result.held = {
        "5xx": len(ledger.server_errors)
        + ledger.count(("search", "post", "put", "delete"), lambda s: s == 503),
        "no answer": ledger.count(
            ("search", "post", "put", "delete", "refused"), lambda s: s is None
        ),
        "lost acknowledged writes": sum(1 for p in result.problems if "lost" in p or "!=" in p),
        "search p50/p99 ms": f"{percentile_ms(searches, 0.5)}/{percentile_ms(searches, 0.99)}",
        "write p50/p99 ms": f"{percentile_ms(writes, 0.5)}/{percentile_ms(writes, 0.99)}",
        "switches to files": switches,
        "verify": "passed" if verified else "FAILED",
    }
    return result
