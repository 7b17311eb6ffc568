"""GET /metrics: parsed by prometheus_client's own parser after real requests; the numbers move.

Apps over the real stack (build_stack, the fixture tree), one registry each.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from support.fixtures_api import LiveServer, bold, wait_until

from searchsvc.engines.repo_files import FileRepository
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.stack import SearchStack
from searchsvc.watcher import start_watcher
from searchsvc.web.app import create_app
from searchsvc.web.metrics import access_for, is_loopback

TOKEN = "metrics-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _app(dialogs_dir: Path, db_path: Path, **config: Any) -> Flask:
    base = {"ROOT": str(dialogs_dir), "DB": str(db_path), "WATCH": "off", "TESTING": True}
    return create_app({**base, "METRICS": "open", "API_TOKEN": TOKEN, **config})


@pytest.fixture
def app(dialogs_dir: Path, db_path: Path) -> Iterator[Flask]:
    app = _app(dialogs_dir, db_path)
    yield app
    app.extensions["dialogsearch"].close()


def scrape(client: FlaskClient, headers: dict[str, str] | None = None) -> dict[tuple, float]:
    """Every sample of /metrics as {(name, sorted labels): value}, read by prometheus_client."""
    response = client.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple, float], name: str, **labels: str) -> float:
    """One sample's value (0 when absent, as a counter nobody moved)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: dict[tuple, float], name: str) -> float:
    """The sum of a metric over all its labels."""
    return sum(v for (sample, _), v in samples.items() if sample == name)


def test_requests_are_counted_by_route_and_status(app: Flask) -> None:
    client = app.test_client()
    before = scrape(client)
    for _ in range(3):
        assert client.get("/api/dialog/search?q=migration").status_code == 200
    assert client.get("/api/dialog/entries?speaker=KIRO").status_code == 200
    assert client.get("/api/dialog/search?per_page=1000").status_code == 400
    assert client.get("/api/dialog/entry/1").status_code == 404
    assert client.get("/no/such/page").status_code == 404
    after = scrape(client)
    requests = "dialogsearch_http_requests_total"
    search = {"endpoint": "/api/dialog/search", "method": "GET"}
    assert value(after, requests, **search, status="200") == 3
    assert value(after, requests, **search, status="400") == 1
    entry = {"endpoint": "/api/dialog/entry/<int:entry_id>", "method": "GET"}
    assert value(after, requests, **entry, status="404") == 1
    assert value(after, requests, endpoint="unmatched", method="GET", status="404") == 1
    # The first scrape was counted too, once it was answered.
    assert value(before, requests, endpoint="/metrics", method="GET", status="200") == 0
    assert value(after, requests, endpoint="/metrics", method="GET", status="200") == 1
    # Search latency: one observation per answered search or entries page, by engine.
    assert total(after, "dialogsearch_search_seconds_count") == 4
    engines = {dict(labels)["engine"] for (name, labels) in after if name.endswith("_count")
               and name.startswith("dialogsearch_search_seconds")}  # fmt: skip
    assert engines <= {"topk", "fts5", "files"} and engines
    assert total(after, "dialogsearch_search_seconds_sum") > 0


def test_the_stack_reports_mode_entries_and_the_topk_index(app: Flask) -> None:
    client = app.test_client()
    samples = scrape(client)
    assert value(samples, "dialogsearch_up") == 1
    assert value(samples, "dialogsearch_mode", mode="database") == 1
    assert value(samples, "dialogsearch_mode", mode="files") == 0
    assert value(samples, "dialogsearch_entries") == 15  # records, front matter included
    assert value(samples, "dialogsearch_fallback_switches_total") == 0
    assert ("dialogsearch_topk_ready", ()) in samples
    # A write puts the index behind the database until it syncs: the lag is a row count.
    assert (
        client.post(
            "/api/dialog/entry", json={"speaker": "KIRO", "message": "lag check"}, headers=AUTH
        ).status_code
        == 201
    )
    lag = wait_until(
        lambda: ("dialogsearch_topk_behind_rows", ()) in (s := scrape(client)) and s, timeout=30
    )
    assert value(lag, "dialogsearch_topk_behind_rows") >= 0


def test_write_outcomes_are_counted_by_status(app: Flask, dialogs_dir: Path) -> None:
    client = app.test_client()
    entry = {"speaker": "KIRO", "message": "counted"}
    assert client.post("/api/dialog/entry", json=entry, headers=AUTH).status_code == 201
    assert client.post("/api/dialog/entry", json=entry).status_code == 401
    bad = {"speaker": "KIRO", "message": "x", "mood_rgb": "blue"}
    assert client.post("/api/dialog/entry", json=bad, headers=AUTH).status_code == 422
    (dialogs_dir / "open_fence.md").write_text("# Notes\n\n```\nunclosed\n", encoding="utf-8")
    fenced = {**entry, "dialog_file": "open_fence.md"}
    assert client.post("/api/dialog/entry", json=fenced, headers=AUTH).status_code == 409
    assert client.get("/api/dialog/sync").status_code == 200  # a dry run: a read, not a write
    samples = scrape(client)
    writes = "dialogsearch_writes_total"
    for status in ("201", "401", "422", "409"):
        assert value(samples, writes, operation="create", status=status) == 1, status
    assert total(samples, writes) == 4


