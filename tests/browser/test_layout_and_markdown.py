"""Long paths and Markdown on the real pages: no sideways scroll, rendered text, clean snippets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

DEEP_FILE = "lupopedia/docs/channels/schema/migrations/analysis/SCHEMA_SYNC_4_0_46_SUMMARY.md"
VIEWPORTS = {"desktop": (1366, 900), "phone": (390, 844)}
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def entry_id(server, q: str, dialog_file: str, line: int) -> int:
    """The id of the entry or text section at `dialog_file:line` among the hits of `q`."""
    params = {"q": q, "per_page": 100, "scope": "all"}
    answer = requests.get(server.base_url + "/api/dialog/search", params=params, timeout=10).json()
    return next(
        int(hit["dialog_entry_id"])
        for hit in answer["hits"]
        if hit["dialog_file"] == dialog_file and hit["line"] == line
    )


@pytest.fixture(params=sorted(VIEWPORTS))
def sized_page(browser, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    """A page at desktop (1366x900) or phone (390x844) size; page errors fail the test."""
    width, height = VIEWPORTS[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"the page reported errors: {errors}"


def shot(page: Page, tmp_path: Path, name: str) -> None:
    width = page.viewport_size["width"]
    page.screenshot(path=str(tmp_path / f"{name}-{width}.png"), full_page=True)


def assert_no_sideways_scroll(page: Page, where: str) -> None:
    sizes = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert sizes[0] <= sizes[1], f"{where}: the page is {sizes[0]} px wide in {sizes[1]} px"


def test_search_page_with_deep_paths_fits_the_window(
    sized_page: Page, server, tmp_path: Path
) -> None:
    sized_page.goto(server.base_url + "/?q=schema")
    expect(sized_page.locator("#results .hit").first).to_be_visible()
    expect(sized_page.locator("#results")).to_contain_text("SCHEMA_SYNC_4_0_46_SUMMARY.md")
    sized_page.locator("#facets-box").evaluate("box => { box.open = true; }")
    deep = sized_page.locator(f'#facets button[data-facet="file"][data-value="{DEEP_FILE}"]')
    expect(deep).to_be_visible()
    expect(deep).to_have_attribute("title", DEEP_FILE)
    assert_no_sideways_scroll(sized_page, "search page")
    shot(sized_page, tmp_path, "search-deep-paths")


def test_entry_page_with_long_cross_reference_paths_fits_the_window(
    sized_page: Page, server, tmp_path: Path
) -> None:
    team_id = entry_id(server, "team release notes", "team/CHANGELOG.md", 5)
    sized_page.goto(f"{server.base_url}/entry/{team_id}")
    xref = sized_page.locator("#xrefs .mini", has_text="SCHEMA_SYNC_4_0_46_SUMMARY.md:14")
    expect(xref).to_be_visible()
    list_box = sized_page.locator("#xrefs .mini-list").bounding_box()
    for item in sized_page.locator("#xrefs .mini").all():
        box = item.bounding_box()
        assert box["x"] + box["width"] <= list_box["x"] + list_box["width"] + 0.5
    assert_no_sideways_scroll(sized_page, "entry page (cross-references)")
    # However the path is cut to fit, the whole of it is at hand.
    expect(xref.locator(f'[title="{DEEP_FILE}:14"]')).to_have_count(1)
    shot(sized_page, tmp_path, "entry-xrefs")

    deep_id = entry_id(server, "migration audit", DEEP_FILE, 14)
    sized_page.goto(f"{server.base_url}/entry/{deep_id}")
    expect(sized_page.locator("#xrefs")).not_to_contain_text("Searching")
    assert_no_sideways_scroll(sized_page, "entry page (deep file)")
    shot(sized_page, tmp_path, "entry-deep-file")


def test_stats_page_fits_the_window_with_its_grid_note_in_view(
    sized_page: Page, server, tmp_path: Path
) -> None:
    sized_page.goto(server.base_url + "/stats")
    expect(sized_page.locator("#matrix table")).to_contain_text("CAPTAIN_WOLFIE")
    note = sized_page.get_by_text("Click a cell to search it.")
    expect(note).to_be_visible()
    right = note.evaluate("node => node.getBoundingClientRect().right")
    view = sized_page.evaluate("document.documentElement.clientWidth")
    assert right <= view, f"the grid's note ends at {right} px in a {view} px window"
    assert_no_sideways_scroll(sized_page, "stats page")
    shot(sized_page, tmp_path, "stats")


def test_file_facet_tells_same_named_files_apart(page: Page, server, tmp_path: Path) -> None:
    page.goto(server.base_url + "/?q=changelog")
    buttons = page.locator('#facets button[data-facet="file"]')
    expect(buttons).to_have_count(2)
    labels = [label.strip() for label in buttons.locator(".facet-label").all_inner_texts()]
    values = [button.get_attribute("data-value") for button in buttons.all()]
    assert sorted(values) == ["lupopedia/docs/CHANGELOG.md", "team/CHANGELOG.md"]
    assert len(set(labels)) == 2, f"two files, one label: {labels}"
    assert [button.get_attribute("title") for button in buttons.all()] == values
    shot(page, tmp_path, "file-facet")


def test_entry_page_renders_markdown(page: Page, server, tmp_path: Path) -> None:
    section_id = entry_id(server, "audit covered", DEEP_FILE, 26)
    page.goto(f"{server.base_url}/entry/{section_id}")
    message = page.locator(".message")
    expect(message.locator("strong").first).to_have_text("three tables")
    expect(message.locator("code").first).to_have_text("ALTER TABLE")
    expect(message.locator("li")).to_have_count(2)
    expect(message.locator("table tbody tr")).to_have_count(2)
    expect(message.locator("table th").first).to_have_text("Table")
    link = message.locator("a", has_text="the channel docs")
    expect(link).to_have_attribute("href", "https://example.org/channels")
    text = message.inner_text()
    assert "**" not in text and "`" not in text and "|" not in text and "](" not in text
    shot(page, tmp_path, "markdown-section")

    audit_id = entry_id(server, "migration audit", DEEP_FILE, 14)
    page.goto(f"{server.base_url}/entry/{audit_id}")
    expect(page.locator(".message strong")).to_have_text("migration audit")
    expect(page.locator(".message code")).to_have_text("lupo_dialog_entries")
    # The neighbours in the file show their text without its Markdown syntax.
    rows = page.locator("#context .mini-text", has_text="Row counts")
    expect(rows).to_have_text(
        "Row counts of lupo_dialog_entries match before and after the migration."
    )
    shot(page, tmp_path, "markdown-entry")


def test_snippets_show_text_without_markdown_syntax(page: Page, server, tmp_path: Path) -> None:
    page.goto(server.base_url + "/?q=audit")
    expect(page.locator("#results")).to_have_attribute("data-q", "audit")
    snippets = page.locator("#results .snippet")
    expect(snippets.first).to_be_visible()
    expect(page.locator("#results .snippet mark").first).to_have_text("audit")
    texts = snippets.all_inner_texts()
    assert any("migration audit" in text for text in texts), texts
    for text in texts:
        for syntax in ("**", "`", "| ", "](", "- **"):
            assert syntax not in text, f"{syntax!r} in the snippet {text!r}"
    shot(page, tmp_path, "markdown-snippets")
