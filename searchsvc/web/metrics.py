"""GET /metrics: the service's numbers in the Prometheus text format (prometheus-client).

Each app has its own CollectorRegistry (tests build many apps in one process; the
library's global one would mix them). Two kinds of numbers:

- counted as requests are answered (an after_request hook): requests by route, method
  and status; search latency by the engine that answered (web/api.py hands the timing
  over in `g.search_timing`); writes by operation and status (201, 409, 422, 503, ...);
- read from the repository when scraped (StackCollector, from the same report as
  /api/dialog/health): the mode, switches to the files and back, the top-k index's lag
  (change-log rows behind the database), entries, the watcher's events, reindexes,
  their seconds and entries, and the pushes to Meilisearch by outcome (meili_follow);
  and the door's (DoorCollector, web/write_first.py): reads held back by writes, for how
  long in all, the search slots.

Who may read it: settings.metrics (DIALOGSEARCH_METRICS). `serve` turns "auto" into "open"
when it listens on loopback only, else "token": `Authorization: Bearer <API token>`, the
token writes take (web/auth.py). An app not started by serve treats "auto" as "token".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)

from searchsvc.repository import Repository
from searchsvc.settings import Settings
from searchsvc.web.auth import TOKEN_CONFIG_KEY, check_bearer

EXTENSION_KEY = "dialogsearch.metrics"
PATH = "/metrics"
PREFIX = "dialogsearch"
#: Search latency buckets, in seconds: most searches take milliseconds (docs/benchmarks.md).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: The write views (blueprint api_write) and the operation each one is.
WRITE_OPERATIONS = {
    "api_write.create_entry": "create",
    "api_write.update_entry": "update",
    "api_write.delete_entry": "delete",
    "api_write.sync_now": "sync",
}
MODES = ("database", "files")


def access_for(setting: str, host: str) -> str:
    """What "auto" means for a server listening on `host`: open on loopback, else token."""
    if setting != "auto":
        return setting
    return "open" if is_loopback(host) else "token"


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address) reaches only this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Metrics:
    """One app's registry: the counters its requests move, and the stack's collector."""

    def __init__(self, repository: Repository) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            f"{PREFIX}_http_requests",
            "HTTP requests answered, by route, method and status",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.search_seconds = Histogram(
            f"{PREFIX}_search_seconds",
            "Time to answer a search (API search and entries), by the engine that answered",
            ["engine"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.writes = Counter(
            f"{PREFIX}_writes",
            "Writes through the API (create, update, delete, sync), by status",
            ["operation", "status"],
            registry=self.registry,
        )
        self.registry.register(StackCollector(repository))

    def record(self, response: Response) -> None:
        """Count one answered request (its route, not its URL: bounded label values)."""
        rule = request.url_rule
        endpoint = rule.rule if rule is not None else "unmatched"
        status = str(response.status_code)
        self.requests.labels(endpoint, request.method, status).inc()
        timing = g.pop("search_timing", None)
        if timing is not None:
            engine, seconds = timing
            self.search_seconds.labels(engine).observe(seconds)
        operation = WRITE_OPERATIONS.get(request.endpoint or "")
        if operation is not None and request.method != "GET":
            self.writes.labels(operation, status).inc()


class StackCollector:
    """Reads the repository's health report at scrape time (mode, lag, watcher)."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository

    def collect(self) -> Iterator[Metric]:
        try:
            health = self.repository.health()
        except Exception:  # noqa: BLE001 - a scrape reports what it can; `up` says the rest
            health = {"ok": False}
        yield _gauge("up", "1 when searches can be answered now", int(bool(health.get("ok"))))
        mode = GaugeMetricFamily(
            f"{PREFIX}_mode", "Where entries come from now: 1 for the current mode", labels=["mode"]
        )
        for name in MODES:
            mode.add_metric([name], int(health.get("mode") == name))
        yield mode
        yield from _fallback(health)
        yield from _database(health.get("database"))
        yield from _watcher(health.get("watcher"))
        yield from _meili_follow(health.get("meilisearch_follow"))


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"{PREFIX}_{name}", documentation, value=value)


def _fallback(health: dict[str, Any]) -> Iterator[Metric]:
    if "switches" in health:  # a stack with a database and files (DatabaseRecovery)
        yield _counter(
            "fallback_switches", "Switches from the database to the files", health["switches"]
        )
        yield _counter(
            "fallback_recoveries",
            "Switches back from the files to the database",
            health.get("recoveries", 0),
        )


def _database(database: Any) -> Iterator[Metric]:
    if not isinstance(database, dict):
        return
    if isinstance(database.get("entries"), int):
        yield _gauge("entries", "Entries in the database (sections included)", database["entries"])
    topk = database.get("topk")
    if isinstance(topk, dict):
        yield _gauge(
            "topk_ready", "1 when the top-k index answers searches", int(bool(topk.get("ready")))
        )
        if isinstance(topk.get("behind"), int):
            yield _gauge(
                "topk_behind_rows",
                "Change-log rows the top-k index has not taken yet (its lag behind the database)",
                topk["behind"],
            )


