"""axe-core on every page in a real Chromium, at desktop and phone widths: no violations.

axe-core comes inside the axe-playwright-python wheel (nothing is fetched at run time)
and runs with its default rules: WCAG 2 A and AA plus best practices. A new page or
panel gets one `open_*` function here and a line in a test's list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import requests
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from support.fixtures_api import append_entry

pytestmark = pytest.mark.browser

#: name -> (width, height, colour scheme); the dark one checks the dark colour tokens.
SIZES = {
    "desktop": (1366, 900, "light"),
    "phone": (390, 844, "light"),
    "phone, dark": (390, 844, "dark"),
}
AXE = Axe()
#: (name, how to open it and wait until it has drawn itself)
View = tuple[str, Callable[[Page, str], None]]


def search_shown(page: Page, url: str, q: str) -> None:
    """Open a search page and wait until the list shows the answer to `q`."""
    page.goto(url)
    expect(page.locator("#results")).to_have_attribute("data-q", q)
    expect(page.locator(".results-area")).not_to_have_attribute("aria-busy", "true")


def open_filters(page: Page) -> None:
    """Unfold the filters (folded at first on a phone) and wait for their buttons."""
    box = page.locator("#facets-box")
    if box.get_attribute("open") is None:
        box.locator("summary").click()
    expect(page.locator("#facets button.facet-value").first).to_be_visible()


def first_hit_id(base_url: str, q: str) -> int:
    """The first hit of `q`, a dialog entry or a text section (scope=all)."""
    params = {"q": q, "scope": "all"}
    answer = requests.get(base_url + "/api/dialog/search", params=params, timeout=10).json()
    return int(answer["hits"][0]["dialog_entry_id"])


def open_search(page: Page, base_url: str) -> None:
    search_shown(page, base_url + "/", "")


def open_results_with_filters(page: Page, base_url: str) -> None:
    search_shown(page, base_url + "/?q=search&speaker=KIRO", "search")
    expect(page.locator("#chips .chip")).to_contain_text("KIRO")
    open_filters(page)


def open_no_results(page: Page, base_url: str) -> None:
    search_shown(page, base_url + "/?q=zebracorn", "zebracorn")
    expect(page.locator("#state .hint")).to_be_visible()


def open_entry(page: Page, base_url: str, q: str = "ranking") -> None:
    page.goto(f"{base_url}/entry/{first_hit_id(base_url, q)}")
    expect(page.locator("#context .mini").first).to_be_visible()
    expect(page.locator("#xrefs")).not_to_contain_text("Searching")


def open_stats(page: Page, base_url: str) -> None:
    page.goto(base_url + "/stats")
    expect(page.locator("#matrix table")).to_be_visible()
    expect(page.locator("#stats-summary")).to_have_text("All entries.")


def open_missing_entry(page: Page, base_url: str) -> None:
    page.goto(base_url + "/entry/1")
    expect(page.locator("h1")).to_have_text("Not found")


def open_files_mode_results(page: Page, base_url: str) -> None:
    search_shown(page, base_url + "/?q=harbor", "harbor")
    expect(page.locator("#mode-banner")).to_be_visible()
    expect(page.locator("#summary .source-tag")).to_have_text("from files")
    open_filters(page)


def open_files_mode_markdown_entry(page: Page, base_url: str) -> None:
    """A section with a table, code and a list (the small tree), read from the files."""
    open_entry(page, base_url, "audit covered")
    expect(page.locator(".message table")).to_be_visible()
    expect(page.locator("#mode-banner")).to_be_visible()


def open_files_mode_stats(page: Page, base_url: str) -> None:
    open_stats(page, base_url)
    expect(page.locator("#mode-banner")).to_be_visible()


def open_text_tab(page: Page, base_url: str) -> None:
    """The scope tabs with their counts, the text sections' tab selected."""
    search_shown(page, base_url + "/?q=audit&scope=text", "audit")
    expect(page.locator('#scope-tabs [aria-selected="true"]')).to_contain_text("Text sections (")


