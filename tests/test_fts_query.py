"""fts_query: user text becomes a safe FTS5 expression plus filters; raw syntax is read."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchsvc.query.filters import Filters
from searchsvc.query.fts_query import (
    AllOf,
    AnyOf,
    Phrase,
    QueryError,
    Without,
    match_expression,
    parse_raw,
    parse_user_query,
    tokenize,
)

FTS_COLUMNS = "title, message, body, speaker, target"


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    """An in-memory FTS5 table with the production tokenizer and a few rows."""
    conn = sqlite3.connect(":memory:")
    conn.execute(
        f"CREATE VIRTUAL TABLE t USING fts5({FTS_COLUMNS}, "
        "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
    )
    rows = [
        ("Migration plan", "the migration keeps ids", "body text", "KIRO", "@everyone"),
        ("", "Café naïve résumé", "", "LILITH", "@KIRO"),
        ("", "foo-bar baz_qux 12.5", "", "CURSOR", "@x"),
    ]
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", rows)
    return conn


def expression(text: str, **options: bool) -> str | None:
    match, _ = parse_user_query(text, **options)
    return None if match is None else match_expression(match)[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello world ", '("hello" AND "world")'),
        ("hello wor", '("hello" AND ("wor" OR "wor"*))'),
        ("hello w", '("hello" AND "w")'),
        ('"exact phrase" -bad ', '"exact phrase" NOT "bad"'),
        ("a OR b c ", '(("a" OR "b") AND "c")'),
        ("deploy* now ", '(("deploy" OR "deploy"*) AND "now")'),
        ('say "hi', '("say" AND ("hi" OR "hi"*))'),
        ("NEAR(a b) ", '("NEAR" AND "a" AND "b")'),
        ('x "" y ', '("x" AND "y")'),
        ("AND OR NOT ", None),
        ("* ^ : ( ) -", None),
        ("'; DROP TABLE x; -- ", '("DROP" AND "TABLE" AND "x;")'),
        ('quo"te ', '("quo" AND "te ")'),
    ],
)
def test_user_text_becomes_quoted_fts5(text: str, expected: str | None) -> None:
    assert expression(text) == expected


def test_prefix_can_be_switched_off() -> None:
    assert expression("deplo", prefix_last=False) == '"deplo"'


def test_operators_become_filters() -> None:
    match, filters = parse_user_query(
        "speaker:KIRO target:@x mood:red file:ops/ format:bold since:2026-01-16 until:20260120 "
        'speaker:"CAPTAIN WOLFIE" deploy'
    )
    assert match is not None and match_expression(match)[0] == '("deploy" OR "deploy"*)'
    assert filters == Filters(
        speakers=("KIRO", "CAPTAIN WOLFIE"),
        targets=("@x",),
        moods=("red",),
        files=("ops/",),
        formats=("bold",),
        since=20260116000000,
        until=20260120235959,
    )


@pytest.mark.parametrize("text", ["mood:banana", "since:yesterday", "format:poem", "file:/etc"])
def test_a_bad_operator_value_is_a_query_error(text: str) -> None:
    with pytest.raises(QueryError):
        parse_user_query(text)


def test_an_empty_operator_is_ignored_while_typing() -> None:
    assert parse_user_query("speaker: deploy") == parse_user_query("deploy")


def test_exclusion_only_has_no_include() -> None:
    match, _ = parse_user_query("-noise ")
    assert match is not None and match.include is None
    assert match_expression(match) == (None, '"noise"')


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_any_text_gives_a_valid_fts5_expression(text: str) -> None:
    """Whatever the user types, FTS5 accepts what we make of it (or it is an operator error)."""
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE VIRTUAL TABLE t USING fts5({FTS_COLUMNS})")
    try:
        match, _ = parse_user_query(text)
    except QueryError:
        return
    if match is None:
        return
    for part in match_expression(match):
        if part is not None:
            conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (part,)).fetchall()


@pytest.mark.parametrize(
    ("query", "rows"),
    [("migration", [1]), ("cafe", [2]), ("resume", [2]), ("baz", [3]), ('"12 5"', [3])],
)
def test_quoted_user_words_match_like_fts5(fts: sqlite3.Connection, query: str, rows: list) -> None:
    expr = expression(query + " ")
    assert [r[0] for r in fts.execute("SELECT rowid FROM t WHERE t MATCH ?", (expr,))] == rows


@pytest.mark.parametrize(
    "text",
    [
        "Café naïve résumé",
        "foo-bar baz_qux 12.5",
        "e\u0301te\u0301 x\u200by",
        "İstanbul ÅNGSTRÖM",
        "日本語 テスト",
    ],
)
def test_tokenize_agrees_with_fts5(text: str) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 2')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    conn.execute("INSERT INTO t VALUES (?)", (text,))
    fts_tokens = [row[0] for row in conn.execute("SELECT term FROM v ORDER BY offset")]
    assert tokenize(text) == fts_tokens


@pytest.mark.parametrize(
    ("raw", "node"),
    [
        ("a OR b", AnyOf((Phrase("a", ("a",)), Phrase("b", ("b",))))),
        ('"x" NOT y', Without(Phrase("x", ("x",)), Phrase("y", ("y",)))),
        ("NEAR(a b, 3)", AllOf((Phrase("a", ("a",)), Phrase("b", ("b",))))),
        ("title:foo*", Phrase("foo", ("foo",), prefix=True)),
        ("{title body}: x", Phrase("x", ("x",))),
        ("a + b", Phrase("a b", ("a", "b"))),
        (
            "(a OR b) c",
            AllOf((AnyOf((Phrase("a", ("a",)), Phrase("b", ("b",)))), Phrase("c", ("c",)))),
        ),
    ],
)
def test_raw_syntax_is_read(raw: str, node: object) -> None:
    assert parse_raw(raw).include == node


@pytest.mark.parametrize("raw", ["(a", "a AND", "NEAR(", '"open', "OR b", "a )", "NOT"])
def test_raw_syntax_errors_are_query_errors(raw: str) -> None:
    with pytest.raises(QueryError):
        parse_raw(raw)