def _watcher(watcher: Any) -> Iterator[Metric]:
    if not isinstance(watcher, dict) or watcher.get("mode") == "off":
        return
    yield _gauge(
        "watcher_running",
        "1 while serve follows the dialogs folder",
        int(bool(watcher.get("running"))),
    )
    yield _counter(
        "watcher_events", "File-system events about dialog files", watcher.get("events", 0)
    )
    yield _counter(
        "watcher_rescans", "Periodic rescans of the dialogs folder", watcher.get("rescans", 0)
    )
    yield _gauge(
        "watcher_pending_files",
        "Changed files waiting for a reindex",
        len(watcher.get("pending_files", [])),
    )
    seconds = SummaryMetricFamily(
        f"{PREFIX}_reindex_seconds",
        "Reindexes run by the watcher, and their seconds",
        count_value=watcher.get("reindexes", 0),
        sum_value=watcher.get("reindex_seconds_total", 0.0),
    )
    yield seconds
    entries = CounterMetricFamily(
        f"{PREFIX}_reindexed_entries", "Entries the watcher's reindexes changed", labels=["change"]
    )
    for change, count in sorted(watcher.get("entries_reindexed", {}).items()):
        entries.add_metric([change], count)
    yield entries
    last = watcher.get("last_reindex")
    if isinstance(last, dict):
        yield _gauge(
            "last_reindex_seconds", "Seconds the last reindex took", last.get("seconds", 0)
        )


def _meili_follow(follow: Any) -> Iterator[Metric]:
    if not isinstance(follow, dict):
        return
    pushes = CounterMetricFamily(
        f"{PREFIX}_meili_pushes",
        "Pushes of changes to Meilisearch, by outcome (ok, failed, busy: a lock was held, "
        "skipped: the index already held the files)",
        labels=["outcome"],
    )
    for outcome, count in sorted(follow.get("pushes", {}).items()):
        pushes.add_metric([outcome], count)
    yield pushes
    yield _counter(
        "meili_files_pushed",
        "Files pushed to (or removed from) Meilisearch by the follower",
        follow.get("files_pushed", 0),
    )
    yield _gauge(
        "meili_pending_files",
        "Changed files not yet in Meilisearch (asked for, not yet pushed)",
        follow.get("pending", 0),
    )
    yield _gauge(
        "meili_push_failing",
        "1 while the last push to Meilisearch failed (retried with a backoff)",
        int(follow.get("last_error") is not None),
    )


def metrics_view() -> Response:
    """The registry in the Prometheus text format (a bearer token first when asked for)."""
    settings: Settings = current_app.extensions["dialogsearch.settings"]
    if settings.metrics != "open":
        token = current_app.config.get(TOKEN_CONFIG_KEY)
        check_bearer(request.headers.get("Authorization"), token, what="Metrics")
    registry = current_app.extensions[EXTENSION_KEY].registry
    return Response(generate_latest(registry), mimetype=None, content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask, repository: Repository, settings: Settings) -> None:
    """Count the app's requests and serve GET /metrics (unless metrics are off)."""
    if settings.metrics == "off":
        return
    metrics = Metrics(repository)
    app.extensions[EXTENSION_KEY] = metrics

    @app.after_request
    def count(response: Response) -> Response:
        metrics.record(response)
        return response

    app.add_url_rule(PATH, "metrics", metrics_view, methods=["GET"])


def report_door(app: Flask, door: Any) -> None:
    """Add the door's numbers to `app`'s /metrics (nothing when metrics are off)."""
    metrics = app.extensions.get(EXTENSION_KEY)
    if metrics is not None:
        metrics.registry.register(DoorCollector(door))


class DoorCollector:
    """The door's numbers (searchsvc/web/write_first.py): how often reads waited for
    writes, how long in all, and the search slots."""

    def __init__(self, door: Any) -> None:
        self.door = door

    def collect(self) -> Iterator[Metric]:
        door = self.door
        yield CounterMetricFamily(
            "dialogsearch_write_first_writes", "Writes that held new reads back", door.writes
        )
        yield CounterMetricFamily(
            "dialogsearch_write_first_reads_held", "Reads that waited for a write", door.reads_held
        )
        yield CounterMetricFamily(
            "dialogsearch_write_first_wait_seconds",
            "Seconds reads waited for writes, in all",
            door.read_wait_seconds,
        )
        yield GaugeMetricFamily(
            "dialogsearch_search_slots", "Searches run at once (0: no limit)", door.search_slots
        )
