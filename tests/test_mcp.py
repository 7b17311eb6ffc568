"""`dialogsearch mcp` over stdio, driven by the MCP SDK's own client, on the sample dialogs.

One read-only server answers the module's read tests; the write tests start their own
server with --allow-writes on a fresh copy. Answers are compared with the web API's over
the same database: the same query language, the same stack, the same entries.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from support.fixtures_api import free_port, stop_process, wait_until
from support.mcp_session import McpClient, http_mcp_client, mcp_client, server_parameters
from test_api_read import HOSTILE

from searchsvc.cli import main
from searchsvc.web.app import create_app

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "dialogs"
READ_TOOLS = {"search_dialogs", "get_entry", "list_speakers", "stats"}
#: The sample's "Hotfix 4.2.10" entry: the only one with these three words.
KNOWN_QUERY = "hotfix checksum race"
KNOWN_LOCATION = "ops/deploy_log.md:103"


def _copy(tmp: Path) -> tuple[Path, Path]:
    root = shutil.copytree(SAMPLE, tmp / "dialogs")
    return root, tmp / "var" / "dialogs.db"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the sample dialogs and where its database goes."""
    return _copy(tmp_path_factory.mktemp("mcp-read"))


@pytest.fixture(scope="module")
def mcp(sample: tuple[Path, Path]) -> Iterator[McpClient]:
    """One read-only `dialogsearch mcp` process for the module (it indexes at start)."""
    root, db = sample
    with mcp_client(server_parameters(root, db, "--no-watch"), root.parent / "mcp.log") as client:
        yield client


@pytest.fixture(scope="module")
def api(sample: tuple[Path, Path], mcp: McpClient) -> Iterator[FlaskClient]:
    """The web API over the same files and database."""
    root, db = sample
    app = create_app({"ROOT": str(root), "DB": str(db), "WATCH": "off", "TESTING": True})
    yield app.test_client()
    app.extensions["dialogsearch"].close()


def _ids(hits: list[dict[str, Any]]) -> list[int]:
    return [hit["dialog_entry_id"] for hit in hits]


def test_mcp_help_has_an_example() -> None:
    result = CliRunner().invoke(main, ["mcp", "--help"])
    assert result.exit_code == 0
    assert "dialogsearch mcp --root dialogs --db var/dialogs.db" in result.output


def test_the_readme_shows_how_to_add_the_server_to_a_client() -> None:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```json\n(.*?)```", text, re.S) if "mcpServers" in b)
    server = json.loads(block)["mcpServers"]["dialogsearch"]
    assert server["command"].endswith("/dialogsearch")
    assert server["args"][0] == "mcp" and {"--root", "--db"} <= set(server["args"])
    for name in (*READ_TOOLS, "add_entry"):
        assert f"| `{name}(" in text, name


def test_lists_the_read_tools_with_schemas_and_descriptions(mcp: McpClient) -> None:
    tools = mcp.tools()
    assert set(tools) == READ_TOOLS  # no add_entry without --allow-writes
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40, tool.name
        assert tool.input_schema["type"] == "object"
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
    search = tools["search_dialogs"].input_schema["properties"]
    assert {
        "query",
        "speaker",
        "target",
        "mood",
        "file",
        "since",
        "until",
        "scope",
        "limit",
    } <= set(search)
    assert search["limit"]["maximum"] == 50
    assert tools["get_entry"].input_schema["required"] == ["dialog_entry_id"]


def test_search_puts_the_known_entry_first_as_the_api_does(
    mcp: McpClient, api: FlaskClient
) -> None:
    answer = mcp.answer("search_dialogs", query=KNOWN_QUERY)
    first = answer["hits"][0]
    assert first["location"] == KNOWN_LOCATION
    assert (first["speaker"], first["target"]) == ("KIRO", "@everyone")
    assert first["time"] == "2026-02-11T08:30:00Z"
    assert "Hotfix 4.2.10 for the checksum race" in first["snippet"]
    body = api.get("/api/dialog/search", query_string={"q": KNOWN_QUERY}).get_json()
    assert answer["total"] == body["total"] <= 10
    assert set(_ids(answer["hits"])) == set(_ids(body["hits"]))
    # What the API says of scopes and copies, the agent hears too.
    assert (answer["scopes"], answer["folded"]) == (body["scopes"], body["folded"])
    assert answer["scopes"]["entries"] == answer["total"]


