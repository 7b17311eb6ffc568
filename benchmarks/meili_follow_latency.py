"""Meilisearch follows the files (issue 14): how soon a change is in Meilisearch by itself.

    python -m benchmarks.meili_follow_latency --root DIR [--meili-url URL --meili-key KEY]
        [--edits 20] [--writes 20] [--burst 1000]

Starts the real server (`serve --root --db --port`, watching on) over a COPY of `--root`
with a fresh database and MEILI_URL set, so the server pushes every change by itself
(searchsvc/meili_follow.py). Without --meili-url it runs the tests' Meilisearch stand-in
(tests/support/meili_standin.py) in this process: the figures then time our side (the
watcher, the follower's settling, reading and sending the documents), not Meilisearch's
indexing. A document counts as in Meilisearch once `GET /indexes/{uid}/documents/{id}`
returns it with the change. Measured, over HTTP only:

1. first push: from the server's start until its follower has pushed the whole tree;
2. edit to Meilisearch: `--edits` times an entry with a unique word is appended to a
   random file as an editor saves (temp file, rename); the time runs from the rename
   until Meilisearch holds it (the entry's id comes from the server's search, and the
   time until that search found it is reported too: what the push adds is the gap);
3. API write to Meilisearch: `--writes` POST /api/dialog/entry; the time runs from the
   201 answer until Meilisearch holds the entry;
4. burst: `--burst` new files (3 entries each) copied into the root at once; the time
   until the follower has nothing pending and Meilisearch holds the last entry, with
   the follower's push count.

Prints a Markdown table, or with --json the whole result as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import load_average
from benchmarks.processes import LOOPBACK, Server, free_port
from benchmarks.watch_latency import (
    CHECKOUT,
    HEALTH,
    editor_save,
    get_json,
    percentile,
    probe_fields,
    search,
    unique_word,
    wait_for,
    write_burst,
)
from dialogfile.edits import UnrepresentableEdit
from dialogfile.writer import plan_append
from indexer.meili_client import MeiliError, call_client, open_client

INDEX = "dialogsearch_follow_bench"
POLL = 0.02


def follow(port: int) -> dict[str, Any]:
    return (get_json(port, HEALTH) or {}).get("meilisearch_follow") or {}


def first_id(port: int, word: str) -> int | None:
    page = search(port, word)
    return page["hits"][0]["dialog_entry_id"] if page and page.get("hits") else None


class MeiliReader:
    """Reads documents back from the Meilisearch the server pushes to."""

    def __init__(self, url: str, key: str | None) -> None:
        self.index = open_client(url, key, timeout_s=10).index(INDEX)

    def holds(self, entry_id: int, word: str) -> bool:
        try:
            document = call_client(lambda: self.index.get_document(f"e{entry_id}"))
        except MeiliError:
            return False
        return word in json.dumps(dict(document), ensure_ascii=False)


def latencies_ms(values: list[float], count: int) -> dict[str, Any]:
    result: dict[str, Any] = {"count": count, "found": len(values)}
    if values:
        result.update(
            p50_ms=round(percentile(values, 0.50) * 1000, 1),
            p90_ms=round(percentile(values, 0.90) * 1000, 1),
            max_ms=round(max(values) * 1000, 1),
        )
    return result


def appended(root: Path, files: list[Path], rng: random.Random) -> tuple[Path, str, str]:
    """A random file, a unique word, and the file's text with a probe entry holding it."""
    while True:
        path, word = rng.choice(files), unique_word(rng)
        rel = path.relative_to(root).as_posix()
        try:
            return path, word, plan_append(path.read_text("utf-8"), rel, probe_fields(word)).text
        except (UnrepresentableEdit, UnicodeDecodeError):  # e.g. an open code fence at its end
            files.remove(path)


def measure_edits(
    port: int, root: Path, reader: MeiliReader, count: int, rng: random.Random, timeout: float
) -> dict[str, Any]:
    files = sorted(path for path in root.rglob("*.md") if path.is_file())
    found: list[float] = []
    searchable: list[float] = []  # the same edits, searchable through the server
    for _ in range(count):
        path, word, text = appended(root, files, rng)
        editor_save(path, text)
        renamed = time.monotonic()
        entry: list[int | None] = [None]  # its id, once the server's search finds it

        def in_meilisearch(
            word: str = word, entry: list[int | None] = entry, renamed: float = renamed
        ) -> bool:
            if entry[0] is None:
                entry[0] = first_id(port, word)
                if entry[0] is not None:
                    searchable.append(time.monotonic() - renamed)
            return entry[0] is not None and reader.holds(entry[0], word)

        at = wait_for(in_meilisearch, poll=POLL, timeout=timeout)
        if at is not None:
            found.append(at - renamed)
    return {**latencies_ms(found, count), "searchable": latencies_ms(searchable, count)}


