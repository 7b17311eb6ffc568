"""The release soak: the reliability checks with bigger counts, then the reliability table.

Run through scripts/soak (see `scripts/soak --help`). Every scenario runs against
real processes on 127.0.0.1 in a temporary folder; the table goes to stdout and,
with --out, to a Markdown file beside the JSON of each result.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The reliability checks and the harness they share (tests/support).
HERE = REPO_ROOT / "tests" / "reliability"
sys.path[:0] = [str(REPO_ROOT / "tests"), str(HERE)]

from support.rel_crash import crash_scenario  # noqa: E402
from support.rel_faults import db_faults_scenario  # noqa: E402
from support.rel_load import load_scenario  # noqa: E402
from support.rel_reindex_crash import GEN_CORPUS, reindex_crash_scenario  # noqa: E402
from support.rel_result import CheckResult, table  # noqa: E402

PYTEST_MODULES = [
    "test_security.py",
    "test_xss_browser.py",
    "test_api_schema_live.py",
    "test_fuzz_parser.py",
    "test_expensive_queries.py",
    "test_regressions.py",
    "test_db_corruption.py",
]


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/soak",
        description="Longer reliability checks for a release; prints the reliability table.",
        epilog="Example: scripts/soak --minutes 5 --out var/soak",
    )
    parser.add_argument("--minutes", type=float, default=5.0, help="scale of the long parts")
    parser.add_argument("--entries", type=int, default=100_000, help="reindex-crash corpus size")
    parser.add_argument("--out", type=Path, help="folder for the JSON results and table.md")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, DBs)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated subset: crash,reindex,faults,load,pytest,atheris",
    )
    return parser.parse_args(argv)


def _run_pytest(modules: list[str], results: Path, minutes: float) -> CheckResult:
    """The pytest-based checks with soak-sized counts; their results land in `results`."""
    env = {
        **os.environ,
        "RELIABILITY_RESULTS": str(results),
        "RELIABILITY_FUZZ_EXAMPLES": str(int(400 * minutes)),
        "RELIABILITY_SCHEMA_EXAMPLES": str(int(40 * minutes)),
        "RELIABILITY_DAMAGED_COPIES": str(int(80 * minutes)),
    }
    paths = [str(HERE / module) for module in modules]
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "slow or not slow",
            *paths,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    result = CheckResult(
        "pytest checks (security, XSS, schemathesis, fuzzing, expensive queries, regressions,"
        " damaged copies)",
        did={"modules": len(modules), "seconds": round(time.monotonic() - started)},
        held={"pytest": summary},
        command="pytest " + " ".join(f"tests/reliability/{m}" for m in modules),
    )
    if done.returncode != 0:
        result.problems.append(done.stdout[-4000:])
    return result


def _run_atheris(seconds: int) -> CheckResult:
    """The atheris parser target for `seconds`, when atheris is installed."""
    result = CheckResult(
        "Parser fuzzing (atheris, real corpus seeds)",
        command=f"python tests/reliability/fuzz_parser_atheris.py -max_total_time={seconds}",
    )
    try:
        import atheris  # noqa: F401
    except ImportError:
        result.notes.append("atheris is not installed: pip install atheris (a wheel exists)")
        return result
    done = subprocess.run(
        [
            sys.executable,
            str(HERE / "fuzz_parser_atheris.py"),
            f"-max_total_time={seconds}",
            "-rss_limit_mb=2048",
            "-timeout=20",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 300,
    )
    runs = re.findall(r"Done (\d+) (?:runs|in)", done.stderr) or re.findall(
        r"#(\d+)\s", done.stderr
    )
    result.did = {"seconds": seconds, "inputs run": int(runs[-1]) if runs else "?"}
    result.held = {"crashes": 0 if done.returncode == 0 else 1}
    if done.returncode != 0:
        result.problems.append(done.stderr[-3000:])
    return result


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    wanted = lambda name: not only or name in only  # noqa: E731
    minutes = args.minutes
    work = Path(tempfile.mkdtemp(prefix="dialogsearch-soak-"))
    out = args.out or Path(tempfile.mkdtemp(prefix="dialogsearch-soak-results-"))
    out.mkdir(parents=True, exist_ok=True)
    results: list[CheckResult] = []
    command = f"scripts/soak --minutes {minutes:g}"

    def record(result: CheckResult) -> None:
        results.append(result)
        result.save(out)
        print(result.as_row(), *result.notes, flush=True)
        for problem in result.problems[:10]:
            print("    " + problem.replace("\n", "\n    "), flush=True)

    try:
        if wanted("crash"):
            kills = max(20, int(12 * minutes))
            record(
                crash_scenario(
                    work / "crash",
                    kills=kills,
                    budget_seconds=minutes * 60,
                    command=command + " --only crash",
                )
            )
        if wanted("reindex") and GEN_CORPUS.exists():
            record(
                reindex_crash_scenario(
                    work / "reindex",
                    entries=args.entries,
                    kills=max(6, int(3 * minutes)),
                    budget_seconds=minutes * 90,
                    command=command + f" --only reindex --entries {args.entries}",
                )
            )
        if wanted("faults"):
            for result in db_faults_scenario(
                work / "faults",
                hold_seconds=max(2.0, 2 * minutes),
                command=command + " --only faults",
            ):
                record(result)
        if wanted("load"):
            record(load_scenario(work / "load", seconds=60, command=command + " --only load"))
        if wanted("pytest"):
            pytest_results = out / "pytest"
            pytest_results.mkdir(exist_ok=True)
            summary = _run_pytest(PYTEST_MODULES, pytest_results, minutes)
            for saved in sorted(pytest_results.glob("*.json")):
                loaded = CheckResult(**json.loads(saved.read_text()))
                loaded.command = command + " --only pytest"
                record(loaded)
            record(summary)
        if wanted("atheris"):
            record(_run_atheris(int(min(300, 24 * minutes))))
    finally:
        text = table(results)
        (out / "table.md").write_text(text + "\n", encoding="utf-8")
        print("\n" + text)
        print(f"\nresults: {out}")
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
