"""26 stored XSS payloads, written through the API, never run in Chromium: not on the
search page, not on any entry page, and not merely blocked by CSP (no CSP violation
either, so the escaping itself holds). tests/browser checks two payloads; this all 26."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rel_payloads import XSS_PAYLOADS
from rel_result import CheckResult
from rel_server import AUTH, ServedProcess, copy_sample_tree

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


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedProcess, list[int]]]:
    work = tmp_path_factory.mktemp("xss")
    root = copy_sample_tree(work / "dialogs")
    db = work / "var" / "dialogs.db"
    db.parent.mkdir()
    server = ServedProcess(root, db, work / "logs")
    server.start()
    ids = []
    for number, payload in enumerate(XSS_PAYLOADS):
        group = "xssgroupa" if number % 2 == 0 else "xssgroupb"
        body = {
            "speaker": "MALLORY",
            "message": f"{group} {payload}",
            "dialog_file": "reliability/xss.md",
        }
        response = requests.post(
            server.url + "/api/dialog/entry", json=body, headers=AUTH, timeout=30
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["dialog_entry_id"])
    yield server, ids
    server.stop()


@pytest.fixture(scope="module")
def page(browser, served: tuple[ServedProcess, list[int]]) -> Iterator[object]:
    context = browser.new_context()
    context.add_init_script(WATCH)
    yield context.new_page()
    context.close()


def _assert_clean(page, where: str, holder: str) -> None:
    """No script ran, CSP had nothing to block, no payload became an element in `holder`."""
    assert page.evaluate("typeof window.__xss") == "undefined", where
    assert page.evaluate("window.__cspViolations") == [], where
    assert page.locator(f"{holder} :is({INJECTED})").count() == 0, where


def test_no_payload_runs_on_the_search_page_or_any_entry_page(page, served) -> None:
    from playwright.sync_api import expect

    server, ids = served
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
