"""Turn what a person types into a safe full-text query, and text into tokens.

User syntax (the `q` parameter): words (all must match), "quoted phrases",
-word or -"phrase" (exclude), -speaker:X (exclude a filter's value), a OR b (either;
OR binds tighter than the implied AND, so `a b OR c` is a AND (b OR c)), word*
(prefix), and operators that become filters, one per filter of dialogfile.fields:
speaker:KIRO target:@x mood:FF0000 (or
a family, mood:red) file:dir/ format:bold since:2026-01-16 until:2026-01-20 (from:/to:
too); values may be quoted (speaker:"CAPTAIN WOLFIE"). The last word also matches as a prefix while
the text does not end in a space (as-you-type), if it has at least two letters.
Nothing the user types reaches FTS5 unquoted: every word becomes a double-quoted
FTS5 string, as sqlite-utils' quote_fts does.

`raw=1` passes FTS5 syntax through unchanged (the database reports its errors);
the file fallback reads the same syntax with `parse_raw`, approximately: column
filters, `^` and NEAR distances are ignored (NEAR becomes AND).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache

from dialogfile.fields import OPERATORS
from dialogfile.glyphs import GLYPH, glyph_word
from searchsvc.exceptions import QueryError
from searchsvc.query.filters import FilterError, Filters, operator_filters

# Token characters as FTS5's unicode61 sees them: letters, digits (not "_") and
# combining marks, which remove_diacritics then drops.
TOKEN_PATTERN = re.compile(
    r"(?:[^\W_]|[\u0300-\u036F\u1AB0-\u1AFF\u1DC0-\u1DFF\u20D0-\u20FF\uFE20-\uFE2F])+"
)
# Faster equivalents for text without combining marks, and for ASCII text.
_COMBINING = re.compile(r"[\u0300-\u036F\u1AB0-\u1AFF\u1DC0-\u1DFF\u20D0-\u20FF\uFE20-\uFE2F]")
_WORD_TOKEN = re.compile(r"[^\W_]+")
_ASCII_TOKEN = re.compile(r"[a-z0-9]+")
_OPERATOR = re.compile(f"({'|'.join(map(re.escape, OPERATORS))}):", re.IGNORECASE)

#: The shortest last word that is also searched as a prefix while typing.
AUTO_PREFIX_MIN = 2


@lru_cache(maxsize=65536)
def fold_token(token: str) -> str:
    """A token as FTS5 stores it: lower case, diacritics removed."""
    token = token.lower()
    if token.isascii():
        return token
    decomposed = unicodedata.normalize("NFD", token)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokenize(text: str) -> list[str]:
    """The folded tokens of `text`, in order (unicode61 remove_diacritics 2, closely)."""
    lowered = text.lower()
    if lowered.isascii():
        return _ASCII_TOKEN.findall(lowered)
    pattern = TOKEN_PATTERN if _COMBINING.search(lowered) else _WORD_TOKEN
    return [token if token.isascii() else fold_token(token) for token in pattern.findall(lowered)]


@dataclass(frozen=True)
class Phrase:
    """Tokens that must appear in this order; `prefix` makes the last a prefix.

    `quoted`: the user wrote it in double quotes (exact: typo correction leaves it alone).
    `expansions`: the indexed terms the prefix stands for when the search's budget
    (searchsvc.query.budget) kept only some of them; None: every term it begins.
    """

    text: str
    tokens: tuple[str, ...]
    prefix: bool = False
    quoted: bool = field(default=False, compare=False)
    expansions: tuple[str, ...] | None = None


@dataclass(frozen=True)
class AllOf:
    """Every child must match."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    """At least one child must match."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Without:
    """`base` matches and `excluded` does not (FTS5's binary NOT)."""

    base: Node
    excluded: Node


Node = Phrase | AllOf | AnyOf | Without


@dataclass(frozen=True)
class MatchQuery:
    """A full-text condition: entries matching `include` (all if None) but not `exclude`.

    With `raw` set, `include` is what parse_raw read from it and the database
    receives `raw` itself.
    """

    include: Node | None = None
    exclude: Node | None = None
    raw: str | None = None

    def positive_phrases(self) -> list[Phrase]:
        """The phrases whose matches count for ranking and snippets."""
        return _phrases(self.include) if self.include is not None else []