def open_also_in(page: Page, base_url: str) -> None:
    """Every "also in N files" open, and "N copies folded — show all"."""
    search_shown(page, base_url + "/?q=audit&scope=all", "audit")
    for summary in page.locator("#results .also-in > summary").all():
        summary.click()
    expect(page.locator("#results .also-in-list a").first).to_be_visible()
    expect(page.locator("#fold-toggle")).to_have_text("show all")


def open_copies_shown(page: Page, base_url: str) -> None:
    search_shown(page, base_url + "/?q=audit&collapse=off", "audit")
    expect(page.locator("#fold-toggle")).to_have_text("fold copies")


def open_name_spellings(page: Page, base_url: str) -> None:
    """A speaker filtered by one spelling; its facet value says its other spellings."""
    search_shown(page, base_url + "/?q=lantern&speaker=Captain_Wolfie", "lantern")
    open_filters(page)
    expect(page.locator("#facets .facet-variants").first).to_be_visible()


def open_other_tab_has_matches(page: Page, base_url: str) -> None:
    search_shown(page, base_url + "/?q=audit%20covered", "audit covered")
    expect(page.locator("#state button[data-scope]")).to_be_visible()


def open_showing_results_for(page: Page, base_url: str) -> None:
    search_shown(page, base_url + "/?q=lighthose%20lamp", "lighthose lamp")
    expect(page.locator("#corrected")).to_contain_text("Showing results for")


#: The search page's panels of issue 13, over conftest's copies tree.
PANELS: list[View] = [
    ("scope tabs, text sections", open_text_tab),
    ("also in N files, open", open_also_in),
    ("copies shown", open_copies_shown),
    ("name spellings, filters open", open_name_spellings),
    ("empty tab, the other has matches", open_other_tab_has_matches),
    ("showing results for", open_showing_results_for),
]


def violations(page: Page) -> list[str]:
    """axe-core's violations on the page as it is now: rule (impact): target selectors."""
    # Contrast read mid-fade is wrong; a string predicate would be eval'd, which CSP forbids.
    page.evaluate("Promise.all(document.getAnimations().map(a => a.finished.catch(() => 0)))")
    return [
        f"{rule['id']} ({rule['impact']}, {rule['help']}): "
        + ", ".join(" ".join(node["target"]) for node in rule["nodes"])
        for rule in AXE.run(page).response["violations"]
    ]


