"""The page says which correction it searched, and searches the words as written on request."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_showing_results_for_the_correction_and_search_instead(page: Page, server) -> None:
    page.goto(server.base_url + "/?q=lighthose%20lamp")
    notice = page.locator("#corrected")
    expect(notice).to_have_text(
        "Showing results for lighthouse lamp — search instead for lighthose lamp"
    )
    expect(page.locator("#results .hit").first).to_be_visible()
    expect(page.locator("#results mark").first).to_have_text(re.compile("lighthouse", re.I))

    notice.get_by_role("link", name="lighthose lamp").click()
    expect(page).to_have_url(re.compile(r"typos=off"))
    expect(notice).to_be_hidden()
    expect(page.locator("#state")).to_contain_text("Nothing matches")

    page.locator("#q").fill("lighthose")  # a new text is corrected again
    expect(notice).to_contain_text("Showing results for lighthouse")