def _phrases(node: Node) -> list[Phrase]:
    if isinstance(node, Phrase):
        return [node]
    if isinstance(node, Without):
        return _phrases(node.base)
    return [phrase for child in node.children for phrase in _phrases(child)]


def _combine(kind: type[AllOf] | type[AnyOf], nodes: list[Node]) -> Node | None:
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else kind(tuple(nodes))


# ---- user syntax -------------------------------------------------------------


def parse_user_query(text: str, *, prefix_last: bool = True) -> tuple[MatchQuery | None, Filters]:
    """The full-text part of `q` (None when there is none) and the filters it names.

    Raises QueryError when an operator's value cannot be read (e.g. mood:banana).
    """
    text = text.replace("\x00", " ")
    clauses: list[tuple[bool, list[Node]]] = []  # (excluded, alternatives)
    filters = Filters()
    pending_or = pending_not = False
    position, length = 0, len(text)
    while position < length:
        if text[position].isspace() or text[position] in "()":
            position += 1
            continue
        excluded = pending_not
        pending_not = False
        if text[position] == "-" and position + 1 < length and not text[position + 1].isspace():
            excluded, position = True, position + 1
        if text[position] == '"':
            end = text.find('"', position + 1)
            end = length if end < 0 else end
            word, quoted, position = text[position + 1 : end], True, end + 1
        else:
            end = position
            while end < length and not text[end].isspace() and text[end] not in '"()':
                end += 1
            operator = _OPERATOR.match(text, position, end)
            if operator:
                value, position = _operator_value(text, operator.end())
                if value:
                    name = operator.group(1).lower()
                    filters = filters.merged(_operator_filter(name, value, excluded))
                continue
            word, quoted, position = text[position:end], False, end
            if word in ("OR", "|") and not excluded:
                pending_or = bool(clauses)
                continue
            if word == "AND" and not excluded:
                continue
            if word == "NOT" and not excluded:
                pending_not = True
                continue
        node = _word_node(word, quoted=quoted)
        if node is None:
            continue
        if pending_or and clauses and clauses[-1][0] == excluded:
            clauses[-1][1].append(node)
        else:
            clauses.append((excluded, [node]))
        pending_or = False
    if prefix_last and clauses and text and not text[-1].isspace():
        _make_last_prefix(clauses, text)
    include = _combine(AllOf, [_combine(AnyOf, alts) for ex, alts in clauses if not ex])  # type: ignore[misc]
    exclude = _combine(AnyOf, [_combine(AnyOf, alts) for ex, alts in clauses if ex])  # type: ignore[misc]
    if include is None and exclude is None:
        return None, filters
    return MatchQuery(include=include, exclude=exclude), filters


def _operator_value(text: str, position: int) -> tuple[str, int]:
    """The value after `name:` (quoted or up to white space) and where it ends."""
    if position < len(text) and text[position] == '"':
        end = text.find('"', position + 1)
        end = len(text) if end < 0 else end
        return text[position + 1 : end].strip(), end + 1
    end = position
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[position:end], end


def _operator_filter(name: str, value: str, excluded: bool) -> Filters:
    try:
        return operator_filters(name, value, excluded=excluded)
    except FilterError as error:
        raise QueryError(f"in q, {error}") from error


def _word_node(word: str, *, quoted: bool) -> Node | None:
    prefix = False
    if not quoted and word.endswith("*"):
        word, prefix = word.rstrip("*"), True
    tokens = tuple(tokenize(word))
    if GLYPH.search(word):
        return _glyph_node(word, tokens, quoted=quoted)
    if not tokens:
        return None
    return Phrase(text=word, tokens=tokens, prefix=prefix, quoted=quoted)


