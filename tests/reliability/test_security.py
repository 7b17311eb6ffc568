"""Hostile input against a live server: stored XSS, traversal, token handling, error bodies,
size limits, security headers on every answer. Every answer is kept and scanned."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support.rel_payloads import (
    BAD_DIALOG_FILES,
    BAD_ENTRY_PATHS,
    BAD_FILE_FILTERS,
    ODD_BUT_INSIDE,
    XSS_PAYLOADS,
)
from support.rel_result import CheckResult
from support.rel_server import AUTH, REPO_ROOT, TOKEN, ServedProcess, copy_sample_tree

SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options")
TAG = re.compile(r"<[^>]*>")


class Recorder:
    """Every answer the checks got, for the header and error-body scans."""

    def __init__(self, server: ServedProcess) -> None:
        self.server = server
        self.answers: list[requests.Response] = []
        self.session = requests.Session()

    def call(self, method: str, path: str, **options: Any) -> requests.Response:
        options.setdefault("timeout", 30)
        response = self.session.request(method, self.server.url + path, **options)
        self.answers.append(response)
        return response


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("security")
    root = copy_sample_tree(work / "dialogs")
    outside = work / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# not a dialog of this root\n", encoding="utf-8")
    os.symlink(outside, root / "out_link")
    os.symlink(outside / "secret.md", root / "file_link.md")
    db = work / "var" / "dialogs.db"
    db.parent.mkdir()
    server = ServedProcess(
        root, db, work / "logs", env={"DIALOGSEARCH_MAX_CONTENT_LENGTH": "65536"}
    )
    server.start()
    recorder = Recorder(server)
    result = CheckResult(
        "Security (hostile input)", command="pytest tests/reliability/test_security.py"
    )
    yield {
        "server": server,
        "root": root,
        "outside": outside,
        "work": work,
        "rec": recorder,
        "result": result,
    }
    server.stop()
    folder = os.environ.get("RELIABILITY_RESULTS")
    if folder:
        result.save(Path(folder))


def snapshot(folder: Path, pattern: str = "*") -> dict[str, bytes]:
    """Every file below `folder` matching `pattern`, with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob(pattern))
        if p.is_file() and not p.is_symlink()
    }


def test_stored_xss_comes_back_escaped_in_snippets(served: dict[str, Any]) -> None:
    rec: Recorder = served["rec"]
    ids = []
    for number, payload in enumerate(XSS_PAYLOADS):
        body = {
            "speaker": "MALLORY",
            "message": f"xsspayload{number} {payload}",
            "dialog_file": "reliability/xss.md",
        }
        response = rec.call("POST", "/api/dialog/entry", json=body, headers=AUTH)
        assert response.status_code == 201, response.text
        assert response.json()["message"] == body["message"]
        ids.append(response.json()["dialog_entry_id"])
    for number, payload in enumerate(XSS_PAYLOADS):
        params = {"q": f"xsspayload{number}", "prefix": "0"}
        found = rec.call("GET", "/api/dialog/search", params=params).json()
        assert found["total"] == 1, found
        snippet = found["hits"][0]["snippet"]
        tags = set(TAG.findall(snippet))
        assert tags <= {"<mark>", "</mark>"}, (payload, snippet)
        assert "<mark>xsspayload" in snippet
        assert found["hits"][0]["message"].endswith(payload)
    for entry_id in ids:
        page = rec.call("GET", f"/entry/{entry_id}")
        assert page.status_code == 200
        text = page.text
        for payload in XSS_PAYLOADS:
            if "<" in payload:
                assert payload not in text
    served["result"].did["stored XSS payloads"] = len(XSS_PAYLOADS)
    served["result"].held["payload markup in snippets or pages"] = 0


