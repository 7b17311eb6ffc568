"""Load scenario: 8 concurrent clients, 90% searches and 10% writes, for a fixed time.

Holds: zero 5xx, zero acknowledged writes missing from the files or (after the
run) from the database, `dialogsearch verify` passes; reports p50/p99 latency
and the request rate.
"""

from __future__ import annotations

import time
from pathlib import Path

from rel_checks import check_database, check_files, final_problems, read_tree
from rel_ledger import Ledger, join_clients, percentile_ms, run_clients
from rel_result import CheckResult
from rel_server import TOKEN, ServedProcess, copy_sample_tree

DIALOG_FILES = ("reliability/load_a.md", "reliability/load_b.md", "reliability/load_c.md")


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
        threads = run_clients(
            server.url,
            ledger,
            clients=clients,
            seconds=seconds,
            write_share=0.1,
            dialog_files=DIALOG_FILES,
            seed=seed,
        )
        join_clients(threads, seconds + 60)
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