def _glyph_node(word: str, tokens: tuple[str, ...], *, quoted: bool) -> Node | None:
    """A word with emoji or CJK characters: each such character as its glyph word.

    Its other tokens must match too; a CJK run (one token to the indexes) matches as
    itself or as all of its characters, so `東` finds `東京` (dialogfile.glyphs).
    """
    plain = tuple(token for token in tokens if not GLYPH.search(token))
    parts: list[Node] = []
    if plain:
        parts.append(Phrase(text=" ".join(plain), tokens=plain, quoted=quoted))
    for token in tokens:
        if GLYPH.search(token):
            characters = _combine(AllOf, [_glyph(c, quoted) for c in GLYPH.findall(token)])
            if len(token) == 1:
                parts.append(characters)  # type: ignore[arg-type]
            else:
                whole = Phrase(text=token, tokens=(token,), quoted=quoted)
                parts.append(AnyOf((whole, characters)))  # type: ignore[arg-type]
    parts += [_glyph(c, quoted) for c in GLYPH.findall(word) if not tokenize(c)]
    return _combine(AllOf, parts)


def _glyph(character: str, quoted: bool) -> Phrase:
    word = glyph_word(character)
    return Phrase(text=word, tokens=(word,), quoted=quoted)


def _make_last_prefix(clauses: list[tuple[bool, list[Node]]], text: str) -> None:
    excluded, alternatives = clauses[-1]
    last = alternatives[-1]
    if excluded or not isinstance(last, Phrase) or text.rstrip().endswith('"'):
        return
    if len(last.tokens[-1]) >= AUTO_PREFIX_MIN:
        alternatives[-1] = replace(last, prefix=True)


# ---- FTS5 output -------------------------------------------------------------


def quote_phrase(phrase: Phrase) -> str:
    """The phrase as one FTS5 string: double quotes doubled, NUL dropped."""
    body = phrase.text.replace("\x00", " ").replace('"', '""')
    return f'"{body}"' + ("*" if phrase.prefix else "")


def node_to_fts5(node: Node) -> str:
    """An FTS5 expression for `node`; every word is a quoted string.

    A prefix is asked with its whole word too (`("migr" OR "migr"*)`): the same
    matches, but the word itself ranks above the longer words it begins. A prefix cut
    to some of its terms (Phrase.expansions) is those terms, each its own string.
    """
    if isinstance(node, Phrase):
        if node.prefix and node.expansions is not None:
            head = node.tokens[:-1]
            strings = [
                quote_phrase(Phrase(" ".join((*head, term)), ())) for term in node.expansions
            ]
            return "(" + " OR ".join(strings) + ")"
        if node.prefix:
            return f"({quote_phrase(replace(node, prefix=False))} OR {quote_phrase(node)})"
        return quote_phrase(node)
    if isinstance(node, Without):
        return f"({node_to_fts5(node.base)}) NOT ({node_to_fts5(node.excluded)})"
    joiner = " AND " if isinstance(node, AllOf) else " OR "
    return "(" + joiner.join(node_to_fts5(child) for child in node.children) + ")"


def match_expression(match: MatchQuery) -> tuple[str | None, str | None]:
    """(expression entries must MATCH, expression they must NOT match); None = no condition.

    In raw mode the first is the raw text and the second None.
    """
    if match.raw is not None:
        return match.raw, None
    include = node_to_fts5(match.include) if match.include is not None else None
    exclude = node_to_fts5(match.exclude) if match.exclude is not None else None
    if include is not None and exclude is not None:
        return f"{include} NOT {exclude}", None
    return include, exclude


# ---- raw FTS5 syntax, read approximately (for the file fallback) -------------

