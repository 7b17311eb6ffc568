"""Expensive queries on a 10,000-entry generated corpus get a bounded answer (200) or a
clear 400 (reason too_expensive), never a 5xx or a hang (no answer within 60 s).

How long they take is reported, not asserted: a duration depends on the machine's load.
That the time limit stops queries is checked with a limit of 0 ms instead, where SQLite's
progress handler stops any query that runs 10,000 steps, however fast the machine. That
the search budget (searchsvc/query/budget.py) bounds the work is checked by counting:
every cut an answer reports keeps at most what the engine's budget allows, and the
searches past the budget's counts are flagged `partial` on every engine."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support.rel_result import CheckResult
from support.rel_server import ServedProcess

from benchmarks.hostile_mix import EXPENSIVE, frequent_words, hostile_mix
from searchsvc.query.budget import budget_for

TIME_LIMIT_MS = 1500
#: A hang: no answer within this long (a generous wait, not a latency bound).
HANG_S = 60
#: The searches of the mix past the budget's counts (alternatives, words, a phrase's
#: words) on any corpus, and the cut each answer must report.
PAST_THE_COUNTS = {
    "50 frequent words OR": "alternatives",
    "phrase of 20 words #1": "phrase",
    "1,000-char q": "words",
}


@pytest.fixture(scope="module")
def big_server(
    generated_corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedProcess]:
    work = tmp_path_factory.mktemp("expensive")
    db = work / "var" / "dialogs.db"
    db.parent.mkdir()
    env = {"DIALOGSEARCH_QUERY_TIME_LIMIT_MS": str(TIME_LIMIT_MS)}
    server = ServedProcess(generated_corpus, db, work / "logs", env=env)
    server.start(timeout=180)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def zero_limit_server(big_server: ServedProcess) -> Iterator[ServedProcess]:
    """A second server over big_server's corpus and database, with a time limit of 0 ms."""
    env = {"DIALOGSEARCH_QUERY_TIME_LIMIT_MS": "0"}
    server = ServedProcess(
        big_server.root, big_server.db, big_server.log_dir / "zero-limit", env=env
    )
    server.start(timeout=180)
    yield server
    server.stop()


@pytest.mark.parametrize("path", ["/api/dialog/search", "/api/dialog/stats"])
def test_expensive_queries_are_bounded(big_server: ServedProcess, path: str) -> None:
    timings = []
    for params in EXPENSIVE:
        started = time.monotonic()
        response = requests.get(big_server.url + path, params=params, timeout=HANG_S)
        seconds = time.monotonic() - started
        timings.append((seconds, response.status_code, params["q"][:30]))
        assert response.status_code in (200, 400), (params, response.status_code, response.text)
        if response.status_code == 400:
            body = response.json()
            assert body["ok"] is False and body["error"], body
    slowest = max(timings)
    result = CheckResult(
        f"Expensive queries ({path.rsplit('/', 1)[-1]}, 10,000-entry corpus)",
        did={"queries": len(EXPENSIVE), "time limit ms": TIME_LIMIT_MS},
        held={
            "5xx": 0,
            "answered 200": sum(1 for t in timings if t[1] == 200),
            "answered 400 too expensive/invalid": sum(1 for t in timings if t[1] == 400),
            "slowest s": f"{slowest[0]:.2f} ({slowest[2]!r})",
        },
        command="pytest tests/reliability/test_expensive_queries.py",
    )
    print(result.as_row())
    folder = os.environ.get("RELIABILITY_RESULTS")
    if folder:
        result.save(Path(folder))


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/dialog/search", {"q": "NEAR(a* b* c* d* e* f* g* h*, 50)", "raw": "1"}),
        ("/api/dialog/search", {"q": "(" * 50 + "a" + ")" * 50, "raw": "1"}),
        ("/api/dialog/stats", {"q": "*"}),
        ("/api/dialog/stats", {"q": "a*"}),
    ],
)
def test_the_time_limit_stops_a_query_with_a_400(
    zero_limit_server: ServedProcess, path: str, params: dict[str, str]
) -> None:
    # Each of these runs in SQLite past its first 10,000 steps, where the progress
    # handler looks at the clock: with a limit of 0 ms the deadline has always passed.
    response = requests.get(zero_limit_server.url + path, params=params, timeout=HANG_S)
    assert response.status_code == 400, (params, response.status_code, response.text)
    body = response.json()
    assert (body["ok"], body["reason"]) == (False, "too_expensive"), body


@pytest.fixture(scope="module")
def engine_servers(
    big_server: ServedProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServedProcess]]:
    """big_server (the top-k index first), FTS5 alone (DIALOGSEARCH_TOPK=off) and the file
    index alone (no database), over big_server's corpus."""
    work = tmp_path_factory.mktemp("engines")
    fts5 = ServedProcess(
        big_server.root, big_server.db, work / "fts5", env={"DIALOGSEARCH_TOPK": "off"}
    )
    files_only = {"DIALOGSEARCH_REBUILD": "false", "DIALOGSEARCH_PROBE_SECONDS": "3600"}
    files = ServedProcess(
        big_server.root, work / "absent" / "dialogs.db", work / "files", env=files_only
    )
    servers = {"topk": big_server, "fts5": fts5, "files": files}
    for server in (fts5, files):
        server.start(timeout=180)
    yield servers
    for server in (fts5, files):
        server.stop()


@pytest.mark.parametrize("engine", ["topk", "fts5", "files"])
def test_hostile_searches_stay_within_the_budget(
    engine_servers: dict[str, ServedProcess], engine: str
) -> None:
    server = engine_servers[engine]
    mix = hostile_mix(frequent_words(server.root))
    flagged: dict[str, list[str]] = {}
    for label, params in mix:
        response = requests.get(server.url + "/api/dialog/search", params=params, timeout=HANG_S)
        assert response.status_code in (200, 400), (label, response.status_code, response.text)
        body = response.json()
        if response.status_code == 400:
            assert body["ok"] is False and body["reason"] in ("too_expensive", "syntax"), body
            continue
        flagged[label] = [cut["kind"] for cut in _checked_cuts(body)]
    for label, kind in PAST_THE_COUNTS.items():
        assert kind in flagged[label], (label, flagged[label])


def _checked_cuts(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer's cuts, each checked against its engine's budget (what it may keep)."""
    budget = budget_for(body["engine"])
    limits = {
        "alternatives": budget.max_alternatives,
        "words": budget.max_words,
        "phrase": budget.max_phrase_tokens,
        "prefix": budget.max_prefix_terms,
        "excluded": 0,
    }
    cuts = (body["partial"] or {}).get("cuts", [])
    for cut in cuts:
        if cut["kind"] in limits:
            assert cut["kept"] <= limits[cut["kind"]] and cut["kept"] < cut["of"], (body, cut)
    return cuts
