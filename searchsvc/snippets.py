"""Snippets: a short window of an entry's text, every character HTML-escaped, matches in <mark>.

Both repositories build snippets here, from the stored text and the query's
phrases, so they look the same in both modes. (FTS5's snippet() would need one
extra MATCH per hit, which costs milliseconds per hit on frequent words.) The
only markup in a snippet is <mark> and </mark>; all stored text goes through
html.escape, so a stored <script> comes back as &lt;script&gt;.
"""

from __future__ import annotations

import html
import re

from searchsvc.fts_query import TOKEN_PATTERN, Phrase, fold_token

#: Tokens of context in a snippet.
SNIPPET_TOKENS = 24
#: Characters a snippet never exceeds (a giant "word" is cut).
SNIPPET_MAX_CHARS = 320
ELLIPSIS = "…"
_SPACE = re.compile(r"\s+")


class Highlighter:
    """Which tokens of a text match a query's phrases (exactly or as a prefix)."""

    def __init__(self, phrases: list[Phrase]) -> None:
        self.exact: set[str] = set()
        prefixes: set[str] = set()
        for phrase in phrases:
            if phrase.prefix and phrase.tokens:
                self.exact.update(phrase.tokens[:-1])
                prefixes.add(phrase.tokens[-1])
            else:
                self.exact.update(phrase.tokens)
        self.prefixes = tuple(sorted(prefixes))

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefixes)

    def matches(self, token: str) -> bool:
        """Whether the folded `token` is one the query looks for."""
        return token in self.exact or (bool(self.prefixes) and token.startswith(self.prefixes))


def make_snippet(fields: list[str | None], highlighter: Highlighter) -> str:
    """A snippet of the first field holding a match (else of the first non-empty field)."""
    texts = [_SPACE.sub(" ", text).strip() for text in fields if text and text.strip()]
    if not texts:
        return ""
    if highlighter:
        for text in texts:
            spans = [m.span() for m in TOKEN_PATTERN.finditer(text)]
            hits = [highlighter.matches(fold_token(text[a:b])) for a, b in spans]
            if any(hits):
                return _render(text, spans, hits)
    text = texts[0]
    spans = [m.span() for m in TOKEN_PATTERN.finditer(text)]
    return _render(text, spans, [False] * len(spans))


def _render(text: str, spans: list[tuple[int, int]], hits: list[bool]) -> str:
    """The best window of SNIPPET_TOKENS tokens, escaped, matched tokens in <mark>."""
    if not spans:
        cut = text[:SNIPPET_MAX_CHARS]
        return html.escape(cut) + (ELLIPSIS if len(cut) < len(text) else "")
    start = _best_window(hits)
    end = min(len(spans), start + SNIPPET_TOKENS)
    begin_char = 0 if start == 0 else spans[start][0]
    end_char = len(text) if end == len(spans) else spans[end - 1][1]
    if end_char - begin_char > SNIPPET_MAX_CHARS:
        end_char = begin_char + SNIPPET_MAX_CHARS
    pieces = [ELLIPSIS] if begin_char > 0 else []
    position = begin_char
    for (a, b), hit in zip(spans[start:end], hits[start:end], strict=True):
        if a >= end_char:
            break
        if hit:
            b = min(b, end_char)
            pieces.append(html.escape(text[position:a]))
            pieces.append(f"<mark>{html.escape(text[a:b])}</mark>")
            position = b
    pieces.append(html.escape(text[position:end_char]))
    if end_char < len(text):
        pieces.append(ELLIPSIS)
    return "".join(pieces)


def _best_window(hits: list[bool]) -> int:
    """The first token index of the window holding the most hits (the earliest such)."""
    if not any(hits):
        return 0
    window = SNIPPET_TOKENS
    count = sum(hits[:window])
    best, best_start = count, 0
    for start in range(1, max(1, len(hits) - window + 1)):
        count += hits[start + window - 1] - hits[start - 1]
        if count > best:
            best, best_start = count, start
    # Show a little context before the first hit when the window starts at it.
    first_hit = hits.index(True, best_start)
    return max(0, min(best_start, first_hit - 3))
