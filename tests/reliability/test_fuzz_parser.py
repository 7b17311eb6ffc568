"""The parser under hypothesis with mutations of the real corpus (bit flips, truncation,
duplicated markers, giant lines, splices), and 5 MB pathological files whose parse must take
linear work (counted, not timed: see tests/support/parse_work.py; their s/MB is reported only).
test_parse_properties.py and test_parse_messy.py fuzz synthetic text; this adds real files."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.parse_work import parse_work, peak_bytes
from support.rel_mutations import KINDS, corpus_files, mutate
from support.rel_result import CheckResult
from test_parse_properties import assert_sane

from dialogfile.parse import decode_dialog_bytes, parse_file

FILES = corpus_files()
EXAMPLES = int(os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "150"))
FIVE_MB = 5 * 1024 * 1024
COUNTS = {"mutated files parsed": 0}


def _needs_corpus() -> None:
    if not FILES:
        message = "the shared corpus ../shared/corpus/lupopedia is absent"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.integers(0, 10**6),
    st.lists(st.sampled_from(KINDS), min_size=1, max_size=4),
    st.integers(0, 2**32 - 1),
)
def test_mutated_real_files_parse_sanely(index: int, kinds: list[str], seed: int) -> None:
    _needs_corpus()
    rng = random.Random(seed)
    data = FILES[index % len(FILES)].read_bytes()
    other = FILES[(index * 7 + 3) % len(FILES)].read_bytes()
    for kind in kinds:
        data = mutate(data, kind, rng, other)
    assert_sane(decode_dialog_bytes(data))
    COUNTS["mutated files parsed"] += 1


def _real_blob(size: int) -> bytes:
    parts, total = [], 0
    for path in FILES * 200:
        data = path.read_bytes()
        parts.append(data)
        total += len(data)
        if total >= size:
            break
    return b"\n".join(parts)[:size]


def _pathological(name: str) -> bytes:
    rng = random.Random(9)
    if name == "real corpus, concatenated":
        return _real_blob(FIVE_MB)
    if name == "real corpus, mutated every 4 KB":
        blob = bytearray(_real_blob(FIVE_MB))
        for at in range(0, len(blob), 4096):
            blob[at] ^= 1 << rng.randrange(8)
        return bytes(blob)
    if name == "one 5 MB line":
        return b"**Speaker:** A\n**Message:** " + b"word " * (FIVE_MB // 5)
    if name == "5 MB of markers":
        markers = [b"---", b"**Speaker:** X", b"# Dialog begin", b"```", b"dialog:", b"  - a: b"]
        lines, total = [], 0
        while total < FIVE_MB:
            line = rng.choice(markers)
            lines.append(line)
            total += len(line) + 1
        return b"\n".join(lines)
    if name == "unclosed front matter":
        return b"---\n" + b"key: value\n" * (FIVE_MB // 11)
    raise AssertionError(name)


PATHOLOGICAL = [
    "real corpus, concatenated",
    "real corpus, mutated every 4 KB",
    "one 5 MB line",
    "5 MB of markers",
    "unclosed front matter",
]
TIMINGS: dict[str, float] = {}


@pytest.mark.parametrize("name", PATHOLOGICAL)
@pytest.mark.slow
def test_five_megabytes_parse_in_linear_work(name: str) -> None:
    _needs_corpus()
    text = decode_dialog_bytes(_pathological(name))
    # The time is reported (test_fuzz_summary), never asserted: it depends on the load.
    started = time.perf_counter()
    parsed = parse_file(text, "dialogs/big.md")
    TIMINGS[name] = (time.perf_counter() - started) / (len(text.encode("utf-8")) / 1024 / 1024)
    assert parsed.entries is not None
    # Counted on the first 1/16 and 1/4 of the text (counting is slow; a count shows
    # quadratic work at any size): linear work is about 4x of each count, quadratic 16x.
    small, large = text[: len(text) // 16], text[: len(text) // 4]
    (small_steps, small_scanned), (steps, scanned) = parse_work(small), parse_work(large)
    assert steps <= 4.5 * small_steps, f"{name}: {small_steps} -> {steps} steps"
    assert scanned <= 4.5 * small_scanned, f"{name}: {small_scanned} -> {scanned} scanned"
    small_peak = peak_bytes(lambda: parse_file(small, "dialogs/big.md"))
    peak = peak_bytes(lambda: parse_file(large, "dialogs/big.md"))
    assert peak <= 4.5 * small_peak + 65_536, f"{name}: {small_peak} -> {peak} bytes at most"


def test_fuzz_summary() -> None:
    """Report the figures (runs after the tests above in this module)."""
    result = CheckResult(
        "Parser fuzzing (hypothesis, real corpus)",
        did={"mutated real files": COUNTS["mutated files parsed"], "5 MB files": len(TIMINGS)},
        held={
            "exceptions": 0,
            "slowest s/MB": f"{max(TIMINGS.values()):.2f}" if TIMINGS else "-",
        },
        command="pytest tests/reliability/test_fuzz_parser.py",
    )
    print(result.as_row(), {k: round(v, 3) for k, v in TIMINGS.items()})
    folder = os.environ.get("RELIABILITY_RESULTS")
    if folder:
        result.save(Path(folder))
    assert COUNTS["mutated files parsed"] > 0 or not FILES
