"""The web page's server side: HTML shells, the entry page and the security headers."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from indexer.reindex import reindex
from searchsvc.web.app import create_app
from searchsvc.web.ui import format_timestamp, iso_timestamp, xref_terms

DIALOG_TREE = Path(__file__).resolve().parent / "browser" / "dialog_tree" / "dialogs"


@pytest.fixture(scope="module")
def ui_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The browser tests' small dialog tree, copied, and a real database indexed from it."""
    workdir = tmp_path_factory.mktemp("ui")
    root = workdir / "dialogs"
    shutil.copytree(DIALOG_TREE, root)
    db_path = workdir / "ui.db"
    reindex(root, db_path)
    return root, db_path


@pytest.fixture(scope="module")
def ui_app(ui_tree: tuple[Path, Path]) -> Iterator[Flask]:
    root, db_path = ui_tree
    app = create_app({"ROOT": str(root), "DB": str(db_path), "TESTING": True})
    yield app
    app.extensions["dialogsearch"].close()


@pytest.fixture
def ui_client(ui_app: Flask) -> FlaskClient:
    return ui_app.test_client()


def _entry_id(client: FlaskClient, q: str) -> int:
    """The id of the first dialog entry (not a text section) that `q` finds."""
    answer = client.get("/api/dialog/search", query_string={"q": q, "scope": "all"}).get_json()
    return next(int(h["dialog_entry_id"]) for h in answer["hits"] if h["format"] != "section")


@pytest.mark.parametrize("path", ["/", "/?q=lamp&speaker=KIRO", "/stats"])
def test_pages_are_html_shells_with_their_module_script(ui_client: FlaskClient, path: str) -> None:
    response = ui_client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all('type="module"' in tag and 'src="/assets/' in tag for tag in scripts)
    assert "<script>" not in html and " style=" not in html and "onclick" not in html


@pytest.mark.parametrize("path", ["/", "/stats", "/api/dialog/health", "/assets/style.css"])
def test_every_response_carries_the_security_headers(ui_client: FlaskClient, path: str) -> None:
    with ui_client.get(path) as response:  # closes the static file it streams
        headers = response.headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    ("query", "selected"), [("", "entries"), ("?scope=text", "text"), ("?scope=bogus", "entries")]
)
def test_search_page_draws_the_scope_tabs_with_the_urls_selected(
    ui_client: FlaskClient, query: str, selected: str
) -> None:
    html = ui_client.get("/" + query).get_data(as_text=True)
    tabs = re.findall(r'<button type="button" role="tab" id="scope-(\w+)"[^>]*>', html)
    assert tabs == ["entries", "text", "all"]
    chosen = re.findall(r'id="scope-(\w+)"[^>]*aria-selected="true" tabindex="0"', html)
    assert chosen == [selected]
    assert f'role="tabpanel" aria-labelledby="scope-{selected}"' in html


def test_search_box_keeps_the_query_escaped(ui_client: FlaskClient) -> None:
    html = ui_client.get("/", query_string={"q": '"><script>x()</script>'}).get_data(as_text=True)
    assert "<script>x()" not in html
    assert 'value="&#34;&gt;&lt;script&gt;x()&lt;/script&gt;"' in html


def test_static_assets_are_served_with_their_types(ui_client: FlaskClient) -> None:
    for name, mimetype in [
        ("search.js", "text/javascript"),
        ("common.js", "text/javascript"),
        ("style.css", "text/css"),
    ]:
        with ui_client.get(f"/assets/{name}") as response:
            assert response.status_code == 200, name
            assert response.mimetype == mimetype


