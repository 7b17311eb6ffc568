"""The search page follows the index: "New results — refresh" when an open list's hits change.

A real server following its dialogs folder (the watcher), pages asking every 0.3 s whether
the index changed (conftest's `following_server`), files changed as an editor saves them.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from support.fixtures_api import append_entry

pytestmark = pytest.mark.browser

#: Generous: the watcher settles, reindexes, and the page asks again, all within ~1 s.
CHANGE_TIMEOUT_MS = 30_000


def open_list(page: Page, url: str, q: str) -> None:
    """Open a search and wait until its list is drawn."""
    page.goto(url)
    expect(page.locator("#results")).to_have_attribute("data-q", q)
    expect(page.locator(".results-area")).not_to_have_attribute("aria-busy", "true")


def test_a_new_matching_entry_is_offered_and_shown_on_request(page: Page, following_server) -> None:
    harbor = following_server.root / "team" / "harbor_dialog.md"
    open_list(page, following_server.base_url + "/?q=quokka", "quokka")
    expect(page.locator("#state")).to_contain_text("Nothing matches")
    updated = page.locator("#index-updated time")
    expect(updated).to_be_visible()
    started = updated.get_attribute("datetime")
    notice = page.locator("#fresh-button")
    expect(notice).to_be_hidden()

    # A change that leaves this list alone: the time moves, nothing is offered.
    append_entry(harbor, "Tide table", "The tide table for March is pinned by the door.")
    expect(updated).not_to_have_attribute("datetime", started, timeout=CHANGE_TIMEOUT_MS)
    expect(notice).to_be_hidden()

    # A change to its hits: offered politely, the list left as it is until asked.
    append_entry(harbor, "Visitor", "A quokka was seen near the lighthouse at dawn.")
    expect(notice).to_be_visible(timeout=CHANGE_TIMEOUT_MS)
    expect(notice).to_have_text("New results — refresh")
    expect(page.locator("#fresh-notice")).to_have_attribute("role", "status")
    expect(page.locator("#results .hit")).to_have_count(0)
    notice.click()
    hit = page.locator("#results .hit")
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text("quokka was seen")
    expect(notice).to_be_hidden()
    expect(page.locator("#results .hit-link").first).to_be_focused()


def test_the_notice_is_reached_from_the_keyboard(page: Page, following_server) -> None:
    open_list(page, following_server.base_url + "/?q=lighthouse", "lighthouse")
    before = page.locator("#results .hit").count()
    harbor = following_server.root / "team" / "harbor_dialog.md"
    append_entry(harbor, "Lamp", "The lighthouse lamp was cleaned tonight.")
    notice = page.locator("#fresh-button")
    expect(notice).to_be_visible(timeout=CHANGE_TIMEOUT_MS)
    page.locator("#q").focus()
    for _ in range(60):  # Tab until the notice has the focus
        page.keyboard.press("Tab")
        if notice.evaluate("node => node === document.activeElement"):
            break
    expect(notice).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#results")).to_contain_text("lamp was cleaned")
    assert page.locator("#results .hit").count() >= before
