"""The benchmark runs end to end on a small corpus, so the script cannot rot (no targets)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The query kinds the issue asks for, each measured separately.
KINDS = {"term", "two_terms", "phrase", "prefix", "term+speaker", "facets", "newest"}


@pytest.mark.slow
def test_quick_benchmark_completes_and_writes_its_table(
    tmp_path: Path, gen_corpus_script: Path
) -> None:
    out = tmp_path / "out"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--entries",
            "1500",
            "--queries",
            "80",
            "--quick",
            "--cell-seconds",
            "0.2",
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    results = json.loads((out / "results-1500.json").read_text())
    assert results["corpus"]["entries"] == 1500
    assert results["corpus"]["files"] > 0
    assert results["reindex"]["full"]["entries_per_s"] > 0
    assert results["reindex"]["one_file"]["files_changed"] == 1
    assert results["reindex"]["unchanged"]["files_changed"] == 0
    assert results["raw_load"]["same"]["entries"] == 1500
    assert results["parse"]["generated"]["mb_per_s"] > 0

    ours = [cell for cell in results["search"]["cells"] if cell["engine"] == "ours"]
    assert {cell["kind"] for cell in ours} >= KINDS
    assert {cell["concurrency"] for cell in ours} == {1, 8}
    assert all(cell["requests"] > 0 and cell["errors"] == 0 for cell in ours), ours
    assert results["server_memory"]["ours"]["rss_mb"] > 0

    table = results["table"].splitlines()
    assert table[0].startswith("| Measure | Ours | Peer | Ours/peer | Target | Met |")
    assert all(line.startswith("|") and line.endswith("|") for line in table)
    assert completed.stdout.strip() == results["table"]
    assert (out / "results-1500.md").read_text().count("| Measure |") == 1
    assert results["targets"] and all("met" in target for target in results["targets"])
