"""26 stored XSS payloads, written through the API, never run in Chromium: not on the
search page, not on any entry page, and not merely blocked by CSP (no CSP violation
either, so the escaping itself holds). tests/browser checks two payloads; this all 26.

The entry page renders messages as Markdown, so the 26 go through the Markdown
renderer too, and so do payloads made for it (MARKDOWN_XSS_PAYLOADS): no script
runs, no link leads anywhere but http(s), no image loads, nothing is fetched
from another origin."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from support.rel_payloads import MARKDOWN_XSS_PAYLOADS, XSS_PAYLOADS
from support.rel_result import CheckResult
from support.rel_server import AUTH, ServedProcess, copy_sample_tree

pytestmark = pytest.mark.browser

INJECTED = (
    "script, img, svg, iframe, object, embed, video, details, input, form, meta, style, "
    "body, a[href^='javascript']"
)
WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || ''));
});
"""


def _markdown_group(number: int) -> str:
    """A word that finds half of the Markdown payloads (a page shows 20 hits)."""
    return "xssmdeven" if number % 2 == 0 else "xssmdodd"


def _post(server: ServedProcess, message: str) -> int:
    """Write one MALLORY entry with `message` through the API; its id."""
    body = {"speaker": "MALLORY", "message": message, "dialog_file": "reliability/xss.md"}
    response = requests.post(server.url + "/api/dialog/entry", json=body, headers=AUTH, timeout=30)
    assert response.status_code == 201, response.text
    return int(response.json()["dialog_entry_id"])


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServedProcess, list[int], list[int]]]:
    """The server, the ids of the 26 payloads' entries and of the Markdown payloads' entries."""
    work = tmp_path_factory.mktemp("xss")
    root = copy_sample_tree(work / "dialogs")
    db = work / "var" / "dialogs.db"
    db.parent.mkdir()
    server = ServedProcess(root, db, work / "logs")
    server.start()
    ids = []
    for number, payload in enumerate(XSS_PAYLOADS):
        group = "xssgroupa" if number % 2 == 0 else "xssgroupb"
        ids.append(_post(server, f"{group} {payload}"))
    # A paragraph of its own before the payload, so block syntax (tables, fences) holds.
    markdown_ids = [
        _post(server, f"{_markdown_group(number)}\n\n{payload}")
        for number, payload in enumerate(MARKDOWN_XSS_PAYLOADS)
    ]
    yield server, ids, markdown_ids
    server.stop()


@pytest.fixture(scope="module")
def page(browser, served: tuple[ServedProcess, list[int], list[int]]) -> Iterator[object]:
    context = browser.new_context()
    context.add_init_script(WATCH)
    opened = context.new_page()
    server_url = served[0].url
    # Nothing may be fetched from anywhere but the service (an image, a frame, a link).
    opened.foreign_requests = []
    opened.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((server_url, "data:"))
            else opened.foreign_requests.append(request.url)
        ),
    )
    yield opened
    context.close()


def _assert_clean(page, where: str, holder: str) -> None:
    """No script ran, CSP had nothing to block, no payload became an element in `holder`,
    every link on the page is http(s), and nothing came from another origin."""
    assert page.evaluate("typeof window.__xss") == "undefined", where
    assert page.evaluate("window.__cspViolations") == [], where
    assert page.locator(f"{holder} :is({INJECTED})").count() == 0, where
    protocols = page.evaluate(
        "[...document.querySelectorAll('[href], [src], [action], [formaction], [data]')]"
        ".map(node => new URL(node.getAttribute('href') ?? node.getAttribute('src') ??"
        " node.getAttribute('action') ?? node.getAttribute('formaction') ??"
        " node.getAttribute('data'), document.baseURI).protocol)"
    )
    assert set(protocols) <= {"http:", "https:"}, (where, protocols)
    assert page.foreign_requests == [], (where, page.foreign_requests)


def test_no_payload_runs_on_the_search_page_or_any_entry_page(page, served) -> None:
    from playwright.sync_api import expect

    server, ids, _markdown_ids = served
    shown = 0
    for group in ("xssgroupa", "xssgroupb"):
        page.goto(f"{server.url}/?q={group}")
        expect(page.locator("#results")).to_have_attribute("data-q", group)
        expect(page.locator("#results .hit-link")).to_have_count(len(XSS_PAYLOADS) // 2)
        shown += page.locator("#results .hit-link").count()
        expect(page.locator("#results")).to_contain_text(
            "<script>window.__xss=1</script>" if group == "xssgroupa" else "xssgroupb"
        )
        _assert_clean(page, f"search {group}", "#results")
    for entry_id in ids:
        page.goto(f"{server.url}/entry/{entry_id}")
        expect(page.locator(".message")).to_contain_text("xssgroup")
        _assert_clean(page, f"entry {entry_id}", ".message")
    result = CheckResult(
        "Stored XSS in Chromium",
        did={"payloads": len(XSS_PAYLOADS), "results shown": shown, "entry pages": len(ids)},
        held={"scripts run": 0, "CSP violations": 0, "injected elements": 0},
        command="pytest tests/reliability/test_xss_browser.py",
    )
    print(result.as_row())
    folder = os.environ.get("RELIABILITY_RESULTS")
    if folder:
        result.save(Path(folder))


def test_no_markdown_payload_runs_links_to_script_or_loads_anything(page, served) -> None:
    from playwright.sync_api import expect

    server, _ids, markdown_ids = served
    for group in ("xssmdeven", "xssmdodd"):
        page.goto(f"{server.url}/?q={group}")
        expect(page.locator("#results")).to_have_attribute("data-q", group)
        expected = sum(_markdown_group(n) == group for n in range(len(MARKDOWN_XSS_PAYLOADS)))
        expect(page.locator("#results .hit-link")).to_have_count(expected)
        _assert_clean(page, f"search {group}", "#results")
    rendered_links = 0
    for number, (entry_id, payload) in enumerate(
        zip(markdown_ids, MARKDOWN_XSS_PAYLOADS, strict=True)
    ):
        stored = requests.get(f"{server.url}/api/dialog/entry/{entry_id}", timeout=30).json()
        # The API keeps the source text.
        assert stored["message"] == f"{_markdown_group(number)}\n\n{payload}"
        page.goto(f"{server.url}/entry/{entry_id}")
        expect(page.locator(".message")).to_contain_text(_markdown_group(number))
        _assert_clean(page, f"entry {entry_id}: {payload!r}", ".message")
        assert page.locator(".message img, .message [style]").count() == 0, payload
        rendered_links += page.locator(".message a").count()
    # The https links among the payloads are links; everything else stayed text.
    assert rendered_links == 2
