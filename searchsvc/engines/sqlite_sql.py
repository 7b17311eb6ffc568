"""SQL text for the SQLite repository: constant queries and the WHERE clause of a Filters.

Every value is bound (`?`); only column names (from dialogfile.fields) and placeholders are
formatted in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dialogfile.copies import COPY_WEIGHT_MOST_PLACES, copy_weight
from dialogfile.fields import (
    DATE_FILTER,
    EXACT,
    FACETS,
    FIELD,
    FILTER,
    MOOD,
    PATH,
    STORED_ENTRY_COLUMNS,
    TARGETS,
    TEXT_FIELDS,
    TEXT_WEIGHTS,
    Filter,
)
from searchsvc.engines.matching import COLUMN_ATTRIBUTES
from searchsvc.query.filters import MOOD_FAMILIES, Filters, mood_family, target_variants
from searchsvc.query.fts_query import tokenize

FTS = "lupo_dialog_entries_fts"
#: bm25 weights, in the FTS5 column order (dialogfile.fields.TEXT_FIELDS).
BM25_WEIGHTS = TEXT_WEIGHTS
_BM25 = f"bm25({FTS}, {', '.join(str(w) for w in BM25_WEIGHTS)})"

ENTRY_COLUMNS = STORED_ENTRY_COLUMNS


def _column(field: str) -> str:
    """The column of an entry field, as `e.column`."""
    return f"e.{FIELD[field].column}"


_COLUMNS = ", ".join(f"e.{column}" for column in ENTRY_COLUMNS)

# FTS5 rows are the entries' internal `entry_rowid` (sql/0008): a query maps them to the
# public id. Matches (id, relevance: higher is better), every one, or those whose rowid
# hashes into [?, ?) (a sample: sqlite_matches).
_MATCHES = f"""
SELECT e.dialog_entry_id, {{score}} FROM {FTS}
JOIN lupo_dialog_entries e ON e.entry_rowid = {FTS}.rowid
WHERE {FTS} MATCH ?"""
# Relevance: bm25 times the copy weight of the places that hold the entry (copy_count,
# sql/0009), as a CASE over the few counts it tells apart: the same floats as Python's.
_COPY_WEIGHT = (
    f"CASE min(e.copy_count, {COPY_WEIGHT_MOST_PLACES}) "
    + " ".join(f"WHEN {n} THEN {copy_weight(n)!r}" for n in range(2, COPY_WEIGHT_MOST_PLACES + 1))
    + " ELSE 1.0 END"
)
SELECT_MATCHES = _MATCHES.format(score=f"-{_BM25} * {_COPY_WEIGHT}")
#: Knuth's multiplicative hash of a rowid, over [0, HASH_RANGE).
HASH_RANGE = 2**32
_HASH = f"({FTS}.rowid * 2654435761) % {HASH_RANGE}"
SELECT_MATCHES_HASHED = f"{SELECT_MATCHES} AND {_HASH} >= ? AND {_HASH} < ?"
# The same without bm25 (score 0), which reads every posting list of the expression in
# full before the first row: a search past the budget's `exact_postings` (unranked).
SELECT_MATCHES_UNRANKED = _MATCHES.format(score="0.0")
SELECT_MATCHES_HASHED_UNRANKED = f"{SELECT_MATCHES_UNRANKED} AND {_HASH} >= ? AND {_HASH} < ?"
#: Unranked matches in a run of rowids [?, ?) (an unranked sample: sqlite_matches).
SELECT_MATCHES_IN_RUN = f"{SELECT_MATCHES_UNRANKED} AND {FTS}.rowid >= ? AND {FTS}.rowid < ?"
COUNT_MATCHES = f"SELECT count(*) FROM {FTS} WHERE {FTS} MATCH ?"
#: The entry rowids an expression matches: `e.entry_rowid IN (...)`.
MATCHING_ROWIDS = f"SELECT rowid FROM {FTS} WHERE {FTS} MATCH ?"

SELECT_ENTRIES_BY_IDS = f"""
SELECT {_COLUMNS} FROM lupo_dialog_entries e
WHERE e.dialog_entry_id IN (SELECT value FROM json_each(?))
"""
# The id, then the columns of matching.COLUMN_ATTRIBUTES in order.
SELECT_ATTRS_BY_IDS = f"""
SELECT e.dialog_entry_id, {", ".join(_column(name) for name in COLUMN_ATTRIBUTES)}
FROM lupo_dialog_entries e WHERE e.dialog_entry_id IN (SELECT value FROM json_each(?))
"""
SELECT_TARGETS_BY_IDS = """
SELECT dialog_entry_id, target FROM lupo_dialog_entry_targets
WHERE dialog_entry_id IN (SELECT value FROM json_each(?))
"""
SELECT_ENTRY = f"SELECT {_COLUMNS} FROM lupo_dialog_entries e WHERE e.dialog_entry_id = ?"
SELECT_ENTRY_BEFORE = """
SELECT dialog_entry_id FROM lupo_dialog_entries
WHERE dialog_file = ? AND (line < ? OR (line = ? AND dialog_entry_id < ?))
ORDER BY line DESC, dialog_entry_id DESC LIMIT 1
"""
SELECT_ENTRY_AFTER = """
SELECT dialog_entry_id FROM lupo_dialog_entries
WHERE dialog_file = ? AND (line > ? OR (line = ? AND dialog_entry_id > ?))
ORDER BY line, dialog_entry_id LIMIT 1
"""
# The copies of each hit (dialogfile.copies): the first `?` of them in copy order, with
# how many there are in all.
SELECT_COPIES = """
SELECT hit, dialog_file, line, dialog_entry_id, copies FROM (
    SELECT h.dialog_entry_id AS hit, c.dialog_file, c.line, c.dialog_entry_id,
           row_number() OVER (PARTITION BY h.dialog_entry_id ORDER BY
               length(c.dialog_file) - length(replace(c.dialog_file, '/', '')),
               c.dialog_file, c.line, c.dialog_entry_id) AS n,
           count(*) OVER (PARTITION BY h.dialog_entry_id) AS copies
    FROM lupo_dialog_entries h
    JOIN lupo_dialog_entries c
      ON c.copy_key = h.copy_key AND c.dialog_entry_id <> h.dialog_entry_id
    WHERE h.dialog_entry_id IN (SELECT value FROM json_each(?))
) WHERE n <= ? ORDER BY hit, n
"""


def distinct_values(table: str, column: str) -> str:
    """The column's distinct non-NULL values, read by skipping through its index: one
    seek per value instead of a scan of every row (SELECT DISTINCT read all 1.37M
    speakers at 1M entries, about 50 ms, after every write: these lists are cached per
    database generation). The column must lead an index (or the primary key)."""
    return f"""
