"""Snippets show Markdown text without its syntax, matches still in <mark>, all else escaped."""

from __future__ import annotations

import pytest

from searchsvc.engines.snippets import Highlighter, make_snippet, strip_markdown
from searchsvc.query.fts_query import parse_user_query


def highlighter(q: str) -> Highlighter:
    match, _filters = parse_user_query(q)
    assert match is not None
    return Highlighter(match.positive_phrases())


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("**Speaker:** KIRO", "Speaker: KIRO"),
        ("a *b* c _d_ e ***f*** __g__", "a b c d e f g"),
        ("use `lupo_dialog_entries` now", "use lupo_dialog_entries now"),
        ("``a ` tick`` and `__init__`", "a ` tick and __init__"),
        ("## Heading ##\ntext", "Heading\ntext"),
        ("- one\n* two\n+ three\n- [x] done", "one\ntwo\nthree\ndone"),
        ("1. first\n2. second", "1. first\n2. second"),
        ("> quoted\n> > twice", "quoted\ntwice"),
        ("above\n---\nbelow", "above\n\nbelow"),
        ("| a | b |\n| --- | :-: |\n| 1 | 2 |", "a · b\n\n1 · 2"),
        ("```python\nprint(1)\n```", "\nprint(1)\n"),
        ("see [the docs](https://x.org/a) and ![logo](l.png)", "see the docs and logo"),
        ("[ref text][r] and <https://x.org>", "ref text and https://x.org"),
        ("~~old~~ new", "old new"),
        ("**bold with *italic* inside**", "bold with italic inside"),
    ],
)
def test_strip_markdown_leaves_the_text(text: str, plain: str) -> None:
    assert strip_markdown(text) == plain


@pytest.mark.parametrize(
    "text",
    [
        "snake_case and lupo_dialog_entries",
        "window.__xss=1 and 2**3 and 2 * 3",
        "a[0][1] and #fleet-broadcast",
        "<script>window.__xss=1</script>",
        "issue #4 and C#",
    ],
)
def test_strip_markdown_keeps_what_is_not_markdown_syntax(text: str) -> None:
    assert strip_markdown(text) == text


def test_a_window_cut_mid_line_loses_its_half_of_a_pair() -> None:
    assert strip_markdown("Speaker:** KIRO", at_line_start=False) == "Speaker: KIRO"
    assert strip_markdown("ell | b |\n| c | d |", at_line_start=False) == "ell · b\nc · d"
    # Not at a line start: a leading "-" or "#" is the text's, not a bullet or heading.
    assert strip_markdown("- 5 degrees", at_line_start=False) == "- 5 degrees"


def test_snippet_marks_matches_inside_markdown() -> None:
    text = "The **migration audit** of `lupo_dialog_entries` passed."
    snippet = make_snippet([text], highlighter("audit"))
    assert snippet == "The migration <mark>audit</mark> of lupo_dialog_entries passed."


def test_snippet_of_a_long_text_starts_clean_mid_line() -> None:
    text = "word " * 40 + "**Status:** `done`, see [notes](https://x.org/n)."
    snippet = make_snippet([text], highlighter("status"))
    assert snippet.endswith("<mark>Status</mark>: done, see notes.")
    assert snippet.startswith("…")


def test_snippet_escapes_everything_but_mark() -> None:
    text = "**<script>alert(1)</script>** [x](javascript:alert(1)) `<b>`"
    snippet = make_snippet([text], highlighter("alert"))
    assert "<script>" not in snippet and "<b>" not in snippet
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0
    assert "&lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt;" in snippet
    assert "javascript" not in snippet  # the link's target is not text


def test_snippet_without_markdown_has_no_ellipsis_when_whole() -> None:
    assert make_snippet(["short **bold** text"], Highlighter([])) == "short bold text"
