"""Search over HTTP: our server and Datasette side by side, cell by cell, on loopback.

For every query kind and concurrency, the cells of all servers run one right
after the other, so that the machine's background load hits them alike.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.http_load import CellResult, run_cell
from benchmarks.processes import LOOPBACK, Server, free_port
from benchmarks.queries import KINDS, datasette_path, our_path, queries_of
from benchmarks.reindex_runs import dialogsearch_command

HEALTH = "/api/dialog/health"


@dataclass(frozen=True)
class LoadSettings:
    """How long and how hard each cell runs."""

    cell_seconds: float
    max_requests: int
    request_timeout: float
    concurrencies: tuple[int, ...] = (1, 8)
    warmup_requests: int = 50


def datasette_command() -> list[str] | None:
    """The `datasette` executable beside this Python or on PATH, or None."""
    beside = Path(sys.executable).with_name("datasette")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("datasette")
    return [found] if found else None


def health_says(mode: str, *, topk: bool = False) -> Callable[[int, bytes], bool]:
    """A readiness check: /api/dialog/health answers 200 with this mode.

    With `topk`, the top-k index must also be ready (built and caught up), when
    the server has one (database.topk in the health answer; TOPK=off has none).
    """

    def ready(status: int, body: bytes) -> bool:
        if status != 200:
            return False
        try:
            health = json.loads(body)
        except ValueError:
            return False
        if health.get("mode") != mode:
            return False
        index = (health.get("database") or {}).get("topk")
        return not topk or index is None or bool(index.get("ready"))

    return ready


def our_server(
    root: Path,
    db_path: Path,
    log_dir: Path,
    *,
    name: str = "serve",
    no_reindex: bool = False,
    extra_env: dict[str, str] | None = None,
) -> Server:
    """`dialogsearch serve` on a free loopback port (not started yet)."""
    port = free_port()
    env = dict(os.environ)
    env["DIALOGSEARCH_API_TOKEN"] = secrets.token_hex(16)
    env.update(extra_env or {})
    command = [*dialogsearch_command(), "serve", "--root", str(root), "--db", str(db_path)]
    command += ["--host", LOOPBACK, "--port", str(port)]
    command += ["--no-reindex"] if no_reindex else []
    log_path = log_dir / f"{name}.log"
    return Server("dialogsearch serve", command, port, HEALTH, log_path=log_path, env=env)


def datasette_server(db_path: Path, log_dir: Path) -> Server | None:
    """`datasette serve` of the raw database on a free loopback port, or None if absent."""
    command = datasette_command()
    if command is None:
        return None
    port = free_port()
    command += ["serve", str(db_path), "--host", LOOPBACK, "--port", str(port)]
    return Server(
        "datasette", command, port, "/-/versions.json", log_path=log_dir / "datasette.log"
    )


def engine_paths(mix: Sequence[dict[str, str]], kind: str, engine: str) -> list[str]:
    """The request paths of `kind` for one engine (ours, datasette, datasette_array)."""
    queries = queries_of(mix, kind)
    if engine == "ours":
        return [our_path(query, kind) for query in queries]
    shape_array = engine == "datasette_array"
    return [datasette_path(query, kind, shape_array=shape_array) for query in queries]


def measure_search(
    mix: Sequence[dict[str, str]],
    servers: dict[str, Server | None],
    settings: LoadSettings,
    *,
    log: Callable[[str], None],
) -> list[tuple[dict[str, object], list[float]]]:
    """Every (kind, concurrency, engine) cell and its latencies; absent servers skipped.

    `servers` maps engine names to started servers; "datasette_array" uses the
    "datasette" server.
    """
    cells: list[tuple[dict[str, object], list[float]]] = []
    engines = ("ours", "datasette", "datasette_array")
    for engine in engines:
        server = servers.get(_server_name(engine))
        if server is not None:
            paths = engine_paths(mix, "term", engine) or engine_paths(mix, "prefix", engine)
            run_cell(
                server.port,
                paths,
                concurrency=1,
                seconds=settings.cell_seconds,
                max_requests=settings.warmup_requests,
                request_timeout=settings.request_timeout,
            )
    for number, (kind, concurrency) in enumerate(
        (kind, concurrency) for kind in KINDS for concurrency in settings.concurrencies
    ):
        for engine in engines:
            server = servers.get(_server_name(engine))
            if server is None:
                continue
            paths = engine_paths(mix, kind, engine)
            if not paths:
                continue
            result: CellResult = run_cell(
                server.port,
                paths,
                concurrency=concurrency,
                seconds=settings.cell_seconds,
                max_requests=settings.max_requests,
                request_timeout=settings.request_timeout,
                start=number * 7919,  # each cell begins elsewhere in the mix
            )
            cell = {"engine": engine, "kind": kind, **result.summary()}
            cell["distinct_queries"] = len(set(paths))
            cells.append((cell, result.latencies))
            log(
                f"  {kind:<13} c={concurrency} {engine:<16} {cell['rps']:>8} req/s "
                f"p50 {cell['p50_ms']} p99 {cell['p99_ms']} ms errors {cell['errors']}"
            )
    return cells


def _server_name(engine: str) -> str:
    return "datasette" if engine.startswith("datasette") else engine