_RAW_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"]|"")*"?)|(?P<punct>[(){}:^*+,-])|(?P<word>[^\s(){}:^*+,"-]+))'
)


_KEYWORDS = ("OR", "AND", "NOT")


def parse_raw(text: str) -> MatchQuery:
    """Read an FTS5 expression like FTS5 does, closely enough to search the files.

    Raises QueryError with the reason when FTS5 would reject it too.
    """
    tokens = _raw_tokens(text)
    parser = _RawParser(tokens, text)
    node = parser.expression()
    if parser.position < len(tokens):
        raise QueryError(f'fts5: syntax error near "{tokens[parser.position][1]}"', text)
    return MatchQuery(include=node, raw=text)


def _raw_tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.replace("\x00", " ")
    while position < len(text):
        match = _RAW_TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip():
                raise QueryError(f'fts5: syntax error near "{text[position]}"', text)
            break
        position = match.end()
        kind = match.lastgroup or "word"
        value = match.group(kind)
        if kind == "string" and (len(value) < 2 or not value.endswith('"')):
            raise QueryError("unterminated string", text)
        tokens.append((kind, value))
    return tokens


class _RawParser:
    """Recursive descent over FTS5's grammar: OR < AND < NOT < phrase."""

    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens, self.text, self.position = tokens, text, 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _fail(self) -> QueryError:
        near = self._peek()
        return QueryError(f'fts5: syntax error near "{near[1] if near else ""}"', self.text)

    def _is(self, kind: str, value: str | None = None) -> bool:
        token = self._peek()
        return token is not None and token[0] == kind and (value is None or token[1] == value)

    def expression(self) -> Node:
        nodes = [self._and()]
        while self._is("word", "OR"):
            self.position += 1
            nodes.append(self._and())
        return nodes[0] if len(nodes) == 1 else AnyOf(tuple(nodes))

    def _and(self) -> Node:
        nodes = [self._not()]
        while True:
            if self._is("word", "AND"):
                self.position += 1
            elif not self._starts_primary():
                break
            nodes.append(self._not())
        return nodes[0] if len(nodes) == 1 else AllOf(tuple(nodes))

    def _not(self) -> Node:
        node = self._primary()
        while self._is("word", "NOT"):
            self.position += 1
            node = Without(node, self._primary())
        return node

    def _starts_primary(self) -> bool:
        token = self._peek()
        if token is None or (token[0] == "word" and token[1] in ("OR", "AND", "NOT")):
            return False
        return token[0] in ("word", "string") or token[1] in ("(", "{", "^", "-")

    def _primary(self) -> Node:
        if self._is("punct", "("):
            self.position += 1
            node = self.expression()
            if not self._is("punct", ")"):
                raise self._fail()
            self.position += 1
            return node
        if self._is("word", "NEAR") and self._next_is("("):
            return self._near()
        self._column_filter()
        if self._is("punct", "^"):
            self.position += 1
        return self._phrase_sequence()

    def _next_is(self, value: str) -> bool:
        index = self.position + 1
        return index < len(self.tokens) and self.tokens[index][1] == value

    def _column_filter(self) -> None:
        """Skip `col:`, `-col:`, `{a b}:` and `-{a b}:` (columns are not told apart)."""
        start = self.position
        if self._is("punct", "-"):
            self.position += 1
        if self._is("punct", "{"):
            self.position += 1
            while self._is("word"):
                self.position += 1
            if not self._is("punct", "}"):
                raise self._fail()
            self.position += 1
        elif self._is("word") and self._next_is(":"):
            self.position += 1
        else:
            self.position = start
            return
        if not self._is("punct", ":"):
            raise self._fail()
        self.position += 1

    def _phrase_sequence(self) -> Node:
        phrases = [self._phrase()]
        while self._is("punct", "+"):
            self.position += 1
            phrases.append(self._phrase())
        if len(phrases) == 1:
            return phrases[0]
        tokens = tuple(t for phrase in phrases for t in phrase.tokens)
        text = " ".join(phrase.text for phrase in phrases)
        return Phrase(text=text, tokens=tokens, prefix=phrases[-1].prefix)

    def _phrase(self) -> Phrase:
        token = self._peek()
        if token is None or token[0] not in ("word", "string") or token[1] in _KEYWORDS:
            raise self._fail()
        self.position += 1
        text = token[1][1:-1].replace('""', '"') if token[0] == "string" else token[1]
        prefix = self._is("punct", "*")
        if prefix:
            self.position += 1
        return Phrase(text=text, tokens=tuple(tokenize(text)), prefix=prefix)

    def _near(self) -> Node:
        self.position += 2
        phrases: list[Node] = []
        while self._is("word") or self._is("string"):
            phrases.append(self._phrase_sequence())
        if self._is("punct", ","):
            self.position += 1
            if not (self._is("word") and self._peek()[1].isdigit()):  # type: ignore[index]
                raise self._fail()
            self.position += 1
        if not phrases or not self._is("punct", ")"):
            raise self._fail()
        self.position += 1
        return phrases[0] if len(phrases) == 1 else AllOf(tuple(phrases))
