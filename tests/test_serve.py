"""`dialogsearch serve`: help, reindex first, the URL, environment settings, a bad database."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.fixtures_api import LiveServer, wait_until

from searchsvc.cli import main
from searchsvc.web.security_headers import SECURITY_HEADERS


def test_serve_help_has_an_example() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    assert "dialogsearch serve --root dialogs --db var/dialogs.db" in result.output
    assert "DIALOGSEARCH_ROOT" in result.output and "DIALOGSEARCH_PORT" in result.output


def test_serve_refuses_a_missing_root(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["serve", "--root", str(tmp_path / "nope"), "--db", str(tmp_path / "x.db")]
    )
    assert result.exit_code == 2 and "does not exist" in result.output


def test_serve_refuses_a_bad_setting_in_one_line_before_any_work(
    tmp_path: Path, dialogs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIALOGSEARCH_TOPK", "maybe")
    db = tmp_path / "bad-setting" / "dialogs.db"
    result = CliRunner().invoke(main, ["serve", "--root", str(dialogs_dir), "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        "dialogsearch: TOPK='maybe' is not one of yes/no/on/off/true/false/1/0/auto"
    )
    assert not db.parent.exists()


def test_serve_on_a_busy_port_says_so_in_one_line_before_any_work(
    tmp_path: Path, dialogs_dir: Path
) -> None:
    db = tmp_path / "busy" / "dialogs.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["serve", "--root", str(dialogs_dir), "--db", str(db), "--port", str(port)]
        )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"port {port} is in use; try --port " in lines[0], result.output
    suggested = int(lines[0].rsplit(" ", 1)[1])
    assert suggested != port
    assert not db.parent.exists()  # no reindex, no token: nothing was done


@pytest.mark.slow
def test_serve_indexes_first_and_prints_its_url(live_server: LiveServer) -> None:
    assert live_server.db.exists()
    assert f"serving on http://127.0.0.1:{live_server.port}/" in live_server.log()
    body = live_server.get("/api/dialog/search", q="migration").json()
    assert body["total"] == 3 and body["source"] == "database"
    health = live_server.get("/api/dialog/health").json()
    assert health["mode"] == "database" and health["database"]["entries"] == 15
    assert live_server.get("/api/dialog/stats").json()["totals"]["files"] == 4


@pytest.mark.slow
def test_serve_reads_its_settings_from_the_environment(tmp_path: Path, dialogs_dir: Path) -> None:
    db = tmp_path / "env" / "dialogs.db"
    db.parent.mkdir()
    server = LiveServer(dialogs_dir, db, settings_from_env=True)
    try:
        assert server.get("/api/dialog/health").json()["ok"] is True
        assert f":{server.port}/" in server.log() and db.exists()
    finally:
        server.stop()


@pytest.mark.slow
def test_serve_starts_on_a_corrupt_database_and_repairs_it(
    tmp_path: Path, dialogs_dir: Path
) -> None:
    db = tmp_path / "bad" / "dialogs.db"
    db.parent.mkdir()
    db.write_bytes(os.urandom(4096))
    server = LiveServer(dialogs_dir, db, {"DIALOGSEARCH_PROBE_SECONDS": "0.2"})
    try:
        assert server.get("/api/dialog/search", q="migration").json()["total"] == 3
        wait_until(
            lambda: server.get("/api/dialog/health").json()["mode"] == "database", timeout=60
        )
        assert list(db.parent.glob("dialogs.db.corrupt-*"))
        assert "reindex failed" in server.log()
    finally:
        server.stop()


@pytest.mark.slow
def test_serve_removes_temp_files_that_killed_writes_left(
    tmp_path: Path, dialogs_dir: Path
) -> None:
    left = dialogs_dir / ".ops.md.k2j_x9q1.tmp"  # as write_dialog_file names them
    left.write_text("half a write", encoding="utf-8")
    old = time.time() - 60
    os.utime(left, (old, old))
    other = dialogs_dir / "notes.md.bak"
    other.write_text("not ours", encoding="utf-8")
    server = LiveServer(dialogs_dir, tmp_path / "dialogs.db")
    try:
        assert server.get("/api/dialog/health").json()["ok"] is True
        assert "removed 1 temp files left by interrupted writes" in server.log()
        assert not left.exists() and other.exists()
    finally:
        server.stop()


def _raw_request(port: int, data: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send `data` as is; (status line, headers, body) of the answer read until close."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass  # the server may answer and close before reading everything
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status, headers, body


#: waitress's max_request_header_size (its default): a request line and headers this long
#: are refused. Sent exactly, without the blank line, so that waitress has read every byte
#: when it answers (unread bytes would turn its close into a reset that hides the answer).
MAX_HEADER = 262_144


def _padded(start: bytes) -> bytes:
    return start + b"h" * (MAX_HEADER - len(start))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (_padded(b"GET /api/dialog/health HTTP/1.1\r\nHost: x\r\nX-Big: "), 431),
        (_padded(b"GET /api/dialog/search?q="), 431),
        (b"POST /api/dialog/entry HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", 400),
    ],
    ids=["header", "request line", "malformed"],
)
def test_requests_refused_by_waitress_get_the_error_shape_and_headers(
    live_server: LiveServer, request_bytes: bytes, status: int
) -> None:
    status_line, headers, body = _raw_request(live_server.port, request_bytes)
    assert status_line.startswith(f"HTTP/1.1 {status} ") or status_line.startswith(
        f"HTTP/1.0 {status} "
    ), status_line
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["ok"] is False and answer["status"] == status
    assert answer["errors"] == [answer["error"]] and answer["error"]


def test_the_server_answers_while_the_process_holds_more_than_1024_descriptors() -> None:
    """The loop polls with poll(): select() refuses descriptors past 1023 and took the
    whole server down (a leak of SQLite connections once pushed a server there)."""
    import http.client
    import resource
    import threading

    from searchsvc.serve import make_server

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1400
    # Where the hard limit keeps every process under 1,024 descriptors the case cannot
    # happen; the server is then only checked to poll, and answered with few open.
    room = hard == resource.RLIM_INFINITY or hard >= wanted
    if room and soft < wanted:  # as a service manager's LimitNOFILE would
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    held = []
    try:
        while room and len(held) < 1100:  # the listening socket and the clients' come after
            held.append(os.open(os.devnull, os.O_RDONLY))

        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert sock.fileno() > 1023 or not room
        server = make_server(app, sock, threads=2)
        assert server.adj.asyncore_use_poll
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            client = http.client.HTTPConnection("127.0.0.1", sock.getsockname()[1], timeout=10)
            client.request("GET", "/")
            answer = client.getresponse()
            assert (answer.status, answer.read()) == (200, b"ok")
            client.close()
        finally:
            server.close()
            thread.join(10)
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_garbage_collector_is_settled_once_the_app_is_built() -> None:
    """serve freezes the objects made at start out of later collections and collects the
    young generation less often (see settle_garbage_collector)."""
    import gc

    from searchsvc.serve import GC_YOUNG_THRESHOLD, settle_garbage_collector

    before = gc.get_threshold()
    kept = [[n] for n in range(1000)]  # objects made before: frozen with the rest
    try:
        settle_garbage_collector()
        assert gc.get_freeze_count() >= len(kept)
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