def test_snippets_are_plain_text_and_bounded(mcp: McpClient) -> None:
    answer = mcp.answer("search_dialogs", query="checksum", limit=50)
    assert answer["hits"] and len(answer["hits"]) <= 50
    for hit in answer["hits"]:
        snippet = hit["snippet"]
        assert "<mark>" not in snippet and "&lt;" not in snippet and "&#x27;" not in snippet
        assert 0 < len(snippet) <= 300


@pytest.mark.parametrize(
    ("arguments", "query_string"),
    [
        ({"speaker": "KIRO"}, {"speaker": "KIRO"}),
        ({"speaker": ["KIRO", "LILITH"]}, [("speaker", "KIRO"), ("speaker", "LILITH")]),
        ({"target": "@everyone", "query": "reindex"}, {"target": "@everyone", "q": "reindex"}),
        ({"mood": "blue"}, {"mood": "blue"}),
        ({"file": "ops/"}, {"file": "ops/"}),
        (
            {"since": "2026-02-01", "until": "2026-02-15"},
            {"since": "2026-02-01", "to": "2026-02-15"},
        ),
        ({"query": "speaker:LILITH since:2026-02-01"}, {"q": "speaker:LILITH since:2026-02-01"}),
        ({"query": "search", "sort": "oldest"}, {"q": "search", "sort": "oldest"}),
    ],
)
def test_filters_match_the_api(
    mcp: McpClient, api: FlaskClient, arguments: dict[str, Any], query_string: Any
) -> None:
    answer = mcp.answer("search_dialogs", limit=50, **arguments)
    pairs = list(query_string.items()) if isinstance(query_string, dict) else query_string
    body = api.get("/api/dialog/search", query_string=[*pairs, ("per_page", "50")]).get_json()
    assert answer["total"] == body["total"] > 0
    if answer["sort"] == "relevance":  # top-k and FTS5 may order equal scores apart
        assert set(_ids(answer["hits"])) == set(_ids(body["hits"])) and body["total"] <= 50
    else:
        assert _ids(answer["hits"]) == _ids(body["hits"])


def test_filters_hold_on_every_hit(mcp: McpClient) -> None:
    kiro = mcp.answer("search_dialogs", speaker="KIRO", limit=50)
    assert {hit["speaker"] for hit in kiro["hits"]} == {"KIRO"}
    ops = mcp.answer("search_dialogs", file="ops/", limit=50)
    assert all(hit["file"].startswith("ops/") for hit in ops["hits"])
    dated = mcp.answer("search_dialogs", since="2026-02-01", until="2026-02-15", limit=50)
    assert all("2026-02-01" <= hit["time"][:10] <= "2026-02-15" for hit in dated["hits"])


def test_paging_is_bounded_and_says_what_comes_next(mcp: McpClient) -> None:
    first = mcp.answer("search_dialogs", limit=5)
    second = mcp.answer("search_dialogs", limit=5, page=first["next_page"])
    assert len(first["hits"]) == len(second["hits"]) == 5
    assert not set(_ids(first["hits"])) & set(_ids(second["hits"]))
    assert "limit" in mcp.refusal("search_dialogs", query="x", limit=51)


def test_scope_is_accepted(mcp: McpClient) -> None:
    # Wired to the query parameter `scope`: answered whether or not search_query reads it.
    answer = mcp.answer("search_dialogs", query="checksum", scope="entries")
    assert answer["hits"]
    assert "scope" in mcp.refusal("search_dialogs", query="checksum", scope="everything")


def test_get_entry_shows_its_neighbours_in_file_order(mcp: McpClient, api: FlaskClient) -> None:
    hit = mcp.answer("search_dialogs", query=KNOWN_QUERY)["hits"][0]
    answer = mcp.answer("get_entry", dialog_entry_id=hit["dialog_entry_id"], context=2)
    entry = answer["entry"]
    assert entry["location"] == KNOWN_LOCATION
    assert entry["message"].startswith("Hotfix 4.2.10 for the checksum race")
    assert "**Speaker:** KIRO" in entry["markdown"]
    before, after = answer["before"], answer["after"]
    assert len(before) == len(after) == 2
    lines = [item["line"] for item in before] + [entry["line"]] + [item["line"] for item in after]
    assert lines == sorted(lines) and len(set(lines)) == 5
    assert {item["file"] for item in before + after} == {"ops/deploy_log.md"}
    api_entry = api.get(f"/api/dialog/entry/{hit['dialog_entry_id']}").get_json()
    assert before[-1]["dialog_entry_id"] == api_entry["before"]
    assert after[0]["dialog_entry_id"] == api_entry["after"]
    assert after[0]["text"].startswith("Deployed 4.2.11")
    alone = mcp.answer("get_entry", dialog_entry_id=hit["dialog_entry_id"], context=0)
    assert alone["before"] == alone["after"] == []