WITH RECURSIVE seen(value) AS (
    SELECT min({column}) FROM {table}
    UNION ALL
    SELECT (SELECT min({column}) FROM {table} WHERE {column} > seen.value)
    FROM seen WHERE seen.value IS NOT NULL
)
SELECT value FROM seen WHERE value IS NOT NULL
"""


DISTINCT_SPEAKERS = distinct_values("lupo_dialog_entries", "speaker")
DISTINCT_TARGETS = distinct_values("lupo_dialog_entry_targets", "target")
SELECT_MOODS = distinct_values("lupo_dialog_entries", "mood_rgb")

# The FTS5 columns, for checking an expression against an empty table in memory.
VALIDATOR_SCHEMA = f"CREATE VIRTUAL TABLE {FTS} USING fts5({', '.join(TEXT_FIELDS)})"
VALIDATE = f"SELECT rowid FROM {FTS} WHERE {FTS} MATCH ?"


class Where:
    """A WHERE clause over `lupo_dialog_entries e` and its parameters, built up in parts."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list[object] = []

    def add(self, sql: str, *params: object) -> None:
        """AND one more condition."""
        self.parts.append(sql)
        self.params.extend(params)

    def sql(self) -> str:
        """`WHERE ...` (or nothing)."""
        return ("WHERE " + " AND ".join(self.parts)) if self.parts else ""

    def extended(self, sql: str, *params: object) -> Where:
        """A copy with one more condition."""
        copy = Where()
        copy.parts, copy.params = [*self.parts, sql], [*self.params, *params]
        return copy


