"""Snippets: a short window of an entry's text, every character HTML-escaped, matches in <mark>.

Both repositories build snippets here, from the stored text and the query's
phrases, so they look the same in both modes. (FTS5's snippet() would need one
extra MATCH per hit, which costs milliseconds per hit on frequent words.) The
only markup in a snippet is <mark> and </mark>; all stored text goes through
html.escape, so a stored <script> comes back as &lt;script&gt;.

Entry text is Markdown; a snippet shows it as plain text (`strip_markdown`):
no `**`, backticks, heading marks, bullets, table pipes or link targets. Raw
HTML is not Markdown syntax here: it stays, as the escaped characters it is.
"""

from __future__ import annotations

import html
import re
from itertools import islice

from searchsvc.query.fts_query import TOKEN_PATTERN, Phrase, fold_token

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
            if phrase.prefix and phrase.tokens and phrase.expansions is not None:
                self.exact.update((*phrase.tokens[:-1], *phrase.expansions))  # a cut prefix
            elif phrase.prefix and phrase.tokens:
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

    def ascii_spans(self, text: str) -> set[tuple[int, int]] | None:
        """The spans of the matching tokens of an ASCII `text` (one regular-expression pass
        instead of a fold per token); None for other text."""
        if not text.isascii():
            return None
        if self.ascii_pattern is None:
            return set()
        return {found.span() for found in self.ascii_pattern.finditer(text.lower())}

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
    raw_piece = text[start : start + SNIPPET_MAX_CHARS * 2]
    piece = strip_markdown(raw_piece, at_line_start=start == 0 or text[start - 1] == "\n")
    spans = [m.span() for m in islice(TOKEN_PATTERN.finditer(piece), SNIPPET_TOKENS)]
    end = spans[-1][1] if len(spans) == SNIPPET_TOKENS else len(piece)
    end = min(end, SNIPPET_MAX_CHARS)
    pieces = [ELLIPSIS] if start > 0 else []
    position = 0
    marked = highlighter.ascii_spans(piece) if highlighter is not None else set()
    for a, b in spans:
        if a >= end:
            break
        if (
            (a, b) in marked
            if marked is not None
            else highlighter is not None and highlighter.matches(fold_token(piece[a:b]))
        ):
            b = min(b, end)
            pieces.append(_clean(piece[position:a]))
            pieces.append(f"<mark>{_clean(piece[a:b])}</mark>")
            position = b
    pieces.append(_clean(piece[position:end]))
    if end < len(piece.rstrip()) or start + len(raw_piece) < len(text):
        pieces.append(ELLIPSIS)
    return "".join(pieces).strip()


def _clean(text: str) -> str:
    """White space runs as one space, then HTML-escaped."""
    return html.escape(_SPACE.sub(" ", text))


# Markdown syntax a snippet leaves out, with the text it marks kept. Snippets are
# made per hit while a search answers, so each rule is cheap to skip: line rules
# run only on lines that start with a marker character, inline rules only when
# their character is in the text, and most patterns start with a literal.
_LINE_MARKERS = frozenset("`~|-*_=>+#")
_FENCE_LINE = re.compile(r"[ \t]*(?:`{3,}|~{3,})")
_TABLE_DIVIDER = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)+\|?[ \t]*")
_RULE_LINE = re.compile(r"[ \t]{0,3}([-*_=])(?:[ \t]*\1){2,}[ \t]*")
_QUOTE_OR_BULLET = re.compile(r"[ \t]*(?:>[ \t]?)+|[ \t]*[-*+][ \t]+(?:\[[ xX]\][ \t]+)?")
_HEADING = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_TABLE_ROW = re.compile(r"[ \t]*\|(.*?)\|?[ \t]*")
# The end of a table row whose start the snippet window cut off.
_TABLE_ROW_CUT = re.compile(r"(.*\|.*?)\|[ \t]*")
_BACKTICK_RUN = re.compile(r"(`+)")
_LINK = re.compile(r"\[([^\]\n]*)\](?:\([^)\n]*\)|\[[^\]\n]*\])")
_AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.\-]{1,31}:[^<>\s]*|[^<>\s@]+@[^<>\s@]+)>")
_STRONG = re.compile(r"\*\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*\*")
_STARS = re.compile(r"\*+")
# Never inside a word (snake_case); this one starts with a look-behind to say so.
_UNDERSCORES = re.compile(r"(?<![\w_])(_{1,3})(?=[^\s_])(.+?)(?<=[^\s_])\1(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")