def measure_writes(
    port: int, token: str, reader: MeiliReader, count: int, rng: random.Random, timeout: float
) -> dict[str, Any]:
    found: list[float] = []
    for _ in range(count):
        word = unique_word(rng)
        request = urllib.request.Request(
            f"http://{LOOPBACK}:{port}/api/dialog/entry",
            data=json.dumps(probe_fields(word)).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            entry_id = json.loads(answer.read())["dialog_entry_id"]
        answered = time.monotonic()
        at = wait_for(lambda w=word, i=entry_id: reader.holds(i, w), poll=POLL, timeout=timeout)
        if at is not None:
            found.append(at - answered)
    return latencies_ms(found, count)


def measure_burst(
    port: int,
    root: Path,
    work: Path,
    reader: MeiliReader,
    files: int,
    rng: random.Random,
    timeout: float,
) -> dict[str, Any]:
    token = unique_word(rng)
    folder = f"burst-{token}"
    entries, last = write_burst(work / folder, files, token, rng)
    before = follow(port)
    started = time.monotonic()
    shutil.copytree(work / folder, root / folder)
    ids: list[int | None] = [None]

    def done() -> bool:
        health = follow(port)
        if health.get("pending") or health.get("files_pushed", 0) - before["files_pushed"] < files:
            return False
        ids[0] = ids[0] or first_id(port, last)
        return ids[0] is not None and reader.holds(ids[0], last)

    at = wait_for(done, poll=0.05, timeout=timeout)
    after = follow(port)
    return {
        "files": files,
        "entries": entries,
        "seconds": None if at is None else round(at - started, 3),
        "pushes": {
            outcome: count - before["pushes"].get(outcome, 0)
            for outcome, count in after["pushes"].items()
        },
        "files_pushed": after["files_pushed"] - before["files_pushed"],
    }


def start_server(
    root: Path, db: Path, work: Path, meili: tuple[str, str | None], timeout: float
) -> tuple[Server, str, float]:
    """`serve` of this checkout with MEILI_URL; (server, API token, seconds until pushed)."""
    port = free_port()
    token = secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEILI_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
    env.update(DIALOGSEARCH_API_TOKEN=token, MEILI_URL=meili[0], MEILI_INDEX=INDEX)
    if meili[1]:
        env["MEILI_API_KEY"] = meili[1]
    command = [sys.executable, "-m", "searchsvc.cli", "serve", "--root", str(root)]
    command += ["--db", str(db), "--host", LOOPBACK, "--port", str(port)]
    log_path = work / "serve.log"
    server = Server("dialogsearch serve", command, port, HEALTH, log_path=log_path, env=env)
    server.cwd = CHECKOUT
    started = time.monotonic()
    server.start(timeout)

    def pushed() -> bool:
        health = follow(port)
        return health.get("pushes", {}).get("ok", 0) >= 1 and health.get("pending") == 0

    wait_for(pushed, poll=0.1, timeout=timeout)
    return server, token, time.monotonic() - started


def run(args: argparse.Namespace) -> dict[str, Any]:
    source = Path(args.root).resolve()
    work = Path(tempfile.mkdtemp(prefix="meili-follow-"))
    root = work / "root"
    rng = random.Random(args.seed)
    standin = None
    if args.meili_url is None:
        sys.path.insert(0, str(CHECKOUT / "tests"))
        from support.meili_standin import MeiliStandIn  # noqa: PLC0415 - only without a URL

        standin = MeiliStandIn().start()
    url = args.meili_url or standin.url
    key = args.meili_key if args.meili_url else standin.api_key
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    load_start = load_average()
    shutil.copytree(source, root)
    db = work / "dialogs.db"
    server, token, start_seconds = start_server(root, db, work, (url, key), args.timeout)
    try:
        reader = MeiliReader(url, key)
        first = follow(server.port)
        edits = measure_edits(server.port, root, reader, args.edits, rng, args.timeout)
        writes = measure_writes(server.port, token, reader, args.writes, rng, args.timeout)
        burst = measure_burst(server.port, root, work, reader, args.burst, rng, args.timeout)
    finally:
        server.stop()
        if standin is not None:
            standin.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return {
        "command": "python -m benchmarks.meili_follow_latency " + " ".join(args.argv),
        "date": started_at,
        "meilisearch": "stand-in (tests/support)" if standin is not None else "real",
        "machine": {"cpus": os.cpu_count(), "load_start": load_start, "load_end": load_average()},
        "corpus": {"root": str(source), "files": sum(1 for _ in source.rglob("*.md"))},
        "first_push": {
            "seconds_from_start": round(start_seconds, 2),
            "documents": first.get("documents_pushed"),
            "files": first.get("files_pushed"),
        },
        "edits": edits,
        "writes": writes,
        "burst": burst,
    }


def table(result: dict[str, Any]) -> str:
    first, edits, writes, burst = (result[k] for k in ("first_push", "edits", "writes", "burst"))

    def spread(measure: dict[str, Any]) -> str:
        return f"p50 {measure.get('p50_ms')} ms, p90 {measure.get('p90_ms')} ms, " + (
            f"max {measure.get('max_ms')} ms ({measure['found']} of {measure['count']} found)"
        )

    rows = [
        ("Measure", f"Result (Meilisearch: {result['meilisearch']})"),
        ("---", "---"),
        (
            f"start, first index and first push ({first['documents']} documents)",
            f"{first['seconds_from_start']} s",
        ),
        ("editor save to searchable through the server", spread(edits["searchable"])),
        ("editor save to Meilisearch (the same edits)", spread(edits)),
        ("API write (201) to Meilisearch", spread(writes)),
        (
            f"burst: {burst['files']} new files ({burst['entries']} entries)",
            f"all in Meilisearch after {burst['seconds']} s, pushes {burst['pushes']}",
        ),
    ]
    return "\n".join(f"| {left} | {right} |" for left, right in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--root", required=True, help="the dialogs folder (copied, never written)")
    parser.add_argument("--meili-url", help="a real Meilisearch (default: the tests' stand-in)")
    parser.add_argument("--meili-key")
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=600.0, help="per wait, in seconds")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (its log)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    result = run(args)
    result["table"] = table(result)
    print(json.dumps(result, indent=2) if args.json else result["table"])
    ok = all(result[k]["found"] == result[k]["count"] for k in ("edits", "writes"))
    return 0 if ok and result["burst"]["seconds"] is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
