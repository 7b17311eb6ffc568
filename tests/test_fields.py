"""The SQL migrations, the Entry type, the stores and the readers agree with dialogfile.fields."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest
import tantivy

from dialogfile.fields import (
    DATE,
    EXACT,
    FACETS,
    FIELD,
    FIELDS,
    FILTERS,
    MOOD,
    OPERATORS,
    PATH,
    SINCE_PARAMETERS,
    STORE_FIELDS,
    STORED_ENTRY_COLUMNS,
    TARGETS,
    TEXT_FIELDS,
    TEXT_WEIGHTS,
    UNTIL_PARAMETERS,
    VALUE_FILTERS,
    Filter,
)
from dialogfile.model import Entry
from indexer.migrate import apply_migrations
from indexer.push_meili import FILTERABLE_ATTRIBUTES
from indexer.store_rows import ENTRY_COLUMNS
from indexer.topk_schema import build_schema
from searchsvc.engines.meili_query import FACET_ATTRIBUTES
from searchsvc.query.filters import Filters, filters_from_parameters
from searchsvc.query.fts_query import parse_user_query
from searchsvc.web.openapi import FILTER_PARAMETERS


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> sqlite3.Connection:
    conn = sqlite3.connect(tmp_path_factory.mktemp("fields") / "spec.db", isolation_level=None)
    apply_migrations(conn)
    return conn


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def test_the_fts5_table_has_the_searchable_fields_in_order(migrated: sqlite3.Connection) -> None:
    assert columns(migrated, "lupo_dialog_entries_fts") == list(TEXT_FIELDS)
    # FTS5 rows are the entries' internal rowids (sql/0008).
    assert columns(migrated, "lupo_dialog_entries_fts_content") == ["entry_rowid", *TEXT_FIELDS]


def test_the_weights_and_column_order_are_the_ranked_ones() -> None:
    """bm25 title 4, message 4, body 1, speaker 2, target 1 (the benchmarks' figures)."""
    assert TEXT_FIELDS == ("title", "message", "body", "speaker", "target")
    assert TEXT_WEIGHTS == (4.0, 4.0, 1.0, 2.0, 1.0)
    positions = sorted(f.fts_position for f in FIELDS if f.fts_position is not None)
    assert positions == list(range(len(TEXT_FIELDS)))


def test_the_entry_table_stores_every_field(migrated: sqlite3.Connection) -> None:
    internal, *stored = columns(migrated, "lupo_dialog_entries")
    assert internal == "entry_rowid"  # the FTS5 rowid (sql/0008), no field of an entry
    # entry_key (content key), body_extra (what FTS5 indexes of the body), copy_key and
    # copy_count (how many rows share it, sql/0009) are derived; the store's own fields
    # (STORE_FIELDS) follow the entry's.
    derived = ("entry_key", "body_extra", "copy_key", "copy_count")
    store = [field.column for field in STORE_FIELDS]
    assert [c for c in stored if c not in (*derived, *store)] == list(STORED_ENTRY_COLUMNS)
    assert [c for c in stored if c not in derived][-len(store) :] == store
    # copy_count is the writer's to keep among a key's rows (refresh_copies), not a row's.
    assert sorted([*ENTRY_COLUMNS, *store, "copy_count"]) == sorted(stored)


def test_the_triggers_feed_fts5_every_searchable_field(migrated: sqlite3.Connection) -> None:
    values = {name: f"word{name}" for name in TEXT_FIELDS}
    migrated.execute(
        "INSERT INTO lupo_dialog_files (file_path, file_type, content_hash, size_bytes,"
        " mtime_ns, last_sync_utc) VALUES ('a.md', 'dialog', '', 0, 0, 0)"
    )
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    migrated.execute(
        f"INSERT INTO lupo_dialog_entries (dialog_entry_id, dialog_file, entry_key, format, "
        f"line, end_line, {names}) VALUES (7, 'a.md', 'k', 'bold', 1, 2, {marks})",
        list(values.values()),
    )
    for name, word in values.items():
        found = migrated.execute(
            "SELECT e.dialog_entry_id FROM lupo_dialog_entries_fts "
            "JOIN lupo_dialog_entries e ON e.entry_rowid = lupo_dialog_entries_fts.rowid "
            "WHERE lupo_dialog_entries_fts MATCH ?",
            (f"{name} : {word}",),
        ).fetchall()
        assert found == [(7,)], name


def test_the_entry_type_has_the_spec_fields() -> None:
    assert {f.name for f in dataclasses.fields(Entry)} == {f.name for f in FIELDS}
    defaults = {f.name: f.default for f in dataclasses.fields(Entry)}
    assert {name for name, default in defaults.items() if default is None} == {
        f.name for f in FIELDS if f.nullable
    }


# ---- filters: every engine and reader knows every filter of the spec ------------------

#: A value each kind accepts, as typed in q or a query parameter.
SAMPLE = {EXACT: "x", TARGETS: "@x", MOOD: "FF0000", PATH: "ops/"}


@pytest.mark.parametrize("spec", VALUE_FILTERS, ids=lambda spec: spec.name)
def test_every_filter_is_read_from_q_and_from_the_query_string(spec: Filter) -> None:
    choices = FIELD[spec.field].choices
    value = choices[0] if choices else SAMPLE[spec.kind]
    _, from_q = parse_user_query(f"{spec.name}:{value} ")
    from_args = filters_from_parameters(lambda name: [value] if name == spec.name else [])
    assert from_q == from_args == Filters({spec.name: (from_q.get(spec.name)[0],)})
    assert getattr(from_q, spec.keyword) == from_q.get(spec.name)
    assert from_q.without(spec.name) == Filters()


@pytest.mark.parametrize("spec", FILTERS, ids=lambda spec: spec.name)
def test_every_filter_is_stored_indexed_and_documented(
    migrated: sqlite3.Connection, spec: Filter
) -> None:
    assert FIELD[spec.field].column in columns(migrated, "lupo_dialog_entries")
    assert spec.meili_attribute in FILTERABLE_ATTRIBUTES
    # tantivy raises ValueError for a field its schema lacks.
    tantivy.Query.term_set_query(build_schema(), spec.fast_field, [1 if spec.kind == DATE else "x"])
    parameters = {parameter["name"] for parameter in FILTER_PARAMETERS}
    if spec.kind == DATE:
        assert {*SINCE_PARAMETERS, *UNTIL_PARAMETERS} <= parameters
    else:
        assert spec.name in parameters and spec.name in OPERATORS
    if spec.facet:
        assert spec.name in FACETS and spec.name in FACET_ATTRIBUTES


def test_filters_keep_only_what_is_set_in_spec_order() -> None:
    assert Filters(speakers=(), formats=()) == Filters()
    both = Filters(formats=("bold",), speakers=("KIRO",))
    assert both == Filters({"speaker": ("KIRO",), "format": ("bold",)})
    assert [spec.name for spec, _ in both.items()] == ["speaker", "format"]
    assert both.merged(Filters(speakers=("ROSE", "KIRO"))).speakers == ("KIRO", "ROSE")
    with pytest.raises(TypeError):
        Filters(speaker=("KIRO",))  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        both.without("date")