def strip_markdown(text: str, *, at_line_start: bool = True) -> str:
    """`text` without its Markdown syntax, for a snippet; not HTML-escaped yet.

    `at_line_start` says whether `text` begins at the start of a line; when it
    does not (a window cut out of a longer text), line rules skip the first line.
    """
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if number == 0 and not at_line_start:
            cut_row = _TABLE_ROW_CUT.fullmatch(line) if "|" in line else None
            if cut_row:
                lines[0] = _table_cells(cut_row.group(1))
        else:
            start = line.lstrip(" \t")[:3]
            # "**Speaker:**", the commonest start in dialogs, is inline syntax only.
            if start[:1] in _LINE_MARKERS and not (start[:2] == "**" and start[2:] not in " *\t"):
                lines[number] = _strip_line(line)
    return _strip_inline("\n".join(lines))


def _strip_line(line: str) -> str:
    """One line without its block syntax: fences, rules, quote marks, bullets, headings, pipes."""
    if _FENCE_LINE.match(line) or _TABLE_DIVIDER.fullmatch(line) or _RULE_LINE.fullmatch(line):
        return ""
    prefix = _QUOTE_OR_BULLET.match(line)
    while prefix and prefix.end() > 0:  # "> - item": a quote mark, then a bullet
        line = line[prefix.end() :]
        prefix = _QUOTE_OR_BULLET.match(line)
    heading = _HEADING.fullmatch(line)
    if heading:
        return heading.group(1) or ""
    row = _TABLE_ROW.fullmatch(line)
    return _table_cells(row.group(1)) if row else line


def _table_cells(cells: str) -> str:
    return " · ".join(cell.strip() for cell in cells.split("|"))


def _strip_inline(text: str) -> str:
    """Inline Markdown removed outside code spans; code spans lose only their backticks.

    A code span opens at a run of backticks and closes at the next run of the same
    length (CommonMark); a run that no run closes is dropped.
    """
    if "`" not in text:
        return _strip_inline_prose(text)
    parts = _BACKTICK_RUN.split(text)  # prose, run, prose, run, ..., prose
    pieces: list[str] = []
    prose = [parts[0]]
    index = 1
    while index < len(parts):
        run = parts[index]
        close = next((j for j in range(index + 2, len(parts), 2) if parts[j] == run), None)
        if close is None:
            prose.append(parts[index + 1])
            index += 2
            continue
        pieces.append(_strip_inline_prose("".join(prose)))
        pieces.append("".join(parts[index + 1 : close]))
        prose = [parts[close + 1]]
        index = close + 2
    pieces.append(_strip_inline_prose("".join(prose)))
    return "".join(pieces)


def _strip_inline_prose(text: str) -> str:
    if "[" in text:
        text = _LINK.sub(_link_text, text.replace("![", "["))
    if "<" in text:
        text = _AUTOLINK.sub(r"\1", text)
    if "*" in text:
        text = _STRONG.sub(r"\1", text)
        if "*" in text:
            text = _STARS.sub(_star_run, text)
    if "_" in text:
        for _nesting in range(2):  # __bold with _italic_ inside__
            text = _UNDERSCORES.sub(r"\2", text)
    if "~~" in text:
        text = _STRIKE.sub(r"\1", text)
    return text


def _link_text(link: re.Match[str]) -> str:
    """[text](url) and [text][ref] as their text; a[0][1] (after a letter) stays."""
    start = link.start()
    if start > 0 and link.string[start - 1].isalnum():
        return link.group()
    return link.group(1)


def _star_run(run: re.Match[str]) -> str:
    """A run of `*` goes when it opens or closes emphasis (CommonMark's flanking rule).

    Read one run at a time, so a `**` whose partner the snippet window cut off
    goes too; `2**3` and `a * b` keep their stars.
    """
    text = run.string
    before = text[run.start() - 1] if run.start() > 0 else " "
    after = text[run.end()] if run.end() < len(text) else " "
    opens = not after.isspace() and (before.isspace() or _is_punctuation(before))
    closes = not before.isspace() and (after.isspace() or _is_punctuation(after))
    if opens != closes or (opens and len(run.group()) > 1):
        return ""
    return run.group()


def _is_punctuation(character: str) -> bool:
    return not character.isalnum() and not character.isspace()