def _marks(count: int) -> str:
    return ", ".join("?" for _ in range(count))


def mood_hexes(moods: Iterable[str], known: Iterable[str]) -> list[str]:
    """The colours a moods filter stands for: its hex values plus the known ones of its families."""
    moods = set(moods)
    hexes = {mood for mood in moods if mood not in MOOD_FAMILIES}
    families = moods - hexes
    hexes.update(mood for mood in known if mood_family(mood) in families)
    return sorted(hexes)


def filter_where(
    filters: Filters,
    known_moods: Iterable[str],
    *,
    skip: str | None = None,
    where: Where | None = None,
) -> Where:
    """The conditions of `filters` (but the facet `skip`) on `lupo_dialog_entries e`, by kind.

    An excluded value keeps the entries without it, those with no value at all included.
    """
    where = where if where is not None else Where()
    for spec, values in filters.items():
        if spec.name != skip:
            where.add(*_condition(spec, values, known_moods))
    for spec, values in filters.excluded_items():
        if spec.name == skip:
            continue
        condition, *params = _condition(spec, values, known_moods)
        where.add(f"NOT coalesce({condition}, 0)", *params)
    date = _column(DATE_FILTER.field)
    if filters.since is not None:
        where.add(f"{date} >= ?", filters.since)
    if filters.until is not None:
        where.add(f"{date} <= ?", filters.until)
    return where


def _condition(spec: Filter, values: tuple[str, ...], known_moods: Iterable[str]) -> list[Any]:
    """The condition of one filter with values, then its parameters."""
    column = _column(spec.field)
    if spec.kind == TARGETS:
        variants = sorted({v for target in values for v in target_variants(target)})
        return [
            "e.dialog_entry_id IN (SELECT dialog_entry_id FROM lupo_dialog_entry_targets "
            f"WHERE target IN ({_marks(len(variants))}))",
            *variants,
        ]
    if spec.kind == MOOD:
        hexes = mood_hexes(values, known_moods)
        return [f"{column} IN ({_marks(len(hexes))})" if hexes else "0", *hexes]
    if spec.kind == PATH:
        alternatives, params = [], []
        for wanted in values:
            folder = wanted.rstrip("/")
            if not wanted.endswith("/"):
                alternatives.append(f"{column} = ?")
                params.append(wanted)
            # Every path below `folder/` sorts between "folder/" and "folder0" ('0' follows '/').
            alternatives.append(f"({column} > ? AND {column} < ?)")
            params += [folder + "/", folder + "0"]
        return ["(" + " OR ".join(alternatives) + ")", *params]
    return [f"{column} IN ({_marks(len(values))})", *values]


def select_ids(where: Where, order: str, *, index: str | None = None) -> str:
    """Ids of entries in `where`, in `order`, with LIMIT ? OFFSET ? to bind."""
    hint = f" INDEXED BY {index}" if index else ""
    return (
        f"SELECT e.dialog_entry_id FROM lupo_dialog_entries e{hint} {where.sql()} "
        f"ORDER BY {order} LIMIT ? OFFSET ?"
    )


#: How a sample of the entries (runs of rowids, sqlite_listing) is read: by rowid, not
#: through an index that would visit every entry.
_SAMPLED = " NOT INDEXED"


def count_where(where: Where, sample: bool = False) -> str:
    """count(*) of the entries in `where` (`sample`: rowid runs, read by rowid)."""
    hint = _SAMPLED if sample else ""
    return f"SELECT count(*) FROM lupo_dialog_entries e{hint} {where.sql()}"


#: The column each facet counts (the @targets are counted from their own table).
FACET_COLUMNS = {
    name: _column(FILTER[name].field) for name in FACETS if FILTER[name].kind != TARGETS
}