def test_get_entry_of_an_unknown_id_is_the_apis_404_message(mcp: McpClient) -> None:
    assert "Entry 1 doesn't exist" in mcp.refusal("get_entry", dialog_entry_id=1)
    for bad in (0, -5, 2**53, 2**70, "abc", 1.5):
        _assert_clean(mcp.refusal("get_entry", dialog_entry_id=bad))
    assert "context" in mcp.refusal("get_entry", dialog_entry_id=5, context=11)


def test_stats_and_speakers_agree_with_the_api(mcp: McpClient, api: FlaskClient) -> None:
    body = api.get("/api/dialog/stats").get_json()
    stats = mcp.answer("stats")
    assert stats["totals"] == body["totals"]
    assert stats["first_day"] == body["days"][0]["value"]
    assert stats["last_day"] == body["days"][-1]["value"]
    speakers = mcp.answer("list_speakers")
    assert [(s["speaker"], s["entries"]) for s in speakers["speakers"]] == [
        (s["value"], s["count"]) for s in body["speakers"]
    ]
    kiro = next(s for s in speakers["speakers"] if s["speaker"] == "KIRO")
    assert {"target": "@everyone", "entries": 13} in kiro["targets"]
    one = mcp.answer("stats", speaker="KIRO")
    assert one["totals"]["entries"] == kiro["entries"]
    assert one["first_day"] >= stats["first_day"] and one["last_day"] <= stats["last_day"]


def test_every_dialog_file_is_a_markdown_resource(
    mcp: McpClient, sample: tuple[Path, Path]
) -> None:
    root, _ = sample
    listed = {resource.name: resource for resource in mcp.resources()}
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.md"))
    assert sorted(listed) == files
    resource = listed["ops/deploy_log.md"]
    assert resource.uri == "dialog://ops/deploy_log.md" and resource.mime_type == "text/markdown"
    (contents,) = mcp.read(resource.uri)
    assert contents.text == (root / "ops" / "deploy_log.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "uri", ["dialog://../etc/passwd", "dialog:///etc/passwd", "dialog://nope.md", "dialog://ops"]
)
def test_a_resource_outside_the_dialogs_is_not_found(mcp: McpClient, uri: str) -> None:
    from mcp.shared.exceptions import MCPError

    with pytest.raises(MCPError) as raised:
        mcp.read(uri)
    assert "/tmp/" not in str(raised.value) and "Traceback" not in str(raised.value)


def _assert_clean(message: str) -> None:
    assert message.startswith("Error executing tool ")
    assert "Traceback" not in message and "/tmp/" not in message and "/work/" not in message


def test_hostile_queries_are_answers_or_tool_errors_and_the_server_keeps_answering(
    mcp: McpClient,
) -> None:
    refused = 0
    for text in HOSTILE:
        result = mcp.call("search_dialogs", query=text, limit=3)
        if result.is_error:
            refused += 1
            _assert_clean(result.content[0].text)
    for name in ("speaker", "target", "mood", "file", "since", "until"):
        for text in HOSTILE[:40]:
            result = mcp.call("search_dialogs", query="search", **{name: text})
            if result.is_error:
                refused += 1
                _assert_clean(result.content[0].text)
    assert refused > 0
    assert "(argument: query)" in mcp.refusal("search_dialogs", query="x" * 10_000)
    assert mcp.answer("search_dialogs", query=KNOWN_QUERY)["hits"][0]["location"] == KNOWN_LOCATION


def test_add_entry_is_refused_without_allow_writes(
    mcp: McpClient, sample: tuple[Path, Path]
) -> None:
    root, _ = sample
    message = mcp.refusal("add_entry", speaker="AGENT", message="should not be written")
    assert "add_entry" in message
    assert not (root / "api_dialog.md").exists()


# --- writes -----------------------------------------------------------------------------------


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[tuple[McpClient, Path]]:
    """A server started with --allow-writes on a fresh copy of the sample."""
    root, db = _copy(tmp_path)
    parameters = server_parameters(root, db, "--allow-writes", "--no-watch")
    with mcp_client(parameters, tmp_path / "mcp.log") as client:
        yield client, root


