"""The benchmark runs end to end on a small corpus, so the script cannot rot (no targets)."""

from __future__ import annotations

import json
import os
import shutil
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
            "--write-seconds",
            "2",
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
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
    memory = results["server_memory"]["ours"]
    assert memory["anon_mb"] > 0 and memory["anon_mb"] + memory["file_mb"] <= memory["rss_mb"] + 1
    # search under writes: both kinds answered, no 5xx, every write read back by its writer
    under_writes = results["write_load"]["ours"]
    assert under_writes["search"]["n"] > 0 and under_writes["write"]["n"] > 0
    assert under_writes["5xx"] == 0 and under_writes["ryw_missed"] == 0
    assert under_writes["ryw_checked"] > 0

    # the hostile mix on every engine (files too at this size): answered, never a 5xx
    hostile = {(row["engine"], row["via"]): row["summary"] for row in results["hostile"]["rows"]}
    assert set(hostile) >= {("topk", "in-process"), ("fts5-alone", "http"), ("files", "http")}
    assert all(s["searches"] > 0 and s["5xx"] == 0 for s in hostile.values()), hostile
    freshness = results["freshness"]
    assert freshness["edits"]["found"] == freshness["edits"]["edits"] == 5
    assert freshness["burst"]["found"]

    table = results["table"].splitlines()
    assert table[0].startswith("| Measure | Ours | Peer | Ours/peer | Target | Met |")
    assert sum(line.startswith("| Hostile mix") for line in table) == len(hostile)
    assert sum(line.startswith("| Live freshness") for line in table) == 2
    assert all(line.startswith("|") and line.endswith("|") for line in table)
    assert completed.stdout.strip() == results["table"]
    assert (out / "results-1500.md").read_text().count("| Measure |") == 1
    assert results["targets"] and all("met" in target for target in results["targets"])
    rss_rows = [line for line in table if line.startswith("| Server RSS")]
    assert [row.split(",")[1].strip() for row in rss_rows] == [
        "anonymous",
        "file-mapped (index and DB pages)",
        "total (anonymous + file-mapped)",
    ]


@pytest.mark.slow
def test_memory_benchmark_measures_each_phase_of_two_checkouts(
    tmp_path: Path, gen_corpus_script: Path
) -> None:
    out = tmp_path / "out"
    arguments = ["--entries", "1500", "--queries", "80", "--requests", "3", "--out", str(out)]
    arguments += ["--work", str(tmp_path / "work"), "--baseline", str(REPO_ROOT)]
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads((out / "memory-1500.json").read_text())
    for run in (results["runs"]["baseline"][0], results["runs"]["ours"][0]):
        for phase in ("ready", "warm", "fallback", "recovered"):
            assert run[phase]["anon_mb"] > 0 and run[phase]["rss_mb"] > 0, (phase, run)
        assert run["warm_requests"]["errors"] == 0 and run["warm_requests"]["answered"] > 0
        assert run["first_answers"]["sources"]["files"] == 1
        assert run["files_index_after"]["drops"] == 1 and run["files_index_after"]["builds"] == 1
    assert results["table"].count("\n| ") == 4  # a row for each phase
    assert results["runs"]["ours"][0]["warm_mapped_mb"]["shared libraries"] > 0

    db = tmp_path / "work" / "memory-1500" / "db" / "dialogs.db"
    parts = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory_parts", "--entries", "1500", "--queries", "80"]
        + ["--db", str(db), "--corpora", str(tmp_path / "work"), "--requests", "2"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert parts.returncode == 0, parts.stderr[-3000:]
    steps = [json.loads(line) for line in parts.stdout.splitlines() if line.startswith('{"step"')]
    assert len(steps) == 7 and all(step["RssAnon"] > 0 for step in steps)
    assert steps[3]["answered"] == 16 and steps[-1]["arenas"] > 0


def test_watch_latency_benchmark_measures_every_figure_and_leaves_the_root_alone(
    tmp_path: Path,
) -> None:
    root, before = _three_meetings(tmp_path)
    result = _benchmark_json(
        "benchmarks.watch_latency",
        ["--root", str(root), "--edits", "3", "--burst", "5", "--idle-seconds", "1"],
    )
    edits, burst, idle = result["edits"], result["burst"], result["idle"]
    assert edits["edits"] == edits["found"] == 3 and edits["missed"] == 0
    assert all(edits[key] > 0 for key in ("p50_ms", "p99_ms", "max_ms")), edits
    assert burst["files"] == 5 and burst["found"] and burst["seconds"] > 0
    assert 0 < burst["searchable_seconds"] <= burst["seconds"]
    assert burst["reindexes"] > 0 and burst["pending_files"] == []
    assert idle["seconds"] > 0 and idle["cpu_percent"] >= 0  # an idle watcher may use 0
    assert result["corpus"]["entries"] > 0 and result["start"]["seconds"] > 0
    assert result["watcher_mode"] == "inotify" and len(result["machine"]["load_start"]) == 3
    assert result["table"].count("\n") == 6
    # the given root was copied, never written
    assert {path.name: path.read_bytes() for path in root.iterdir()} == before


def test_meili_follow_benchmark_measures_every_figure(tmp_path: Path) -> None:
    root, before = _three_meetings(tmp_path)
    result = _benchmark_json(
        "benchmarks.meili_follow_latency",
        ["--root", str(root), "--edits", "2", "--writes", "2", "--burst", "5"],
    )
    edits, writes, burst = result["edits"], result["writes"], result["burst"]
    assert edits["found"] == edits["searchable"]["found"] == 2 and edits["p50_ms"] > 0
    assert writes["found"] == 2 and writes["p50_ms"] > 0
    assert burst["files"] == 5 and burst["seconds"] > 0 and burst["files_pushed"] >= 5
    assert burst["pushes"]["ok"] >= 1
    assert result["first_push"]["documents"] > 0 and result["meilisearch"].startswith("stand-in")
    assert result["table"].count("\n") == 6
    assert {path.name: path.read_bytes() for path in root.iterdir()} == before


def _benchmark_json(module: str, arguments: list[str]) -> dict:
    """A benchmark run as a child with `--json`: its JSON (the test fails on its failure)."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *arguments, "--json"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


def _three_meetings(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A root holding three sample meeting files, and their bytes (to check it is unchanged)."""
    root = tmp_path / "root"
    root.mkdir()
    for path in sorted((REPO_ROOT / "dialogs" / "meetings").glob("*.md"))[:3]:
        shutil.copy2(path, root / path.name)
    return root, {path.name: path.read_bytes() for path in root.iterdir()}


def test_write_profile_benchmark_times_and_counts_each_write(tmp_path: Path) -> None:
    root, before = _three_meetings(tmp_path)
    result = _benchmark_json(
        "benchmarks.write_profile",
        ["--root", str(root), "--work", str(tmp_path / "work"), "--writes", "2", "--profile", "5"],
    )
    for op in ("post", "put", "delete"):
        figures = result[op]
        assert figures["n"] == 2 and 0 < figures["cpu_p50_ms"] <= figures["wall_max_ms"], figures
        assert 0 < figures["locked_wall_max_ms"] <= figures["wall_max_ms"], figures
    work = result["work_per_write"]
    assert work["fsyncs"] == 2.0 and work["parse_file calls"] > 0
    assert work["calls giving up the GIL"] > work["fsyncs"]
    assert len(result["top_cumulative"]) == 5
    assert {path.name: path.read_bytes() for path in root.iterdir()} == before