def facet_sql(facet: str, where: Where, limit: int | None, *, sample: bool = False) -> str:
    """(value, count) of one facet over the entries in `where`, most frequent first
    (`sample`: `where` holds rowid runs, read by rowid)."""
    tail = " ORDER BY 2 DESC, 1" + (f" LIMIT {int(limit)}" if limit is not None else "")
    hint = _SAMPLED if sample else ""
    if FILTER[facet].kind == TARGETS:
        if not where.parts:
            return f"SELECT target, count(*) FROM lupo_dialog_entry_targets GROUP BY 1{tail}"
        join = (
            f"lupo_dialog_entries e{hint} CROSS JOIN lupo_dialog_entry_targets t"
            if sample
            else "lupo_dialog_entry_targets t JOIN lupo_dialog_entries e"
        )
        return (
            f"SELECT t.target, count(*) FROM {join} "
            f"ON e.dialog_entry_id = t.dialog_entry_id {where.sql()} GROUP BY 1{tail}"
        )
    column = FACET_COLUMNS[facet]
    condition = where.extended(f"{column} IS NOT NULL")
    return (
        f"SELECT {column}, count(*) FROM lupo_dialog_entries e{hint} {condition.sql()} "
        f"GROUP BY 1{tail}"
    )


DAYS_SQL = (
    "SELECT e.timestamp_utc / 1000000, count(*) FROM lupo_dialog_entries e {where} GROUP BY 1"
    " ORDER BY 1"
)
PAIRS_SQL = (
    "SELECT e.speaker, t.target, count(*) FROM lupo_dialog_entry_targets t "
    "JOIN lupo_dialog_entries e ON e.dialog_entry_id = t.dialog_entry_id "
    "{where} GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT ?"
)
FORMAT_TOTALS_SQL = "SELECT e.format, count(*) FROM lupo_dialog_entries e {where} GROUP BY 1"
FILES_TOTAL = "SELECT count(*), max(last_sync_utc) FROM lupo_dialog_files"


def narrow(expression: str, filters: Filters) -> str:
    """`expression` AND the exact filters on searchable fields (speaker, target) as column filters.

    A column filter matches tokens, so this is a superset of the exact filter
    (speaker "CAPTAIN" also matches "CAPTAIN WOLFIE"), which FilterCheck then
    applies; it lets FTS5 skip most non-matching rows in C. A value without
    tokens does not narrow.
    """
    parts = []
    for spec, values in filters.items():
        column = spec.field
        if spec.kind not in (EXACT, TARGETS) or not FIELD[column].searchable:
            continue
        if not values or any(not tokenize(value) for value in values):
            continue
        quoted = " OR ".join(
            '"' + value.replace("\x00", " ").replace('"', '""') + '"' for value in values
        )
        parts.append(f"{column} : ({quoted})")
    if not parts:
        return expression
    return f"({expression}) AND " + " AND ".join(parts)


def contains_tokens(value: str, wanted: str) -> bool:
    """Whether the tokens of `wanted` occur, in a row, among the tokens of `value`."""
    haystack, needle = tokenize(value), tokenize(wanted)
    if not needle:
        return True
    return any(
        haystack[i : i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1)
    )


def narrowing_is_exact(filters: Filters, speakers: list[str], targets: list[str]) -> bool:
    """Whether narrow() alone applies `filters` exactly (then no row needs checking), given
    every speaker and @target the database holds.

    True when only speaker/target filters are set and no other speaker (or target)
    holds one of their token sequences.
    """
    if filters.without("speaker").without("target") != Filters():
        return False
    wanted_speakers = set(filters.speakers)
    for value in speakers if wanted_speakers else ():
        if value not in wanted_speakers and any(
            contains_tokens(value, wanted) for wanted in wanted_speakers
        ):
            return False
    variants = {v for target in filters.targets for v in target_variants(target)}
    for value in targets if variants else ():
        if value not in variants and any(contains_tokens(value, wanted) for wanted in variants):
            return False
    return all(len(tokenize(target)) == 1 for target in filters.targets)