def test_add_entry_writes_the_file_and_the_next_search_finds_it(
    writer: tuple[McpClient, Path],
) -> None:
    mcp, root = writer
    assert "add_entry" in mcp.tools()
    written = mcp.answer(
        "add_entry",
        speaker="CODEX",
        message="The quokka handshake protocol is agreed",
        target="@everyone",
        mood_rgb="00cc66",
        dialog_file="ops/agent_notes.md",
    )
    assert written["ok"] is True and written["file"] == "ops/agent_notes.md"
    text = (root / "ops" / "agent_notes.md").read_text(encoding="utf-8")
    assert "The quokka handshake protocol is agreed" in text and "CODEX" in text
    first = mcp.answer("search_dialogs", query="quokka handshake")["hits"][0]
    assert first["dialog_entry_id"] == written["dialog_entry_id"]
    assert (first["speaker"], first["mood_rgb"]) == ("CODEX", "00CC66")
    default = mcp.answer("add_entry", speaker="CODEX", message="Second note, default file")
    assert default["file"] == "api_dialog.md" and (root / "api_dialog.md").exists()


def test_add_entry_refusals_are_the_apis_messages(writer: tuple[McpClient, Path]) -> None:
    mcp, root = writer
    invalid = mcp.refusal("add_entry", speaker="A\nB", message=" ", mood_rgb="blue")
    assert "The entry is not valid: " in invalid
    assert "message must not be empty" in invalid and "mood_rgb must be 6 hex digits" in invalid
    outside = mcp.refusal("add_entry", speaker="X", message="y", dialog_file="../escape.md")
    assert "dialog_file must not contain empty, '.' or '..' parts" in outside
    assert "(argument: dialog_file)" in outside
    # The 409 of the API: a file that ends inside an unclosed code fence cannot take a block.
    (root / "open_fence.md").write_text("# Notes\n\n```\nunclosed\n", encoding="utf-8")
    conflict = mcp.refusal("add_entry", speaker="X", message="y", dialog_file="open_fence.md")
    assert "fence" in conflict
    assert (root / "open_fence.md").read_text(encoding="utf-8") == "# Notes\n\n```\nunclosed\n"
    for message in (invalid, outside, conflict):
        _assert_clean(message)
    assert not (root / "escape.md").exists() and not (root.parent / "escape.md").exists()


# --- streamable HTTP --------------------------------------------------------------------------


def test_over_http_reads_are_open_and_writes_need_the_api_token(tmp_path: Path) -> None:
    root, db = _copy(tmp_path)
    port = free_port()
    log_path = tmp_path / "mcp-http.log"
    command = [sys.executable, "-m", "searchsvc.cli", "mcp", "--root", str(root), "--db", str(db)]
    command += ["--allow-writes", "--no-watch", "--http", str(port)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DIALOGSEARCH_API_TOKEN": "s3cret-token"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
    try:
        wait_until(
            lambda: "streamable HTTP on" in log_path.read_text() or process.poll() is not None
        )
        url = f"http://127.0.0.1:{port}/mcp"
        assert f"MCP over streamable HTTP on {url}" in log_path.read_text()
        with http_mcp_client(url, log_path, {}) as anonymous:
            hit = anonymous.answer("search_dialogs", query=KNOWN_QUERY)["hits"][0]
            assert hit["location"] == KNOWN_LOCATION
            refused = anonymous.refusal("add_entry", speaker="X", message="no token")
            assert "Writes need an API token" in refused
        with http_mcp_client(url, log_path, {"Authorization": "Bearer wrong"}) as wrong:
            assert "not valid" in wrong.refusal("add_entry", speaker="X", message="bad token")
        assert not (root / "api_dialog.md").exists()
        bearer = {"Authorization": "Bearer s3cret-token"}
        with http_mcp_client(url, log_path, bearer) as writer:
            written = writer.answer("add_entry", speaker="HTTPAGENT", message="Token accepted")
            assert written["file"] == "api_dialog.md"
        assert "Token accepted" in (root / "api_dialog.md").read_text(encoding="utf-8")
        assert "s3cret-token" not in log_path.read_text()  # a configured token is never shown
    finally:
        stop_process(process)


def test_a_busy_http_port_is_one_line_before_any_work(tmp_path: Path) -> None:
    import socket

    root, db = _copy(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["mcp", "--root", str(root), "--db", str(db), "--http", str(port)]
        )
    assert result.exit_code == 2
    assert result.output.strip() == f"dialogsearch: port {port} is in use; try another --http port"
    assert not db.parent.exists()
