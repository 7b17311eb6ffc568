"""The search page's scope tabs, folded copies and name spellings (issue 13), in Chromium.

Over the copies tree (conftest.build_copies_tree): the small tree with one file held twice,
as `docs/…` and `lupopedia/docs/…`, and one speaker written three ways.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def api(server, **params: str) -> dict:
    """The search API's answer (the page's own facets asked, as the page asks)."""
    params = {"facets": "speaker,target,mood,file,format", **params}
    response = requests.get(server.base_url + "/api/dialog/search", params=params, timeout=10)
    response.raise_for_status()
    return response.json()


def shown(page: Page, url: str, q: str) -> None:
    """Open `url` and wait until the list shows the answer to `q`."""
    page.goto(url)
    settled(page, q)


def settled(page: Page, q: str) -> None:
    expect(page.locator("#results")).to_have_attribute("data-q", q)
    expect(page.locator(".results-area")).not_to_have_attribute("aria-busy", "true")


def tab(page: Page, scope: str):
    return page.locator(f'#scope-tabs [role="tab"][data-scope="{scope}"]')


def expect_selected(page: Page, scope: str) -> None:
    expect(tab(page, scope)).to_have_attribute("aria-selected", "true")
    expect(page.locator('#scope-tabs [aria-selected="true"]')).to_have_count(1)
    expect(page.locator("#results-panel")).to_have_attribute("aria-labelledby", f"scope-{scope}")


def test_scope_tabs_count_what_the_api_counts_and_switch_the_list(
    page: Page, copies_server, tmp_path: Path
) -> None:
    scopes = api(copies_server, q="audit")["scopes"]
    everything = api(copies_server, q="audit", scope="all")["total"]
    assert scopes["entries"] > 0 and scopes["text"] > 0
    shown(page, copies_server.base_url + "/?q=audit", "audit")
    expect_selected(page, "entries")
    expect(tab(page, "entries")).to_have_text(f"Dialog entries ({scopes['entries']})")
    expect(tab(page, "text")).to_have_text(f"Text sections ({scopes['text']})")
    expect(tab(page, "all")).to_have_text(f"All ({everything})")
    expect(page.locator("#results .hit-section")).to_have_count(0)

    tab(page, "text").click()
    expect(page).to_have_url(re.compile(r"\?q=audit&scope=text$"))
    settled(page, "audit")
    expect_selected(page, "text")
    expect(page.locator("#results .hit")).to_have_count(scopes["text"])
    expect(page.locator("#results .hit-section")).to_have_count(scopes["text"])
    expect(page.locator("#summary")).to_contain_text(re.compile(r"^\d+ text sections? in"))
    expect(tab(page, "entries")).to_have_text(f"Dialog entries ({scopes['entries']})")

    # The keyboard: ← → move along the tabs, Enter picks one; Tab goes on to the list.
    tab(page, "text").focus()
    page.keyboard.press("ArrowRight")
    expect(tab(page, "all")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"scope=all"))
    settled(page, "audit")
    expect_selected(page, "all")
    expect(tab(page, "all")).to_be_focused()
    expect(page.locator("#results .hit")).to_have_count(everything)
    expect(tab(page, "text")).to_have_text(f"Text sections ({scopes['text']})")  # counted anyway
    page.screenshot(path=str(tmp_path / "scope-all.png"), full_page=True)

    page.go_back()
    expect_selected(page, "text")
    page.go_back()
    expect(page).to_have_url(re.compile(r"\?q=audit$"))
    expect_selected(page, "entries")
    page.goto(copies_server.base_url + "/?q=audit&scope=text")  # a shared link: its tab
    settled(page, "audit")
    expect_selected(page, "text")


def test_typing_updates_the_counts_and_an_empty_tab_points_to_the_other(
    page: Page, copies_server
) -> None:
    shown(page, copies_server.base_url + "/?q=audit", "audit")
    page.locator("#q").fill("audit covered")
    settled(page, "audit covered")
    scopes = api(copies_server, q="audit covered")["scopes"]
    assert scopes == {"entries": 0, "text": 1}
    expect(tab(page, "entries")).to_have_text("Dialog entries (0)")
    expect(tab(page, "text")).to_have_text("Text sections (1)")
    expect(page.locator("#state")).to_contain_text("No dialog entries match “audit covered”.")
    page.locator("#state").get_by_role("button", name="Show 1 text section").click()
    expect(page).to_have_url(re.compile(r"scope=text"))
    expect_selected(page, "text")
    expect(tab(page, "text")).to_be_focused()
    expect(page.locator("#results .hit-section")).to_have_count(1)


def test_a_format_filter_hides_the_tabs(page: Page, copies_server) -> None:
    shown(page, copies_server.base_url + "/?q=audit&format=bold", "audit")
    assert api(copies_server, q="audit", format="bold")["scopes"] is None
    expect(page.locator("#scope-tabs")).to_be_hidden()
    expect(page.locator("#results-panel")).not_to_have_attribute("role", "tabpanel")
    page.locator("#chips .chip").click()
    settled(page, "audit")
    expect(page.locator("#scope-tabs")).to_be_visible()
    expect(page.locator("#results-panel")).to_have_attribute("role", "tabpanel")


def test_also_in_lists_the_copy_and_show_all_unfolds_it(
    page: Page, copies_server, tmp_path: Path
) -> None:
    answer = api(copies_server, q="migration audit")
    hit = answer["hits"][0]
    assert hit["copies"] == 1 and answer["folded"] >= 1
    place = hit["also_in"][0]
    pair = sorted([hit["dialog_file"], place["dialog_file"]], key=len)
    assert pair[1] == "lupopedia/" + pair[0]  # docs/… and lupopedia/docs/…
    shown(page, copies_server.base_url + "/?q=migration%20audit", "migration audit")
    first = page.locator("#results .hit").first
    expect(first.locator(".hit-link .file-line")).to_have_text(
        f"{hit['dialog_file']}:{hit['line']}"
    )
    also = first.locator(".also-in")
    expect(also.locator("summary")).to_have_text("also in 1 file")
    expect(also.get_by_role("link")).to_be_hidden()
    also.locator("summary").focus()
    page.keyboard.press("Enter")  # a disclosure: the keyboard opens it
    link = also.get_by_role("link")
    expect(link).to_have_text(f"{place['dialog_file']}:{place['line']}")
    expect(link).to_have_attribute("href", f"/entry/{place['dialog_entry_id']}")
    folded = answer["folded"]
    expect(page.locator("#summary")).to_contain_text(
        f"{folded} {'copy' if folded == 1 else 'copies'} folded"
    )
    page.screenshot(path=str(tmp_path / "also-in.png"), full_page=True)

    show_all = page.locator("#fold-toggle")
    expect(show_all).to_have_text("show all")
    expect(show_all).to_have_accessible_name("Show all copies")
    show_all.click()
    expect(page).to_have_url(re.compile(r"collapse=off"))
    settled(page, "migration audit")
    unfolded = api(copies_server, q="migration audit", collapse="off")
    # Wait for the unfolded list itself (settled() reads the summary's query, which the
    # folded list had too) before reading its places.
    expect(page.locator("#results .hit")).to_have_count(len(unfolded["hits"]))
    places = page.locator("#results .hit-link .file-line").all_inner_texts()
    assert f"{hit['dialog_file']}:{hit['line']}" in places
    assert f"{place['dialog_file']}:{place['line']}" in places
    expect(page.locator("#results .also-in")).to_have_count(0)
    expect(page.locator("#summary")).to_contain_text("copies shown")
    expect(show_all).to_have_text("fold copies")
    expect(show_all).to_be_focused()  # the same link, its words changed

    page.keyboard.press("Enter")
    expect(page).not_to_have_url(re.compile(r"collapse="))
    settled(page, "migration audit")
    expect(page.locator("#results .also-in").first).to_be_visible()
    page.go_back()
    expect(page).to_have_url(re.compile(r"collapse=off"))
    expect(page.locator("#fold-toggle")).to_have_text("fold copies")

    page.goto(copies_server.base_url + f"/entry/{place['dialog_entry_id']}")
    expect(page.locator(".file-line")).to_contain_text(place["dialog_file"].split("/")[-1])


def test_a_speaker_spelt_three_ways_is_one_facet_value(page: Page, copies_server) -> None:
    speakers = api(copies_server, q="lantern")["facets"]["speaker"]
    wolfie = next(item for item in speakers if item["value"] == "CAPTAIN WOLFIE")
    others = [name for name in wolfie["variants"] if name != "CAPTAIN WOLFIE"]
    assert sorted(others) == ["Captain Wolfie", "Captain_Wolfie"]
    shown(page, copies_server.base_url + "/?q=lantern", "lantern")
    values = page.locator('#facets [data-facet="speaker"] button.facet-value')
    expect(values).to_have_count(len(speakers))
    button = values.filter(has_text="CAPTAIN WOLFIE")
    expect(button).to_have_count(1)
    expect(button.locator(".count")).to_have_text(str(wolfie["count"]))
    spellings = f"also: {', '.join(others)}"
    note = page.locator("#facets .facet-variants")
    expect(note).to_have_count(2)  # the speaker's and the target's (@FLEET, @fleet, @Fleet)
    expect(note.first).to_have_text(spellings)
    expect(note.first).to_be_visible()  # seen on a touch screen, not only on hover
    expect(button).to_have_attribute("title", f"Also written {', '.join(others)}")
    expect(button).to_have_accessible_description(spellings)
    expect(button).to_have_accessible_name(re.compile(r"^CAPTAIN WOLFIE\s*4$"))

    button.click()
    expect(page).to_have_url(re.compile(r"speaker=CAPTAIN\+WOLFIE"))
    settled(page, "lantern")
    expect(button).to_have_attribute("aria-pressed", "true")
    wanted = api(copies_server, q="lantern", speaker="CAPTAIN WOLFIE")["hits"]
    expect(page.locator("#results .hit")).to_have_count(len(wanted))  # the filtered list
    names = set(page.locator("#results .hit .speaker").all_inner_texts())
    assert names == {"CAPTAIN WOLFIE", "Captain_Wolfie", "Captain Wolfie"}

    # A link with another spelling presses the same value, and pressing it again removes it.
    shown(page, copies_server.base_url + "/?q=lantern&speaker=captain_wolfie", "lantern")
    expect(values).to_have_count(len(speakers))
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#results .hit")).to_have_count(wolfie["count"])
    button.click()
    expect(page).not_to_have_url(re.compile(r"speaker="))
    expect(button).to_have_attribute("aria-pressed", "false")


def test_the_panels_fit_a_phone(browser, copies_server, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    phone = context.new_page()
    shown(phone, copies_server.base_url + "/?q=audit&scope=all", "audit")
    for summary in phone.locator("#results .also-in summary").all():
        summary.click()
    expect(phone.locator("#results .also-in-list a").first).to_be_visible()
    phone.locator("#facets-box summary").click()
    expect(phone.locator("#facets button.facet-value").first).to_be_visible()
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)
    shown(phone, copies_server.base_url + "/?q=lantern", "lantern")
    phone.locator("#facets-box summary").click()
    expect(phone.locator("#facets .facet-variants").first).to_be_visible()
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)
    phone.screenshot(path=str(tmp_path / "phone-panels.png"), full_page=True)
    context.close()