def test_fallback_switches_and_recoveries_are_counted(dialogs_dir: Path, db_path: Path) -> None:
    stack = SearchStack.with_fallback(
        SqliteRepository(db_path, busy_timeout_ms=50),
        FileRepository(dialogs_dir),
        root=dialogs_dir,
        probe_seconds=0.05,
    )
    stack.files.build_now()
    app = create_app({"TESTING": True, "METRICS": "open"}, repository=stack)
    client = app.test_client()
    try:
        db_path.unlink()
        assert client.get("/api/dialog/search?q=migration").get_json()["total"] == 3
        wait_until(lambda: stack.mode == "database" and stack.recovery.recoveries >= 1)
        samples = scrape(client)
        assert value(samples, "dialogsearch_fallback_switches_total") == 1
        assert value(samples, "dialogsearch_fallback_recoveries_total") >= 1
        assert value(samples, "dialogsearch_mode", mode="database") == 1
    finally:
        stack.close()


def test_a_files_only_service_says_files(dialogs_dir: Path) -> None:
    files = FileRepository(dialogs_dir)
    files.build_now()
    app = create_app({"TESTING": True, "METRICS": "open"}, repository=files)
    client = app.test_client()
    assert client.get("/api/dialog/search?q=migration").status_code == 200
    samples = scrape(client)
    assert value(samples, "dialogsearch_mode", mode="files") == 1
    assert value(samples, "dialogsearch_search_seconds_count", engine="files") == 1
    files.close()


def test_watcher_events_and_reindexes_are_counted(app: Flask, dialogs_dir: Path) -> None:
    stack = app.extensions["dialogsearch"]
    settings = app.extensions["dialogsearch.settings"]
    from dataclasses import replace

    watcher = start_watcher(stack, replace(settings, watch="on", watch_settle_ms=50))
    assert watcher is not None
    client = app.test_client()
    before = scrape(client)
    assert value(before, "dialogsearch_watcher_running") == 1
    assert value(before, "dialogsearch_reindex_seconds_count") == 0
    text = bold("KIRO", "Watched wombat", day="2026-03-01", target="@all", mood="00FF00", title="w")
    (dialogs_dir / "watched.md").write_text(text, encoding="utf-8")
    after = wait_until(
        lambda: value(s := scrape(client), "dialogsearch_reindex_seconds_count") >= 1 and s,
        timeout=30,
    )
    assert value(after, "dialogsearch_watcher_events_total") >= 1
    assert value(after, "dialogsearch_reindexed_entries_total", change="added") >= 1
    assert value(after, "dialogsearch_reindex_seconds_sum") >= 0
    assert ("dialogsearch_last_reindex_seconds", ()) in after


def test_each_app_has_its_own_registry(dialogs_dir: Path, db_path: Path) -> None:
    first, second = _app(dialogs_dir, db_path), _app(dialogs_dir, db_path)
    try:
        first.test_client().get("/api/dialog/search?q=migration")
        samples = scrape(second.test_client())
        assert total(samples, "dialogsearch_search_seconds_count") == 0
    finally:
        first.extensions["dialogsearch"].close()
        second.extensions["dialogsearch"].close()


def test_metrics_behind_the_token_and_off(dialogs_dir: Path, db_path: Path) -> None:
    guarded = _app(dialogs_dir, db_path, METRICS="token")
    auto = _app(dialogs_dir, db_path, METRICS="auto")  # not started by serve: the token
    off = _app(dialogs_dir, db_path, METRICS="off")
    try:
        for app in (guarded, auto):
            client = app.test_client()
            refused = client.get("/metrics")
            assert refused.status_code == 401 and "Bearer" in refused.headers["WWW-Authenticate"]
            assert client.get("/metrics", headers={"Authorization": "Bearer no"}).status_code == 403
            assert scrape(client, AUTH)
        assert off.test_client().get("/metrics").status_code == 404
    finally:
        for app in (guarded, auto, off):
            app.extensions["dialogsearch"].close()


def test_auto_is_open_on_loopback_only() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert is_loopback(host) and access_for("auto", host) == "open", host
    for host in ("0.0.0.0", "::", "192.168.1.4", "example.com"):
        assert access_for("auto", host) == "token", host
    assert access_for("open", "0.0.0.0") == "open"
    assert access_for("off", "127.0.0.1") == "off"


def test_a_bad_metrics_setting_is_refused(dialogs_dir: Path, db_path: Path) -> None:
    with pytest.raises(ValueError, match="DIALOGSEARCH_METRICS='public' is not one of"):
        _app(dialogs_dir, db_path, METRICS="public")


@pytest.mark.slow
def test_serve_guards_metrics_when_it_listens_beyond_loopback(
    tmp_path: Path, dialogs_dir: Path
) -> None:
    db = tmp_path / "live" / "dialogs.db"
    db.parent.mkdir()
    server = LiveServer(
        dialogs_dir, db, {"DIALOGSEARCH_API_TOKEN": TOKEN}, args=("--host", "0.0.0.0")
    )
    try:
        assert server.get("/metrics").status_code == 401
        assert server.get("/api/dialog/health").status_code == 200
    finally:
        server.stop()
    local = LiveServer(dialogs_dir, tmp_path / "live" / "other.db")
    try:
        response = local.get("/metrics")
        assert response.status_code == 200 and "dialogsearch_up 1.0" in response.text
    finally:
        local.stop()
