"""POST/PUT/DELETE /api/dialog/entry through the real app: files, database, errors."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from support.fixtures_writes import (
    AUTH,
    TOKEN,
    assert_canonical_error,
    db_ids,
    db_rows,
    make_app,
    make_root,
    tree_snapshot,
)

from dialogfile.identity import keyed_entries
from dialogfile.parse import parse_file
from indexer.reindex import reindex, reindex_lock
from searchsvc.web.auth import ensure_api_token

NEW = {"speaker": "KIRO", "target": "@everyone", "mood_rgb": "0066ff", "message": "Hello there"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Any]:
    root, db = make_root(tmp_path)
    app = make_app(root, db, MAX_CONTENT_LENGTH=16 * 1024)
    return {"root": root, "db": db, "app": app, "client": app.test_client(), "tmp": tmp_path}


def file_ids(root: Path, rel: str) -> dict[int, Any]:
    text = (root / rel).read_text(encoding="utf-8")
    return {i: e for i, _, e in keyed_entries(parse_file(text, rel).entries)}


def seed_id(client: FlaskClient, entry_format: str, speaker: str) -> int:
    page = client.get(f"/api/dialog/entries?format={entry_format}&speaker={speaker}").get_json()
    (hit,) = page["hits"]
    return hit["dialog_entry_id"]


# --- create -----------------------------------------------------------------------------------


def test_post_creates_the_file_with_a_header_and_answers_201(env: dict[str, Any]) -> None:
    response = env["client"].post("/api/dialog/entry", json=NEW, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    entry = response.get_json()
    entry_id = entry["dialog_entry_id"]
    assert response.headers["Location"] == f"/api/dialog/entry/{entry_id}"
    assert entry["dialog_file"] == "api_dialog.md" and entry["format"] == "inline"
    assert {k: entry[k] for k in ("speaker", "target", "mood_rgb", "message")} == {
        **NEW,
        "mood_rgb": "0066FF",
    }
    assert isinstance(entry["timestamp_utc"], int)
    text = (env["root"] / "api_dialog.md").read_text(encoding="utf-8")
    assert text.startswith("---\n") and "file.name: api_dialog.md" in text
    assert file_ids(env["root"], "api_dialog.md")[entry_id].message == "Hello there"
    assert entry_id in db_ids(env["db"])
    assert env["client"].get(f"/api/dialog/entry/{entry_id}").get_json()["message"] == "Hello there"


def test_post_appends_to_an_existing_file_in_a_subfolder(env: dict[str, Any]) -> None:
    before = file_ids(env["root"], "team_dialog.md")
    body = {**NEW, "dialog_file": "team_dialog.md", "timestamp_utc": 20261126101500}
    entry = env["client"].post("/api/dialog/entry", json=body, headers=AUTH).get_json()
    after = file_ids(env["root"], "team_dialog.md")
    assert set(before) < set(after) and entry["timestamp_utc"] == 20261126101500
    sub = {**NEW, "dialog_file": "sub/notes.md"}
    assert env["client"].post("/api/dialog/entry", json=sub, headers=AUTH).status_code == 201
    assert (env["root"] / "sub" / "notes.md").is_file()


# --- update / delete --------------------------------------------------------------------------


def test_put_changes_only_the_given_fields_and_keeps_the_id(env: dict[str, Any]) -> None:
    client = env["client"]
    entry_id = seed_id(client, "bold", "CURSOR")
    response = client.put(
        f"/api/dialog/entry/{entry_id}", json={"message": "rewritten"}, headers=AUTH
    )
    assert response.status_code == 200, response.get_json()
    entry = response.get_json()
    assert entry["dialog_entry_id"] == entry_id
    assert (entry["message"], entry["speaker"], entry["target"]) == (
        "rewritten",
        "CURSOR",
        "@LILITH",
    )
    assert file_ids(env["root"], "team_dialog.md")[entry_id].message == "rewritten"
    (row,) = db_rows(env["db"], "dialog_entry_id = ?", (entry_id,))
    assert row[8] == "rewritten"
    # GET, change, PUT back whole: read-only fields sent unchanged are accepted.
    whole = client.get(f"/api/dialog/entry/{entry_id}").get_json()
    whole.update(message="again")
    assert client.put(f"/api/dialog/entry/{entry_id}", json=whole, headers=AUTH).status_code == 200


def test_delete_removes_the_entry_from_file_and_database(env: dict[str, Any]) -> None:
    client = env["client"]
    entry_id = seed_id(client, "bold", "LILITH")
    response = client.delete(f"/api/dialog/entry/{entry_id}", headers=AUTH)
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "deleted": entry_id}
    assert entry_id not in file_ids(env["root"], "team_dialog.md")
    assert entry_id not in db_ids(env["db"])
    assert_canonical_error(client.get(f"/api/dialog/entry/{entry_id}"), 404)
    assert_canonical_error(client.delete(f"/api/dialog/entry/{entry_id}", headers=AUTH), 404)


def test_unknown_ids_sections_and_changed_files(env: dict[str, Any]) -> None:
    client, root = env["client"], env["root"]
    assert_canonical_error(
        client.put("/api/dialog/entry/1", json={"message": "x"}, headers=AUTH), 404
    )
    section = client.get("/api/dialog/entries?format=section").get_json()["hits"][0]
    body = assert_canonical_error(
        client.put(
            f"/api/dialog/entry/{section['dialog_entry_id']}", json={"message": "x"}, headers=AUTH
        ),
        405,
    )
    assert "read-only" in body["error"]
    entry_id = seed_id(client, "bold", "CURSOR")
    path = root / "team_dialog.md"
    path.write_text(path.read_text().replace("bold message one", "edited by hand"))
    edited = path.read_bytes()
    for response in (
        client.put(f"/api/dialog/entry/{entry_id}", json={"message": "api"}, headers=AUTH),
        client.delete(f"/api/dialog/entry/{entry_id}", headers=AUTH),
    ):
        assert "changed" in assert_canonical_error(response, 409)["error"]
    assert path.read_bytes() == edited


def test_the_409_advice_works_as_written(env: dict[str, Any]) -> None:
    """After a hand edit: sync, find the entry again, retry; a GET alone changes nothing."""
    client, root = env["client"], env["root"]
    entry_id = seed_id(client, "bold", "CURSOR")
    path = root / "team_dialog.md"
    path.write_text(path.read_text().replace("bold message one", "edited by hand"))
    put = {"json": {"message": "api"}, "headers": AUTH}
    advice = assert_canonical_error(client.put(f"/api/dialog/entry/{entry_id}", **put), 409)
    assert "POST /api/dialog/sync" in advice["error"] and "new dialog_entry_id" in advice["error"]
    client.get(f"/api/dialog/entry/{entry_id}")
    assert_canonical_error(client.put(f"/api/dialog/entry/{entry_id}", **put), 409)
    assert client.post("/api/dialog/sync", headers=AUTH).status_code == 200
    gone = assert_canonical_error(client.get(f"/api/dialog/entry/{entry_id}"), 404)
    assert gone["error"] == f"Entry {entry_id} doesn't exist"
    put_gone = assert_canonical_error(client.put(f"/api/dialog/entry/{entry_id}", **put), 404)
    assert put_gone["error"] == gone["error"]  # one wording for GET and PUT
    found = client.get("/api/dialog/search", query_string={"q": '"edited by hand"'}).get_json()
    (hit,) = found["hits"]
    response = client.put(f"/api/dialog/entry/{hit['dialog_entry_id']}", **put)
    assert response.status_code == 200, response.get_json()
    assert "edited by hand" not in path.read_text()


def test_put_that_a_format_cannot_hold_is_a_422_and_changes_nothing(env: dict[str, Any]) -> None:
    client = env["client"]
    entry_id = seed_id(client, "begin_end", "KIRO")
    before = (env["root"] / "team_dialog.md").read_bytes()
    response = client.put(
        f"/api/dialog/entry/{entry_id}", json={"mood_rgb": "FF0000"}, headers=AUTH
    )
    assert "mood_rgb" in assert_canonical_error(response, 422)["error"]
    assert (env["root"] / "team_dialog.md").read_bytes() == before


# --- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": f"Basic {TOKEN}"}, 401),
        ({"Authorization": "Bearer "}, 401),
        ({"Authorization": "Bearer wrong"}, 403),
        ({"Authorization": f"Bearer {TOKEN}x"}, 403),
    ],
)
def test_writes_need_the_bearer_token(env: dict[str, Any], headers: dict, status: int) -> None:
    client = env["client"]
    before = tree_snapshot(env["root"])
    for response in (
        client.post("/api/dialog/entry", json=NEW, headers=headers),
        client.put("/api/dialog/entry/1", json={"message": "x"}, headers=headers),
        client.delete("/api/dialog/entry/1", headers=headers),
        client.post("/api/dialog/sync", headers=headers),
    ):
        body = assert_canonical_error(response, status)
        assert TOKEN not in response.get_data(as_text=True) and "wrong" not in body["error"]
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert tree_snapshot(env["root"]) == before
    assert client.get("/api/dialog/sync").status_code == 200  # reads stay open


def test_no_configured_token_disables_writes_and_serve_can_generate_one(tmp_path: Path) -> None:
    root, db = make_root(tmp_path)
    client = make_app(root, db, API_TOKEN=None).test_client()
    response = client.post("/api/dialog/entry", json=NEW, headers=AUTH)
    assert "no API token" in assert_canonical_error(response, 403)["error"]
    config: dict[str, Any] = {}
    token = ensure_api_token(config)
    assert token and config["API_TOKEN"] == token and len(token) >= 32
    assert ensure_api_token(config) is None and config["API_TOKEN"] == token


# --- request validation -----------------------------------------------------------------------


def test_body_must_be_json_valid_and_small(env: dict[str, Any]) -> None:
    client = env["client"]
    response = client.post("/api/dialog/entry", data="speaker=KIRO", headers=AUTH)
    assert_canonical_error(response, 415)
    response = client.post(
        "/api/dialog/entry", data="{not json", content_type="application/json", headers=AUTH
    )
    assert_canonical_error(response, 400)
    big = {**NEW, "message": "x" * 20_000}
    assert_canonical_error(client.post("/api/dialog/entry", json=big, headers=AUTH), 413)
    assert not (env["root"] / "api_dialog.md").exists()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"message": "no speaker"}, "speaker is required"),
        ({"speaker": "KIRO"}, "message is required"),
        ({"speaker": "  ", "message": "x"}, "speaker must not be empty"),
        ({**NEW, "mood_rgb": "red"}, "mood_rgb"),
        ({**NEW, "timestamp_utc": 20261399000000}, "timestamp_utc"),
        ({**NEW, "colour": "x", "extra": 1}, "'colour'"),
        ({**NEW, "speaker": "two\nlines"}, "one line"),
        ({**NEW, "speaker": 5}, "speaker must be a string"),
        ([NEW], "JSON object"),
    ],
)
def test_invalid_entries_are_422_naming_the_field(
    env: dict[str, Any], body: Any, named: str
) -> None:
    response = env["client"].post("/api/dialog/entry", json=body, headers=AUTH)
    assert named in assert_canonical_error(response, 422)["error"]
    assert not (env["root"] / "api_dialog.md").exists()


def test_unknown_and_read_only_fields_in_put_are_422(env: dict[str, Any]) -> None:
    client = env["client"]
    entry_id = seed_id(client, "bold", "CURSOR")
    url = f"/api/dialog/entry/{entry_id}"
    body = assert_canonical_error(client.put(url, json={"colour": "x"}, headers=AUTH), 422)
    assert "'colour'" in body["error"]
    body = assert_canonical_error(client.put(url, json={"line": 1}, headers=AUTH), 422)
    assert "line is read-only" in body["error"]
    body = assert_canonical_error(client.put(url, json={"message": None}, headers=AUTH), 422)
    assert "message is required" in body["error"]


@pytest.mark.parametrize(
    "dialog_file",
    [
        "../escape.md",
        "/etc/escape.md",
        "%2e%2e/escape.md",
        "sub/../../escape.md",
        "..\\escape.md",
        "sub//x.md",
        "./x.md",
        "notes.txt",
        ".md",
        "x.md\x00.md",
        "",
        "missing_folder/x.md",
        "out_link/escape.md",
        "file_link.md",
        "dangling.md",
    ],
)
def test_dialog_file_outside_the_root_is_400_and_nothing_is_written(
    env: dict[str, Any], dialog_file: str
) -> None:
    root, tmp = env["root"], env["tmp"]
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "target.md").write_text("outside\n")
    os.symlink(outside, root / "out_link")
    os.symlink(outside / "target.md", root / "file_link.md")
    os.symlink(tmp / "nowhere.md", root / "dangling.md")
    before_root, before_outside = tree_snapshot(root), tree_snapshot(outside)
    listing = sorted(path.name for path in tmp.iterdir())
    body = {**NEW, "dialog_file": dialog_file}
    response = env["client"].post("/api/dialog/entry", json=body, headers=AUTH)
    assert assert_canonical_error(response, 400)["error"]
    assert tree_snapshot(root) == before_root and tree_snapshot(outside) == before_outside
    assert sorted(path.name for path in tmp.iterdir()) == listing
    assert not (tmp / "escape.md").exists() and not Path("/etc/escape.md").exists()


# --- the database unavailable -----------------------------------------------------------------


def test_writes_go_to_the_files_when_the_database_is_gone(env: dict[str, Any]) -> None:
    db = env["db"]
    db.unlink()
    response = env["client"].post("/api/dialog/entry", json=NEW, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    entry_id = response.get_json()["dialog_entry_id"]
    assert entry_id in file_ids(env["root"], "api_dialog.md")
    reindex(env["root"], db)
    assert entry_id in db_ids(db)


def test_a_database_lock_that_cannot_be_opened_leaves_the_write_to_the_files(
    env: dict[str, Any],
) -> None:
    """A read-only database folder (here: `<db>.lock` cannot be opened) does not stop writes:
    the file takes the write, answers come from the files until the database catches up."""
    lock = Path(f"{env['db']}.lock")
    lock.unlink(missing_ok=True)
    lock.mkdir()  # open() of the lock file now fails, even for root
    response = env["client"].post("/api/dialog/entry", json=NEW, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    entry_id = response.get_json()["dialog_entry_id"]
    assert entry_id in file_ids(env["root"], "api_dialog.md")
    assert entry_id not in db_ids(env["db"])
    health = env["client"].get("/api/dialog/health").get_json()
    assert (health["mode"], health["reason"]) == ("files", "behind")
    assert env["client"].get(f"/api/dialog/entry/{entry_id}").get_json()["message"] == "Hello there"
    lock.rmdir()
    reindex(env["root"], env["db"])
    assert entry_id in db_ids(env["db"])


def test_sync_with_an_unopenable_database_lock_is_a_503(env: dict[str, Any]) -> None:
    lock = Path(f"{env['db']}.lock")
    lock.unlink(missing_ok=True)
    lock.mkdir()  # as in a read-only database folder: reindex cannot take its lock
    response = env["client"].post("/api/dialog/sync", headers=AUTH)
    assert "cannot be written" in assert_canonical_error(response, 503)["error"]
    assert str(env["tmp"]) not in response.get_data(as_text=True)


def test_the_edit_lock_held_by_another_process_is_a_503_that_changes_nothing(
    tmp_path: Path,
) -> None:
    root, db = make_root(tmp_path)
    client = make_app(root, db, WRITE_LOCK_WAIT_SECONDS=0.2).test_client()
    holder = subprocess.Popen(
        [sys.executable, "-c", FOLDER_LOCKER, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        before = tree_snapshot(root)
        response = client.post("/api/dialog/entry", json=NEW, headers=AUTH)
        assert "write lock" in assert_canonical_error(response, 503)["error"]
        assert response.headers["Retry-After"] == "1"
        assert tree_snapshot(root) == before
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()
    response = client.post("/api/dialog/entry", json=NEW, headers=AUTH)
    assert response.status_code == 201, response.get_json()


def test_a_reindex_holding_the_database_lock_makes_writes_a_quick_503(env: dict[str, Any]) -> None:
    """Writes do not queue behind a reindex run: after DB_LOCK_WAIT_SECONDS, a 503 to retry."""
    before = tree_snapshot(env["root"])
    with reindex_lock(env["db"], wait=0):
        response = env["client"].post("/api/dialog/entry", json=NEW, headers=AUTH)
    assert "reindex" in assert_canonical_error(response, 503)["error"]
    assert response.headers["Retry-After"] == "1"
    assert tree_snapshot(env["root"]) == before
    response = env["client"].post("/api/dialog/entry", json=NEW, headers=AUTH)
    assert response.status_code == 201, response.get_json()


FOLDER_LOCKER = """
import fcntl, os, sys
handle = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(handle, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.mark.slow
def test_writes_under_a_foreign_database_lock_are_kept_in_the_files(
    env: dict[str, Any],
) -> None:
    """Another process holds the database's write lock: writes are 201 from the files (the
    first one waits the bounded busy timeout, the next ones do not wait at all) and reach
    the database once the lock is gone. While the recovery's sync holds `<db>.lock` (it
    waits on the locked database) a write may be a fast 503 that wrote nothing (README,
    "A writer never queues for long"): a client retries it, as Retry-After says."""
    locker = sqlite3.connect(env["db"], isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        ids = []
        for n in range(3):
            body = {**NEW, "message": f"held {n}"}
            for _ in range(100):
                target = env["root"] / "api_dialog.md"
                before = target.read_bytes() if target.exists() else None
                response = env["client"].post("/api/dialog/entry", json=body, headers=AUTH)
                if response.status_code != 503:
                    break
                assert response.headers["Retry-After"] == "1"
                assert (target.read_bytes() if target.exists() else None) == before
                time.sleep(0.1)  # as Retry-After asks (shortened); bounded by the loop
            assert response.status_code == 201, response.get_json()
            ids.append(response.get_json()["dialog_entry_id"])
        assert set(ids) <= set(file_ids(env["root"], "api_dialog.md"))
        assert env["client"].get("/api/dialog/health").get_json()["mode"] == "files"
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    reindex(env["root"], env["db"])
    assert set(ids) <= db_ids(env["db"])


# --- a real server process --------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`dialogsearch serve` on a free port over its own root and database."""
    tmp = tmp_path_factory.mktemp("served")
    root, db = make_root(tmp)
    outside = tmp / "outside"
    outside.mkdir()
    os.symlink(outside, root / "out_link")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        str(Path(sys.executable).with_name("dialogsearch")),
        "serve",
        "--root",
        str(root),
        "--db",
        str(db),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    environment = {
        **os.environ,
        "DIALOGSEARCH_API_TOKEN": TOKEN,
        "DIALOGSEARCH_MAX_CONTENT_LENGTH": "16384",
    }
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if requests.get(f"{base}/api/dialog/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the server did not answer within 60 s"
            time.sleep(0.1)
        yield {"base": base, "root": root, "db": db, "tmp": tmp}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def assert_http_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["ok"], body["status"]) == (False, status)
    assert body["error"] and isinstance(body["errors"], list)
    return body


def test_server_acknowledged_write_is_in_the_file_and_the_database(server: dict) -> None:
    body = {**NEW, "message": "acknowledged over HTTP", "dialog_file": "sub/http.md"}
    response = requests.post(
        f"{server['base']}/api/dialog/entry", json=body, headers=AUTH, timeout=10
    )
    assert response.status_code == 201, response.text
    entry_id = response.json()["dialog_entry_id"]
    # Read right after the answer: no waiting, the write is already on disk and loaded.
    assert file_ids(server["root"], "sub/http.md")[entry_id].message == "acknowledged over HTTP"
    assert (
        db_rows(server["db"], "dialog_entry_id = ?", (entry_id,))[0][8] == "acknowledged over HTTP"
    )
    got = requests.get(f"{server['base']}/api/dialog/entry/{entry_id}", timeout=10).json()
    assert got["message"] == "acknowledged over HTTP"


@pytest.mark.parametrize(
    "dialog_file", ["../escape.md", "/etc/escape.md", "%2e%2e/escape.md", "out_link/escape.md"]
)
def test_server_refuses_paths_outside_the_root(server: dict, dialog_file: str) -> None:
    watched = (server["root"], server["tmp"] / "outside")
    before = [tree_snapshot(folder) for folder in watched]
    listing = sorted(path.name for path in server["tmp"].iterdir())
    body = {**NEW, "dialog_file": dialog_file}
    response = requests.post(
        f"{server['base']}/api/dialog/entry", json=body, headers=AUTH, timeout=10
    )
    assert_http_error(response, 400)
    assert [tree_snapshot(folder) for folder in watched] == before
    assert sorted(path.name for path in server["tmp"].iterdir()) == listing
    assert not Path("/etc/escape.md").exists()


def test_server_error_statuses(server: dict) -> None:
    base, root = server["base"], server["root"]
    url = f"{base}/api/dialog/entry"
    assert_http_error(requests.post(url, json=NEW, timeout=10), 401)
    wrong = {"Authorization": "Bearer not-the-token"}
    assert_http_error(requests.post(url, json=NEW, headers=wrong, timeout=10), 403)
    big = {**NEW, "message": "x" * 40_000}
    assert_http_error(requests.post(url, json=big, headers=AUTH, timeout=10), 413)
    text_body = {**AUTH, "Content-Type": "text/plain"}
    assert_http_error(requests.post(url, data="speaker: KIRO", headers=text_body, timeout=10), 415)
    created = requests.post(url, json={**NEW, "dialog_file": "race.md"}, headers=AUTH, timeout=10)
    entry_id = created.json()["dialog_entry_id"]
    race = root / "race.md"
    race.write_text(race.read_text().replace("Hello there", "changed by hand"))
    changed = race.read_bytes()
    response = requests.put(f"{url}/{entry_id}", json={"message": "api"}, headers=AUTH, timeout=10)
    assert_http_error(response, 409)
    assert race.read_bytes() == changed


# --- the OpenAPI document for the writes -------------------------------------------------------

SPEC_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


def test_write_endpoints_keep_to_the_spec(tmp_path: Path) -> None:
    root, db = make_root(tmp_path)
    app = make_app(root, db)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    selected = schema.include(method=["POST", "PUT", "DELETE"]).get_all_operations()
    operations = [result.ok() for result in selected]
    assert {(op.method.upper(), op.path) for op in operations} >= {
        ("POST", "/api/dialog/entry"),
        ("PUT", "/api/dialog/entry/{entry_id}"),
        ("DELETE", "/api/dialog/entry/{entry_id}"),
        ("POST", "/api/dialog/sync"),
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def keeps_to_the_spec(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=AUTH, checks=SPEC_CHECKS)

        keeps_to_the_spec()
    app.extensions["dialogsearch"].close()
    written = [path for path in root.rglob("*.md") if path.name != "team_dialog.md"]
    assert written, "no generated POST was accepted: the spec's NewEntry admits nothing valid"


def test_a_write_while_the_database_is_write_locked_is_served_and_synced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Reads still work from a write-locked database, so the write service tells the
    repository the database is behind (`database_behind`): files until recovery syncs."""
    root, db = make_root(tmp_path)
    app = make_app(root, db, PROBE_SECONDS=0.1)
    client = app.test_client()
    holder = sqlite3.connect(db, isolation_level=None)  # another writer holds the lock
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level("WARNING", logger="searchsvc.writing.service"):
            response = client.post("/api/dialog/entry", json=NEW, headers=AUTH)
        assert response.status_code == 201, response.get_json()
        # Answered while the lock is still held: the write's busy wait is bounded, and it
        # gave up on the database ("database is locked") for the files, not waited it out.
        messages = [record.getMessage() for record in caplog.records]
        assert any("database is locked" in message for message in messages), messages
        entry_id = response.get_json()["dialog_entry_id"]
        assert entry_id in file_ids(root, "api_dialog.md")
        # The database cannot have it yet: the answer must come from the files.
        answer = client.get(f"/api/dialog/entry/{entry_id}")
        assert answer.status_code == 200, "repository lacks database_behind(reason)?"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    deadline = time.monotonic() + 30
    while entry_id not in db_ids(db):
        assert time.monotonic() < deadline, "the write did not reach the database after the lock"
        time.sleep(0.05)
    app.extensions["dialogsearch"].close()
