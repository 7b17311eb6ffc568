"""The entry page's Markdown: CommonMark and tables, no raw HTML, only safe links, no images."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from searchsvc.web.markdown_render import is_safe_link, render_markdown


def test_renders_emphasis_code_lists_and_tables() -> None:
    html = render_markdown("**bold** and `code`\n\n- one\n- two\n\n| a | b |\n|:-:|--:|\n| 1 | 2 |")
    assert "<strong>bold</strong> and <code>code</code>" in html
    assert "<li>one</li>" in html and "<li>two</li>" in html
    assert '<th class="align-center">a</th>' in html and '<td class="align-right">2</td>' in html
    assert "style=" not in html  # the CSP refuses style attributes


def test_raw_html_is_text() -> None:
    html = render_markdown('<img src=x onerror="alert(1)"> <script>alert(1)</script>')
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


@pytest.mark.parametrize(
    ("source", "href"),
    [
        ("[a](https://example.org/x?y=1)", "https://example.org/x?y=1"),
        ("[a](http://example.org)", "http://example.org"),
        ("[a](docs/notes.md)", "docs/notes.md"),
        ("[a](../up.md#part)", "../up.md#part"),
        ("[a](#part)", "#part"),
        ("<https://example.org>", "https://example.org"),
        ("[a][r]\n\n[r]: https://example.org/ref", "https://example.org/ref"),
    ],
)
def test_http_https_and_relative_links_are_kept(source: str, href: str) -> None:
    assert f'href="{href}"' in render_markdown(source)


@pytest.mark.parametrize(
    "source",
    [
        "[a](javascript:alert(1))",
        "[a](JavaScript:alert(1))",
        "[a](java&#x09;script:alert(1))",
        "[a](&#106;avascript:alert(1))",
        "[a](<java script:alert(1)>)",
        "[a](vbscript:msgbox(1))",
        "[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[a](file:///etc/passwd)",
        "[a](mailto:x@example.org)",
        "<javascript:alert(1)>",
        "[a][r]\n\n[r]: javascript:alert(1)",
    ],
)
def test_other_links_stay_text(source: str) -> None:
    html = render_markdown(source)
    assert "<a" not in html and "href" not in html


@pytest.mark.parametrize(
    "source",
    [
        "![alt text](https://example.org/x.png)",
        "![alt text](javascript:alert(1))",
        '![alt text](x" onerror="alert(1))',
    ],
)
def test_images_show_their_alt_text_and_fetch_nothing(source: str) -> None:
    html = render_markdown(source)
    assert "<img" not in html and 'src="' not in html
    assert "alt text" in html


class _Tags(HTMLParser):
    """The start tags of an HTML text with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def test_link_titles_and_text_stay_escaped() -> None:
    html = render_markdown('[<b>x</b>](https://example.org "t\\" onmouseover=\\"alert(1)")')
    parser = _Tags()
    parser.feed(html)
    links = [attrs for tag, attrs in parser.tags if tag == "a"]
    assert links == [[("href", "https://example.org"), ("title", 't" onmouseover="alert(1)')]]
    assert "&lt;b&gt;x&lt;/b&gt;" in html


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://a.b", True),
        ("HTTP://a.b", True),
        ("relative/path", True),
        ("javascript:x", False),
        ("java%09script:x", False),
        ("java%0Ascript:x", False),
        (" javascript:x", False),
        ("data:x", False),
    ],
)
def test_is_safe_link(url: str, safe: bool) -> None:
    assert is_safe_link(url) is safe


def test_empty_message_renders_nothing() -> None:
    assert render_markdown(None) == "" and render_markdown("") == ""
