"""A bounded HTTP load generator for loopback servers: N keep-alive clients, latencies.

Each client thread sends the given request paths in turn (each client starts at
a different offset) until the cell's time or request budget is spent; the
request in flight when time runs out is finished and counted.
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from benchmarks.processes import LOOPBACK


@dataclass
class CellResult:
    """What one (server, query kind, concurrency) cell measured; latencies in seconds."""

    concurrency: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    error_samples: dict[str, str] = field(default_factory=dict)  # status -> a body (cut)

    @property
    def ok(self) -> int:
        """Requests answered 200."""
        return len(self.latencies)

    @property
    def errors(self) -> int:
        """Requests answered otherwise, or not at all."""
        return sum(count for status, count in self.statuses.items() if status != "200")

    def summary(self) -> dict[str, object]:
        """JSON-ready figures: req/s (200 answers only), p50/p95/p99/max in ms, errors."""
        ordered = sorted(self.latencies)
        return {
            "concurrency": self.concurrency,
            "requests": self.ok,
            "errors": self.errors,
            "statuses": dict(self.statuses),
            "seconds": round(self.seconds, 3),
            "rps": round(self.ok / self.seconds, 2) if self.seconds > 0 else 0.0,
            "p50_ms": _ms(percentile(ordered, 50)),
            "p95_ms": _ms(percentile(ordered, 95)),
            "p99_ms": _ms(percentile(ordered, 99)),
            "max_ms": _ms(ordered[-1] if ordered else None),
            "error_samples": dict(self.error_samples),
        }


def percentile(ordered: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of sorted values (None when there are none)."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n * pct / 100), at least 1
    return ordered[int(rank) - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def run_cell(
    port: int,
    paths: Sequence[str],
    *,
    concurrency: int,
    seconds: float,
    max_requests: int,
    request_timeout: float,
    start: int = 0,
) -> CellResult:
    """Send `paths` from `concurrency` clients for at most `seconds` s / `max_requests` requests.

    Client i starts at `start` + i * len(paths) / concurrency and goes round.
    """
    result = CellResult(concurrency=concurrency)
    lock = threading.Lock()
    budget = itertools.count()
    started = time.monotonic()
    deadline = started + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection(LOOPBACK, port, timeout=request_timeout)
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        samples: dict[str, str] = {}
        position = start + index * max(1, len(paths) // concurrency)
        try:
            while time.monotonic() < deadline and next(budget) < max_requests:
                path = paths[position % len(paths)]
                position += 1
                sent = time.perf_counter()
                try:
                    connection.request("GET", path)
                    response = connection.getresponse()
                    body = response.read()
                    status = str(response.status)
                except (OSError, http.client.HTTPException) as error:
                    status, body = type(error).__name__, str(error).encode()
                    connection.close()  # the next request opens a new connection
                elapsed = time.perf_counter() - sent
                statuses[status] += 1
                if status == "200":
                    latencies.append(elapsed)
                elif status not in samples:
                    samples[status] = f"{path} -> {body[:300].decode('utf-8', 'replace')}"
        finally:
            connection.close()
            with lock:
                result.latencies.extend(latencies)
                result.statuses.update(statuses)
                for status, sample in samples.items():
                    result.error_samples.setdefault(status, sample)

    threads = [threading.Thread(target=client, args=(index,)) for index in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - started
    return result
