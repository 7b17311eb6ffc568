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
#: Characters of context kept before the first match.
LEAD_CHARS = 60
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
        # For ASCII text: find the first match without tokenizing the whole text.
        words = [re.escape(t) for t in sorted(self.exact) if t.isascii()]
        words += [re.escape(p) + "[a-z0-9]*" for p in self.prefixes if p.isascii()]
        self.ascii_pattern = (
            re.compile(r"(?<![a-z0-9])(?:" + "|".join(words) + r")(?![a-z0-9])") if words else None
        )

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefixes)

    def matches(self, token: str) -> bool:
        """Whether the folded `token` is one the query looks for."""
        return token in self.exact or (bool(self.prefixes) and token.startswith(self.prefixes))

    def first_match(self, text: str) -> int | None:
        """The character offset of the first matching token in `text`, or None."""
        if text.isascii():
            if self.ascii_pattern is None:
                return None
            found = self.ascii_pattern.search(text.lower())
            return found.start() if found else None
        for match in TOKEN_PATTERN.finditer(text):
            if self.matches(fold_token(match.group())):
                return match.start()
        return None


def make_snippet(fields: list[str | None], highlighter: Highlighter) -> str:
    """A snippet of the first field holding a match (else of the first non-empty field)."""
    texts = [text for text in fields if text and not text.isspace()]
    if not texts:
        return ""
    if highlighter:
        for text in texts:
            position = highlighter.first_match(text)
            if position is not None:
                return _window(text, max(0, position - LEAD_CHARS), highlighter)
    return _window(texts[0], 0, None)


def _window(text: str, start: int, highlighter: Highlighter | None) -> str:
    """SNIPPET_TOKENS tokens of `text` from about `start`, escaped, matches marked."""
    if start > 0:
        boundary = TOKEN_PATTERN.search(text, start)
        start = boundary.start() if boundary else start
    piece = text[start : start + SNIPPET_MAX_CHARS * 2]
    spans = [m.span() for m in TOKEN_PATTERN.finditer(piece)][:SNIPPET_TOKENS]
    end = spans[-1][1] if len(spans) == SNIPPET_TOKENS else len(piece)
    end = min(end, SNIPPET_MAX_CHARS)
    pieces = [ELLIPSIS] if start > 0 else []
    position = 0
    for a, b in spans:
        if a >= end:
            break
        if highlighter is not None and highlighter.matches(fold_token(piece[a:b])):
            b = min(b, end)
            pieces.append(_clean(piece[position:a]))
            pieces.append(f"<mark>{_clean(piece[a:b])}</mark>")
            position = b
    pieces.append(_clean(piece[position:end]))
    if start + end < len(text):
        pieces.append(ELLIPSIS)
    return "".join(pieces).strip()


def _clean(text: str) -> str:
    """White space runs as one space, then HTML-escaped."""
    return html.escape(_SPACE.sub(" ", text))
