"""Parse time of the pathological inputs as they double in size: wall clock, per character.

    python -m benchmarks.parse_linearity
    python -m benchmarks.parse_linearity --only quote --sizes 200000,400000,800000,1600000

The wall-clock side of tests/test_parse_messy.py::test_pathological_input_takes_linear_work,
which counts steps and memory instead (a count does not depend on the machine's load).
Linear work keeps ns/char flat as the size doubles; `faults` (minor page faults per
parse) shows memory the allocator hands back to the kernel and takes again on each call:
the cause of the 400k -> 800k step issue 11 saw on the "quote" input.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time

from dialogfile.parse import parse_file
from tests.support.parse_work import PATHOLOGICAL

SIZES = (200_000, 400_000, 800_000, 1_600_000)
PATH = "dialogs/pathological.md"


def time_parse(text: str, rounds: int) -> tuple[float, int]:
    """(best seconds, minor page faults of that round) for parse_file(text).

    The cyclic GC is paused: its full passes grow with the live objects, which is
    Python's cost, not the parser's.
    """
    best, best_faults = float("inf"), 0
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            started = time.perf_counter()
            parse_file(text, PATH)
            seconds = time.perf_counter() - started
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
            if seconds < best:
                best, best_faults = seconds, faults
    finally:
        gc.enable()
    return best, best_faults


def measure(names: list[str], sizes: list[int], rounds: int) -> list[dict[str, object]]:
    """One row per input: per size, best ms, ns/char and page faults; largest/smallest."""
    rows = []
    for name in names:
        row: dict[str, object] = {"input": name}
        seconds = []
        for size in sizes:
            text = PATHOLOGICAL[name](size)
            best, faults = time_parse(text, rounds)
            seconds.append(best)
            row[str(size)] = {
                "ms": round(best * 1000, 2),
                "ns_per_char": round(best * 1e9 / len(text), 1),
                "faults": faults,
            }
        row["ratio"] = round(seconds[-1] / max(seconds[0], 1e-6), 1)
        row["size_ratio"] = round(sizes[-1] / sizes[0], 1)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command line: print a table (or JSON with --json) of measure()."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(PATHOLOGICAL))
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = measure(args.only or sorted(PATHOLOGICAL), sizes, args.rounds)
    if args.json:
        json.dump(rows, sys.stdout)
        print()
        return 0
    print(f"{'input':20}" + "".join(f"{size:>24,}" for size in sizes) + "   ratio")
    for row in rows:
        cells = "".join(
            "{ms:>8.1f} ms {ns_per_char:>5.1f} ns/c {faults:>3}f".format(**row[str(size)])
            for size in sizes
        )
        print(f"{row['input']:20}{cells}   {row['ratio']}x / {row['size_ratio']}x")
    print("ms: best of rounds; ns/c: per character; f: minor page faults in that round")
    return 0


if __name__ == "__main__":
    sys.exit(main())