@contextmanager
def sized_pages(
    browser: Browser, sizes: tuple[str, ...] = tuple(SIZES)
) -> Iterator[dict[str, Page]]:
    """A page in each of `sizes` (names in SIZES); page errors and CSP reports fail the test."""
    errors: list[str] = []
    contexts = []
    pages = {}
    for name in sizes:
        width, height, scheme = SIZES[name]
        context = browser.new_context(
            viewport={"width": width, "height": height}, color_scheme=scheme
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        pages[name] = opened = context.new_page()
        opened.on("pageerror", lambda error: errors.append(str(error)))
        opened.on(
            "console",
            lambda message: (
                errors.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
    yield pages
    for context in contexts:
        context.close()
    assert not errors, f"the pages reported errors: {errors}"


def check_views(pages: dict[str, Page], views: list[View], base_url: str) -> dict[str, list[str]]:
    """Open each view in each size and collect axe-core's violations."""
    found: dict[str, list[str]] = {}
    for size, page in pages.items():
        for name, open_view in views:
            open_view(page, base_url)
            found[f"{name} ({size})"] = violations(page)
    return found


def report(found: dict[str, list[str]]) -> str:
    lines = [f"{where}: {problem}" for where, problems in found.items() for problem in problems]
    return f"{len(lines)} axe-core violation(s):\n" + "\n".join(lines)


def test_every_page_has_no_axe_violations(browser: Browser, sample_server) -> None:
    views = [
        ("search page", open_search),
        ("results with filters open", open_results_with_filters),
        ("no results", open_no_results),
        ("entry", open_entry),
        ("stats", open_stats),
        ("missing entry", open_missing_entry),
    ]
    with sized_pages(browser) as pages:
        found = check_views(pages, views, sample_server.base_url)
    assert not any(found.values()), report(found)


def test_search_panels_have_no_axe_violations(browser: Browser, copies_server) -> None:
    with sized_pages(browser) as pages:
        found = check_views(pages, PANELS, copies_server.base_url)
    assert not any(found.values()), report(found)


def test_fallback_and_offline_banners_have_no_axe_violations(
    browser: Browser, files_mode_server
) -> None:
    base_url = files_mode_server.base_url
    views = [
        ("files mode results", open_files_mode_results),
        ("files mode entry with Markdown", open_files_mode_markdown_entry),
        ("files mode stats", open_files_mode_stats),
    ]
    with sized_pages(browser) as pages:
        found = check_views(pages, views, base_url)
        for page in pages.values():
            search_shown(page, base_url + "/?q=harbor", "harbor")
        files_mode_server.process.terminate()
        files_mode_server.process.wait(timeout=10)
        for size, page in pages.items():
            page.locator("#q").fill("harbor fog")
            expect(page.locator("#offline-banner")).to_be_visible()
            found[f"service unreachable ({size})"] = violations(page)
    assert not any(found.values()), report(found)


#: What the keyboard must reach: every visible link, button, field and scroll box. A tab
#: list is one stop (its other tabs are reached with the arrow keys, test_search_panels.py).
FOCUSABLE = (
    "a[href], button:not([disabled]):not([tabindex='-1']), input, select, summary, [tabindex='0']"
)
#: Marks each visible control; the list of marked ones as [index, outerHTML start].
MARK_CONTROLS = """selector => [...document.querySelectorAll(selector)]
  .filter(node => node.getClientRects().length && getComputedStyle(node).visibility !== "hidden")
  .map((node, index) => {
    node.setAttribute("data-kb", index);
    return [index, node.outerHTML.slice(0, 90)];
  })"""
#: The focused control's mark and whether its focus shows (an outline, or an SVG link's stroke).
FOCUS_SHOWN = """() => {
  const node = document.activeElement;
  if (!node || node === document.body) return null;
  const style = getComputedStyle(node);
  let shown = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  const shape = node instanceof SVGElement ? node.querySelector("rect") : null;
  const stroke = shape && getComputedStyle(shape);
  if (stroke) shown = stroke.stroke !== "none" && parseFloat(stroke.strokeWidth) >= 2;
  return [node.getAttribute("data-kb"), shown, node.outerHTML.slice(0, 90)];
}"""


def tab_through(page: Page) -> list[str]:
    """Press Tab round the page: the controls never reached, and those whose focus did not show."""
    controls = page.evaluate(MARK_CONTROLS, FOCUSABLE)
    reached: set[str] = set()
    unseen: list[str] = []
    # Twice round: the walk starts wherever the page put the focus (the search box).
    for _ in range(2 * len(controls) + 10):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_SHOWN)
        if focused is None or focused[0] is None:
            continue
        reached.add(focused[0])
        if not focused[1]:
            unseen.append(focused[2])
    missed = [html for index, html in controls if str(index) not in reached]
    return [f"not reached: {html}" for html in missed] + [
        f"focus not shown: {html}" for html in sorted(set(unseen))
    ]


def test_keyboard_reaches_every_control_and_shows_its_focus(
    browser: Browser, sample_server
) -> None:
    views = [
        ("results with filters open", open_results_with_filters),
        ("entry", open_entry),
        ("stats", open_stats),
    ]
    problems = []
    with sized_pages(browser, ("desktop",)) as pages:
        page = pages["desktop"]
        for name, open_view in views:
            open_view(page, sample_server.base_url)
            problems += [f"{name}: {problem}" for problem in tab_through(page)]
    assert not problems, "\n".join(problems)


def test_keyboard_reaches_the_search_panels(browser: Browser, copies_server) -> None:
    views = [("also in N files, open", open_also_in), ("name spellings", open_name_spellings)]
    problems = []
    with sized_pages(browser, ("desktop",)) as pages:
        page = pages["desktop"]
        for name, open_view in views:
            open_view(page, copies_server.base_url)
            problems += [f"{name}: {problem}" for problem in tab_through(page)]
    assert not problems, "\n".join(problems)


def test_a_facet_pressed_from_the_keyboard_keeps_the_focus(browser: Browser, sample_server) -> None:
    with sized_pages(browser, ("desktop",)) as pages:
        page = pages["desktop"]
        search_shown(page, sample_server.base_url + "/?q=search", "search")
        facet = page.locator('#facets button[data-facet="speaker"][data-value="KIRO"]')
        facet.focus()
        page.keyboard.press("Enter")
        expect(facet).to_have_attribute("aria-pressed", "true")
        expect(facet).to_be_focused()
        page.keyboard.press("Space")
        expect(facet).to_have_attribute("aria-pressed", "false")
        expect(facet).to_be_focused()


def test_reduced_motion_turns_the_results_fade_off(browser: Browser, sample_server) -> None:
    fade = "getComputedStyle(document.querySelector('.results-area')).transitionDuration"
    durations = {}
    for motion in ("no-preference", "reduce"):
        context = browser.new_context(reduced_motion=motion)
        page = context.new_page()
        search_shown(page, sample_server.base_url + "/", "")
        durations[motion] = page.evaluate(fade)
        context.close()
    assert durations == {"no-preference": "0.12s", "reduce": "0s"}


def swatch_hex(swatch) -> str:
    """The 6-hex colour a swatch shows (a span's background or an SVG square's fill)."""
    colour = swatch.evaluate(
        "node => getComputedStyle(node.querySelector('rect') || node)"
        "[node.querySelector('rect') ? 'fill' : 'backgroundColor']"
    )
    red, green, blue = (int(part) for part in colour[4:-1].split(","))
    return f"{red:02X}{green:02X}{blue:02X}"


def assert_named_with_hex(controls) -> None:
    """Each control's accessible name holds the hex of the swatch it shows."""
    assert controls.count() >= 1
    for index in range(controls.count()):
        hex_text = "#" + swatch_hex(controls.nth(index).locator(".swatch"))
        expect(controls.nth(index)).to_have_accessible_name(re.compile(re.escape(hex_text)))


def test_mood_swatches_say_their_hex_to_screen_readers(browser: Browser, server) -> None:
    """Colour is never all a swatch says: every link or button with one names its hex."""
    with sized_pages(browser, ("desktop",)) as pages:
        page = pages["desktop"]
        with_swatch = page.locator(".swatch")
        search_shown(page, server.base_url + "/?q=lighth&mood=FF6600", "lighth")
        expect(page.locator("#facets .swatch").first).to_be_visible()
        for controls in ("#results .hit-link", "#facets button", "#chips button"):
            assert_named_with_hex(page.locator(controls).filter(has=with_swatch))
        search_shown(page, server.base_url + "/?q=HB_042", "HB_042")
        page.locator("#results .hit-link", has_text="lighthouse lamp runs").click()
        expect(page.locator("#xrefs .mini-link .swatch").first).to_be_visible()
        # The context list is drawn by the server, the cross-references by the page's script.
        for controls in ("#context a.mini-link", "#xrefs a.mini-link"):
            assert_named_with_hex(page.locator(controls).filter(has=with_swatch))
        current = page.locator("#context .mini.current")
        expect(current).to_contain_text("mood #" + swatch_hex(current.locator(".swatch")))


def test_the_new_results_notice_has_no_axe_violations(browser: Browser, following_server) -> None:
    """ "New results — refresh" shown over an open list (the index changed under it)."""
    base_url = following_server.base_url
    with sized_pages(browser) as pages:
        for page in pages.values():
            search_shown(page, base_url + "/?q=lighthouse", "lighthouse")
        harbor = following_server.root / "team" / "harbor_dialog.md"
        append_entry(harbor, "Lamp", "The lighthouse lamp was cleaned tonight.")
        found = {}
        for size, page in pages.items():
            expect(page.locator("#fresh-button")).to_be_visible(timeout=30_000)
            found[f"new results notice ({size})"] = violations(page)
        found["new results notice, keyboard"] = tab_through(pages["desktop"])
    assert not any(found.values()), report(found)