@pytest.mark.parametrize("dialog_file", BAD_DIALOG_FILES)
def test_dialog_file_outside_the_root_is_refused(served: dict[str, Any], dialog_file: str) -> None:
    rec: Recorder = served["rec"]
    # The work folder's database and top-k index change by themselves (background
    # catch-up): there, only what an escaping write would create counts (*escape*, *.md).
    watched = [
        (served["root"], "*"),
        (served["outside"], "*"),
        (served["work"], "*escape*"),
        (served["work"], "*.md"),
    ]
    before = [snapshot(folder, pattern) for folder, pattern in watched]
    body = {"speaker": "MALLORY", "message": "traversal", "dialog_file": dialog_file}
    response = rec.call("POST", "/api/dialog/entry", json=body, headers=AUTH)
    assert response.status_code == 400, (dialog_file, response.status_code, response.text)
    assert response.json()["ok"] is False
    assert [snapshot(folder, pattern) for folder, pattern in watched] == before
    assert not Path("/tmp/escape.md").exists() and not Path("/etc/escape.md").exists()
    served["result"].did["traversal attempts"] = (
        served["result"].did.get("traversal attempts", 0) + 1
    )


@pytest.mark.parametrize("dialog_file", ODD_BUT_INSIDE)
def test_odd_names_stay_inside_the_root(served: dict[str, Any], dialog_file: str) -> None:
    rec: Recorder = served["rec"]
    outside_before = snapshot(served["outside"])
    listing = sorted(p.name for p in served["work"].iterdir())
    body = {"speaker": "MALLORY", "message": "odd name", "dialog_file": dialog_file}
    response = rec.call("POST", "/api/dialog/entry", json=body, headers=AUTH)
    assert response.status_code in (201, 400), response.text
    if response.status_code == 201:
        written = served["root"].joinpath(*dialog_file.split("/")).resolve()
        assert written.is_relative_to(served["root"].resolve())
    assert snapshot(served["outside"]) == outside_before
    assert sorted(p.name for p in served["work"].iterdir()) == listing


@pytest.mark.parametrize("value", BAD_FILE_FILTERS)
def test_file_filter_never_escapes_or_fails(served: dict[str, Any], value: str) -> None:
    rec: Recorder = served["rec"]
    for path in ("/api/dialog/search", "/api/dialog/entries", "/api/dialog/stats"):
        response = rec.call("GET", path, params={"q": "secret", "file": value})
        assert response.status_code in (200, 400), (path, value, response.text)
        if response.status_code == 200 and "hits" in response.json():
            assert all(h["dialog_file"] != "file_link.md" for h in response.json()["hits"])


@pytest.mark.parametrize("tail", BAD_ENTRY_PATHS)
def test_junk_entry_ids_are_404(served: dict[str, Any], tail: str) -> None:
    rec: Recorder = served["rec"]
    for method in ("GET", "PUT", "DELETE"):
        options = {"headers": AUTH, "json": {"message": "x"}} if method != "GET" else {}
        response = rec.call(method, f"/api/dialog/entry/{tail}", **options)
        assert response.status_code in (400, 404, 405), (method, tail, response.status_code)
    page = rec.call("GET", f"/entry/{tail}")
    assert page.status_code in (400, 404), (tail, page.status_code)


def test_static_files_do_not_leave_their_folder(served: dict[str, Any]) -> None:
    rec: Recorder = served["rec"]
    for path in (
        "/static/../../etc/passwd",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2fsearchsvc%2fapp.py",
        "/static/%2e%2e%2fapp.py",
    ):
        response = rec.call("GET", path)
        assert response.status_code in (400, 404), (path, response.status_code)
        assert "root:" not in response.text and "create_app" not in response.text


