"""The web page in a real Chromium against a real `dialogsearch serve` process."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def shot(page: Page, tmp_path: Path, name: str) -> None:
    """Save a full-page screenshot beside the test's other files."""
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def total_of(page: Page) -> str:
    """The "N entries" part of the summary (without the time it took)."""
    summary = page.locator("#summary")
    expect(summary).to_contain_text("entr")
    return re.match(r"(about )?[\d,]+ entr(y|ies)", summary.inner_text()).group(0)


def search(page: Page, base_url: str, text: str) -> None:
    """Open the search page and type `text` key by key, as a person would."""
    page.goto(base_url + "/")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type(text, delay=20)
    expect(page.locator("#results")).to_have_attribute("data-q", text)
    expect(page.locator(".results-area")).not_to_have_attribute("aria-busy", "true")


def test_typing_shows_highlighted_results(page: Page, server, tmp_path: Path) -> None:
    search(page, server.base_url, "lighth")
    hits = page.locator("#results .hit")
    expect(hits.first).to_be_visible()
    marks = page.locator("#results mark")
    expect(marks.first).to_be_visible()
    assert all(text.lower().startswith("lighth") for text in marks.all_inner_texts())
    first = hits.first
    expect(first.locator(".speaker")).not_to_be_empty()
    expect(first.locator(".file-line")).to_have_text(re.compile(r"\.md:\d+$"))
    swatch = page.locator("#results .mood .swatch").first
    hex_text = page.locator("#results .mood .hex").first.inner_text()
    colour = swatch.evaluate("node => getComputedStyle(node).backgroundColor")
    red, green, blue = (int(hex_text[i : i + 2], 16) for i in (1, 3, 5))
    assert colour == f"rgb({red}, {green}, {blue})"
    expect(page).to_have_url(re.compile(r"\?q=lighth$"))
    took = re.compile(r"\d+ (entry|entries) in [\d.]+ ms")
    expect(page.locator("#summary")).to_contain_text(took)
    shot(page, tmp_path, "highlighted-results")


def test_speaker_facet_changes_list_and_counts(page: Page, server, tmp_path: Path) -> None:
    page.goto(server.base_url + "/?q=lighthouse")
    facet = page.locator('#facets button[data-facet="speaker"][data-value="KIRO"]')
    expect(facet).to_be_visible()
    before_total = total_of(page)
    lilith_count = page.locator(
        '#facets button[data-facet="speaker"][data-value="LILITH"] .count'
    ).inner_text()
    target_counts = page.locator('#facets [data-facet="target"] .count').all_inner_texts()
    facet.click()
    expect(page).to_have_url(re.compile(r"speaker=KIRO"))
    expect(facet).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#summary")).not_to_contain_text(before_total)
    speakers = page.locator("#results .hit .speaker")
    expect(speakers.first).to_have_text("KIRO")
    assert set(speakers.all_inner_texts()) == {"KIRO"}
    # Siblings keep their own counts; other facets now count only KIRO's entries.
    expect(
        page.locator('#facets button[data-facet="speaker"][data-value="LILITH"] .count')
    ).to_have_text(lilith_count)
    expect(page.locator('#facets [data-facet="target"] .count')).not_to_have_text(target_counts)
    expect(page.locator("#chips .chip")).to_contain_text("KIRO")
    shot(page, tmp_path, "speaker-facet")
    page.locator("#chips .chip").click()
    expect(page).not_to_have_url(re.compile(r"speaker="))
    expect(page.locator("#summary")).to_contain_text(before_total)


