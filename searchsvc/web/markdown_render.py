"""Entry text as HTML: CommonMark plus tables, with raw HTML, unsafe links and images left out.

Dialog messages are Markdown written by people and agents, so the page renders
them, but nothing in a dialog file may become markup of its own: raw HTML is
shown as text, a link only keeps its href when it is http, https or relative
(anything else stays as the text it was typed as), and an image shows its alt
text instead of fetching anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from markupsafe import Markup

#: URL schemes a rendered link may use; a URL without a scheme is relative and allowed.
ALLOWED_SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
# Browsers drop these from a URL before they read its scheme ("java\tscript:").
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f]")


def is_safe_link(url: str) -> bool:
    """Whether a (normalized) link destination is http, https or relative.

    The scheme is read after percent-decoding and dropping control characters and
    spaces, so `java%09script:` counts as `javascript:` (refused) even though a
    browser would read it as a relative path.
    """
    cleaned = _IGNORED_IN_URL.sub("", unquote(url))
    scheme = _SCHEME.match(cleaned)
    if scheme is None:
        return True
    return scheme.group(1).lower() in ALLOWED_SCHEMES


class DialogMarkdown(MarkdownIt):
    """CommonMark with tables and strikethrough, no raw HTML, links limited to is_safe_link."""

    def __init__(self) -> None:
        super().__init__("commonmark", {"html": False})
        self.enable(["table", "strikethrough"])
        self.add_render_rule("image", _image_as_alt_text)
        self.add_render_rule("th_open", _cell_with_align_class)
        self.add_render_rule("td_open", _cell_with_align_class)

    def validateLink(self, url: str) -> bool:
        return is_safe_link(url)


def _image_as_alt_text(
    renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any
) -> str:
    """An image becomes its alt text: the page never fetches what a dialog names."""
    children = tokens[idx].children or []
    return escapeHtml(renderer.renderInlineAsText(children, options, env))


def _cell_with_align_class(
    renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any
) -> str:
    """A table cell aligned by a class: the CSP refuses style="" attributes."""
    token = tokens[idx]
    style = token.attrs.pop("style", None)
    if isinstance(style, str) and style.startswith("text-align:"):
        token.attrSet("class", "align-" + style.removeprefix("text-align:"))
    return str(renderer.renderToken(tokens, idx, options, env))


_RENDERER = DialogMarkdown()


def render_markdown(text: str | None) -> Markup:
    """`text` (Markdown) as safe HTML for a template."""
    if not text:
        return Markup("")
    return Markup(_RENDERER.render(text))
