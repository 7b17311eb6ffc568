"""Client threads that write and search a live server, and the ledger of what it acknowledged.

A write answered 2xx is *acknowledged*: the ledger holds the fields it must
have (or that it must be gone). A write whose answer never came (the server was
killed, the connection dropped) is *uncertain*: afterwards the entry must be
exactly as before or exactly as after, never anything in between, and the
check that sees it settles which. A write answered 503 must have changed
nothing. Every answer's status, latency and error body is kept for the report
and for the scans (5xx, error shape, stack traces, paths, security headers).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from support.rel_server import AUTH

#: Fields the clients set and the checks compare.
COMPARED = ("speaker", "target", "mood_rgb", "message", "timestamp_utc")
SPEAKERS = ("KIRO", "LILITH", "CURSOR", "CASCADE", "WOLFIE", "ROSE", "CAPTAIN WOLFIE")
WORDS = (
    "search",
    "migration",
    "index",
    "dialog",
    "fleet",
    "deploy",
    "zebrafish",
    "release",
    "routing",
    "doctrine",
    "crash",
    "ledger",
)
DELETED = None
REQUEST_TIMEOUT = 15.0


@dataclass
class Answer:
    """One request as the client saw it."""

    kind: str
    status: int | None  # None: no answer (connection refused/reset, timeout)
    seconds: float
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Uncertain:
    """A write without an answer: the entry must end up as `before` or as `after`."""

    before: dict[str, Any] | None  # None: did not exist
    after: dict[str, Any] | None  # None: deleted
    marker: str | None = None  # a POST's unique message (its id is not known)


class Ledger:
    """What the server acknowledged, what is uncertain, and every answer (thread-safe)."""

    def __init__(self, keep_bodies: int = 2000, tag: str = "") -> None:
        self.tag = tag  # makes markers unique across ledgers of one run
        self.lock = threading.Lock()
        self.expected: dict[int, dict[str, Any] | None] = {}
        self.uncertain: dict[int, Uncertain] = {}
        self.uncertain_posts: dict[str, dict[str, Any]] = {}
        self.refused_markers: set[str] = set()
        self.owned: dict[int, list[int]] = {}
        self.statuses: Counter[tuple[str, int | None]] = Counter()
        self.latencies: list[float] = []
        self.server_errors: list[Answer] = []
        self.error_bodies: list[Answer] = []
        self.answers_seen = 0
        self.header_failures: list[str] = []
        self.keep_bodies = keep_bodies
        self.sequence = 0
        self.unexpected: list[str] = []
        self.sources: Counter[str] = Counter()
        self.latency_by_kind: dict[str, list[float]] = {}

    # ---- recording -------------------------------------------------------------------

    def next_marker(self, worker: int) -> str:
        with self.lock:
            self.sequence += 1
            return f"rel{self.tag}w{worker}n{self.sequence}x"

    def record(self, answer: Answer) -> None:
        with self.lock:
            self.statuses[(answer.kind, answer.status)] += 1
            if answer.status is None:
                return
            self.answers_seen += 1
            self.latencies.append(answer.seconds)
            self.latency_by_kind.setdefault(answer.kind, []).append(answer.seconds)
            if answer.status >= 500 and answer.status != 503:
                self.server_errors.append(answer)
            if answer.status >= 400 and len(self.error_bodies) < self.keep_bodies:
                self.error_bodies.append(answer)
            for name in ("Content-Security-Policy", "X-Content-Type-Options"):
                if name not in answer.headers and len(self.header_failures) < 50:
                    self.header_failures.append(f"{answer.kind} {answer.status}: no {name}")

    def acknowledge(self, entry_id: int, fields: dict[str, Any] | None, worker: int) -> None:
        with self.lock:
            self.expected[entry_id] = fields
            self.uncertain.pop(entry_id, None)
            owned = self.owned.setdefault(worker, [])
            if fields is DELETED:
                if entry_id in owned:
                    owned.remove(entry_id)
            elif entry_id not in owned:
                owned.append(entry_id)

    def mark_uncertain(self, entry_id: int, before: Any, after: Any, worker: int) -> None:
        with self.lock:
            self.uncertain[entry_id] = Uncertain(before, after)
            owned = self.owned.setdefault(worker, [])
            if entry_id in owned:
                owned.remove(entry_id)

    def mark_uncertain_post(self, marker: str, fields: dict[str, Any]) -> None:
        with self.lock:
            self.uncertain_posts[marker] = fields

    def note_unexpected(self, text: str) -> None:
        with self.lock:
            if len(self.unexpected) < 100:
                self.unexpected.append(text)

    # ---- reading ---------------------------------------------------------------------

    def acknowledged_writes(self) -> int:
        return sum(
            count
            for (kind, status), count in self.statuses.items()
            if kind in ("post", "put", "delete") and status is not None and status < 300
        )

    def count(self, kinds: tuple[str, ...], status_test: Any) -> int:
        return sum(
            count
            for (kind, status), count in self.statuses.items()
            if kind in kinds and status_test(status)
        )

    def p99_ms(self) -> float | None:
        return percentile_ms(self.latencies, 0.99)

    def p50_ms(self) -> float | None:
        return percentile_ms(self.latencies, 0.50)


def percentile_ms(seconds: list[float], fraction: float) -> float | None:
    """The `fraction` percentile (nearest rank) in milliseconds, None for no samples."""
    if not seconds:
        return None
    ordered = sorted(seconds)
    rank = max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))
    return round(ordered[rank] * 1000, 1)


def fields_of(body: dict[str, Any]) -> dict[str, Any]:
    """The compared fields of an entry as JSON."""
    return {name: body.get(name) for name in COMPARED}


class Client(threading.Thread):
    """One client: searches and writes until `stop` is set or its budget runs out."""

    def __init__(
        self,
        worker: int,
        base_url: str,
        ledger: Ledger,
        stop: threading.Event,
        *,
        write_share: float = 0.5,
        dialog_files: tuple[str, ...] = ("reliability/a.md", "reliability/b.md"),
        max_requests: int = 100_000,
        deadline: float | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(name=f"client-{worker}", daemon=True)
        self.worker = worker
        self.base = base_url
        self.ledger = ledger
        self.stop = stop
        self.write_share = write_share
        self.dialog_files = dialog_files
        self.max_requests = max_requests
        self.deadline = deadline
        self.random = random.Random(seed * 1000 + worker)
        self.session = requests.Session()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            for _ in range(self.max_requests):
                if self.stop.is_set():
                    return
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    return
                if self.random.random() < self.write_share:
                    self.write_once()
                else:
                    self.search_once()
        except BaseException as error:  # noqa: BLE001 - reported by the scenario
            self.failure = error
        finally:
            self.session.close()

    # ---- requests --------------------------------------------------------------------

    def call(self, kind: str, method: str, path: str, **options: Any) -> tuple[Answer, Any]:
        started = time.monotonic()
        try:
            response = self.session.request(
                method, self.base + path, timeout=REQUEST_TIMEOUT, **options
            )
        except requests.RequestException as error:
            # A refused connection sent nothing: the write certainly did not happen.
            refused = _refused(error)
            answer = Answer("refused" if refused else kind, None, time.monotonic() - started)
            self.ledger.record(answer)
            if refused:
                self.stop.wait(0.05)  # the server is down: do not spin
                return Answer("refused", 0, answer.seconds), None
            return answer, None
        answer = Answer(
            kind,
            response.status_code,
            time.monotonic() - started,
            response.text if response.status_code >= 400 else "",
            dict(response.headers),
        )
        self.ledger.record(answer)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 400:
            check_error_shape(self.ledger, answer, payload)
        return answer, payload

    def search_once(self) -> None:
        words = self.random.sample(WORDS, self.random.choice((1, 1, 2)))
        params: dict[str, Any] = {"q": " ".join(words), "per_page": 10}
        choice = self.random.random()
        if choice < 0.15:
            params["file"] = "reliability/"
        elif choice < 0.25:
            params["facets"] = "speaker,target,mood,file"
        elif choice < 0.35:
            params = {"q": f"rel{self.ledger.tag}w{self.worker}", "per_page": 5}
        answer, payload = self.call("search", "GET", "/api/dialog/search", params=params)
        if answer.status == 200:
            if not isinstance(payload, dict) or "hits" not in payload:
                self.ledger.note_unexpected(f"search 200 without hits: {answer.body[:200]}")
            else:
                with self.ledger.lock:
                    self.ledger.sources[str(payload.get("source"))] += 1

    def write_once(self) -> None:
        with self.ledger.lock:
            owned = list(self.ledger.owned.get(self.worker, ()))
        roll = self.random.random()
        if not owned or roll < 0.5:
            self.post()
        elif roll < 0.8:
            self.put(self.random.choice(owned))
        else:
            self.delete(self.random.choice(owned))

    def new_fields(self) -> dict[str, Any]:
        marker = self.ledger.next_marker(self.worker)
        words = " ".join(self.random.sample(WORDS, 3))
        return {
            "speaker": self.random.choice(SPEAKERS),
            "target": self.random.choice((None, "@everyone", "@KIRO @LILITH", "@fleet")),
            "mood_rgb": self.random.choice((None, "FF0000", "00CC66", "0066FF", "ABCDEF")),
            "message": f"{marker} {words}",
            "timestamp_utc": int(f"2026{self.random.randint(1, 12):02d}15120000"),
        }

    def post(self) -> None:
        fields = self.new_fields()
        body = {key: value for key, value in fields.items() if value is not None}
        body["dialog_file"] = self.random.choice(self.dialog_files)
        answer, payload = self.call("post", "POST", "/api/dialog/entry", json=body, headers=AUTH)
        marker = fields["message"].split(" ", 1)[0]
        if answer.status == 0:
            return
        if answer.status is None:
            self.ledger.mark_uncertain_post(marker, fields)
        elif answer.status == 201:
            got = fields_of(payload)
            if got != fields:
                self.ledger.note_unexpected(f"POST answered {got} for {fields}")
            self.ledger.acknowledge(int(payload["dialog_entry_id"]), fields, self.worker)
        elif answer.status == 503:
            with self.ledger.lock:
                self.ledger.refused_markers.add(marker)
        else:
            self.ledger.note_unexpected(f"POST {answer.status}: {answer.body[:300]}")

    def put(self, entry_id: int) -> None:
        with self.ledger.lock:
            before = self.ledger.expected.get(entry_id)
        assert before is not None
        change = {"message": self.new_fields()["message"]}
        if self.random.random() < 0.5:
            change["mood_rgb"] = self.random.choice(("112233", "FEDCBA", None))
        after = {**before, **change}
        answer, payload = self.call(
            "put", "PUT", f"/api/dialog/entry/{entry_id}", json=change, headers=AUTH
        )
        if answer.status == 0:
            return
        if answer.status is None:
            self.ledger.mark_uncertain(entry_id, before, after, self.worker)
        elif answer.status == 200:
            got = fields_of(payload)
            if got != after:
                self.ledger.note_unexpected(f"PUT {entry_id} answered {got}, wanted {after}")
            self.ledger.acknowledge(entry_id, after, self.worker)
        elif answer.status != 503:
            self.ledger.note_unexpected(f"PUT {entry_id} {answer.status}: {answer.body[:300]}")

    def delete(self, entry_id: int) -> None:
        with self.ledger.lock:
            before = self.ledger.expected.get(entry_id)
        answer, _ = self.call("delete", "DELETE", f"/api/dialog/entry/{entry_id}", headers=AUTH)
        if answer.status == 0:
            return
        if answer.status is None:
            self.ledger.mark_uncertain(entry_id, before, DELETED, self.worker)
        elif answer.status in (200, 204):
            self.ledger.acknowledge(entry_id, DELETED, self.worker)
        elif answer.status != 503:
            self.ledger.note_unexpected(f"DELETE {entry_id} {answer.status}: {answer.body[:300]}")


def _refused(error: BaseException) -> bool:
    """Whether the connection was refused (nothing reached a server)."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        pending += [a for a in current.args if isinstance(a, BaseException)]
        for linked in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(linked, BaseException):
                pending.append(linked)
    return "Connection refused" in str(error)