def test_token_is_compared_in_constant_time_and_never_echoed(served: dict[str, Any]) -> None:
    source = (REPO_ROOT / "searchsvc" / "web" / "auth.py").read_text(encoding="utf-8")
    calls = {
        f"{node.func.value.id}.{node.func.attr}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
    }
    assert "hmac.compare_digest" in calls
    plain = [
        ast.unparse(node)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Compare)
        and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops)
        and "token" in ast.unparse(node).lower()
    ]
    assert not plain, f"token compared with ==: {plain}"
    rec: Recorder = served["rec"]
    wrong = TOKEN[:-1] + ("A" if TOKEN[-1] != "A" else "B")
    for headers in (
        {"Authorization": f"Bearer {wrong}"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {},
    ):
        response = rec.call(
            "POST", "/api/dialog/entry", json={"speaker": "X", "message": "y"}, headers=headers
        )
        assert response.status_code in (401, 403)
        assert TOKEN not in response.text and wrong not in response.text


def test_size_limits_answer_4xx(served: dict[str, Any]) -> None:
    rec: Recorder = served["rec"]
    big = {"speaker": "X", "message": "y" * 200_000, "dialog_file": "reliability/big.md"}
    assert rec.call("POST", "/api/dialog/entry", json=big, headers=AUTH).status_code == 413
    assert rec.call("GET", "/api/dialog/search", params={"q": "word " * 2000}).status_code == 400
    statuses = {}
    for size in (20_000, 200_000, 2_000_000):
        try:
            response = rec.call("GET", "/api/dialog/search", params={"q": "a", "x": "b" * size})
            statuses[size] = response.status_code
        except requests.ConnectionError:
            statuses[size] = "closed"
    assert all(s == "closed" or s in (200, 400, 413, 414, 431) for s in statuses.values()), statuses
    try:
        huge_header = rec.call("GET", "/api/dialog/health", headers={"X-Big": "h" * 300_000})
        header_status: Any = huge_header.status_code
    except requests.ConnectionError:
        header_status = "closed"
    assert header_status == "closed" or header_status in (400, 413, 431), header_status
    served["result"].held["oversized"] = (
        f"body 413, q 400, query string {statuses}, header {header_status}"
    )


def test_every_answer_has_security_headers_and_no_leaks(served: dict[str, Any]) -> None:
    """Runs last in this module: scans every answer the tests above collected."""
    rec: Recorder = served["rec"]
    for path in (
        "/",
        "/stats",
        "/api/openapi.json",
        "/api/dialog/health",
        "/nope",
        "/api/dialog/nope",
        "/static/search.js",
    ):
        rec.call("GET", path)
    rec.call("PATCH", "/api/dialog/entry/1")
    rec.call("POST", "/api/dialog/search")
    rec.call(
        "POST", "/api/dialog/entry", data="{", headers={**AUTH, "Content-Type": "application/json"}
    )
    root_text = str(served["root"])
    missing, leaks, server_errors = [], [], []
    for response in rec.answers:
        # Including waitress's own refusals (oversized request line or headers): since
        # searchsvc.web.server_errors they carry the headers and the error shape too.
        for name in SECURITY_HEADERS:
            if name not in response.headers:
                missing.append(
                    f"{response.request.method} {response.url} {response.status_code}: no {name}"
                )
        if response.status_code >= 500:
            server_errors.append(
                f"{response.request.method} {response.url}: {response.status_code}"
            )
        if response.status_code >= 400:
            body = response.text
            for needle in ("Traceback", 'File "', '.py"', root_text, "/work/", "/tmp/", "/root/"):
                if needle in body:
                    leaks.append(
                        f"{response.url} {response.status_code}: {needle!r} in {body[:200]}"
                    )
    log = served["server"].all_logs()
    errors = sum(1 for r in rec.answers if r.status_code >= 400)
    result: CheckResult = served["result"]
    result.did["answers scanned"] = len(rec.answers)
    result.did["error bodies scanned"] = errors
    result.held.update(
        {
            "5xx": len(server_errors),
            "answers without CSP/nosniff": len(missing),
            "stack traces or paths in error bodies": len(leaks),
            "token in server log": TOKEN in log,
        }
    )
    result.problems += missing[:10] + leaks[:10] + server_errors[:10]
    print(result.as_row(), *result.notes)
    assert not missing, missing[:10]
    assert not leaks, leaks[:10]
    assert not server_errors, server_errors[:10]
    assert TOKEN not in log
