"""Atheris (libFuzzer) target for the parser, seeded with mutations of the real corpus.

Not a pytest module: scripts/soak runs it when atheris is installed, e.g.
    python tests/reliability/fuzz_parser_atheris.py -atheris_runs=200000 -max_total_time=60
Any exception from decode_dialog_bytes/parse_file, or an entry with impossible
line numbers, is a crash that libFuzzer reports with the input that caused it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parents[1])]

import atheris  # noqa: E402

with atheris.instrument_imports():
    from dialogfile.parse import decode_dialog_bytes, parse_file  # noqa: E402

from support.rel_mutations import corpus_files  # noqa: E402


def test_one_input(data: bytes) -> None:
    """Parse `data` as a dialog file; raise on anything insane."""
    text = decode_dialog_bytes(data)
    parsed = parse_file(text, "dialogs/fuzz.md")
    lines = text.count("\n") + 1
    for entry in parsed.entries:
        if not 1 <= entry.line <= entry.end_line <= lines + 1:
            raise AssertionError(f"entry lines {entry.line}..{entry.end_line} of {lines}")


def main() -> None:
    seeds = Path(tempfile.mkdtemp(prefix="atheris-seeds-"))
    for number, path in enumerate(corpus_files()):
        (seeds / f"seed{number:03d}.md").write_bytes(path.read_bytes()[:200_000])
    atheris.Setup([sys.argv[0], *sys.argv[1:], str(seeds)], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
