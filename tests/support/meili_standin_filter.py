"""The filter language of Meilisearch, as much of it as the stand-in server needs.

Grammar (Meilisearch docs, "Filter expression reference"): conditions joined by
`AND`/`OR` (AND binds tighter), `NOT`, parentheses; a condition is `attr = v`,
`!=`, `>`, `>=`, `<`, `<=`, `attr low TO high`, `attr IN [v, ...]`,
`attr NOT IN [...]`, `attr EXISTS`, `attr NOT EXISTS`, `attr IS NULL`,
`attr IS NOT NULL`. A value is a bare word or a quoted string ("..." or '...')
where a backslash escapes the next character. String equality ignores case, as
Meilisearch's does; an array attribute matches when any element does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Document = dict[str, Any]
Predicate = Callable[[Document], bool]


class FilterError(ValueError):
    """A filter Meilisearch would refuse; `attribute` is set when one is not filterable."""

    def __init__(self, message: str, attribute: str | None = None):
        super().__init__(message)
        self.attribute = attribute


@dataclass
class _Token:
    kind: str  # "word", "string", "op", "punct"
    text: str
    position: int


_OPERATORS = ("!=", ">=", "<=", "=", ">", "<")


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char.isspace():
            i += 1
        elif char in "\"'":
            quote, start, i = char, i, i + 1
            text = []
            while i < len(source) and source[i] != quote:
                if source[i] == "\\" and i + 1 < len(source):
                    i += 1
                text.append(source[i])
                i += 1
            if i >= len(source):
                raise FilterError(f"Expression `{source[start:]}` is missing a closing quote.")
            tokens.append(_Token("string", "".join(text), start))
            i += 1
        elif char in "()[],":
            tokens.append(_Token("punct", char, i))
            i += 1
        elif any(source.startswith(op, i) for op in _OPERATORS):
            op = next(op for op in _OPERATORS if source.startswith(op, i))
            tokens.append(_Token("op", op, i))
            i += len(op)
        else:
            match = re.compile(r"[^\s()\[\],=!<>\"']+").match(source, i)
            if not match:
                raise FilterError(f"Unexpected character `{char}` at {i + 1}.")
            tokens.append(_Token("word", match.group(), i))
            i = match.end()
    return tokens


def _normalize(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    return value


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if number == number and abs(number) != float("inf") else None
    return None


def _values_of(document: Document, attribute: str) -> list[Any]:
    value = document.get(attribute)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _equals(candidate: Any, wanted: str) -> bool:
    """A string document value compares as text (ignoring case), a number as a number."""
    if isinstance(candidate, str):
        return _normalize(candidate) == _normalize(wanted)
    number = _as_number(wanted)
    return number is not None and _as_number(candidate) == number


class _Parser:
    def __init__(self, source: str, filterable: list[str]):
        self.source = source
        self.tokens = _tokenize(source)
        self.i = 0
        self.filterable = filterable

    def peek(self, offset: int = 0) -> _Token | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def keyword(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.kind == "word" and token.text.upper() == word

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise FilterError(f"Was expecting a value but instead got nothing: `{self.source}`.")
        self.i += 1
        return token

    def expect_punct(self, char: str) -> None:
        token = self.take()
        if token.kind != "punct" or token.text != char:
            raise FilterError(f"Expected `{char}` at {token.position + 1}, found `{token.text}`.")

    def parse(self) -> Predicate:
        if not self.tokens:
            return lambda document: True
        predicate = self.or_expr()
        if self.peek() is not None:
            token = self.peek()
            assert token is not None
            raise FilterError(
                f"Found unexpected characters at the end of the filter: `{token.text}`."
            )
        return predicate

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.keyword("OR"):
            self.i += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else lambda d: any(p(d) for p in parts)

    def and_expr(self) -> Predicate:
        parts = [self.not_expr()]
        while self.keyword("AND"):
            self.i += 1
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else lambda d: all(p(d) for p in parts)

    def not_expr(self) -> Predicate:
        if self.keyword("NOT"):
            self.i += 1
            inner = self.not_expr()
            return lambda d: not inner(d)
        return self.primary()

    def value(self) -> str:
        token = self.take()
        if token.kind not in ("word", "string"):
            raise FilterError(f"Was expecting a value at {token.position + 1}: `{token.text}`.")
        return token.text

    def attribute(self) -> str:
        token = self.take()
        if token.kind not in ("word", "string"):
            raise FilterError(
                f"Was expecting an attribute at {token.position + 1}: `{token.text}`."
            )
        if token.text not in self.filterable:
            available = ", ".join(f"`{name}`" for name in sorted(self.filterable))
            raise FilterError(
                f"Attribute `{token.text}` is not filterable. Available filterable "
                f"attributes are: {available}.",
                attribute=token.text,
            )
        return token.text

    def value_list(self) -> list[str]:
        self.expect_punct("[")
        values: list[str] = []
        while True:
            token = self.peek()
            if token is not None and token.kind == "punct" and token.text == "]":
                self.i += 1
                return values
            values.append(self.value())
            token = self.peek()
            if token is not None and token.kind == "punct" and token.text == ",":
                self.i += 1

    def primary(self) -> Predicate:
        token = self.peek()
        if token is not None and token.kind == "punct" and token.text == "(":
            self.i += 1
            inner = self.or_expr()
            self.expect_punct(")")
            return inner
        attr = self.attribute()
        if self.keyword("IN"):
            self.i += 1
            wanted = self.value_list()
            return lambda d: any(_equals(v, w) for v in _values_of(d, attr) for w in wanted)
        if self.keyword("NOT") and self.keyword("IN", 1):
            self.i += 2
            wanted = self.value_list()
            return lambda d: not any(_equals(v, w) for v in _values_of(d, attr) for w in wanted)
        if self.keyword("EXISTS"):
            self.i += 1
            return lambda d: attr in d
        if self.keyword("NOT") and self.keyword("EXISTS", 1):
            self.i += 2
            return lambda d: attr not in d
        if self.keyword("IS") and self.keyword("NULL", 1):
            self.i += 2
            return lambda d: attr in d and d[attr] is None
        if self.keyword("IS") and self.keyword("NOT", 1) and self.keyword("NULL", 2):
            self.i += 3
            return lambda d: attr in d and d[attr] is not None
        token = self.take()
        if token.kind == "op":
            return self.comparison(attr, token.text, self.value())
        if token.kind in ("word", "string") and self.keyword("TO"):
            low = _as_number(token.text)
            self.i += 1
            high = _as_number(self.value())
            if low is None or high is None:
                raise FilterError("`TO` needs two numbers.")
            return lambda d: any(
                (n := _as_number(v)) is not None and low <= n <= high for v in _values_of(d, attr)
            )
        raise FilterError(
            f"Was expecting an operation `=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, `NOT IN`, "
            f"`TO`, `EXISTS`, `NOT EXISTS`, `IS NULL`, `IS NOT NULL`, `IS EMPTY`, "
            f"`IS NOT EMPTY` at `{token.text}`."
        )

    def comparison(self, attr: str, op: str, wanted: str) -> Predicate:
        if op == "=":
            return lambda d: any(_equals(v, wanted) for v in _values_of(d, attr))
        if op == "!=":
            return lambda d: not any(_equals(v, wanted) for v in _values_of(d, attr))
        bound = _as_number(wanted)
        if bound is None:
            raise FilterError(f"`{op}` needs a number, not `{wanted}`.")
        compare = {
            ">": lambda n: n > bound,
            ">=": lambda n: n >= bound,
            "<": lambda n: n < bound,
            "<=": lambda n: n <= bound,
        }[op]
        return lambda d: any(
            (n := _as_number(v)) is not None and compare(n) for v in _values_of(d, attr)
        )


def compile_filter(expression: Any, filterable: list[str]) -> Predicate:
    """A predicate for a `filter` parameter: a string, or an array (AND) of strings or
    of arrays of strings (OR). Raises FilterError as Meilisearch would refuse it."""
    if expression is None:
        return lambda document: True
    if isinstance(expression, str):
        return _Parser(expression, filterable).parse()
    if isinstance(expression, list):
        parts: list[Predicate] = []
        for item in expression:
            if isinstance(item, str):
                parts.append(_Parser(item, filterable).parse())
            elif isinstance(item, list) and all(isinstance(x, str) for x in item):
                ors = [_Parser(x, filterable).parse() for x in item]
                parts.append(lambda d, ors=ors: any(p(d) for p in ors))
            else:
                raise FilterError("Invalid syntax for the filter parameter: expected a string.")
        return lambda d: all(p(d) for p in parts)
    raise FilterError(
        "Invalid syntax for the filter parameter: `expected String, Array, found: "
        f"{type(expression).__name__}`."
    )