def test_keyboard_opens_entry_with_context(page: Page, server, tmp_path: Path) -> None:
    search(page, server.base_url, "tide table ready")
    expect(page.locator("#results .hit mark").first).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(page.locator("#results .hit-link").first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/entry/\d+$"))
    expect(page.locator("h1")).to_contain_text("Tide table")
    expect(page.locator(".message")).to_contain_text("The tide table for the harbor is ready")
    expect(page.locator(".file-line")).to_have_text(re.compile(r"^team/harbor_dialog\.md:\d+"))
    context = page.locator("#context .mini")
    expect(context.nth(1)).to_be_visible()
    expect(page.locator("#context .mini.current")).to_contain_text("this entry")
    expect(page.locator("#context")).to_contain_text("Who keeps the lighthouse lamp lit")
    expect(page.locator("#xrefs")).not_to_contain_text("Searching")
    shot(page, tmp_path, "entry-context")
    page.keyboard.press("/")
    expect(page).to_have_url(server.base_url + "/")
    expect(page.locator("#q")).to_be_focused()


def test_cross_references_find_entries_naming_the_same_id(page: Page, server) -> None:
    page.goto(server.base_url + "/?q=HB_042")
    hits = page.locator("#results .hit-link")
    expect(hits.first).to_be_visible()
    page.locator("#results .hit-link", has_text="lighthouse lamp runs").click()
    expect(page.locator("#xrefs .mini").first).to_contain_text("HB_042")
    expect(page.locator("#xrefs")).to_contain_text("Garden dialog")


def test_url_round_trips_through_reload_and_back(page: Page, server, tmp_path: Path) -> None:
    page.goto(server.base_url + "/?q=lamp&speaker=CURSOR&sort=oldest")
    expect(page.locator("#q")).to_have_value("lamp")
    expect(page.locator("#sort")).to_have_value("oldest")
    expect(page.locator("#chips")).to_contain_text("CURSOR")
    expect(page.locator("#results .hit .speaker").first).to_have_text("CURSOR")
    page.reload()
    expect(page.locator("#q")).to_have_value("lamp")
    expect(page.locator("#sort")).to_have_value("oldest")
    expect(page.locator("#results .hit .speaker").first).to_have_text("CURSOR")
    page.locator("#sort").select_option("newest")
    expect(page).to_have_url(re.compile(r"sort=newest"))
    page.locator("#chips .chip").click()
    expect(page).not_to_have_url(re.compile(r"speaker="))
    page.go_back()
    expect(page).to_have_url(re.compile(r"speaker=CURSOR.*sort=newest"))
    expect(page.locator("#chips")).to_contain_text("CURSOR")
    page.go_back()
    expect(page).to_have_url(re.compile(r"sort=oldest"))
    expect(page.locator("#sort")).to_have_value("oldest")
    page.go_forward()
    expect(page.locator("#sort")).to_have_value("newest")
    shot(page, tmp_path, "url-round-trip")


def test_stored_script_shows_as_text_and_never_runs(page: Page, server, tmp_path: Path) -> None:
    response = requests.get(server.base_url + "/", timeout=5)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    search(page, server.base_url, "attack")
    results = page.locator("#results")
    expect(results).to_contain_text("<script>window.__xss=1</script>")
    expect(results).to_contain_text('<img src=x onerror="window.__xss=1">')
    assert page.locator("#results script, #results img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    shot(page, tmp_path, "xss-results")
    page.locator("#results .hit-link", has_text="attack two").click()
    expect(page.locator(".message")).to_contain_text('<img src=x onerror="window.__xss=1">')
    assert page.locator("main img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    shot(page, tmp_path, "xss-entry")


def test_empty_results_show_a_hint(page: Page, server) -> None:
    search(page, server.base_url, "zebracorn")
    expect(page.locator("#state")).to_contain_text("Nothing matches")
    expect(page.locator("#state .hint")).to_be_visible()


def test_stats_page_draws_timeline_moods_and_matrix(page: Page, server, tmp_path: Path) -> None:
    page.goto(server.base_url + "/stats")
    expect(page.locator("#timeline svg rect.bar").first).to_be_visible()
    expect(page.locator('#moods svg rect[fill="#FF6600"]').first).to_be_visible()
    expect(page.locator("#matrix table")).to_contain_text("LILITH")
    shot(page, tmp_path, "stats")


def test_phone_width_has_no_sideways_scroll(browser, server, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, color_scheme="dark")
    phone = context.new_page()
    phone.goto(server.base_url + "/?q=lighthouse")
    expect(phone.locator("#results .hit").first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
    context.close()


def test_fallback_banner_appears_when_the_database_is_removed(
    page: Page, own_server, tmp_path: Path
) -> None:
    search(page, own_server.base_url, "harbor")
    expect(page.locator("#mode-banner")).to_be_hidden()
    for suffix in ("", "-wal", "-shm"):
        Path(str(own_server.db_path) + suffix).unlink(missing_ok=True)
    page.locator("#q").fill("harbor grid")
    expect(page.locator("#mode-banner")).to_be_visible()
    expect(page.locator("#results .hit mark").first).to_be_visible()
    expect(page.locator("#summary .source-tag")).to_have_text("from files")
    shot(page, tmp_path, "fallback-banner")


def test_unreachable_service_shows_a_banner(page: Page, own_server, tmp_path: Path) -> None:
    search(page, own_server.base_url, "harbor")
    own_server.process.terminate()
    own_server.process.wait(timeout=10)
    page.locator("#q").fill("harbor fog")
    expect(page.locator("#offline-banner")).to_be_visible()
    expect(page.locator("#state")).to_contain_text("cannot be reached")
    shot(page, tmp_path, "unreachable")