def test_entry_page_shows_entry_and_context_in_file_order(ui_client: FlaskClient) -> None:
    entry_id = _entry_id(ui_client, '"tide table"')
    response = ui_client.get(f"/entry/{entry_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "The tide table for the harbor is ready" in html
    assert "team/<wbr>harbor_dialog.md:" in html
    context = html[html.index('id="context"') :]
    lines = [int(n) for n in re.findall(r'class="line-no">line (\d+)', context)]
    assert lines == sorted(lines) and len(lines) >= 3
    assert "this entry" in context
    assert '<rect width="14" height="14" rx="3" fill="#0066FF"/>' in html


def _message_html(html: str) -> str:
    """The rendered message of an entry page (the <div class="message …"> element)."""
    start = html.index('<div class="message markdown">')
    return html[start : html.index("</div>", start)]


def test_entry_page_escapes_stored_markup(ui_client: FlaskClient) -> None:
    entry_id = _entry_id(ui_client, '"attack two"')
    html = ui_client.get(f"/entry/{entry_id}").get_data(as_text=True)
    assert "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in _message_html(html)
    assert "&amp; &lt;b&gt;bold&lt;/b&gt;" in _message_html(html)
    assert "&lt;img src=x onerror=&#34;window.__xss=1&#34;&gt;" in html  # the file's text


DEEP_FILE = "lupopedia/docs/channels/schema/migrations/analysis/SCHEMA_SYNC_4_0_46_SUMMARY.md"


def _hit(client: FlaskClient, q: str, dialog_file: str, line: int) -> dict:
    answer = client.get("/api/dialog/search", query_string={"q": q, "scope": "all"}).get_json()
    return next(h for h in answer["hits"] if (h["dialog_file"], h["line"]) == (dialog_file, line))


def test_entry_page_renders_the_message_as_markdown(ui_client: FlaskClient) -> None:
    hit = _hit(ui_client, "audit covered", DEEP_FILE, 26)
    html = ui_client.get(f"/entry/{hit['dialog_entry_id']}").get_data(as_text=True)
    message = _message_html(html)
    assert "<strong>three tables</strong>" in message
    assert "<code>ALTER TABLE</code>" in message
    assert "<li><strong>lupo_dialog_entries</strong>: renamed <code>mood_rgb</code></li>" in message
    assert "<th>Table</th>" in message and "<td>1200</td>" in message
    assert '<a href="https://example.org/channels">the channel docs</a>' in message
    assert "**" not in message and "`" not in message


def test_api_keeps_the_markdown_source_and_snippets_leave_it_out(ui_client: FlaskClient) -> None:
    hit = _hit(ui_client, "audit covered", DEEP_FILE, 26)
    assert "The audit covered **three tables** with `ALTER TABLE` checks:" in hit["message"]
    assert "| lupo_dialog_entries | 1200 |" in hit["body"]
    assert hit["snippet"].startswith("The <mark>audit</mark> <mark>covered</mark> three tables")
    for syntax in ("**", "`", "| ", "](", "*lupo"):
        assert syntax not in hit["snippet"]
    entry = ui_client.get(f"/api/dialog/entry/{hit['dialog_entry_id']}").get_json()
    assert entry["message"] == hit["message"] and entry["body"] == hit["body"]


def test_context_previews_show_text_without_markdown(ui_client: FlaskClient) -> None:
    hit = _hit(ui_client, "migration audit", DEEP_FILE, 14)
    html = ui_client.get(f"/entry/{hit['dialog_entry_id']}").get_data(as_text=True)
    context = html[html.index('id="context"') :]
    assert "Row counts of lupo_dialog_entries match before and after the migration." in context


def test_stats_page_has_one_name_in_nav_title_and_heading(ui_client: FlaskClient) -> None:
    html = ui_client.get("/stats").get_data(as_text=True)
    nav = html[html.index('<nav aria-label="Main">') : html.index("</nav>")]
    link = re.search(r'<a href="/stats"[^>]*>([^<]+)</a>', nav)
    assert link is not None
    name = link.group(1)
    assert name.lower() == "stats"  # the page's URL and its API say "stats"
    assert f"<title>{name} · dialogsearch</title>" in html
    assert f'<h1 class="page-title">{name}</h1>' in html


def test_entry_page_lists_cross_reference_terms(ui_client: FlaskClient) -> None:
    entry_id = _entry_id(ui_client, '"lamp runs"')
    html = ui_client.get(f"/entry/{entry_id}").get_data(as_text=True)
    assert 'data-xref="[&#34;HB_042&#34;]"' in html


@pytest.mark.parametrize("entry_id", ["999999999", "abc", "12a", "99999999999999999999", "٣"])
def test_unknown_or_malformed_entry_is_an_html_404(ui_client: FlaskClient, entry_id: str) -> None:
    response = ui_client.get(f"/entry/{entry_id}")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not found" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see beacon_notes.md and dialogs/GOV_dialog.md", ["beacon_notes.md", "GOV_dialog.md"]),
        ("tracked as HB_042, also PT-001 and hb_042", ["HB_042", "PT-001"]),
        ("rows in lupo_dialog_entries, version 4.3.3", ["lupo_dialog_entries"]),
        ("scripts/run.PS1 then app.py", ["run.PS1", "app.py"]),
        ("plain words only, v4.0.50", []),
        ("a.md b.md c.md d.md e.md f.md g.md", ["a.md", "b.md", "c.md", "d.md", "e.md", "f.md"]),
    ],
)
def test_xref_terms_finds_file_names_and_ids(text: str, expected: list[str]) -> None:
    assert xref_terms(text) == expected


@pytest.mark.parametrize(
    ("value", "human", "iso"),
    [
        (20260116071500, "2026-01-16 07:15 UTC", "2026-01-16T07:15:00Z"),
        (20260116000000, "2026-01-16", "2026-01-16T00:00:00Z"),
        (None, "", ""),
    ],
)
def test_timestamps_read_for_people_and_machines(value, human: str, iso: str) -> None:
    assert format_timestamp(value) == human
    assert iso_timestamp(value) == iso


def test_entry_page_answers_from_the_files_when_the_database_is_gone(tmp_path: Path) -> None:
    root = tmp_path / "dialogs"
    shutil.copytree(DIALOG_TREE, root)
    db_path = tmp_path / "gone.db"
    reindex(root, db_path)
    app = create_app({"ROOT": str(root), "DB": str(db_path), "TESTING": True})
    try:
        client = app.test_client()
        entry_id = _entry_id(client, '"tide table"')
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        response = client.get(f"/entry/{entry_id}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert '<div class="message markdown"><p>The tide table for the harbor is ready' in html
        assert "Who keeps the lighthouse lamp lit" in html
    finally:
        app.extensions["dialogsearch"].close()
