"""Search under writes: 8 HTTP clients, 90 % searches from the query mix, 10 % writes.

    python -m benchmarks.write_load --entries 100000
    python -m benchmarks.write_load --entries 1000000 --baseline-src /tmp/wl-base

Each client sends a search of the generated mix (every kind of benchmarks.queries)
or, one time in ten, a write through the API (half POST into a corpus file, the
rest PUT or DELETE of an entry it created). The request after a write is that
writer's read-your-writes search: the write's unique word must find the entry
(PUT, POST) or no longer find it (DELETE). Reported per variant: search, RYW
search and write p50/p99, 5xx, RYW misses, which engine answered the searches.

Every variant serves its own copy of the corpus (hard links: the writer replaces a
file by rename, the cached corpus is never changed) and of one reindexed database.
`--baseline-src DIR` adds a variant served by the code in DIR (e.g. an export of
main): both run in the same process, round by round alternating, so the machine's
load hits them alike; compare their ratio, not their figures across runs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from benchmarks.corpus import PROJECT_ROOT, ensure_corpus, load_queries
from benchmarks.http_load import percentile
from benchmarks.machine import load_average
from benchmarks.processes import LOOPBACK, Server
from benchmarks.queries import KINDS, our_path, queries_of
from benchmarks.reindex_runs import run_reindex
from benchmarks.search_runs import health_says, our_server

WRITE_SHARE = 0.1
#: How many corpus files the POSTs go to (chosen with the seed): API writers keep to a few.
WRITE_FILES = 8
REQUEST_TIMEOUT = 30.0
WRITE_OPS = ("post", "put", "delete")


@dataclass
class Tally:
    """What one variant's clients saw, over every round (latencies in seconds)."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    engines: Counter[str] = field(default_factory=Counter)
    ryw_engines: Counter[str] = field(default_factory=Counter)
    ryw_checked: int = 0
    ryw_missed: list[str] = field(default_factory=list)
    #: One request and answer per (kind, status) that was not 2xx.
    error_samples: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    loads: list[list[float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def summary(self) -> dict[str, object]:
        """JSON-ready figures (ms)."""
        writes = [t for op in WRITE_OPS for t in self.latencies.get(op, [])]
        searches = self.latencies.get("search", []) + self.latencies.get("ryw", [])
        figures: dict[str, object] = {
            "seconds": round(self.seconds, 1),
            "requests": sum(len(values) for values in self.latencies.values()),
            "search": _pcts(searches),
            "search_mix": _pcts(self.latencies.get("search", [])),
            "ryw_search": _pcts(self.latencies.get("ryw", [])),
            "write": _pcts(writes),
            **{op: _pcts(self.latencies.get(op, [])) for op in WRITE_OPS},
            "statuses": dict(self.statuses),
            "5xx": sum(n for status, n in self.statuses.items() if status.startswith("5")),
            "no_answer": sum(n for status, n in self.statuses.items() if not status.isdigit()),
            "engines": dict(self.engines),
            "ryw_engines": dict(self.ryw_engines),
            "ryw_checked": self.ryw_checked,
            "ryw_missed": len(self.ryw_missed),
            "ryw_missed_samples": self.ryw_missed[:5],
            "error_samples": dict(self.error_samples),
            "load_average": self.loads,
        }
        figures["rps"] = round(int(figures["requests"]) / self.seconds, 1) if self.seconds else 0
        return figures


def _pcts(values: list[float]) -> dict[str, object]:
    ordered = sorted(values)
    found = {f"p{pct}_ms": percentile(ordered, pct) for pct in (50, 99)}
    return {
        "n": len(ordered),
        **{key: None if v is None else round(v * 1000, 1) for key, v in found.items()},
    }


class LoadClient(threading.Thread):
    """One keep-alive client: searches and writes until the deadline."""

    def __init__(self, number: int, port: int, plan: dict, tally: Tally, deadline: float) -> None:
        super().__init__(name=f"write-load-{number}", daemon=True)
        self.number, self.port, self.plan, self.tally = number, port, plan, tally
        self.deadline = deadline
        self.random = random.Random(plan["seed"] * 1000 + number)
        self.auth = {"Authorization": f"Bearer {plan['token']}"}
        self.owned: dict[int, str] = {}  # entry id -> its current marker
        self.sequence = 0
        self.connection = http.client.HTTPConnection(LOOPBACK, port, timeout=REQUEST_TIMEOUT)
        self.latencies: dict[str, list[float]] = {}
        self.statuses: Counter[str] = Counter()

    def run(self) -> None:
        pending: tuple[str, int] | None = None  # (marker, id) the next search checks
        try:
            while time.monotonic() < self.deadline:
                if pending is not None:
                    self.read_your_write(*pending)
                    pending = None
                elif self.random.random() < WRITE_SHARE:
                    pending = self.write()
                else:
                    self.call("search", "GET", self.random.choice(self.plan["paths"]))
        finally:
            self.connection.close()
            with self.tally.lock:
                for kind, values in self.latencies.items():
                    self.tally.latencies.setdefault(kind, []).extend(values)
                self.tally.statuses.update(self.statuses)

    def call(self, kind: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """(status, JSON answer) of one request; status 0 when none came."""
        headers = {**self.auth, "Content-Type": "application/json"} if body is not None else {}
        headers.update(self.auth if method != "GET" else {})
        sent = time.perf_counter()
        try:
            payload = json.dumps(body).encode() if body is not None else None
            self.connection.request(method, path, body=payload, headers=headers)
            response = self.connection.getresponse()
            data, status = response.read(), response.status
        except ConnectionRefusedError:  # the server is gone: stop, do not spin (see measure)
            self.statuses["ConnectionRefusedError"] += 1
            self.deadline = 0.0
            return 0, {}
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()
            self.statuses[type(error).__name__] += 1
            return 0, {}
        self.latencies.setdefault(kind, []).append(time.perf_counter() - sent)
        self.statuses[str(status)] += 1
        try:
            answer = json.loads(data)
        except ValueError:
            answer = {}
        if status >= 300:
            with self.tally.lock:
                sample = f"{method} {path} -> {data[:300].decode('utf-8', 'replace')}"
                self.tally.error_samples.setdefault(f"{kind} {status}", sample)
        if kind in ("search", "ryw") and status == 200:
            counter = self.tally.engines if kind == "search" else self.tally.ryw_engines
            with self.tally.lock:
                counter[str(answer.get("engine"))] += 1
        return status, answer if isinstance(answer, dict) else {}

    def marker(self) -> str:
        self.sequence += 1
        return f"wlz{self.plan['tag']}c{self.number}n{self.sequence}q"

    def write(self) -> tuple[str, int] | None:
        """One POST, PUT or DELETE; (its marker, id) for the next search, None on failure."""
        roll = self.random.random()
        if not self.owned or roll < 0.5:
            marker = self.marker()
            body = {
                "speaker": self.random.choice(("KIRO", "LILITH", "WOLFIE", "CURSOR")),
                "message": f"{marker} load test {self.random.choice(('alpha', 'beta'))}",
                "dialog_file": self.random.choice(self.plan["files"]),
                "timestamp_utc": int(f"2026{self.random.randint(1, 12):02d}15120000"),
            }
            status, answer = self.call("post", "POST", "/api/dialog/entry", body)
            if status != 201:
                return None
            self.owned[int(answer["dialog_entry_id"])] = marker
            return marker, int(answer["dialog_entry_id"])
        entry_id = self.random.choice(sorted(self.owned))
        if roll < 0.8:
            marker = self.marker()
            change = {"message": f"{marker} changed under load"}
            status, _ = self.call("put", "PUT", f"/api/dialog/entry/{entry_id}", change)
            if status != 200:
                return None
            self.owned[entry_id] = marker
            return marker, entry_id
        status, _ = self.call("delete", "DELETE", f"/api/dialog/entry/{entry_id}")
        if status not in (200, 204):
            return None
        return self.owned.pop(entry_id), -entry_id  # a negative id: must be gone

    def read_your_write(self, marker: str, entry_id: int) -> None:
        path = "/api/dialog/search?" + urlencode({"q": marker + " ", "per_page": 5})
        status, answer = self.call("ryw", "GET", path)
        if status != 200:
            return
        found = {hit.get("dialog_entry_id") for hit in answer.get("hits", [])}
        # A deleted entry (negative id) must be gone; a written one must be found.
        missed = (-entry_id in found) if entry_id < 0 else (entry_id not in found)
        with self.tally.lock:
            self.tally.ryw_checked += 1
            if missed:
                engine = answer.get("engine")
                self.tally.ryw_missed.append(f"{marker} id {entry_id} engine {engine}")


def run_round(server: Server, plan: dict, tally: Tally, seconds: float, clients: int) -> None:
    """`clients` clients against `server` for `seconds`; adds to `tally`."""
    started = time.monotonic()
    tally.loads.append(load_average())
    threads = [
        LoadClient(number, server.port, plan, tally, started + seconds) for number in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + REQUEST_TIMEOUT * 2)
    tally.seconds += time.monotonic() - started


def mix_paths(mix: list[dict[str, str]]) -> list[str]:
    """The search paths of every kind, each kind the same share."""
    per_kind = [[our_path(query, kind) for query in queries_of(mix, kind)] for kind in KINDS]
    shortest = min(len(paths) for paths in per_kind if paths)
    return [path for paths in per_kind if paths for path in paths[:shortest]]


def write_files(root: Path, seed: int) -> list[str]:
    """WRITE_FILES corpus files (relative paths) the POSTs go to."""
    files = sorted(str(path.relative_to(root)) for path in root.rglob("*.md"))
    return random.Random(seed).sample(files, min(WRITE_FILES, len(files)))


def prepare_variant(root: Path, base_db: Path, folder: Path) -> tuple[Path, Path]:
    """A hard-linked copy of the tree and a copy of the database (and its top-k index)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(root), str(folder / "dialogs")], check=True)
    db = folder / "dialogs.db"
    for suffix in ("", "-wal", ".topk"):
        source = Path(f"{base_db}{suffix}")
        if source.is_dir():
            shutil.copytree(source, f"{db}{suffix}")
        elif source.exists():
            shutil.copy2(source, f"{db}{suffix}")
    return folder / "dialogs", db


def variant_server(name: str, root: Path, db: Path, src: Path | None, token: str) -> Server:
    """`dialogsearch serve` of the copy, with the code in `src` (None: this checkout)."""
    env = {"DIALOGSEARCH_API_TOKEN": token}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return our_server(root, db, db.parent, name=f"serve-{name}", extra_env=env)


def measure(
    root: Path,
    base_db: Path,
    mix: list[dict[str, str]],
    work: Path,
    *,
    seconds: float,
    rounds: int,
    clients: int = 8,
    baseline_src: Path | None = None,
    seed: int = 7,
    log=print,
) -> dict[str, dict]:
    """Every variant's summary: "ours", and "baseline" when `baseline_src` is given."""
    variants: dict[str, Path | None] = {"ours": None}
    if baseline_src is not None:
        variants["baseline"] = baseline_src
    plan = {"paths": mix_paths(mix), "files": write_files(root, seed), "seed": seed}
    tallies = {name: Tally() for name in variants}
    servers: dict[str, Server] = {}
    try:
        for name, src in variants.items():
            tree, db = prepare_variant(root, base_db, work / f"write-load-{name}")
            token = secrets.token_hex(16)
            servers[name] = variant_server(name, tree, db, src, token)
            servers[name].start(1800, ready=health_says("database", topk=True))
            plan[name] = token
        for number in range(rounds):
            order = list(variants) if number % 2 == 0 else list(reversed(variants))
            for name in order:
                run_plan = {**plan, "token": plan[name], "tag": f"{name[0]}{number}"}
                run_round(servers[name], run_plan, tallies[name], seconds, clients)
                server = servers[name]
                if server.process is not None and server.process.poll() is not None:
                    raise RuntimeError(
                        f"the {name} server exited during round {number + 1} (status "
                        f"{server.process.returncode}): see {server.log_path}"
                    )
                found = tallies[name].summary()
                log(f"  round {number + 1} {name}: search {found['search']} write {found['write']}")
    finally:
        for server in servers.values():
            server.stop()
    return {name: tally.summary() for name, tally in tallies.items()}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.write_load", description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/dialogsearch-bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/dialogsearch-bench-write-load"))
    parser.add_argument("--db", type=Path, help="a database of the corpus (else reindexed)")
    parser.add_argument("--seconds", type=float, default=30.0, help="per round and variant")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--baseline-src", type=Path, help="code to serve the baseline with")
    parser.add_argument("--out", type=Path, help="write the JSON here too")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    corpus = ensure_corpus(args.cache, args.entries, args.seed, args.queries)
    args.work.mkdir(parents=True, exist_ok=True)
    base_db = args.db
    if base_db is None:
        base_db = args.work / f"base-{args.entries}" / "dialogs.db"
        base_db.parent.mkdir(parents=True, exist_ok=True)
        run_reindex(corpus.markdown, base_db, full=True, timeout=3600)
    started_load = load_average()
    found = measure(
        corpus.markdown,
        base_db,
        load_queries(corpus.queries),
        args.work,
        seconds=args.seconds,
        rounds=args.rounds,
        clients=args.clients,
        baseline_src=args.baseline_src,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    command = "python -m benchmarks.write_load " + " ".join(sys.argv[1:] if argv is None else argv)
    document = {
        "command": command,
        "entries": args.entries,
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "load_average_start": started_load,
        "load_average_end": load_average(),
        "variants": found,
    }
    text = json.dumps(document, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)
    return 0 if all(v["5xx"] == 0 and v["ryw_missed"] == 0 for v in found.values()) else 1


if __name__ == "__main__":
    os.chdir(PROJECT_ROOT)
    sys.exit(main())