def check_error_shape(ledger: Ledger, answer: Answer, payload: Any) -> None:
    """An /api error must be the canonical shape with the same status."""
    ok = (
        isinstance(payload, dict)
        and payload.get("ok") is False
        and payload.get("status") == answer.status
        and isinstance(payload.get("error"), str)
        and isinstance(payload.get("errors"), list)
    )
    if not ok:
        ledger.note_unexpected(
            f"{answer.kind} {answer.status} not in the error shape: {answer.body[:200]}"
        )


def run_clients(
    base_url: str,
    ledger: Ledger,
    *,
    clients: int,
    seconds: float,
    write_share: float,
    dialog_files: tuple[str, ...],
    seed: int,
    stop: threading.Event | None = None,
) -> list[Client]:
    """Start `clients` threads for at most `seconds`; return them (running)."""
    stop = stop or threading.Event()
    deadline = time.monotonic() + seconds
    threads = [
        Client(
            worker,
            base_url,
            ledger,
            stop,
            write_share=write_share,
            dialog_files=dialog_files,
            deadline=deadline,
            seed=seed,
        )
        for worker in range(clients)
    ]
    for thread in threads:
        thread.start()
    return threads


def join_clients(threads: list[Client], timeout: float) -> None:
    """Wait for the client threads (bounded); re-raise the first failure."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = [thread.name for thread in threads if thread.is_alive()]
    assert not alive, f"client threads still running after {timeout} s: {alive}"
    for thread in threads:
        if thread.failure is not None:
            raise thread.failure
